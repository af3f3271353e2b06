"""Who may see what: staff see everything, managers see the offerings they manage (docs/PRODUCT.md §2), and a
group manager sees the groups delegated to them and their members, nothing else of the offering (§13).

Two reaches: an offering is *managed* (everything of it) or *reached* (managed, or holding a group delegated
to the user: its group-level pages open, its offering-level ones answer 403).

Queries only; finding one object by a uuid or URL is in lookups.py."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    GroupManager,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    OfferingManager,
    User,
)
from .errors import ONLY_OFFERING_MANAGERS, NotAllowed


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


def delegated_group_ids(user: User) -> Select[int]:
    """A subquery of the ids of the groups delegated to the user (by username, so it holds from the first
    sign-in on and ends with the next request after the delegation is removed)."""
    return select(GroupManager.group_id).where(GroupManager.username == user.username.lower())


def reached_offering_ids(user: User) -> Select[int]:
    """A subquery of the offerings the user manages or holds a delegated group of."""
    delegated = select(OfferingKeycloakGroup.offering_id).where(OfferingKeycloakGroup.id.in_(delegated_group_ids(user)))
    return select(Offering.id).where(or_(Offering.id.in_(managed_offering_ids(user)), Offering.id.in_(delegated)))


def manages(user: User, offering: Offering) -> bool:
    """Whether the user may do everything with this offering (staff, or its managers)."""
    if user.is_staff:
        return True
    return db.session.scalar(select(managed_offering_ids(user).where(Offering.id == offering.id).exists())) or False


def require_manager(user: User, offering: Offering) -> None:
    """NotAllowed (403) unless the user may do everything with the offering: what a group manager may not do
    (settings, import, link, unlink, delete, group managers) checks this in its service."""
    if not manages(user, offering):
        raise NotAllowed(ONLY_OFFERING_MANAGERS)


def reached_offerings(user: User) -> Select[Offering]:
    query = select(Offering)
    if not user.is_staff:
        query = query.where(Offering.id.in_(reached_offering_ids(user)))
    return query


def delegated_groups(user: User) -> list[OfferingKeycloakGroup]:
    """The groups delegated to the user ("My groups"), by offering and name."""
    return list(
        db.session.scalars(
            select(OfferingKeycloakGroup)
            .join(Offering, OfferingKeycloakGroup.offering_id == Offering.id)
            .where(OfferingKeycloakGroup.id.in_(delegated_group_ids(user)))
            .options(joinedload(OfferingKeycloakGroup.offering), joinedload(OfferingKeycloakGroup.role))
            .order_by(Offering.name, OfferingKeycloakGroup.name, OfferingKeycloakGroup.id)
        )
    )


def delegated_group_count(user: User) -> int:
    """How many groups are delegated to the user (the home page's link to My groups), in one COUNT."""
    return int(db.session.scalar(select(func.count()).select_from(delegated_group_ids(user).subquery())) or 0)


def visible_offerings(user: User) -> Select[Offering]:
    query = select(Offering)
    if not user.is_staff:
        query = query.where(Offering.id.in_(managed_offering_ids(user)))
    return query


def offerings_of(user: User) -> list[Offering]:
    """The offerings a page lists for this user, by name."""
    return list(db.session.scalars(visible_offerings(user).order_by(Offering.name)))


def visible_groups(user: User) -> Select[OfferingKeycloakGroup]:
    """The groups of the offerings the user manages, and the groups delegated to them."""
    query = select(OfferingKeycloakGroup)
    if not user.is_staff:
        query = query.where(
            or_(
                OfferingKeycloakGroup.offering_id.in_(managed_offering_ids(user)),
                OfferingKeycloakGroup.id.in_(delegated_group_ids(user)),
            )
        )
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
