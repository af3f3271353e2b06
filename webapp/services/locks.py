"""Short locks that make decisions about one offering one at a time, across processes and hosts.

Asking for a job and superseding a preview each read what exists and then write; two requests at once must
not both decide on the same reading. They must not wait for the offering's long work either: an apply holds
the offering row locked for its whole transaction, which may last minutes.
"""

from __future__ import annotations

from sqlalchemy import text, update

from ..extensions import db
from ..models import Offering

# One lock per (purpose, offering): a job request never waits for a preview being stored, nor either for an apply.
PURPOSES = {"jobs": 0x6F6B_0001, "plans": 0x6F6B_0002}


def hold(offering_id: int, purpose: str) -> None:
    """Held until the current transaction ends. PostgreSQL: a transaction-level advisory lock of its own.
    SQLite: a no-op write, which takes the database's single write lock (SQLite has no finer lock)."""
    if db.session.get_bind().dialect.name == "postgresql":
        key = (PURPOSES[purpose] << 32) | (offering_id & 0xFFFF_FFFF)
        db.session.execute(text("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))"), {"key": key})
        return
    db.session.execute(update(Offering).where(Offering.id == offering_id).values(modified=Offering.modified))
