"""What the CSV downloads contain when it is more than one list: a group's members, here and in Keycloak."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...keycloak import KeycloakError, NotFound
from ...models import OfferingKeycloakGroup, OfferingKeycloakMembership
from ..connection.gateway import gateway_for_offering
from ..errors import REMOTE_GROUP_NOT_FOUND, RemoteFailure, ValidationFailed

MEMBER_COLUMNS = [
    "username",
    "state_here",
    "email_here",
    "first_name_here",
    "last_name_here",
    "in_keycloak",
    "email_in_keycloak",
    "first_name_in_keycloak",
    "last_name_in_keycloak",
]


def group_members(group: OfferingKeycloakGroup) -> Iterator[list[Any]]:
    """Every member on either side, one row each: Keycloak's members page by page (each page matched with the
    local rows of those usernames in one query), then the members recorded here only. Keeps just the usernames
    seen, so a 50,000-member group streams. Raises RemoteFailure / ValidationFailed when Keycloak fails."""
    seen: set[str] = set()
    if group.backend_id:
        for page in _remote_pages(group):
            yield from _matched(group, page, seen)
    query = (
        select(OfferingKeycloakMembership)
        .where(OfferingKeycloakMembership.group_id == group.id)
        .order_by(OfferingKeycloakMembership.username)
        .execution_options(yield_per=1000)
    )
    for row in db.session.scalars(query):
        if row.username not in seen:
            yield [row.username, row.state, row.email, row.first_name, row.last_name, False, "", "", ""]


def _remote_pages(group: OfferingKeycloakGroup) -> Iterator[list[Any]]:
    gateway = gateway_for_offering(group.offering)
    try:
        yield from gateway.iter_group_members(group.backend_id, label=group.name)
    except NotFound as exc:
        raise ValidationFailed([f"{group.name}: {REMOTE_GROUP_NOT_FOUND}"]) from exc
    except KeycloakError as exc:
        raise RemoteFailure(f"Reading the members of {group.name} in Keycloak failed", exc.message) from exc


def _matched(group: OfferingKeycloakGroup, page: list[Any], seen: set[str]) -> Iterator[list[Any]]:
    names = [user.username.lower() for user in page]
    local = {
        row.username: row
        for row in db.session.scalars(
            select(OfferingKeycloakMembership).where(
                OfferingKeycloakMembership.group_id == group.id, OfferingKeycloakMembership.username.in_(names)
            )
        )
    }
    for user, name in zip(page, names, strict=True):
        if name in seen:
            continue
        seen.add(name)
        row = local.get(name)
        here = [row.state, row.email, row.first_name, row.last_name] if row else ["", "", "", ""]
        yield [name, *here, True, user.email, user.first_name, user.last_name]
