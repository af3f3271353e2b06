def build_document() -> dict:
    return {"openapi": "3.0.3", "info": {"title": "Offering Keycloak Groups", "version": "1"}, "paths": {}}
