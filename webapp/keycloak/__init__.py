"""Everything that knows about Keycloak. Nothing here knows about our database tables."""

from .errors import AlreadyExists, AuthFailed, KeycloakError, NotFound, RequestRejected, Unavailable
from .gateway import KeycloakGateway
from .registry import GatewayRegistry, gateway_for
from .types import AdminEvent, AdminEventPage, AdminEventsStatus, ConnectionSettings, RemoteGroup, RemoteUser

__all__ = [
    "AdminEvent",
    "AdminEventPage",
    "AdminEventsStatus",
    "AlreadyExists",
    "AuthFailed",
    "ConnectionSettings",
    "GatewayRegistry",
    "KeycloakError",
    "KeycloakGateway",
    "NotFound",
    "RemoteGroup",
    "RemoteUser",
    "RequestRejected",
    "Unavailable",
    "gateway_for",
]
