"""Row locks that make instances take turns on one local group or one membership, until the holder commits
(PostgreSQL: the row, in a mode that still lets others insert memberships of the group; SQLite: the database).

Everything that writes a group's memberships from what it just read or did in Keycloak takes the group's lock
first: a grant, a revoke, a pull, the pending sync and the reconcile. So on every instance they run one after
the other per group, each seeing in Keycloak what the one before it left there, and they take their locks in
one order (the group, then a membership), so they never deadlock each other.
"""

from __future__ import annotations

from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models import OfferingKeycloakGroup, OfferingKeycloakMembership, utcnow
from .errors import Conflict

GROUP_WAIT_SECONDS = 20  # a long pull holds its group this long at most before others give up, in words
BUSY = "Another request is changing the members of this group right now (a pull, say); try again in a moment."


def lock_group(group_id: int) -> bool:
    """Lock one local group until commit and tell whether it still exists; Conflict after waiting too long."""
    model = OfferingKeycloakGroup
    query = update(model).where(model.id == group_id).values(modified=model.modified)  # changes nothing
    postgres = db.session.get_bind().dialect.name == "postgresql"
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
