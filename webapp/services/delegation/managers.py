"""Assigning and removing group managers; listing them. Only the offering's managers (and staff) do this."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...keycloak import NotFound
from ...models import GroupManager, Offering, OfferingKeycloakGroup, User
from .. import audit
from ..access import require_manager, visible_groups, visible_offerings
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..errors import ObjectNotFound, ValidationFailed
from ..uuids import parse_uuid

ALREADY = "{username} already manages this group."
NO_SUCH_USER = "No account and no Keycloak user is named {username}."
MAX_USERNAME = 150


@dataclass(frozen=True)
class ManagerFilter:
    """The list's filters; empty values filter nothing. `group` is already looked up."""

    group: OfferingKeycloakGroup | None = None
    username: str = ""


def clean_username(value: str) -> str:
    """The username as stored (lower case, trimmed); blank, too long or with spaces is a 400 on "username"."""
    username = value.strip().lower()
    if not username:
        raise ValidationFailed.field("username", "This field may not be blank.")
    if len(username) > MAX_USERNAME or any(char.isspace() or ord(char) < 32 for char in username):
        raise ValidationFailed.field("username", "Enter a username: at most 150 characters, no spaces.")
    return username


def _known(group: OfferingKeycloakGroup, username: str) -> bool:
    """An account here, or a user of the offering's realm (who can sign in with Keycloak and get one)."""
    if db.session.scalar(select(exists().where(User.username == username))):
        return True
    gateway = gateway_for_offering(group.offering)
    try:
        found = call_keycloak("Looking the user up in Keycloak failed", lambda: gateway.find_user_by_username(username))
    except NotFound:
        return False
    return found is not None


def assign(actor: User, group: OfferingKeycloakGroup, username: str) -> GroupManager:
    """Make `username` a manager of the group's members. Raises NotAllowed (not the offering's manager),
    ValidationFailed (bad, unknown or already assigned username) or RemoteFailure (Keycloak could not say)."""
    require_manager(actor, group.offering)
    username = clean_username(username)
    if _has(group, username):
        raise ValidationFailed.field("username", ALREADY.format(username=username))
    if not _known(group, username):
        raise ValidationFailed.field("username", NO_SUCH_USER.format(username=username))
    manager = GroupManager(group=group, username=username, created_by_name=actor.username)
    db.session.add(manager)
    audit.record(actor, group.offering, "group_manager.created", group, {"username": username, "group": group.uuid})
    try:
        db.session.commit()
    except IntegrityError as exc:  # the same assignment committed meanwhile
        db.session.rollback()
        raise ValidationFailed.field("username", ALREADY.format(username=username)) from exc
    return manager


def remove(actor: User, manager: GroupManager) -> None:
    """End a delegation: from the next request on, the person sees nothing of the group."""
    group = manager.group
    require_manager(actor, group.offering)
    audit.record(
        actor, group.offering, "group_manager.deleted", group, {"username": manager.username, "group": group.uuid}
    )
    db.session.delete(manager)
    db.session.commit()


def _has(group: OfferingKeycloakGroup, username: str) -> bool:
    return bool(
        db.session.scalar(select(exists().where(GroupManager.group_id == group.id, GroupManager.username == username)))
    )


def _managed() -> Select[GroupManager]:
    return select(GroupManager).join(OfferingKeycloakGroup, GroupManager.group_id == OfferingKeycloakGroup.id)


def manager_list(user: User, filters: ManagerFilter) -> Select[GroupManager]:
    """The delegations of the offerings the user manages (a group manager sees none: that is the offering
    managers' business), oldest first."""
    query = _managed().options(joinedload(GroupManager.group))
    if not user.is_staff:
        query = query.where(
            OfferingKeycloakGroup.offering_id.in_(visible_offerings(user).with_only_columns(Offering.id))
        )
    if filters.group is not None:
        require_manager(user, filters.group.offering)
        query = query.where(GroupManager.group_id == filters.group.id)
    if filters.username:
        query = query.where(GroupManager.username == filters.username.strip().lower())
    return query.order_by(GroupManager.created, GroupManager.id)


def managers_of(group: OfferingKeycloakGroup) -> list[GroupManager]:
    """The group's managers, by username (the group page)."""
    return list(
        db.session.scalars(
            select(GroupManager).where(GroupManager.group_id == group.id).order_by(GroupManager.username)
        )
    )


def manager_page(user: User, value: str) -> GroupManager:
    """A delegation named in a URL: unknown or of a group the user does not see is 404; of a group they only
    manage the members of, 403."""
    manager_uuid = parse_uuid(value)
    manager = manager_uuid and db.session.scalar(
        _managed()
        .where(GroupManager.uuid == manager_uuid)
        .where(OfferingKeycloakGroup.id.in_(visible_groups(user).with_only_columns(OfferingKeycloakGroup.id)))
    )
    if not manager:
        raise ObjectNotFound()
    require_manager(user, manager.group.offering)
    return manager
