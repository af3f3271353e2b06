"""Editing an offering's Keycloak connection settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect

from ..crypto import encrypt
from ..extensions import db
from ..models import Offering, User
from . import audit
from .errors import ValidationFailed
from .naming import template_errors


@dataclass(frozen=True)
class KeycloakSettingsInput:
    enabled: bool
    url: str
    realm: str
    auth_realm: str
    use_service_account: bool
    username: str
    password: str  # blank keeps the stored password
    client_id: str
    client_secret: str  # blank keeps the stored secret
    verify_ssl: bool
    timeout: float
    base_group: str
    group_name_template: str
    username_label: str


def update_keycloak_settings(actor: User, offering: Offering, data: KeycloakSettingsInput) -> None:
    problems = template_errors(data.group_name_template)
    if problems:
        raise ValidationFailed({"group_name_template": problems})
    offering.keycloak_enabled = data.enabled
    offering.keycloak_url = data.url.strip()
    offering.keycloak_realm = data.realm.strip()
    offering.keycloak_auth_realm = data.auth_realm.strip() or "master"
    offering.keycloak_verify_ssl = data.verify_ssl
    offering.keycloak_timeout = data.timeout
    offering.keycloak_base_group = data.base_group.strip().strip("/")
    offering.keycloak_group_name_template = data.group_name_template.strip()
    offering.keycloak_username_label = data.username_label.strip() or "Username"
    if data.use_service_account:
        offering.keycloak_client_id = data.client_id.strip()
        if data.client_secret:
            offering.keycloak_client_secret_encrypted = encrypt(data.client_secret)
        # One auth mode at a time: switching to the service account forgets the admin password.
        offering.keycloak_username = ""
        offering.keycloak_password_encrypted = ""
    else:
        offering.keycloak_username = data.username.strip()
        if data.password:
            offering.keycloak_password_encrypted = encrypt(data.password)
        offering.keycloak_client_id = ""
        offering.keycloak_client_secret_encrypted = ""
    changed = sorted(attr.key for attr in inspect(offering).attrs if attr.history.has_changes())
    # Record which settings changed, never their secret values.
    audit.record(actor, offering, "offering.keycloak_settings_changed", offering, {"changed": changed})
    db.session.commit()
