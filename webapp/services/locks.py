"""Locks that make requests, workers and instances take turns, held until the holder's transaction ends.

Two kinds:
- **Decisions about one offering** (`hold`): asking for a job and superseding a preview each read what exists
  and then write; two requests at once must not both decide on the same reading. They must not wait for whatever
  else holds the offering row (an apply claims it and commits at once, but a settings save or an older instance
  may hold it longer), so on PostgreSQL they take an advisory lock of their own.
- **Writers of one group's memberships** (`lock_group`, then `lock_membership`): a grant, a revoke, a pull,
  the pending sync and the reconcile each write what they just read or did in Keycloak, so on every instance
  they run one after the other per group, each seeing in Keycloak what the one before it left there. They take
  their locks in one order (the group, then a membership), so they never deadlock each other. On PostgreSQL the
  group row is locked in a mode that still lets others insert memberships of the group; SQLite has one write
  lock for the whole database.
"""

from __future__ import annotations

from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models import Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, utcnow
from .errors import Conflict

# One lock per (purpose, offering): a job request never waits for a preview being stored, nor either for an apply.
PURPOSES = {"jobs": 0x6F6B_0001, "plans": 0x6F6B_0002}
GROUP_WAIT_SECONDS = 20  # a long pull holds its group this long at most before others give up, in words
BUSY = "Another request is changing the members of this group right now (a pull, say); try again in a moment."


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def hold(offering_id: int, purpose: str) -> None:
    """Held until the current transaction ends. PostgreSQL: a transaction-level advisory lock of its own.
    SQLite: a no-op write, which takes the database's single write lock (SQLite has no finer lock)."""
    if _postgres():
        key = (PURPOSES[purpose] << 32) | (offering_id & 0xFFFF_FFFF)
        db.session.execute(text("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))"), {"key": key})
        return
    db.session.execute(update(Offering).where(Offering.id == offering_id).values(modified=Offering.modified))


def lock_group(group_id: int) -> bool:
    """Lock one local group until commit and tell whether it still exists; Conflict after waiting too long."""
    model = OfferingKeycloakGroup
    query = update(model).where(model.id == group_id).values(modified=model.modified)  # changes nothing
    postgres = _postgres()
    try:
        if postgres:
            db.session.execute(text(f"SET LOCAL lock_timeout = '{GROUP_WAIT_SECONDS}s'"))
        result = db.session.execute(query, execution_options={"synchronize_session": False})
        if postgres:
            db.session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    except OperationalError as exc:
        if not _gave_up_waiting(exc):
            raise
        db.session.rollback()
        raise Conflict(BUSY) from exc
    return bool(getattr(result, "rowcount", 0))


def lock_membership(membership_id: int, state: str | None = None) -> bool:
    """Lock one membership row until commit and tell whether it still exists (in `state`). The pending sync and
    a membership delete both take it, so a delete cannot slip between adding the user in Keycloak and committing
    the row."""
    query = update(OfferingKeycloakMembership).where(OfferingKeycloakMembership.id == membership_id)
    if state is not None:
        query = query.where(OfferingKeycloakMembership.state == state)
    result = db.session.execute(query.values(last_checked=utcnow()), execution_options={"synchronize_session": False})
    return bool(getattr(result, "rowcount", 0))


def _gave_up_waiting(exc: OperationalError) -> bool:
    """PostgreSQL's lock_timeout (SQLSTATE 55P03), or SQLite's busy timeout."""
    return getattr(exc.orig, "sqlstate", None) == "55P03" or "database is locked" in str(exc.orig)
