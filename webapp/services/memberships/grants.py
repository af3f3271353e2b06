"""Granting and revoking access through Keycloak groups (docs/PRODUCT.md §4); background retries are in periodic.py."""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...keycloak import KeycloakError, KeycloakGateway, NotFound
from ...models import GroupOrigin, MembershipState, Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, User
from ..access import manages, visible_groups
from ..commands import GrantAccess
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.subtree import keycloak_id
from ..errors import ObjectNotFound, RemoteFailure, ValidationFailed
from ..groups.hierarchy import CreatedGroups, ensure_group, link_to
from ..locks import lock_group, lock_membership
from ..naming import render_group_name
from ..scoping import Scope, check_scope, existing_group, group_with_backend_id
from . import lifecycle
from .expiry import checked_expiry

DUPLICATE = "This keycloak membership already exists."
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_membership(actor: User, command: GrantAccess) -> OfferingKeycloakMembership:
    """Errors name the domain fields "username", "email", "resource" and "scope_id"."""
    username = command.username.strip().lower()
    email = command.email.strip().lower()
    if not username:
        raise ValidationFailed.field("username", "This field may not be blank.")
    if email and not EMAIL.match(email):
        raise ValidationFailed.field("email", "Enter a valid email address.")
    offering = command.offering
    gateway = gateway_for_offering(offering)
    scope = Scope(command.role, command.resource, command.scope_id.strip())
    check_scope(scope.role, scope.resource, scope.scope_id)

    if not manages(actor, offering):
        _check_delegated(actor, offering, scope)
    group = _locked_group(actor, offering, scope, username)
    try:
        expires_at = checked_expiry(group, command.expires_at)
    except ValidationFailed:
        db.session.rollback()  # a group this request inserted goes too
        raise
    created = CreatedGroups(gateway)
    granted: list[tuple[str, str]] = []  # (user id, group id) added in Keycloak by this request
    try:
        membership = _grant(actor, offering, group, username, email, created, granted, expires_at)
        db.session.commit()
        return membership
    except Exception as exc:
        # Compensate before re-raising: nothing half-done may survive a failed request.
        db.session.rollback()
        for user_id, group_id in granted:
            if _recorded_active(offering, group_id, username):
                continue  # another request's (or a pull's) row records this very membership: not ours to undo
            with suppress(KeycloakError):
                gateway.remove_user_from_group(user_id, group_id)
        created.compensate()
        if isinstance(exc, IntegrityError):
            raise ValidationFailed([DUPLICATE]) from exc
        if isinstance(exc, NotFound):
            raise RemoteFailure("Granting access in Keycloak failed", exc.message) from exc
        raise


def _check_delegated(actor: User, offering: Offering, scope: Scope) -> None:
    """A group manager grants into a group delegated to them, and creates none: any other scope is not found."""
    group = existing_group(offering, scope)
    if group is None or not db.session.scalar(
        select(visible_groups(actor).where(OfferingKeycloakGroup.id == group.id).exists())
    ):
        raise ObjectNotFound()


def _locked_group(actor: User, offering: Offering, scope: Scope, username: str) -> OfferingKeycloakGroup:
    """The scope's local group, held until this request commits, so that grants into one group run one after
    the other on every instance: the second grant of a user then finds the first one's row (400) before it
    touches Keycloak, and a revoke that committed before it has finished its Keycloak part. A group that does
    not exist yet is inserted at once; its uncommitted row holds the scope the same way. An expired membership
    of the user in the group is forgotten (a grant again starts anew)."""
    for _attempt in range(3):
        group = existing_group(offering, scope)
        if group is None:
            group = OfferingKeycloakGroup(
                offering=offering,
                role=scope.role,
                resource=scope.resource,
                scope_id=scope.scope_id,
                name=render_group_name(offering, scope.role, scope.resource, scope.scope_id),
                origin=GroupOrigin.CREATED,
            )
            db.session.add(group)
            try:
                db.session.flush()
            except IntegrityError:
                db.session.rollback()  # a concurrent grant created it and committed (we waited for it): use it
                continue
            return group
        if not lock_group(group.id):
            db.session.rollback()  # deleted meanwhile: start over
            continue
        db.session.refresh(group)  # what the request before us wrote (its Keycloak group id)
        existing = db.session.scalar(
            select(OfferingKeycloakMembership).where(
                OfferingKeycloakMembership.group_id == group.id, OfferingKeycloakMembership.username == username
            )
        )
        if existing is not None and existing.state == MembershipState.EXPIRED:
            lifecycle.revoke(actor, offering, existing)
            db.session.flush()
        elif existing is not None:
            db.session.rollback()
            raise ValidationFailed([DUPLICATE])
        return group
    raise ValidationFailed(["The group changed while access was being granted; try again."])


def _recorded_active(offering: Offering, backend_id: str, username: str) -> bool:
    return bool(
        db.session.scalar(
            select(OfferingKeycloakMembership.id)
            .join(OfferingKeycloakGroup)
            .where(
                OfferingKeycloakGroup.offering_id == offering.id,
                OfferingKeycloakGroup.backend_id == backend_id,
                OfferingKeycloakMembership.username == username,
                OfferingKeycloakMembership.state == MembershipState.ACTIVE,
            )
        )
    )


def _grant(
    actor: User,
    offering: Offering,
    group: OfferingKeycloakGroup,
    username: str,
    email: str,
    created: CreatedGroups,
    granted: list[tuple[str, str]],
    expires_at: datetime | None,
) -> OfferingKeycloakMembership:
    gateway = created.gateway
    if not group.backend_id:
        name = group.name
        remote = call_keycloak("Creating the Keycloak group failed", lambda: ensure_group(offering, name, created))
        owner = group_with_backend_id(offering, remote.id)
        if owner is not None and owner is not group:
            raise ValidationFailed(
                [f"The Keycloak group {remote.path} is already linked to local group '{owner.name}'."]
            )
        link_to(group, remote, created)
    backend_id = group.backend_id
    membership = OfferingKeycloakMembership(group=group, username=username, email=email, expires_at=expires_at)
    user = None
    try:
        user = call_keycloak("Looking up the Keycloak user failed", lambda: gateway.find_user_by_username(username))
        if user is not None:
            call_keycloak(
                "Adding the user to the Keycloak group failed", lambda: gateway.add_user_to_group(user.id, backend_id)
            )
            granted.append((user.id, backend_id))
    except RemoteFailure as exc:
        if not created.ids or not created.compensate():
            raise  # nothing of ours is left in Keycloak: the rollback restores the previous state
        _keep_as_pending(actor, offering, membership, exc)
    if user is None:
        lifecycle.grant_pending(actor, offering, membership, created_groups=len(created.ids))
    else:
        lifecycle.grant(actor, offering, membership, user, len(created.ids))
    db.session.flush()
    return membership


def _keep_as_pending(
    actor: User, offering: Offering, membership: OfferingKeycloakMembership, exc: RemoteFailure
) -> None:
    """Keycloak failed after we created a group there and we could not delete it again: rather than leave an
    orphan, keep the local group linked to it and record the membership as pending with the error."""
    lifecycle.grant_pending(actor, offering, membership, error=exc.message)
    db.session.commit()
    raise RemoteFailure(exc.action, f"{exc.reason}. The membership was saved as pending and will be retried.")


def delete_membership(actor: User, membership: OfferingKeycloakMembership) -> None:
    """Remove the user from the Keycloak group (never the group itself), then forget the membership."""
    if not lock_group(membership.group_id) or not lock_membership(membership.id):
        raise ObjectNotFound()  # deleted meanwhile; the locks wait while a grant, pull or sync works on the group
    db.session.refresh(membership)  # what the sync may just have written: active, with a Keycloak id
    group = membership.group
    offering = group.offering
    if membership.state != MembershipState.PENDING and group.backend_id:
        gateway = gateway_for_offering(offering)
        call_keycloak(
            "Removing the user from the Keycloak group failed", lambda: remove_from_keycloak(gateway, group, membership)
        )
    lifecycle.revoke(actor, offering, membership)
    db.session.commit()


def remove_from_keycloak(
    gateway: KeycloakGateway, group: OfferingKeycloakGroup, membership: OfferingKeycloakMembership
) -> None:
    """Take the member out of the group's Keycloak group (a revoke, an expiry); the user or the group already
    gone is nothing left to remove. Raises the gateway's errors (callers wrap them with call_keycloak)."""
    keycloak_id("backend_id", group.backend_id)
    user_id = membership.keycloak_user_id
    if not user_id:
        user = gateway.find_user_by_username(membership.username)
        user_id = user.id if user else ""
    if user_id:
        with suppress(NotFound):
            gateway.remove_user_from_group(user_id, group.backend_id)
