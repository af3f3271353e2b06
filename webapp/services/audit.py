"""Audit trail: every state-changing action records who did what to which object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import AuditEvent, Offering, User
from .access import visible_offerings
from .errors import ValidationFailed


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


def parse_day(value: str | None, field: str) -> date | None:
    """A YYYY-MM-DD filter value; empty is no filter; anything else a 400 on `field`."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed.field(field, f"Enter a date as YYYY-MM-DD, not {text[:40]!r}.") from exc


def between(query: Select[AuditEvent], first: date | None, last: date | None) -> Select[AuditEvent]:
    """Events from the start of `first` to the end of `last` (UTC days, both included)."""
    if first is not None:
        query = query.where(AuditEvent.created >= datetime.combine(first, time.min, UTC))
    if last is not None:
        query = query.where(AuditEvent.created < datetime.combine(last + timedelta(days=1), time.min, UTC))
    return query


def offering_activity(offering: Offering, first: date | None, last: date | None) -> Select[AuditEvent]:
    """An offering's events of a date range, newest first (the activity page and its CSV)."""
    query = between(select(AuditEvent).where(AuditEvent.offering_id == offering.id), first, last)
    return query.order_by(AuditEvent.created.desc(), AuditEvent.id.desc())


def offering_activity_page(
    offering: Offering, first: date | None, last: date | None, number: int, size: int
) -> tuple[int, list[AuditEvent]]:
    """How many events the range holds, and page `number` (from 1) of `size` of them."""
    query = offering_activity(offering, first, last)
    total = int(db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    return total, list(db.session.scalars(query.limit(size).offset((number - 1) * size)))


@dataclass(frozen=True)
class EventFilter:
    """The activity list's filters; empty values filter nothing. `offering` is already looked up."""

    offering: Offering | None = None
    action: str = ""
    actor: str = ""
    first: date | None = None
    last: date | None = None


def events(user: User, filters: EventFilter) -> Select[AuditEvent]:
    """The events the user may read that match (unordered): staff every event, managers their offerings'
    events and their own account events."""
    query = select(AuditEvent).options(joinedload(AuditEvent.offering))
    if not user.is_staff:
        visible = visible_offerings(user).with_only_columns(Offering.id)
        query = query.where(or_(AuditEvent.offering_id.in_(visible), AuditEvent.actor_id == user.id))
    if filters.offering is not None:
        query = query.where(AuditEvent.offering_id == filters.offering.id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        query = query.where(AuditEvent.actor_name == filters.actor.strip().lower())
    return between(query, filters.first, filters.last)
