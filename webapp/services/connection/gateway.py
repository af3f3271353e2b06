"""From an offering's stored Keycloak settings to a gateway, and from gateway errors to service errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from flask import current_app

from ...crypto import SecretDecryptionError, decrypt
from ...keycloak import ConnectionSettings, KeycloakError, KeycloakGateway, gateway_for
from ...keycloak import errors as kc_errors
from ...keycloak.destinations import NOT_ALLOWED, is_allowed, parse_prefixes
from ...keycloak.trust import ca_file, verify_setting
from ...models import Offering
from ..errors import KEYCLOAK_NOT_ENABLED, RemoteFailure, ValidationFailed
from . import ca_files
from .placement import require_own_place

T = TypeVar("T")


def connection_settings(offering: Offering) -> ConnectionSettings:
    if not offering.keycloak_enabled:
        raise ValidationFailed([KEYCLOAK_NOT_ENABLED])
    if not offering.keycloak_url or not offering.keycloak_realm:
        raise ValidationFailed(["Keycloak settings are incomplete: the server URL and the realm are required."])
    if not is_allowed(offering.keycloak_url, parse_prefixes(current_app.config["KEYCLOAK_ALLOWED_URLS"])):
        raise ValidationFailed([NOT_ALLOWED])
    # Checked here, not only on save: another offering may have been configured into this one's way since.
    require_own_place(offering)
    try:
        password = decrypt(offering.keycloak_password_encrypted)
        client_secret = decrypt(offering.keycloak_client_secret_encrypted)
    except SecretDecryptionError as exc:
        raise ValidationFailed([f"{exc}; enter the Keycloak secret again."]) from exc
    client_id = offering.keycloak_client_id if client_secret else ""
    if not (client_id and client_secret) and not (offering.keycloak_username and password):
        raise ValidationFailed(
            [
                "Keycloak settings are incomplete: give an admin username and password, "
                "or a service-account client id and secret."
            ]
        )
    folder, pem = Path(current_app.instance_path), offering.keycloak_ca_certificate or ""
    first_use = offering.keycloak_verify_ssl and bool(pem.strip()) and not ca_file(folder, pem).exists()
    verify = verify_setting(offering.keycloak_verify_ssl, pem, current_app.config["KEYCLOAK_CA_BUNDLE"], folder)
    if first_use:
        # A certificate new to this host: the one it replaced may have been changed on another host, whose
        # release could not reach this folder.
        ca_files.prune()
    return ConnectionSettings(
        server_url=offering.keycloak_url.rstrip("/") + "/",
        realm=offering.keycloak_realm,
        auth_realm=offering.keycloak_auth_realm or "master",
        username=offering.keycloak_username,
        password=password,
        client_id=client_id,
        client_secret=client_secret,
        verify_ssl=verify,
        timeout=offering.keycloak_timeout or 10.0,
    )


def gateway_for_offering(offering: Offering) -> KeycloakGateway:
    return gateway_for(connection_settings(offering))


def call_keycloak(action: str, operation: Callable[[], T]) -> T:
    """Run a gateway operation; turn transport/auth failures into RemoteFailure("<action>: <reason>").

    NotFound and AlreadyExists pass through: they mean something about the input, and the caller
    decides which field to blame.
    """
    try:
        return operation()
    except (kc_errors.NotFound, kc_errors.AlreadyExists):
        raise
    except KeycloakError as exc:
        raise RemoteFailure(action, exc.message) from exc
