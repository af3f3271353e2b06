"""Accounts: users, passwords and API tokens (core), signing in with Keycloak (sign_in), asking Keycloak
about linked accounts again (checks), failed sign-ins (throttle) and known browsers (devices)."""
