"""Editing an offering's Keycloak connection settings."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ...crypto import encrypt
from ...extensions import db
from ...keycloak.destinations import NOT_ALLOWED, is_allowed, normalized, parse_prefixes
from ...keycloak.ids import is_safe_path_name
from ...keycloak.trust import pem_problem
from ...models import Offering, User
from .. import audit
from ..errors import ValidationFailed
from ..naming import template_errors
from . import ca_files
from .placement import check_place, offering_place, overlapping_offerings


@dataclass(frozen=True)
class KeycloakSettingsInput:
    enabled: bool
    url: str
    realm: str
    auth_realm: str
    use_service_account: bool
    username: str
    password: str  # blank keeps the stored password, unless the server or account changes
    client_id: str
    client_secret: str  # blank keeps the stored secret, unless the server or account changes
    verify_ssl: bool
    ca_certificate: str  # PEM; blank: the system's trust store (or OKG_KEYCLOAK_CA_BUNDLE)
    timeout: float
    base_group: str
    group_name_template: str
    username_label: str


# Where the stored secret goes: a change to any of these sends it to a new destination or account (the base
# group decides which groups the account will change, so moving it is a new use of the secret too).
DESTINATION_FIELDS = (
    "keycloak_url",
    "keycloak_realm",
    "keycloak_auth_realm",
    "keycloak_username",
    "keycloak_client_id",
    "keycloak_base_group",
)
# Where the offering lives in Keycloak: staff decide it (a manager could otherwise move the subtree onto other
# groups of the realm). Form field -> column.
STAFF_ONLY_FIELDS = {
    "realm": "keycloak_realm",
    "auth_realm": "keycloak_auth_realm",
    "base_group": "keycloak_base_group",
}
STAFF_ONLY = {
    "realm": "Only staff can change the realm: it decides whose groups and users this offering manages.",
    "auth_realm": "Only staff can change the authentication realm.",
    "base_group": "Only staff can change the base group: it decides where in Keycloak this offering's groups live.",
}
AUDITED_FIELDS = (
    "keycloak_enabled",
    *DESTINATION_FIELDS,
    "keycloak_verify_ssl",
    "keycloak_ca_certificate",
    "keycloak_timeout",
    "keycloak_group_name_template",
    "keycloak_username_label",
)
SECRET_FIELDS = {"keycloak_password_encrypted": "password", "keycloak_client_secret_encrypted": "client_secret"}
INVALID_URL = "Enter an http or https URL without a user name, query or fragment."
UNSAFE_REALM = "A realm name may not contain '/', '\\', '?', '#' or '%', nor be '.' or '..'."
UNSAFE_BASE_GROUP = "Each part of the base group needs a name: no empty, '.' or '..' parts."


def _realm_is_safe(name: str) -> bool:
    # python-keycloak puts the realm into token URLs without quoting: keep it one plain path segment.
    return name not in (".", "..") and not any(char in name for char in "/\\?#%") and name.isprintable()


def settings_errors(data: KeycloakSettingsInput) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    url = data.url.strip()
    if url and normalized(url) is None:
        problems["url"] = [INVALID_URL]
    elif url and not is_allowed(url, parse_prefixes(current_app.config["KEYCLOAK_ALLOWED_URLS"])):
        problems["url"] = [NOT_ALLOWED]
    for name, value in (("realm", data.realm), ("auth_realm", data.auth_realm)):
        if value.strip() and not _realm_is_safe(value.strip()):
            problems[name] = [UNSAFE_REALM]
    base = data.base_group.strip().strip("/")
    if base and not all(is_safe_path_name(part) for part in base.split("/")):
        problems["base_group"] = [UNSAFE_BASE_GROUP]
    ca_problem = pem_problem(data.ca_certificate)
    if ca_problem:
        problems["ca_certificate"] = [ca_problem]
    template = template_errors(data.group_name_template)
    if template:
        problems["group_name_template"] = template
    return problems


def _placement(realm: str, auth_realm: str, base_group: str) -> dict[str, str]:
    """The staff-only values as they are stored (so that a value posted back unchanged compares equal)."""
    return {
        "realm": realm.strip(),
        "auth_realm": auth_realm.strip() or "master",
        "base_group": base_group.strip().strip("/"),
    }


def _staff_only_errors(actor: User, offering: Offering, data: KeycloakSettingsInput) -> dict[str, list[str]]:
    if actor.is_staff:
        return {}
    stored = _placement(offering.keycloak_realm, offering.keycloak_auth_realm, offering.keycloak_base_group)
    wanted = _placement(data.realm, data.auth_realm, data.base_group)
    return {name: [STAFF_ONLY[name]] for name in STAFF_ONLY_FIELDS if wanted[name] != stored[name]}


def _trust(offering: Offering) -> tuple[bool, str]:
    return offering.keycloak_verify_ssl, offering.keycloak_ca_certificate


def _trust_weakened(before: tuple[bool, str], offering: Offering) -> bool:
    """Turning verification off, or trusting another CA, lets another server pass for Keycloak: the stored
    secret must not be sent on that trust."""
    verified, certificate = before
    return (verified and not offering.keycloak_verify_ssl) or certificate.strip() != offering.keycloak_ca_certificate


def _destination(offering: Offering) -> tuple[str, ...]:
    """Where the stored secret goes, compared as the gateway sees it (`http://kc` and `http://kc/` are one)."""
    url = offering.keycloak_url.strip()
    place = _placement(offering.keycloak_realm, offering.keycloak_auth_realm, offering.keycloak_base_group)
    stored = {column: place[name] for name, column in STAFF_ONLY_FIELDS.items()}
    return (
        (normalized(url) or url).rstrip("/"),
        *(stored.get(name, getattr(offering, name)) for name in DESTINATION_FIELDS[1:]),
    )


def update_keycloak_settings(actor: User, offering: Offering, data: KeycloakSettingsInput) -> None:
    """Errors name the form fields. Staff only may change realm, auth realm and base group; nothing is saved
    when any check fails."""
    problems = _staff_only_errors(actor, offering, data) or settings_errors(data)
    if problems:
        raise ValidationFailed(problems)
    placement = _placement(data.realm, data.auth_realm, data.base_group)
    check_place(actor.is_staff, offering.id, data.url, placement["realm"], placement["base_group"], offering.slug)
    before = {name: getattr(offering, name) for name in (*AUDITED_FIELDS, *SECRET_FIELDS)}
    destination, trust = _destination(offering), _trust(offering)
    offering.keycloak_enabled = data.enabled
    offering.keycloak_url = data.url.strip()
    offering.keycloak_realm = placement["realm"]
    offering.keycloak_auth_realm = placement["auth_realm"]
    offering.keycloak_verify_ssl = data.verify_ssl
    offering.keycloak_ca_certificate = data.ca_certificate.strip()
    offering.keycloak_timeout = data.timeout
    offering.keycloak_base_group = placement["base_group"]
    offering.keycloak_group_name_template = data.group_name_template.strip()
    offering.keycloak_username_label = data.username_label.strip() or "Username"
    if data.use_service_account:
        offering.keycloak_client_id = data.client_id.strip()
        # One auth mode at a time: switching to the service account forgets the admin password.
        offering.keycloak_username = ""
        offering.keycloak_password_encrypted = ""
    else:
        offering.keycloak_username = data.username.strip()
        offering.keycloak_client_id = ""
        offering.keycloak_client_secret_encrypted = ""
    # A stored secret never travels to a new destination, nor on weaker trust: it is kept only while server,
    # account, place and certificate checks stay as they were.
    if _destination(offering) != destination or _trust_weakened(trust, offering):
        offering.keycloak_password_encrypted = ""
        offering.keycloak_client_secret_encrypted = ""
    if data.use_service_account and data.client_secret:
        offering.keycloak_client_secret_encrypted = encrypt(data.client_secret)
    if not data.use_service_account and data.password:
        offering.keycloak_password_encrypted = encrypt(data.password)
    audit.record(actor, offering, "offering.keycloak_settings_changed", offering, _changes(offering, before, data))
    db.session.commit()
    if trust[1] != offering.keycloak_ca_certificate:
        ca_files.release([trust[1]])


def overlapping_offering_names(offering: Offering) -> list[str]:
    """For staff: the other offerings whose Keycloak groups overlap this one's (see placement.py)."""
    return [other.name for other in overlapping_offerings(offering_place(offering), offering.id)]


def _changes(offering: Offering, before: dict[str, object], data: KeycloakSettingsInput) -> dict[str, object]:
    """Old and new value of every non-secret field that changed; for secrets only "changed" or "cleared"."""
    changes = {
        name: [before[name], getattr(offering, name)]
        for name in AUDITED_FIELDS
        if getattr(offering, name) != before[name]
    }
    secrets: dict[str, str] = {}
    for column, label in SECRET_FIELDS.items():
        entered = data.client_secret if label == "client_secret" else data.password
        if getattr(offering, column) != before[column]:
            secrets[label] = "changed" if entered and getattr(offering, column) else "cleared"
    return {"changed": sorted([*changes, *secrets]), "changes": changes, "secrets": secrets}
