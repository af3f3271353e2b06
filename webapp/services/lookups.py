"""Finding the objects a request names, one function per behaviour.

Pages (a uuid in the URL) answer 404 when the object is unknown or not visible; API parameters and body
fields answer 400 on the field they came from. Role and resource lookups raise errors keyed by the domain
names "role" and "resource": each caller says which of its own field names those are.
"""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Offering, OfferingKeycloakGroup, OfferingRole, Resource, User
from .access import visible_groups, visible_offerings
from .errors import OFFERING_NOT_FOUND, ObjectNotFound, ValidationFailed
from .uuids import parse_uuid, uuid_from_url_or_hex

ROLE_NOT_FOUND = "Role not found for this offering."
RESOURCE_NOT_FOUND = "Resource not found for this offering."


def _visible_offering(user: User, offering_uuid: str | None) -> Offering | None:
    if not offering_uuid:
        return None
    return db.session.scalar(visible_offerings(user).where(Offering.uuid == offering_uuid))


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
