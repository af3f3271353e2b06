"""JSON representations, field for field as Waldur served them (SPEC §3, §4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for

from ..keycloak import RemoteGroup, RemoteUser
from ..models import Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, OfferingRole, Resource, User


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we always store UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")


def offering_url(offering: Offering) -> str:
    return url_for("api.offering_detail", uuid=offering.uuid, _external=True)


def role_url(role: OfferingRole) -> str:
    return url_for("api.role_detail", uuid=role.uuid, _external=True)


def resource_url(resource: Resource) -> str:
    return url_for("api.resource_detail", uuid=resource.uuid, _external=True)


def group_url(group: OfferingKeycloakGroup) -> str:
    return url_for("api.group_detail", uuid=group.uuid, _external=True)


def serialize_group(group: OfferingKeycloakGroup) -> dict[str, Any]:
    resource = group.resource
    return {
        "uuid": group.uuid,
        "url": group_url(group),
        "name": group.name,
        "backend_id": group.backend_id,
        "offering": offering_url(group.offering),
        "offering_uuid": group.offering.uuid,
        "offering_name": group.offering.name,
        "role": role_url(group.role),
        "role_name": group.role.name,
        "role_scope_type": group.role.scope_type,
        "resource": resource_url(resource) if resource else None,
        "resource_uuid": resource.uuid if resource else None,
        "resource_name": resource.name if resource else None,
        "scope_id": group.scope_id,
        "created": iso(group.created),
        "modified": iso(group.modified),
    }


def serialize_membership(membership: OfferingKeycloakMembership, viewer: User) -> dict[str, Any]:
    group = membership.group
    resource = group.resource
    return {
        "uuid": membership.uuid,
        "url": url_for("api.membership_detail", uuid=membership.uuid, _external=True),
        "username": membership.username,
        "email": membership.email,
        "first_name": membership.first_name,
        "last_name": membership.last_name,
        "group": group_url(group),
        "group_name": group.name,
        "group_role_name": group.role.name,
        "group_offering_uuid": group.offering.uuid,
        "group_offering_name": group.offering.name,
        "group_resource_name": resource.name if resource else None,
        "group_resource_uuid": resource.uuid if resource else None,
        "group_scope_id": group.scope_id,
        "group_role_scope_type": group.role.scope_type,
        "group_role_scope_type_label": group.role.scope_type_label,
        "user": None,
        "state": membership.state,
        "created": iso(membership.created),
        "modified": iso(membership.modified),
        "last_checked": iso(membership.last_checked),
        "error_message": membership.error_message,
        "error_traceback": membership.error_traceback if viewer.is_staff else "",
    }


def serialize_remote_group(group: RemoteGroup) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "path": group.path, "sub_group_count": group.sub_group_count}


def serialize_remote_user(user: RemoteUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def serialize_offering(offering: Offering) -> dict[str, Any]:
    """Secrets never appear here: only whether they are set."""
    return {
        "uuid": offering.uuid,
        "url": offering_url(offering),
        "name": offering.name,
        "slug": offering.slug,
        "organization_uuid": offering.organization.uuid,
        "organization_name": offering.organization.name,
        "keycloak": {
            "enabled": offering.keycloak_enabled,
            "url": offering.keycloak_url,
            "realm": offering.keycloak_realm,
            "auth_realm": offering.keycloak_auth_realm,
            "username": offering.keycloak_username,
            "password_set": bool(offering.keycloak_password_encrypted),
            "client_id": offering.keycloak_client_id,
            "client_secret_set": bool(offering.keycloak_client_secret_encrypted),
            "verify_ssl": offering.keycloak_verify_ssl,
            "timeout": offering.keycloak_timeout,
            "base_group": offering.keycloak_base_group,
            "group_name_template": offering.keycloak_group_name_template,
            "username_label": offering.keycloak_username_label,
        },
        "roles": [serialize_role(role) for role in offering.roles],
        "resources": [serialize_resource(resource) for resource in offering.resources],
    }


def serialize_role(role: OfferingRole) -> dict[str, Any]:
    return {
        "uuid": role.uuid,
        "url": role_url(role),
        "name": role.name,
        "scope_type": role.scope_type,
        "scope_type_label": role.scope_type_label,
    }


def serialize_resource(resource: Resource) -> dict[str, Any]:
    return {
        "uuid": resource.uuid,
        "url": resource_url(resource),
        "name": resource.name,
        "project_name": resource.project_name,
        "keycloak_available_scopes": resource.keycloak_available_scopes or [],
    }
