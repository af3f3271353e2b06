"""An offering's Keycloak: its connection settings (settings), the gateway made from them (gateway), its
place in the realm (placement among the offerings, the subtree below its group), the CA files and secrets
they use, and Keycloak reads in background threads (prefetch)."""
