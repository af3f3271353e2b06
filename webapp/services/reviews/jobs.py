"""The periodic work of access reviews (docs/PRODUCT.md §12), a registered job kind of the round: reminders to the
reviewers of open reviews before their due date (mail when OKG_MAIL_URL is set; the Reviews tab and /overview say
it either way), and the next review of those that repeat every N months.

A reminder is claimed before it is sent (the review's row locked, its threshold written and committed), so two
workers or two rounds never send one twice; a mail server that refuses gives the claim back for the next round."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...models import AccessReview, Job, JobKind, Offering, OfferingKeycloakGroup, ReviewState, User, utcnow
from .. import audit, mail
from ..errors import RemoteFailure, ServiceError, Unavailable, ValidationFailed
from ..jobs.kinds import JobKindSpec, KeycloakFailed, Report
from . import core


@dataclass
class Round:
    reminded: int = 0
    mailed: int = 0
    opened: int = 0
    errors: list[str] = field(default_factory=list)
    keycloak_error: str = ""  # Keycloak failed while a repeat was opened: the job fails with these words


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has fewer)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def thresholds_due(review: AccessReview, days: list[int], today: date) -> list[int]:
    """The reminder thresholds (days before the due date) that have come and were not sent for this review."""
    if review.state != ReviewState.OPEN or review.due < today:
        return []
    left = (review.due - today).days
    sent = set(review.reminders_sent or [])
    return [day for day in days if left <= day and day not in sent]


def _reviewer_emails(review: AccessReview) -> tuple[str, ...]:
    usernames = [reviewer.username for reviewer in review.reviewers]
    found = db.session.scalars(select(User.email).where(User.username.in_(usernames), User.email != ""))
    return tuple(dict.fromkeys(address.strip().lower() for address in found if "@" in address))


def _mail(review: AccessReview, days: int) -> mail.Mail:
    counts = core.counts(review)
    body = (
        f"The access review of {review.offering.name} is due on {review.due.isoformat()}, in {days} day"
        f"{'' if days == 1 else 's'} or less. {counts.undecided} of its {counts.total} members are still undecided.\n\n"
        "Decide keep, remove or unsure on the offering's Reviews tab in Offering Keycloak Groups. Nobody is removed "
        "for want of an answer: undecided members stay.\n"
    )
    return mail.Mail(_reviewer_emails(review), f"Access review of {review.offering.name} due {review.due}", body)


def send_reminders(offering: Offering) -> Round:
    done = Round()
    days: list[int] = current_app.config["REVIEW_REMINDER_DAYS"]
    if not days:
        return done
    today = utcnow().date()
    candidates = db.session.scalars(
        select(AccessReview.id).where(AccessReview.offering_id == offering.id, AccessReview.state == ReviewState.OPEN)
    ).all()
    for review_id in candidates:
        review = db.session.scalar(
            select(AccessReview)
            .where(AccessReview.id == review_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        due = thresholds_due(review, days, today) if review is not None else []
        if review is None or not due:
            db.session.commit()
            continue
        before = list(review.reminders_sent or [])
        review.reminders_sent = sorted(set(before) | set(due), reverse=True)
        message = _mail(review, min(due))
        mailing = mail.mail_enabled() and bool(message.to)
        details = {"review": review.uuid, "days": min(due), "mailed": mailing}
        audit.record(None, offering, "review.reminded", review, details)
        db.session.commit()  # claimed
        done.reminded += 1
        if not mailing:
            continue
        try:
            done.mailed += mail.send([message])
        except Unavailable as exc:
            _give_back(review_id, due)
            done.reminded -= 1
            done.errors.append(f"{exc.message} (the reminders left are tried again next round)")
            break
    return done


def _give_back(review_id: int, due: list[int]) -> None:
    review = db.session.scalar(select(AccessReview).where(AccessReview.id == review_id).with_for_update())
    if review is not None:
        review.reminders_sent = [day for day in (review.reminders_sent or []) if day not in due]
    db.session.commit()


def open_repeats(offering: Offering) -> Round:
    """The next review of each review that repeats and whose time has come (once: `next_opened`)."""
    done = Round()
    today = utcnow().date()
    waiting = db.session.scalars(
        select(AccessReview)
        .where(
            AccessReview.offering_id == offering.id,
            AccessReview.repeat_months.is_not(None),
            AccessReview.next_opened.is_(False),
        )
        .order_by(AccessReview.created)
    ).all()
    for review in waiting:
        opened_on = review.created.date()
        if add_months(opened_on, review.repeat_months or 0) > today:
            continue
        locked = db.session.scalar(
            select(AccessReview)
            .where(AccessReview.id == review.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if locked is None or locked.next_opened:
            db.session.commit()
            continue
        locked.next_opened = True
        db.session.commit()  # claimed: another worker's round does not open it too
        try:
            _open_next(offering, locked, today + (locked.due - opened_on))
            done.opened += 1
        except ServiceError as exc:
            _unclaim(locked.id)
            done.errors.append(f"The next review after the one of {opened_on} was not opened: {exc.message}")
            if isinstance(exc, RemoteFailure):
                done.keycloak_error = exc.message
                break
    return done


def _open_next(offering: Offering, review: AccessReview, due: date) -> None:
    groups = list(
        db.session.scalars(
            select(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == offering.id, OfferingKeycloakGroup.uuid.in_(review.group_uuids))
            .order_by(OfferingKeycloakGroup.name, OfferingKeycloakGroup.uuid)
        )
    )
    linked = [group for group in groups if group.backend_id]
    if not linked:
        raise ValidationFailed(["its groups no longer exist or are no longer linked"])
    allowed = set(core.default_reviewers(offering, linked))
    staff = set(db.session.scalars(select(User.username).where(User.is_staff.is_(True))))
    kept = [reviewer.username for reviewer in review.reviewers if reviewer.username in allowed | staff]
    core.open_review(None, offering, linked, due, kept or None, review.repeat_months)


def _unclaim(review_id: int) -> None:
    db.session.rollback()
    review = db.session.get(AccessReview, review_id)
    if review is not None:
        review.next_opened = False
    db.session.commit()


def _work(job: Job, _report: Report) -> dict[str, Any]:
    if job.offering is None:
        return {}
    reminded = send_reminders(job.offering)
    opened = open_repeats(job.offering)
    if opened.keycloak_error and not opened.opened:
        raise KeycloakFailed(opened.keycloak_error)
    errors = reminded.errors + opened.errors  # what waits for the next round, in words
    return {"reminded": reminded.reminded, "mailed": reminded.mailed, "opened": opened.opened, "errors": errors}


def _outcome(result: dict[str, Any]) -> str:
    words = (
        f"{result.get('reminded', 0)} reminders ({result.get('mailed', 0)} mailed), "
        f"{result.get('opened', 0)} repeated reviews opened"
    )
    errors = result.get("errors") or []
    return f"{words}; {'; '.join(errors)}" if errors else words


ACCESS_REVIEWS = JobKindSpec(
    name=JobKind.ACCESS_REVIEWS.value,
    label="Access reviews: reminders and repeats",
    words="A round of access review reminders",
    work=_work,
    unit="reviews",
    needs=("offering",),
    periodic=True,
    start_label="Send review reminders now",
    outcome=_outcome,
)
