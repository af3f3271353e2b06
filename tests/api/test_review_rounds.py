"""The periodic work of access reviews (docs/PRODUCT.md §12): reminders to the reviewers before the due date
through a real SMTP server (the project's aiosmtpd sink), once per threshold across rounds; a mail server that is
down loses none; an overdue review says so; a review that repeats opens the next one once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World
from tests.mailsink import MailServer, free_port, mail_server
from webapp.extensions import db
from webapp.models import AccessReview, AuditEvent, OfferingKeycloakGroup, utcnow
from webapp.services.reviews import core as reviews
from webapp.services.reviews.jobs import ACCESS_REVIEWS, add_months

REVIEWS = "/api/offering-keycloak-reviews"


@pytest.fixture
def smtp(app: Flask) -> Iterator[MailServer]:
    with mail_server() as server:
        app.config["MAIL_URL"] = server.url
        yield server


class Job:
    def __init__(self, world: World) -> None:
        self.offering = world.offering


def round_of(world: World) -> dict:
    return ACCESS_REVIEWS.work(Job(world), lambda *_: None)  # type: ignore[arg-type]


def opened(world: World, due_in: int, repeat_months: int | None = None) -> AccessReview:
    group = world.add_group("course", backend_id=world.realm.add_path("/base/hpc/course"), scope_id="course")
    world.realm.add_member(group.backend_id, world.realm.add_user("ann", "ann@example.org"))
    due = utcnow().date() + timedelta(days=due_in)
    return reviews.open_review(world.manager, world.offering, [group], due, None, repeat_months)


def test_reviewers_are_reminded_once_per_threshold(app: Flask, world: World, smtp: MailServer) -> None:
    review = opened(world, due_in=5)  # within 7 days: the 7-day reminder is due, the 1-day one not yet
    assert round_of(world)["reminded"] == 1 and round_of(world)["reminded"] == 0
    [message] = smtp.messages()
    assert message["To"] == "manager@example.org"
    assert message["Subject"] == f"Access review of {world.offering.name} due {review.due}"
    body = message.get_payload(decode=True).decode()
    assert "1 of its 1 members are still undecided" in body
    assert "Nobody is removed for want of an answer" in body
    review.due = utcnow().date()  # the last day
    db.session.commit()
    assert round_of(world)["reminded"] == 1 and len(smtp.messages()) == 2
    assert db.session.get(AccessReview, review.id).reminders_sent == [7, 1]


def test_a_mail_server_that_is_down_loses_no_reminder(app: Flask, world: World) -> None:
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens
    review = opened(world, due_in=3)
    result = round_of(world)
    assert result["reminded"] == 0 and "tried again next round" in result["errors"][0]
    assert db.session.get(AccessReview, review.id).reminders_sent == []
    with mail_server() as server:
        app.config["MAIL_URL"] = server.url
        assert round_of(world)["reminded"] == 1 and len(server.messages()) == 1


def test_without_mail_the_reminder_is_recorded_and_overdue_is_shown(
    app: Flask, world: World, client: FlaskClient
) -> None:
    review = opened(world, due_in=1)
    assert round_of(world)["mailed"] == 0
    assert db.session.query(AuditEvent).filter_by(action="review.reminded").count() == 1
    review.due = utcnow().date() - timedelta(days=1)
    db.session.commit()
    answer = client.get(f"{REVIEWS}/{review.uuid}/", headers=world.headers("manager"))
    assert answer.json["overdue"] is True and answer.json["state"] == "open"


def test_a_repeating_review_opens_the_next_once(app: Flask, world: World) -> None:
    first = opened(world, due_in=14, repeat_months=3)
    assert round_of(world)["opened"] == 0  # not time yet
    first.created = first.created - timedelta(days=100)  # opened three months and more ago
    db.session.commit()
    assert round_of(world)["opened"] == 1 and round_of(world)["opened"] == 0
    newest = db.session.query(AccessReview).order_by(AccessReview.id.desc()).first()
    assert newest is not None and newest.id != first.id
    assert (newest.created_by_name, newest.repeat_months, newest.group_uuids) == ("system", 3, first.group_uuids)
    assert [reviewer.username for reviewer in newest.reviewers] == ["manager"]
    assert newest.due == utcnow().date() + (first.due - first.created.date())  # as long as the first one had
    assert reviews.counts(newest).total == 1


def test_a_repeat_whose_groups_are_gone_says_so_and_waits(app: Flask, world: World) -> None:
    first = opened(world, due_in=14, repeat_months=1)
    first.created = first.created - timedelta(days=40)
    db.session.query(OfferingKeycloakGroup).update({"backend_id": ""})
    db.session.commit()
    result = round_of(world)
    assert result["opened"] == 0 and "no longer linked" in result["errors"][0]
    assert db.session.get(AccessReview, first.id).next_opened is False  # tried again next round


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
    ],
)
def test_months_are_added_to_the_day(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected
