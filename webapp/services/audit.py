"""Audit trail: every state-changing action records who did what to which object."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditEvent, Offering, User


def record(
    actor: User | None,
    offering: Offering | None,
    action: str,
    obj: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the current transaction; it is committed together with the change it describes."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        offering_id=offering.id if offering else None,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_repr=str(getattr(obj, "name", "") or getattr(obj, "username", ""))[:500] if obj else "",
        details=details or {},
    )
    db.session.add(event)
    return event
