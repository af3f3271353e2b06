"""`load-data`: upsert users, organizations, offerings, roles and resources from a JSON document."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from ..crypto import decrypt, encrypt
from ..extensions import db
from ..keycloak.destinations import NOT_ALLOWED, is_allowed, normalized, parse_prefixes
from ..models import Offering, OfferingManager, OfferingRole, Organization, Resource, User
from .accounts.core import reset_password, set_password
from .connection import ca_files
from .connection.placement import check_place
from .errors import ValidationFailed
from .naming import template_errors
from .uuids import parse_uuid


class LoadError(Exception):
    """The file is wrong; the message names the entry. Nothing has been written."""


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(entry, dict):
        raise LoadError(f"{where}: expected an object, got {type(entry).__name__}")
    value = entry.get(key)
    if value in (None, ""):
        raise LoadError(f"{where}: '{key}' is required")
    return value


def _uuid(entry: dict[str, Any], where: str) -> str:
    value = parse_uuid(_require(entry, "uuid", where))
    if value is None:
        raise LoadError(f"{where}: 'uuid' is not a valid UUID: {entry.get('uuid')!r}")
    return value


def _by_uuid(model: Any, uuid: str) -> Any:
    return db.session.scalar(select(model).where(model.uuid == uuid))


def _set(obj: Any, **values: Any) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def load_data(data: Any) -> dict[str, int]:
    """Validate and upsert everything in one transaction; returns counts of created/updated objects."""
    if not isinstance(data, dict):
        raise LoadError("The file must contain a JSON object with users, organizations and offerings")
    counts = {"created": 0, "updated": 0}
    replaced_certificates: list[str] = []
    try:
        users = {u.username: u for u in (_load_user(e, i, counts) for i, e in enumerate(data.get("users") or []))}
        for index, entry in enumerate(data.get("organizations") or []):
            _load_organization(entry, index, users, counts)
        offerings = [
            _load_offering(entry, index, users, counts, replaced_certificates)
            for index, entry in enumerate(data.get("offerings") or [])
        ]
        db.session.flush()
        for index, offering in enumerate(offerings):
            _check_place(offering, f"offerings[{index}].keycloak")
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    ca_files.release(replaced_certificates)
    return counts


def _check_place(offering: Offering, where: str) -> None:
    """Offerings on one server and realm keep apart, as on the settings page (operators see the names)."""
    try:
        check_place(
            True,
            offering.id,
            offering.keycloak_url,
            offering.keycloak_realm,
            offering.keycloak_base_group,
            offering.slug,
        )
    except ValidationFailed as exc:
        raise LoadError(f"{where}.base_group: {exc.message}") from exc


def _track(obj: Any, created: bool, changed: bool, counts: dict[str, int]) -> None:
    if created:
        db.session.add(obj)
        counts["created"] += 1
    elif changed:
        counts["updated"] += 1


def _load_user(entry: Any, index: int, counts: dict[str, int]) -> User:
    where = f"users[{index}]"
    username = str(_require(entry, "username", where)).strip().lower()
    user = db.session.scalar(select(User).where(User.username == username))
    created = user is None
    user = user or User(username=username)
    changed = _set(user, email=str(entry.get("email") or "").lower(), is_staff=bool(entry.get("is_staff", False)))
    password = entry.get("password")
    if password and created:
        set_password(user, str(password))
    elif password and not _password_matches(user, password):
        reset_password(user, str(password))  # whoever had the old one loses their sessions and tokens
        changed = True
    _track(user, created, changed, counts)
    return user


def _password_matches(user: User, password: str) -> bool:
    from werkzeug.security import check_password_hash

    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def _managers(entry: dict[str, Any], where: str, users: dict[str, User]) -> list[User]:
    found = []
    for name in entry.get("managers") or []:
        user = users.get(str(name).lower()) or db.session.scalar(select(User).where(User.username == str(name).lower()))
        if user is None:
            raise LoadError(f"{where}: manager '{name}' is not a known user")
        found.append(user)
    return found


def _grant(user: User, organization: Organization | None = None, offering: Offering | None = None) -> None:
    db.session.flush()
    ids = {
        "organization_id": organization.id if organization else None,
        "offering_id": offering.id if offering else None,
    }
    query = select(OfferingManager).where(OfferingManager.user_id == user.id)
    for key, value in ids.items():
        column = getattr(OfferingManager, key)
        query = query.where(column.is_(None) if value is None else column == value)
    if db.session.scalar(query) is None:
        db.session.add(OfferingManager(user_id=user.id, **ids))


def _load_organization(entry: Any, index: int, users: dict[str, User], counts: dict[str, int]) -> None:
    where = f"organizations[{index}]"
    uuid = _uuid(entry, where)
    organization = _by_uuid(Organization, uuid)
    created = organization is None
    organization = organization or Organization(uuid=uuid)
    changed = _set(organization, name=str(_require(entry, "name", where)), slug=str(_require(entry, "slug", where)))
    _track(organization, created, changed, counts)
    for user in _managers(entry, where, users):
        _grant(user, organization=organization)


def _load_offering(
    entry: Any, index: int, users: dict[str, User], counts: dict[str, int], replaced_certificates: list[str]
) -> Offering:
    where = f"offerings[{index}]"
    uuid = _uuid(entry, where)
    org_uuid = parse_uuid(_require(entry, "organization", where))
    organization = org_uuid and _by_uuid(Organization, org_uuid)
    if not organization:
        raise LoadError(f"{where}: organization {entry.get('organization')!r} is not known")
    offering = _by_uuid(Offering, uuid)
    created = offering is None
    offering = offering or Offering(uuid=uuid)
    changed = _set(
        offering,
        organization=organization,
        name=str(_require(entry, "name", where)),
        slug=str(_require(entry, "slug", where)),
    )
    certificate = offering.keycloak_ca_certificate or ""
    changed = _load_keycloak(offering, entry.get("keycloak") or {}, f"{where}.keycloak") or changed
    if certificate and certificate != offering.keycloak_ca_certificate:
        replaced_certificates.append(certificate)
    _track(offering, created, changed, counts)
    for user in _managers(entry, where, users):
        _grant(user, offering=offering)
    for role_index, role_entry in enumerate(entry.get("roles") or []):
        _load_child(
            OfferingRole,
            offering,
            role_entry,
            f"{where}.roles[{role_index}]",
            counts,
            name=str(_require(role_entry, "name", f"{where}.roles[{role_index}]")),
            scope_type=str(role_entry.get("scope_type") or ""),
            scope_type_label=str(role_entry.get("scope_type_label") or ""),
        )
    for res_index, res_entry in enumerate(entry.get("resources") or []):
        res_where = f"{where}.resources[{res_index}]"
        scopes = res_entry.get("keycloak_available_scopes") if isinstance(res_entry, dict) else None
        if scopes is not None and not (
            isinstance(scopes, list)
            and all(isinstance(s, dict) and s.get("scope_type") and s.get("scope_id") for s in scopes)
        ):
            raise LoadError(f"{res_where}: keycloak_available_scopes must be a list of {{scope_type, scope_id, label}}")
        _load_child(
            Resource,
            offering,
            res_entry,
            res_where,
            counts,
            name=str(_require(res_entry, "name", res_where)),
            project_name=str(res_entry.get("project_name") or ""),
            keycloak_available_scopes=scopes or [],
        )
    return offering


def _load_child(model: Any, offering: Offering, entry: Any, where: str, counts: dict[str, int], **values: Any) -> None:
    uuid = _uuid(entry, where)
    obj = _by_uuid(model, uuid)
    if obj is not None and obj.offering_id not in (None, offering.id):
        raise LoadError(f"{where}: uuid {uuid} already belongs to another offering")
    created = obj is None
    obj = obj or model(uuid=uuid)
    changed = _set(obj, offering=offering, **values)
    _track(obj, created, changed, counts)


def _load_keycloak(offering: Offering, settings: Any, where: str) -> bool:
    if not isinstance(settings, dict):
        raise LoadError(f"{where}: expected an object")
    template = str(settings.get("group_name_template") or "")
    problems = template_errors(template)
    if problems:
        raise LoadError(f"{where}.group_name_template: {problems[0]}")
    url = str(settings.get("url") or "")
    if url and not is_allowed(url, parse_prefixes(current_app.config["KEYCLOAK_ALLOWED_URLS"])):
        raise LoadError(f"{where}.url: {NOT_ALLOWED if normalized(url) else 'not an http or https URL'}")
    changed = _set(
        offering,
        keycloak_enabled=bool(settings.get("enabled", False)),
        keycloak_url=str(settings.get("url") or ""),
        keycloak_realm=str(settings.get("realm") or ""),
        keycloak_auth_realm=str(settings.get("auth_realm") or "master"),
        keycloak_username=str(settings.get("username") or ""),
        keycloak_client_id=str(settings.get("client_id") or ""),
        keycloak_verify_ssl=bool(settings.get("verify_ssl", True)),
        keycloak_ca_certificate=str(settings.get("ca_certificate") or ""),
        keycloak_timeout=float(settings.get("timeout") or 10.0),
        keycloak_base_group=str(settings.get("base_group") or ""),
        keycloak_group_name_template=template,
    )
    # Secrets: only rewritten when given, and compared decrypted so a re-run changes nothing.
    for key, column in (
        ("password", "keycloak_password_encrypted"),
        ("client_secret", "keycloak_client_secret_encrypted"),
    ):
        value = settings.get(key)
        if value and decrypt(getattr(offering, column) or "") != value:
            setattr(offering, column, encrypt(str(value)))
            changed = True
    return changed
