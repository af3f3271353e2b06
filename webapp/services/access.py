"""Who may see what: staff see everything, managers see the offerings they manage (docs/PRODUCT.md §2).

Queries only; finding one object by a uuid or URL is in lookups.py."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, OfferingManager, User


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


def offerings_of(user: User) -> list[Offering]:
    """The offerings a page lists for this user, by name."""
    return list(db.session.scalars(visible_offerings(user).order_by(Offering.name)))


def visible_groups(user: User) -> Select[OfferingKeycloakGroup]:
    query = select(OfferingKeycloakGroup)
    if not user.is_staff:
        query = query.where(OfferingKeycloakGroup.offering_id.in_(managed_offering_ids(user)))
    return query


def visible_memberships(user: User) -> Select[OfferingKeycloakMembership]:
    """Memberships of the groups the user sees, with what their API shape reads loaded in the same query."""
    model = OfferingKeycloakMembership
    return (
        select(model)
        .join(OfferingKeycloakGroup, model.group_id == OfferingKeycloakGroup.id)
        .where(OfferingKeycloakGroup.id.in_(visible_groups(user).with_only_columns(OfferingKeycloakGroup.id)))
        .options(
            joinedload(model.group).joinedload(OfferingKeycloakGroup.offering),
            joinedload(model.group).joinedload(OfferingKeycloakGroup.role),
            joinedload(model.group).joinedload(OfferingKeycloakGroup.resource),
        )
    )


def offerings_by_name(user: User) -> Select[Offering]:
    return visible_offerings(user).order_by(Offering.name, Offering.id)
