"""Who changed it in Keycloak (docs/PRODUCT.md §10): what attribution the realm's admin events allow, and turning
them on. Reading the events and explaining differences with them is not built yet."""
