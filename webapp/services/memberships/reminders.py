"""Reminders before a membership ends (docs/PRODUCT.md §11): at OKG_EXPIRY_REMINDER_DAYS (default 30, 7 and 1 days)
before its expires_at, once per membership and threshold, to the member's email and the group's managers, by
mail when OKG_MAIL_URL is set; the app shows "access ends soon" on the group page either way.

Each reminder is claimed before it is sent: the row is locked, its threshold written and committed, then the
mail goes out, so two workers or two rounds never send one twice; a mail server that refuses gives the claim
back, and the next round tries again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...models import GroupManager, Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, User, utcnow
from .. import audit, mail
from ..errors import Unavailable
from ..locks import lock_membership
from . import lifecycle


@dataclass
class ReminderRun:
    reminded: int = 0  # memberships whose reminder was recorded (and mailed, when mail is on)
    mailed: int = 0
    errors: list[str] = field(default_factory=list)


def thresholds_due(membership: OfferingKeycloakMembership, days: list[int], now: datetime) -> list[int]:
    """The thresholds (days before the end) that have come and were not sent for this end yet."""
    if membership.expires_at is None or membership.expires_at <= now:
        return []
    left = membership.expires_at - now
    sent = set(membership.reminders_sent or [])
    return [day for day in days if left <= timedelta(days=day) and day not in sent]


def _candidates(only: Offering | None, now: datetime, horizon: datetime) -> list[int]:
    model = OfferingKeycloakMembership
    query = select(model.id).where(
        model.state.in_(list(lifecycle.CURRENT)), model.expires_at > now, model.expires_at <= horizon
    )
    if only is not None:
        query = query.join(OfferingKeycloakGroup).where(OfferingKeycloakGroup.offering_id == only.id)
    return list(db.session.scalars(query.order_by(model.expires_at, model.id)))


def recipients(membership: OfferingKeycloakMembership) -> tuple[str, ...]:
    """The member's email and the emails of the group's managers who have an account with one."""
    managers = db.session.scalars(
        select(User.email)
        .join(GroupManager, GroupManager.username == User.username)
        .where(GroupManager.group_id == membership.group_id, User.email != "")
    )
    found = [membership.email, *managers]
    return tuple(dict.fromkeys(address.strip().lower() for address in found if address and "@" in address))


def _mail(membership: OfferingKeycloakMembership, days: int) -> mail.Mail:
    group = membership.group
    ends = membership.expires_at.strftime("%Y-%m-%d %H:%M UTC") if membership.expires_at else ""
    body = (
        f"{membership.username}'s access to {group.name} ({group.offering.name}) ends on {ends}, in {days} day"
        f"{'' if days == 1 else 's'} or less.\n\nA manager of the group can renew it on the group's page in Offering "
        "Keycloak Groups. Without a renewal, the user is removed from the Keycloak group when the time is up.\n"
    )
    return mail.Mail(recipients(membership), f"Access to {group.name} ends on {ends}", body)


def send_reminders(only: Offering | None = None) -> ReminderRun:
    run = ReminderRun()
    days: list[int] = current_app.config["EXPIRY_REMINDER_DAYS"]
    if not days:
        return run
    now = utcnow()
    for membership_id in _candidates(only, now, now + timedelta(days=max(days))):
        if not lock_membership(membership_id):
            db.session.rollback()
            continue  # deleted meanwhile
        row = db.session.get(OfferingKeycloakMembership, membership_id, populate_existing=True)
        due = thresholds_due(row, days, now) if row is not None else []
        if row is None or not due:
            db.session.commit()  # another worker sent it meanwhile (or it was renewed)
            continue
        before = list(row.reminders_sent or [])
        row.reminders_sent = sorted(set(before) | set(due), reverse=True)
        message = _mail(row, min(due))
        mailing = mail.mail_enabled() and bool(message.to)
        audit.record(None, row.group.offering, "membership.reminded", row, {"days": min(due), "mailed": mailing})
        db.session.commit()  # claimed: from here on no other round or worker sends it
        run.reminded += 1
        if not mailing:
            continue
        try:
            run.mailed += mail.send([message])
        except Unavailable as exc:
            _give_back(membership_id, due)
            run.reminded -= 1
            run.errors.append(f"{exc.message} (the reminders left are tried again next round)")
            break  # the server is down: the others would each wait for its timeout
    return run


def _give_back(membership_id: int, due: list[int]) -> None:
    if not lock_membership(membership_id):
        db.session.rollback()
        return
    row = db.session.get(OfferingKeycloakMembership, membership_id, populate_existing=True)
    if row is not None:
        row.reminders_sent = [day for day in (row.reminders_sent or []) if day not in due]
    db.session.commit()


def expiring_soon(group: OfferingKeycloakGroup, limit: int = 20) -> list[OfferingKeycloakMembership]:
    """The group's members whose access ends within the largest reminder threshold (the group page's notice)."""
    days: list[int] = current_app.config["EXPIRY_REMINDER_DAYS"]
    if not days:
        return []
    now = utcnow()
    model = OfferingKeycloakMembership
    return list(
        db.session.scalars(
            select(model)
            .where(model.group_id == group.id, model.state.in_(list(lifecycle.CURRENT)))
            .where(model.expires_at > now, model.expires_at <= now + timedelta(days=max(days)))
            .order_by(model.expires_at, model.id)
            .limit(limit)
        )
    )
