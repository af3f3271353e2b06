"""The membership lifecycle: the states a local membership row can be in, and every change between them.

Each transition is one function that checks the state it starts from, writes the new state with the columns
that belong to it, and records its audit event where the change has one. Grants and revokes, the pending
sync, reconcile, pulls and plan applies all go through these functions; nothing else writes a membership's
`state`, so a new state (expiring, under review) is added here once and every writer obeys it.

    absent ──grant──────────▶ active        absent ──grant_pending──▶ pending
    absent ──record─────────▶ active        pending ──activate──────▶ active
    active ──flag_removed───▶ removed_remotely ──restore──▶ active
    pending, active, removed_remotely ──expire──▶ expired (its expires_at passed)
    any but expired ──confirm──▶ active     any ─────revoke─────────▶ absent

Nothing leads out of `expired` but revoke (a grant again deletes the expired row first): a pull, reconcile, the
pending sync or a plan never makes an expired membership active again (docs/PRODUCT.md §11).

"Absent" is no row at all: before a grant or a pull creates it, and after a revoke deletes it.

Pulls and plan applies write thousands of rows with plain statements; for them the functions build the
values of a row (or run the statement) from the state the caller read under the group's lock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import update

from ...extensions import db
from ...keycloak import RemoteUser
from ...models import MembershipState, Offering, OfferingKeycloakMembership, User, new_uuid
from .. import audit

__all__ = [
    "ABSENT",
    "BATCH_SIZE",
    "TRANSITIONS",
    "FromKeycloak",
    "IllegalTransition",
    "MembershipState",
    "Move",
    "Transition",
    "activate",
    "confirmed_row",
    "expire",
    "flag_removed",
    "flag_removed_rows",
    "flagged_row",
    "grant",
    "grant_pending",
    "reconciled",
    "recorded_row",
    "renew",
    "restore",
    "revoke",
]

PENDING, ACTIVE, REMOVED_REMOTELY = MembershipState.PENDING, MembershipState.ACTIVE, MembershipState.REMOVED_REMOTELY
EXPIRED = MembershipState.EXPIRED
ABSENT = None  # no row: not created yet, or revoked
BATCH_SIZE = 1000

State = MembershipState | None
EXISTING: frozenset[State] = frozenset(MembershipState)
CURRENT: frozenset[State] = EXISTING - {EXPIRED}  # the states a membership that has not ended can be in


class Transition(enum.StrEnum):
    GRANT = "grant"  # granted, and the Keycloak account exists: added to the Keycloak group at once
    GRANT_PENDING = "grant_pending"  # granted before the account exists; the pending sync adds it later
    RECORD = "record"  # found in the Keycloak group, not in the register (a pull, a plan's add_local)
    ACTIVATE = "activate"  # the pending sync added the account that now exists
    FLAG_REMOVED = "flag_removed"  # no longer in the Keycloak group (reconcile, a pull, a plan)
    RESTORE = "restore"  # back in the Keycloak group (reconcile)
    CONFIRM = "confirm"  # in the Keycloak group: the row takes its details from there (a pull, a plan)
    REVOKE = "revoke"  # access revoked: out of the Keycloak group, and the row deleted
    EXPIRE = "expire"  # its expires_at passed: out of the Keycloak group (now, or by an expiry plan's apply)


@dataclass(frozen=True)
class Move:
    sources: frozenset[State]
    target: State


TRANSITIONS: Mapping[Transition, Move] = {
    Transition.GRANT: Move(frozenset({ABSENT}), ACTIVE),
    Transition.GRANT_PENDING: Move(frozenset({ABSENT}), PENDING),
    Transition.RECORD: Move(frozenset({ABSENT}), ACTIVE),
    Transition.ACTIVATE: Move(frozenset({PENDING}), ACTIVE),
    Transition.FLAG_REMOVED: Move(frozenset({ACTIVE}), REMOVED_REMOTELY),
    Transition.RESTORE: Move(frozenset({REMOVED_REMOTELY}), ACTIVE),
    Transition.CONFIRM: Move(CURRENT, ACTIVE),
    Transition.REVOKE: Move(EXISTING, ABSENT),
    Transition.EXPIRE: Move(CURRENT, EXPIRED),
}


class IllegalTransition(Exception):
    """A transition asked of a row in a state it does not start from: a bug, or a race the locks let through.
    Nothing was written."""

    def __init__(self, transition: Transition, state: State) -> None:
        self.transition = transition
        self.state = state
        super().__init__(f"A membership cannot {transition.value} from {state.value if state else 'absent'}.")


def _state(value: str | None) -> State:
    return None if value is None else MembershipState(value)


def target(transition: Transition, state: str | None) -> State:
    """The state `transition` leads to from `state`; IllegalTransition when it does not start there."""
    move = TRANSITIONS[transition]
    current = _state(state)
    if current not in move.sources:
        raise IllegalTransition(transition, current)
    return move.target


def _move(membership: OfferingKeycloakMembership, transition: Transition) -> None:
    new = target(transition, membership.state)
    assert new is not None  # only revoke leads to absent, and it deletes the row instead
    membership.state = new


class FromKeycloak(NamedTuple):
    """The member's details as Keycloak has them, which an active row keeps a copy of (in column order)."""

    email: str
    first_name: str
    last_name: str
    keycloak_user_id: str

    @classmethod
    def of(cls, user: RemoteUser) -> FromKeycloak:
        return cls(user.email.lower(), user.first_name, user.last_name, user.id)

    def columns(self) -> dict[str, str]:
        return self._asdict()


# -- one row at a time (grants, the pending sync, reconcile) ---------------------------------------------------


def grant(
    actor: User, offering: Offering, membership: OfferingKeycloakMembership, user: RemoteUser, created_groups: int
) -> None:
    """A new row for a user just added to the Keycloak group; an email given with the grant is kept."""
    _move(membership, Transition.GRANT)
    membership.keycloak_user_id = user.id
    membership.email = membership.email or user.email
    membership.first_name, membership.last_name = user.first_name, user.last_name
    _created(actor, offering, membership, {"created_groups": created_groups})


def grant_pending(
    actor: User,
    offering: Offering,
    membership: OfferingKeycloakMembership,
    *,
    created_groups: int = 0,
    error: str = "",
) -> None:
    """A new row for a user Keycloak has no account for yet — or, with `error`, one that Keycloak failed to add
    after we created a group there that could not be deleted again."""
    _move(membership, Transition.GRANT_PENDING)
    if error:
        membership.error_message = f"{error}. Saved as pending; sync-pending will retry."
        _created(actor, offering, membership, {"error": error})
    else:
        _created(actor, offering, membership, {"created_groups": created_groups})


def _created(actor: User, offering: Offering, membership: OfferingKeycloakMembership, extra: dict[str, Any]) -> None:
    db.session.add(membership)
    details = {"group": membership.group.name, "state": membership.state, **extra}
    audit.record(actor, offering, "membership.created", membership, details)


def revoke(actor: User | None, offering: Offering, membership: OfferingKeycloakMembership) -> None:
    """Forget the row; the caller has removed the user from the Keycloak group already."""
    target(Transition.REVOKE, membership.state)
    details = {"group": membership.group.name, "state": membership.state}
    audit.record(actor, offering, "membership.deleted", membership, details)
    db.session.delete(membership)


def activate(offering: Offering, membership: OfferingKeycloakMembership, user: RemoteUser) -> None:
    """The pending sync added the now existing account to the Keycloak group."""
    _move(membership, Transition.ACTIVATE)
    membership.keycloak_user_id = user.id
    membership.first_name, membership.last_name = user.first_name, user.last_name
    membership.email = membership.email or user.email
    membership.error_message = ""
    audit.record(None, offering, "membership.activated", membership, {"group": membership.group.name})


def expire(offering: Offering, membership: OfferingKeycloakMembership, *, in_keycloak: bool) -> None:
    """Its time is up: the caller has removed it from the Keycloak group, or (`in_keycloak`) an expiry plan
    will. Audited as the system's."""
    _move(membership, Transition.EXPIRE)
    membership.error_message = ""
    details = {
        "group": membership.group.name,
        "expires_at": membership.expires_at.isoformat() if membership.expires_at else None,
        "removed_from_keycloak": not in_keycloak,
    }
    audit.record(None, offering, "membership.expired", membership, details)


def renew(actor: User, offering: Offering, membership: OfferingKeycloakMembership, expires_at: datetime | None) -> None:
    """A new end (or none) for a membership that has not ended (its state stays); an expired one is granted
    again instead, and the caller says so in words before it gets here."""
    if membership.state not in CURRENT:
        raise ValueError(f"an expired membership is not renewed: {membership.username}")
    before = membership.expires_at
    membership.expires_at = expires_at
    membership.reminders_sent = []  # a new end: its reminders are sent again
    details = {
        "group": membership.group.name,
        "from": before.isoformat() if before else None,
        "to": expires_at.isoformat() if expires_at else None,
    }
    audit.record(actor, offering, "membership.renewed", membership, details)


def flag_removed(membership: OfferingKeycloakMembership) -> None:
    _move(membership, Transition.FLAG_REMOVED)


def restore(membership: OfferingKeycloakMembership) -> None:
    _move(membership, Transition.RESTORE)


def reconciled(membership: OfferingKeycloakMembership, present: bool, now: datetime) -> Transition | None:
    """Reconcile's outcome for a row whose Keycloak group was just read: flagged, restored, or just checked."""
    done = None
    if membership.state == ACTIVE and not present:
        flag_removed(membership)
        done = Transition.FLAG_REMOVED
    elif membership.state == REMOVED_REMOTELY and present:
        restore(membership)
        done = Transition.RESTORE
    membership.last_checked = now
    return done


# -- many rows in plain statements (pulls, plan applies) -------------------------------------------------------


def recorded_row(group_id: int, username: str, details: FromKeycloak, now: datetime) -> dict[str, Any]:
    """The values of a new row for a member found in the Keycloak group (insert into the membership table)."""
    target(Transition.RECORD, ABSENT)
    return {
        "uuid": new_uuid(),
        "group_id": group_id,
        "username": username,
        "state": ACTIVE,
        "created": now,
        "modified": now,
        "last_checked": now,
        "error_message": "",
        "error_traceback": "",
        "expires_at": None,  # found in Keycloak, not granted here: no end of ours
        "reminders_sent": [],
        **details.columns(),
    }


def confirmed_row(membership_id: int, details: FromKeycloak, now: datetime, state: str | None = None) -> dict[str, Any]:
    """The values that make an existing row an active copy of what Keycloak has (bulk update). `state` is the
    row's state as the caller read it; a plan apply knows only that the row exists (it does not read it again),
    which is enough for every state but expired, and a plan offers no confirming action for an expired row."""
    if state is not None:
        target(Transition.CONFIRM, state)
    return {
        "id": membership_id,
        "state": ACTIVE,
        "modified": now,
        "last_checked": now,
        "error_message": "",
        **details.columns(),
    }


def flagged_row(membership_id: int, state: str, now: datetime) -> dict[str, Any]:
    """The values that flag an active row (`state` as the caller read it) as removed in Keycloak (bulk update)."""
    target(Transition.FLAG_REMOVED, state)
    return {
        "id": membership_id,
        "state": REMOVED_REMOTELY,
        "modified": now,
        "last_checked": now,
        "error_message": "",
    }


def flag_removed_rows(rows: Iterable[tuple[int, str]], now: datetime) -> int:
    """Flag these (id, state) rows as removed in Keycloak, in batches (a pull's members that left); how many."""
    ids = []
    for membership_id, state in rows:
        target(Transition.FLAG_REMOVED, state)
        ids.append(membership_id)
    model = OfferingKeycloakMembership
    for start in range(0, len(ids), BATCH_SIZE):
        db.session.execute(
            update(model)
            .where(model.id.in_(ids[start : start + BATCH_SIZE]))
            .values(state=REMOVED_REMOTELY, modified=now, last_checked=now),
            execution_options={"synchronize_session": False},
        )
    return len(ids)
