"""Typed errors raised by every Keycloak gateway implementation.

Messages are short, free of secrets and written for a person: the API puts them in a 502 body and the UI
shows them in place.
"""


class KeycloakError(Exception):
    """Base class: something went wrong talking to Keycloak."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(KeycloakError):
    """The group, user or path does not exist in Keycloak (HTTP 404)."""


class AlreadyExists(KeycloakError):
    """Keycloak refused to create something because it exists (HTTP 409)."""


class Unavailable(KeycloakError):
    """Keycloak could not be reached, timed out or answered with a server error."""


class ServerError(Unavailable):
    """Keycloak answered, with a server error (HTTP 5xx): it was reached, so a follow-up question may be answered."""


class AuthFailed(KeycloakError):
    """Keycloak rejected our credentials or our account lacks a role (HTTP 401/403)."""


class PermissionDenied(AuthFailed):
    """Our account signed in but lacks the realm-management role this call needs (HTTP 403)."""


PERMISSION_DENIED = "Permission denied: the Keycloak account lacks a required realm-management role"


class RequestRejected(KeycloakError):
    """Keycloak answered with another 4xx that we did not expect."""


class InvalidId(KeycloakError):
    """An id that is not in Keycloak's alphabet: it would change the meaning of the URL it is put into."""


class NotKeycloak(Unavailable):
    """The server answered, but not like Keycloak (HTML, a redirect, a 2xx that is not the JSON we asked for)."""


class LimitExceeded(Unavailable):
    """Keycloak returned more than a walk or a pull may take (a loop, a hostile server, or a cap set too low)."""


class DestinationNotAllowed(KeycloakError):
    """The server URL is not one the operator allows (OKG_KEYCLOAK_ALLOWED_URLS)."""
