"""Finding the objects a request names, one function per behaviour.

Pages (a uuid in the URL) answer 404 when the object is unknown or not visible; API parameters and body
fields answer 400 on the field they came from. Role and resource lookups raise errors keyed by the domain
names "role" and "resource": each caller says which of its own field names those are.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select

from ..extensions import db
from ..models import Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, OfferingRole, Resource, User
from .access import reached_offerings, require_manager, visible_groups, visible_memberships, visible_offerings
from .errors import OFFERING_NOT_FOUND, ONLY_OFFERING_MANAGERS, NotAllowed, ObjectNotFound, ValidationFailed
from .uuids import parse_uuid, uuid_from_url_or_hex

ROLE_NOT_FOUND = "Role not found for this offering."
RESOURCE_NOT_FOUND = "Resource not found for this offering."
GROUP_NOT_FOUND = "Group not found."


def _visible_offering(user: User, offering_uuid: str | None) -> Offering | None:
    """An offering the user manages. One they only manage some groups of is NotAllowed (403): what asks for it
    is the offering managers' work."""
    if not offering_uuid:
        return None
    offering = db.session.scalar(visible_offerings(user).where(Offering.uuid == offering_uuid))
    if offering is None and _reached_offering(user, offering_uuid) is not None:
        raise NotAllowed(ONLY_OFFERING_MANAGERS)
    return offering


def _reached_offering(user: User, offering_uuid: str | None) -> Offering | None:
    if not offering_uuid:
        return None
    return db.session.scalar(reached_offerings(user).where(Offering.uuid == offering_uuid))


def reached_offering_page(user: User, value: str) -> Offering:
    """An offering in a URL path that the user manages or holds a delegated group of; else 404."""
    offering = _reached_offering(user, parse_uuid(value))
    if offering is None:
        raise ObjectNotFound()
    return offering


def reached_offering_param(user: User, value: object, field: str) -> Offering:
    """As offering_param, for what a group manager may ask too (their groups' members, plans, lists)."""
    offering = _reached_offering(user, parse_uuid(value))
    if offering is None:
        raise ValidationFailed.field(field, OFFERING_NOT_FOUND)
    return offering


def reached_offering_reference(user: User, value: object, field: str) -> Offering:
    """As offering_reference, for a group manager's grant."""
    offering = _reached_offering(user, uuid_from_url_or_hex(value))
    if offering is None:
        raise ValidationFailed.field(field, OFFERING_NOT_FOUND)
    return offering


def offering_page(user: User, value: str) -> Offering:
    """An offering in a URL path; unknown or invisible is ObjectNotFound (404)."""
    offering = _visible_offering(user, parse_uuid(value))
    if offering is None:
        raise ObjectNotFound()
    return offering


def offering_param(user: User, value: object, field: str) -> Offering:
    """An offering named by uuid in a parameter or body field; unknown or invisible is a 400 on that field."""
    offering = _visible_offering(user, parse_uuid(value))
    if offering is None:
        raise ValidationFailed.field(field, OFFERING_NOT_FOUND)
    return offering


def optional_offering(user: User, value: str | None, field: str) -> Offering | None:
    """An optional offering filter: absent is no filter; named but unknown or invisible a 400 on that field.
    A group manager may filter by the offering of their groups (the lists show only what they may see)."""
    return None if value is None else reached_offering_param(user, value, field)


def offering_reference(user: User, value: object, field: str) -> Offering:
    """An offering named by its API URL or uuid (Waldur's membership body); unknown is a 400 on that field."""
    offering = _visible_offering(user, uuid_from_url_or_hex(value))
    if offering is None:
        raise ValidationFailed.field(field, OFFERING_NOT_FOUND)
    return offering


def group_page(user: User, value: str) -> OfferingKeycloakGroup:
    group_uuid = parse_uuid(value)
    group = group_uuid and db.session.scalar(visible_groups(user).where(OfferingKeycloakGroup.uuid == group_uuid))
    if not group:
        raise ObjectNotFound()
    return group


def group_param(user: User, value: str, field: str) -> OfferingKeycloakGroup:
    """A group named by uuid in a parameter or body field; unknown or not visible is a 400 on that field."""
    group_uuid = parse_uuid(value)
    group = group_uuid and db.session.scalar(visible_groups(user).where(OfferingKeycloakGroup.uuid == group_uuid))
    if not group:
        raise ValidationFailed.field(field, GROUP_NOT_FOUND)
    return group


def optional_group(user: User, value: str | None, field: str) -> OfferingKeycloakGroup | None:
    """An optional group filter: absent is no filter; named but unknown or not visible a 400 on that field."""
    return None if value is None else group_param(user, value, field)


def managed_group_page(user: User, value: str) -> OfferingKeycloakGroup:
    """A group in a URL path for what only its offering's managers may do (link, unlink, delete): not visible
    is 404, visible to its group manager 403, before anything else of the request is read."""
    group = group_page(user, value)
    require_manager(user, group.offering)
    return group


def role_of(offering: Offering, value: object) -> OfferingRole:
    """The offering's role named by uuid or URL; otherwise a 400 on "role"."""
    role_uuid = uuid_from_url_or_hex(value)
    role = role_uuid and db.session.scalar(
        select(OfferingRole).where(OfferingRole.offering_id == offering.id, OfferingRole.uuid == role_uuid)
    )
    if not role:
        raise ValidationFailed.field("role", ROLE_NOT_FOUND)
    return role


def resource_of(offering: Offering, value: object) -> Resource | None:
    """The offering's resource named by uuid or URL, None for none; otherwise a 400 on "resource"."""
    if value in (None, ""):
        return None
    resource_uuid = uuid_from_url_or_hex(value)
    resource = resource_uuid and db.session.scalar(
        select(Resource).where(Resource.offering_id == offering.id, Resource.uuid == resource_uuid)
    )
    if not resource:
        raise ValidationFailed.field("resource", RESOURCE_NOT_FOUND)
    return resource


def membership_page(user: User, value: str) -> OfferingKeycloakMembership:
    membership_uuid = parse_uuid(value)
    membership = membership_uuid and db.session.scalar(
        visible_memberships(user).where(OfferingKeycloakMembership.uuid == membership_uuid)
    )
    if not membership:
        raise ObjectNotFound()
    return membership


OwnedT = TypeVar("OwnedT", OfferingRole, Resource)


def _owned_page(user: User, model: type[OwnedT], value: str) -> OwnedT:
    object_uuid = parse_uuid(value)
    visible = visible_offerings(user).with_only_columns(Offering.id)
    found = object_uuid and db.session.scalar(
        select(model).where(model.uuid == object_uuid, model.offering_id.in_(visible))
    )
    if not found:
        raise ObjectNotFound()
    return found


def role_page(user: User, value: str) -> OfferingRole:
    """A role in a URL path, of an offering the user sees; otherwise ObjectNotFound (404)."""
    return _owned_page(user, OfferingRole, value)


def resource_page(user: User, value: str) -> Resource:
    """A resource in a URL path, of an offering the user sees; otherwise ObjectNotFound (404)."""
    return _owned_page(user, Resource, value)


def groups_of(user: User, offering: Offering, uuids: list[str]) -> list[OfferingKeycloakGroup]:
    """The named groups, by name; one the user cannot see is ObjectNotFound, one of another offering a 400 on
    "groups" (a malformed uuid too)."""
    parsed = [parse_uuid(value) for value in uuids]
    if any(value is None for value in parsed):
        raise ValidationFailed.field("groups", "Must be a list of valid UUIDs.")
    wanted = list(dict.fromkeys(value for value in parsed if value))
    found = {
        group.uuid: group
        for group in db.session.scalars(visible_groups(user).where(OfferingKeycloakGroup.uuid.in_(wanted)))
    }
    if len(found) != len(wanted):
        raise ObjectNotFound()
    elsewhere = [group.name for group in found.values() if group.offering_id != offering.id]
    if elsewhere:
        raise ValidationFailed.field("groups", f"Not groups of this offering: {', '.join(elsewhere)}.")
    return sorted(found.values(), key=lambda group: (group.name, group.uuid))
