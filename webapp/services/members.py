"""Pulling a Keycloak group's members into the local register (SPEC §3 pull_members)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..keycloak import NotFound, RemoteUser
from ..models import MembershipState, OfferingKeycloakGroup, OfferingKeycloakMembership, User, new_uuid, utcnow
from . import audit
from .connection import call_keycloak, gateway_for_offering
from .errors import REMOTE_GROUP_NOT_FOUND, ValidationFailed

NOT_LINKED = "Group is not linked to a remote Keycloak group. Remap it first to set a backend ID."
BATCH_SIZE = 1000
SYNCED_FIELDS = ("email", "first_name", "last_name", "keycloak_user_id")


@dataclass(frozen=True)
class PullResult:
    created: int
    updated: int
    unchanged: int
    removed_remotely: int
    total_remote: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def pull_members(actor: User | None, group: OfferingKeycloakGroup) -> PullResult:
    if not group.backend_id:
        raise ValidationFailed([NOT_LINKED])
    remote_users = _fetch_members(group)

    # Everything below is one transaction: a failure leaves the register exactly as it was.
    try:
        result = _apply(group, remote_users)
        audit.record(actor, group.offering, "group.members_pulled", group, result.as_dict())
        db.session.commit()
    except IntegrityError:
        # A concurrent pull inserted the same rows first; its result is what ours would have been.
        db.session.rollback()
        result = _apply(group, remote_users)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _fetch_members(group: OfferingKeycloakGroup) -> dict[str, RemoteUser]:
    gateway = gateway_for_offering(group.offering)

    def load() -> dict[str, RemoteUser]:
        users: dict[str, RemoteUser] = {}
        for page in gateway.iter_group_members(group.backend_id):
            for user in page:
                users[user.username.lower()] = user
        return users

    try:
        return call_keycloak("Pulling members from Keycloak failed", load)
    except NotFound as exc:
        raise ValidationFailed.field("backend_id", REMOTE_GROUP_NOT_FOUND) from exc


def _apply(group: OfferingKeycloakGroup, remote_users: dict[str, RemoteUser]) -> PullResult:
    model = OfferingKeycloakMembership
    rows = db.session.execute(
        select(model.id, model.username, model.state, *(getattr(model, name) for name in SYNCED_FIELDS)).where(
            model.group_id == group.id
        )
    ).all()
    existing = {row.username: row for row in rows}
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    for username, user in remote_users.items():
        values = {
            "email": user.email.lower(),
            "first_name": user.first_name,
            "last_name": user.last_name,
            "keycloak_user_id": user.id,
        }
        row = existing.get(username)
        if row is None:
            inserts.append(
                {
                    "uuid": new_uuid(),
                    "group_id": group.id,
                    "username": username,
                    "state": MembershipState.ACTIVE.value,
                    "created": now,
                    "modified": now,
                    "last_checked": now,
                    "error_message": "",
                    "error_traceback": "",
                    **values,
                }
            )
        elif row.state != MembershipState.ACTIVE.value or any(getattr(row, k) != v for k, v in values.items()):
            updates.append(
                {
                    "id": row.id,
                    "state": MembershipState.ACTIVE.value,
                    "modified": now,
                    "last_checked": now,
                    "error_message": "",
                    **values,
                }
            )
        else:
            unchanged += 1

    gone = [
        row.id
        for username, row in existing.items()
        if username not in remote_users and row.state == MembershipState.ACTIVE.value
    ]
    for start in range(0, len(inserts), BATCH_SIZE):
        db.session.execute(insert(model), inserts[start : start + BATCH_SIZE])
    for start in range(0, len(updates), BATCH_SIZE):
        db.session.execute(update(model), updates[start : start + BATCH_SIZE])
    for start in range(0, len(gone), BATCH_SIZE):
        db.session.execute(
            update(model)
            .where(model.id.in_(gone[start : start + BATCH_SIZE]))
            .values(state=MembershipState.REMOVED_REMOTELY.value, modified=now, last_checked=now),
            execution_options={"synchronize_session": False},
        )
    return PullResult(
        created=len(inserts),
        updated=len(updates),
        unchanged=unchanged,
        removed_remotely=len(gone),
        total_remote=len(remote_users),
    )
