"""Who may see what: staff see everything, managers see the offerings they manage (SPEC §2)."""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from ..extensions import db
from ..models import Offering, OfferingKeycloakGroup, OfferingManager, User
from .errors import OFFERING_NOT_FOUND, ObjectNotFound, ValidationFailed
from .uuids import parse_uuid


def managed_offering_ids(user: User) -> Select[int]:
    """A subquery of offering ids the user manages, directly or through the organization."""
    return (
        select(Offering.id)
        .join(
            OfferingManager,
            or_(
                OfferingManager.offering_id == Offering.id,
                OfferingManager.organization_id == Offering.organization_id,
            ),
        )
        .where(OfferingManager.user_id == user.id)
    )


def visible_offerings(user: User) -> Select[Offering]:
    query = select(Offering)
    if not user.is_staff:
        query = query.where(Offering.id.in_(managed_offering_ids(user)))
    return query


def find_visible_offering(user: User, offering_uuid: str | None) -> Offering | None:
    if not offering_uuid:
        return None
    return db.session.scalar(visible_offerings(user).where(Offering.uuid == offering_uuid))


def offering_from_param(user: User, value: object, field: str = "offering_uuid") -> Offering:
    """Resolve an offering_uuid parameter; unknown or invisible is a 400 on that field."""
    offering = find_visible_offering(user, parse_uuid(value))
    if offering is None:
        raise ValidationFailed.field(field, OFFERING_NOT_FOUND)
    return offering


def visible_offering(user: User, value: str) -> Offering:
    """Resolve an offering in a URL; unknown or invisible is a 404."""
    offering = find_visible_offering(user, parse_uuid(value))
    if offering is None:
        raise ObjectNotFound()
    return offering


def visible_groups(user: User) -> Select[OfferingKeycloakGroup]:
    query = select(OfferingKeycloakGroup)
    if not user.is_staff:
        query = query.where(OfferingKeycloakGroup.offering_id.in_(managed_offering_ids(user)))
    return query


def visible_group(user: User, value: str) -> OfferingKeycloakGroup:
    group_uuid = parse_uuid(value)
    group = group_uuid and db.session.scalar(visible_groups(user).where(OfferingKeycloakGroup.uuid == group_uuid))
    if not group:
        raise ObjectNotFound()
    return group
