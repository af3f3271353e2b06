"""Reminders before a membership ends (docs/PRODUCT.md §11): through a real SMTP server (the project's aiosmtpd
sink on loopback), exactly once per membership and threshold across two rounds and two workers at once; a mail
server that is down loses nothing; the group page says whose access ends soon."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask

from tests.conftest import REPO_ROOT, TEST_ENCRYPTION_KEY, TEST_SECRET
from tests.factories import PASSWORD, World
from tests.html import parse, text_of
from tests.mailsink import MailServer, free_port, mail_server
from tests.signin import log_in
from webapp.config import mail_url, reminder_days
from webapp.extensions import db
from webapp.models import AuditEvent, GroupManager, OfferingKeycloakGroup, OfferingKeycloakMembership, utcnow
from webapp.services.memberships.reminders import send_reminders


@pytest.fixture
def smtp(app: Flask) -> Iterator[MailServer]:
    with mail_server() as server:
        app.config["MAIL_URL"] = server.url
        yield server


def group_with(world: World, ends_in: timedelta, username: str = "ann") -> OfferingKeycloakMembership:
    group = world.add_group("course", backend_id=world.realm.add_path("/base/hpc/course"), scope_id="course")
    db.session.add(GroupManager(group=group, username="pi", created_by_name="manager"))
    row = OfferingKeycloakMembership(
        group=group, username=username, email=f"{username}@example.org", state="active", expires_at=utcnow() + ends_in
    )
    db.session.add(row)
    db.session.commit()
    return row


def in_parallel(app: Flask, times: int) -> None:
    """`send_reminders` in `times` threads at once, each with its own app context and session (two workers)."""
    start = threading.Barrier(times)
    failures: list[BaseException] = []

    def worker() -> None:
        with app.app_context():
            try:
                start.wait()
                send_reminders()
            except BaseException as exc:
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []


def test_each_threshold_is_mailed_once_across_rounds_and_workers(app: Flask, world: World, smtp: MailServer) -> None:
    row = group_with(world, timedelta(days=20))  # within 30 days, not within 7
    in_parallel(app, 2)
    send_reminders()
    mails = smtp.messages()
    assert len(mails) == 1
    assert sorted(address.strip() for address in mails[0]["To"].split(",")) == ["ann@example.org", "pi@example.org"]
    assert mails[0]["Subject"].startswith("Access to course ends on ")
    assert "in 30 days or less" in mails[0].get_payload(decode=True).decode()
    db.session.expire_all()
    assert row.reminders_sent == [30]

    row.expires_at = utcnow() + timedelta(days=5)  # time passes: within 7 days now (30 was sent)
    db.session.commit()
    in_parallel(app, 2)
    send_reminders()
    assert len(smtp.messages()) == 2 and "in 7 days or less" in smtp.messages()[1].get_payload(decode=True).decode()
    db.session.expire_all()
    assert row.reminders_sent == [30, 7]
    events = db.session.query(AuditEvent).filter_by(action="membership.reminded").all()
    assert [event.details["days"] for event in events] == [30, 7] and {e.actor_name for e in events} == {"system"}


def test_a_renewal_sends_the_reminders_of_the_new_end_again(client, world: World, smtp: MailServer) -> None:  # type: ignore[no-untyped-def]
    row = group_with(world, timedelta(days=3))
    send_reminders()
    assert len(smtp.messages()) == 1  # 30 and 7 and... the closest threshold that came: one mail
    db.session.expire_all()
    assert row.reminders_sent == [30, 7]
    later = (utcnow() + timedelta(days=25)).isoformat()
    renewed = client.post(
        f"/api/offering-keycloak-memberships/{row.uuid}/renew/",
        json={"expires_at": later},
        headers=world.headers("manager"),
    )
    assert renewed.status_code == 200
    send_reminders()
    assert len(smtp.messages()) == 2 and "in 30 days or less" in smtp.messages()[1].get_payload(decode=True).decode()


def test_a_mail_server_that_is_down_loses_no_reminder(app: Flask, world: World) -> None:
    row = group_with(world, timedelta(days=20))
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens
    run = send_reminders()
    assert run.reminded == 0 and run.errors and "Sending mail through 127.0.0.1" in run.errors[0]
    db.session.expire_all()
    assert row.reminders_sent == []  # given back: the next round tries again
    with mail_server() as server:
        app.config["MAIL_URL"] = server.url
        assert send_reminders().mailed == 1 and len(server.messages()) == 1


def test_without_mail_the_reminder_is_recorded_and_shown_in_the_app(app: Flask, world: World, client) -> None:  # type: ignore[no-untyped-def]
    app.config["MAIL_URL"] = ""
    row = group_with(world, timedelta(days=2), username="bea")
    run = send_reminders()
    assert (run.reminded, run.mailed) == (1, 0)
    group = db.session.get(OfferingKeycloakGroup, row.group_id)
    assert group is not None
    assert log_in(client, "manager", PASSWORD).status_code == 303
    page = parse(client.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}"))
    notice = page.select_one("#expiring-soon")
    assert notice is not None and "Access ends soon for 1 member:" in text_of(notice) and "bea" in text_of(notice)


@pytest.mark.parametrize(
    ("value", "expected"), [("30,7,1", [30, 7, 1]), ("7, 30", [30, 7]), (14, [14]), ("", []), ([1, 1], [1])]
)
def test_reminder_days_are_read_from_the_setting(value: object, expected: list[int]) -> None:
    assert reminder_days(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["30,seven", "0", "400", "-1"])
def test_a_bad_reminder_setting_fails_at_start_in_words(value: str) -> None:
    with pytest.raises(ValueError, match="OKG_EXPIRY_REMINDER_DAYS must be days from 1 to 365"):
        reminder_days(value)


@pytest.mark.parametrize("value", ["mail.example.org", "http://mail.example.org", "smtp://", "smtp://h:port"])
def test_a_bad_mail_url_fails_at_start_in_words(value: str) -> None:
    with pytest.raises(ValueError, match="OKG_MAIL_URL"):
        mail_url(value)


def test_two_processes_at_once_mail_each_threshold_once(app: Flask, world: World, smtp: MailServer) -> None:
    """Two `flask expire-memberships` processes at once (as two hosts' rounds would), then a second round: one
    mail. The processes share only the database (and the mail server), as workers on two hosts do."""
    row = group_with(world, timedelta(days=20))
    env = os.environ | {
        "FLASK_APP": "webapp",
        "OKG_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "OKG_SECRET_KEY": TEST_SECRET,
        "OKG_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "OKG_MAIL_URL": smtp.url,
    }

    def round_of(count: int) -> list[str]:
        command = [sys.executable, "-m", "flask", "expire-memberships"]
        started = [
            subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for _ in range(count)
        ]
        outputs = [process.communicate(timeout=60)[0] for process in started]
        assert [process.returncode for process in started] == [0] * count, outputs
        return outputs

    first = round_of(2)
    assert sorted("reminders: 1 sent (1 by mail)" in output for output in first) == [False, True], first
    round_of(1)
    assert len(smtp.messages()) == 1
    db.session.expire_all()
    assert row.reminders_sent == [30]
