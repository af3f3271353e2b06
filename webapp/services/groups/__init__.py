"""Groups: the local register (register: import, link, unlink, delete), the groups this application
creates (hierarchy), Keycloak's side (remote), the two compared (diff, drift) and the likely links between
them (suggestions)."""
