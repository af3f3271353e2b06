"""Local group register: import a remote group, link/unlink, delete."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...keycloak import KeycloakGateway, NotFound
from ...models import GroupOrigin, Offering, OfferingKeycloakGroup, OfferingRole, Resource, User
from .. import audit
from ..access import require_manager, visible_groups
from ..commands import KEEP, ChangeLink, ImportGroup
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.subtree import find_offering_root, is_inside, keycloak_id, scoped_group
from ..errors import REMOTE_GROUP_NOT_FOUND, ValidationFailed
from ..scoping import Scope, check_scope, existing_group, group_with_backend_id

ALREADY_IMPORTED = "A local group already exists for this remote Keycloak group."
SCOPE_TAKEN = "A local group already exists for this role, resource and scope."


def import_remote(actor: User, command: ImportGroup) -> OfferingKeycloakGroup:
    """Register an existing Keycloak group locally (docs/PRODUCT.md §3 import_remote); changes nothing remotely.

    Errors name the domain fields "resource", "scope_id" and "remote_group"."""
    offering = command.offering
    require_manager(actor, offering)
    gateway = gateway_for_offering(offering)
    scope = Scope(command.role, command.resource, command.scope_id)
    check_scope(scope.role, scope.resource, scope.scope_id)
    remote_group_id = keycloak_id("remote_group", command.remote_group_id)
    try:
        remote = call_keycloak(
            "Reading the Keycloak group failed", lambda: scoped_group(gateway, offering, remote_group_id)
        )
    except NotFound as exc:
        raise ValidationFailed.field("remote_group", REMOTE_GROUP_NOT_FOUND) from exc
    _check_not_imported(offering, scope, remote.id)

    group = OfferingKeycloakGroup(
        offering=offering,
        role=scope.role,
        resource=scope.resource,
        scope_id=scope.scope_id,
        name=remote.name,
        backend_id=remote.id,
        origin=GroupOrigin.IMPORTED,
    )
    db.session.add(group)
    audit.record(actor, offering, "group.imported", group, {"backend_id": remote.id, "path": remote.path})
    try:
        db.session.commit()
    except IntegrityError as exc:
        # A concurrent import won the race between our checks and our insert: say why, as if we had seen it.
        db.session.rollback()
        _check_not_imported(offering, scope, remote.id)
        raise ValidationFailed([ALREADY_IMPORTED]) from exc
    return group


def _check_not_imported(offering: Offering, scope: Scope, remote_id: str) -> None:
    if group_with_backend_id(offering, remote_id):
        raise ValidationFailed([ALREADY_IMPORTED])
    clash = existing_group(offering, scope)
    if clash is not None:
        raise ValidationFailed([ALREADY_IMPORTED if clash.backend_id == remote_id else SCOPE_TAKEN])


def set_backend_id(actor: User, group: OfferingKeycloakGroup, change: ChangeLink) -> OfferingKeycloakGroup:
    """Link, re-link or unlink a local group. Empty/None unlinks; KEEP keeps the link, and kept resource/scope
    keep their values too (Better than Waldur, which reset scope_id). Errors name "backend_id", "resource"
    and "scope_id"."""
    offering = group.offering
    require_manager(actor, offering)
    keep_link = change.backend_id is KEEP
    backend_id = group.backend_id if change.backend_id is KEEP else (change.backend_id or "").strip()
    resource = group.resource if change.resource is KEEP else change.resource
    new_scope_id = group.scope_id if change.scope_id is KEEP else change.scope_id
    scope = Scope(group.role, resource, new_scope_id)
    if change.resource is not KEEP or change.scope_id is not KEEP:
        check_scope(group.role, resource, new_scope_id)
        clash = existing_group(offering, scope)
        if clash is not None and clash.id != group.id:
            raise ValidationFailed([SCOPE_TAKEN])

    remote_path = ""
    if backend_id and not keep_link:
        wanted = keycloak_id("backend_id", backend_id)
        gateway = gateway_for_offering(offering)
        try:
            remote = call_keycloak("Reading the Keycloak group failed", lambda: scoped_group(gateway, offering, wanted))
        except NotFound as exc:
            raise ValidationFailed.field("backend_id", REMOTE_GROUP_NOT_FOUND) from exc
        other = group_with_backend_id(offering, remote.id)
        if other is not None and other.id != group.id:
            raise ValidationFailed.field(
                "backend_id", f"This Keycloak group is already linked to local group '{other.name}'."
            )
        remote_path = remote.path
        backend_id = remote.id  # the id Keycloak returned, never the caller's string

    previous = group.backend_id
    group.backend_id = backend_id
    if backend_id and not keep_link:
        # Linked by hand to a group that already exists: created here only if it is the very group we made.
        group.origin = GroupOrigin.CREATED if group.remote_created_here else GroupOrigin.IMPORTED
    group.resource = resource
    group.scope_id = new_scope_id
    action = "group.updated" if keep_link else ("group.linked" if backend_id else "group.unlinked")
    audit.record(actor, offering, action, group, {"previous": previous, "backend_id": backend_id, "path": remote_path})
    _commit_or_explain(SCOPE_TAKEN)
    return group


IMPORTED_NEVER_DELETED = (
    "Imported groups are never deleted in Keycloak; delete without delete_remote to remove only the local record."
)
NOT_CREATED_HERE = (
    "This application did not create the Keycloak group this local group is linked to (it was imported or "
    "existed already, the link was changed since, or it was recorded before this application kept track), so it "
    "is never deleted in Keycloak; delete without delete_remote to remove only the local record."
)
MOVED_AWAY = (
    "The Keycloak group this application created is no longer inside this offering's group, so it is not "
    "deleted in Keycloak; delete without delete_remote to remove only the local record."
)


def delete_group(actor: User, group: OfferingKeycloakGroup, delete_remote: bool = False) -> None:
    """Delete the local group and its memberships; in Keycloak only the exact group this application created
    for it, and only when asked to (a refusal changes nothing, here or there)."""
    offering = group.offering
    require_manager(actor, offering)
    if delete_remote and group.backend_id and not group.remote_created_here:
        raise ValidationFailed.field("delete_remote", NOT_CREATED_HERE)
    if delete_remote and group.origin != GroupOrigin.CREATED:
        raise ValidationFailed.field("delete_remote", IMPORTED_NEVER_DELETED)
    remote_deleted = False
    if delete_remote and group.remote_created_here:
        created_id = keycloak_id("backend_id", group.created_backend_id)
        gateway = gateway_for_offering(offering)
        remote_deleted = call_keycloak(
            "Deleting the Keycloak group failed", lambda: _delete_created(gateway, offering, created_id)
        )
    audit.record(
        actor,
        offering,
        "group.deleted",
        group,
        {"backend_id": group.backend_id, "remote_deleted": remote_deleted, "members": len(group.memberships)},
    )
    db.session.delete(group)
    db.session.commit()


def _delete_created(gateway: KeycloakGateway, offering: Offering, group_id: str) -> bool:
    """Delete the group we created, if it is still inside the offering's subtree (it may have been moved in
    Keycloak since, and a delete removes everything below it); False when it is already gone."""
    try:
        group = gateway.get_group(group_id)
    except NotFound:
        return False  # already gone remotely: the local delete still proceeds
    root = find_offering_root(gateway, offering)
    if root is None or not is_inside(gateway, root, group):
        raise ValidationFailed.field("delete_remote", MOVED_AWAY)
    try:
        gateway.delete_group(group.id)
    except NotFound:
        return False
    return True


def _commit_or_explain(message: str) -> None:
    """A concurrent request may have won the race between our check and our insert."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ValidationFailed([message]) from exc


@dataclass(frozen=True)
class GroupFilter:
    """The group list's filters; empty values filter nothing. `offering` is already looked up."""

    offering: Offering | None = None
    role_uuid: str | None = None
    resource_uuid: str | None = None
    backend_id: str = ""
    name: str = ""
    linked: bool | None = None


def group_list(user: User, filters: GroupFilter) -> Select[OfferingKeycloakGroup]:
    """The groups the user sees that match, with what their API shape reads loaded in the same query (unordered)."""
    query = visible_groups(user).options(
        joinedload(OfferingKeycloakGroup.offering),
        joinedload(OfferingKeycloakGroup.role),
        joinedload(OfferingKeycloakGroup.resource),
    )
    if filters.offering is not None:
        query = query.where(OfferingKeycloakGroup.offering_id == filters.offering.id)
    if filters.role_uuid:
        query = query.join(OfferingRole, OfferingKeycloakGroup.role_id == OfferingRole.id).where(
            OfferingRole.uuid == filters.role_uuid
        )
    if filters.resource_uuid:
        query = query.join(Resource, OfferingKeycloakGroup.resource_id == Resource.id).where(
            Resource.uuid == filters.resource_uuid
        )
    if filters.backend_id:
        query = query.where(OfferingKeycloakGroup.backend_id == filters.backend_id)
    if filters.name:
        query = query.where(OfferingKeycloakGroup.name.icontains(filters.name, autoescape=True))
    if filters.linked is True:
        query = query.where(OfferingKeycloakGroup.backend_id != "")
    elif filters.linked is False:
        query = query.where(OfferingKeycloakGroup.backend_id == "")
    return query
