"""Checking role, resource and scope for an offering, and finding the local group they name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import Offering, OfferingKeycloakGroup, OfferingRole, Resource
from .errors import ValidationFailed


@dataclass(frozen=True)
class Scope:
    role: OfferingRole
    resource: Resource | None
    scope_id: str


def check_scope(role: OfferingRole, resource: Resource | None, scope_id: str) -> None:
    """A role with a scope type needs a resource on which that scope id is configured."""
    if not role.scope_type:
        return
    label = role.scope_type_label or role.scope_type
    if resource is None:
        raise ValidationFailed.field("resource", f"Role '{role.name}' is scoped per {label}: choose a resource.")
    if not scope_id:
        raise ValidationFailed.field("scope_id", f"Role '{role.name}' is scoped per {label}: a scope id is required.")
    configured = {
        str(item.get("scope_id"))
        for item in resource.keycloak_available_scopes or []
        if isinstance(item, dict) and item.get("scope_type") == role.scope_type
    }
    if scope_id not in configured:
        raise ValidationFailed.field(
            "scope_id", f"Scope '{scope_id}' ({label}) is not configured on resource '{resource.name}'."
        )


def existing_group(offering: Offering, scope: Scope) -> OfferingKeycloakGroup | None:
    query = select(OfferingKeycloakGroup).where(
        OfferingKeycloakGroup.offering_id == offering.id,
        OfferingKeycloakGroup.role_id == scope.role.id,
        OfferingKeycloakGroup.scope_id == scope.scope_id,
    )
    if scope.resource is None:
        query = query.where(OfferingKeycloakGroup.resource_id.is_(None))
    else:
        query = query.where(OfferingKeycloakGroup.resource_id == scope.resource.id)
    return db.session.scalar(query)


def group_with_backend_id(offering: Offering, backend_id: str) -> OfferingKeycloakGroup | None:
    return db.session.scalar(
        select(OfferingKeycloakGroup).where(
            OfferingKeycloakGroup.offering_id == offering.id, OfferingKeycloakGroup.backend_id == backend_id
        )
    )
