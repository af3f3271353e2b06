"""Work that must stay bounded: what one manager (or script) pressing a button, or calling the API, again and
again, or many at once, can make the workers and the database hold.

Each test performs the attack end to end through the same forms and endpoints a person or script uses and
checks what was written: jobs are deduplicated and at most OKG_JOBS_MAX_WAITING wait per offering (item 3),
large API previews run as jobs, a new preview supersedes the open one, and ended plans lose their items after
OKG_PLAN_RETENTION_DAYS while the row keeps the record (item 4).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tests.conftest import _config
from tests.factories import World
from tests.html import parse, text_of
from tests.security.matrix import sign_in
from tests.signin import send
from webapp import create_app
from webapp.extensions import db
from webapp.jobs.queue import job_queue
from webapp.models import (
    AuditEvent,
    Job,
    JobKind,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    Plan,
    PlanItem,
    utcnow,
)
from webapp.services.commands import ApplySelection, PreviewMembers
from webapp.services.jobs import core as jobs
from webapp.services.plans import core as plans

JOBS = "/api/offering-keycloak-jobs"
PLANS = "/api/offering-keycloak-plans"


def linked_group(world: World, name: str, members: int = 1) -> OfferingKeycloakGroup:
    """A local group linked to its own Keycloak group with `members` users there."""
    remote_id = world.realm.add_path(f"/base/hpc/{name}")
    for index in range(members):
        world.realm.add_member(remote_id, world.realm.add_user(f"{name}-{index}", f"{name}-{index}@example.org"))
    return world.add_group(name, backend_id=remote_id, scope_id=name)


def job_rows(**filters: object) -> list[Job]:
    db.session.expire_all()
    return list(db.session.scalars(select(Job).filter_by(**filters).order_by(Job.id)))


def post_form(client: FlaskClient, url: str, csrf: str, **form: str):  # type: ignore[no-untyped-def]
    return send(client, "POST", url, data={"csrf_token": csrf, **form})


@pytest.fixture
def small_threshold(app: Flask) -> Iterator[None]:
    """Groups of two or more members count as large here, so their previews go to a worker."""
    before = app.config["BACKGROUND_THRESHOLD"]
    app.config["BACKGROUND_THRESHOLD"] = 2
    yield
    app.config["BACKGROUND_THRESHOLD"] = before


# -- 3. jobs are deduplicated ---------------------------------------------------------------------------------


def test_3_twelve_presses_of_check_now_queue_one_drift_check(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "manager")
    answers = [post_form(client, "/overview/check", csrf) for _ in range(12)]
    assert [answer.status_code for answer in answers] == [303] * 12
    assert len(job_rows(kind="drift_check", offering_id=world.offering.id)) == 1
    page = send(client, "GET", answers[-1].headers["Location"]).get_data(as_text=True)
    assert "1 already had a check queued or running, not asked again" in text_of(parse(page))
    # The offering's Jobs tab ("Check drift now") and the API ask for the same work: still that one job.
    again = post_form(client, f"/offerings/{world.offering.uuid}/jobs", csrf, kind="drift_check")
    job = job_rows(kind="drift_check")[0]
    assert again.headers["Location"].endswith(f"/jobs/{job.uuid}")
    by_api = client.post(
        f"{JOBS}/", json={"kind": "drift_check", "offering_uuid": world.offering.uuid}, headers=world.headers("manager")
    )
    assert by_api.status_code == 200 and by_api.json["uuid"] == job.uuid
    assert len(job_rows(kind="drift_check")) == 1


def test_3_the_same_job_again_is_that_job_even_while_it_runs(client: FlaskClient, world: World) -> None:
    group = linked_group(world, "users")
    headers = world.headers("manager")
    body = {"kind": "pull_members", "group_uuid": group.uuid}
    first = client.post(f"{JOBS}/", json=body, headers=headers)
    assert first.status_code == 202
    job = job_rows()[0]
    job.state, job.started = "running", utcnow()  # a worker took it
    db.session.commit()
    job_queue().set_live(job.uuid, "heartbeat", time.time())
    again = [client.post(f"{JOBS}/", json=body, headers=headers) for _ in range(5)]
    assert {(answer.status_code, answer.json["uuid"], answer.json["state"]) for answer in again} == {
        (200, job.uuid, "running")
    }
    assert len(job_rows()) == 1
    assert db.session.query(AuditEvent).filter_by(action="job.queued").count() == 1  # nothing else written


def test_3_twenty_simultaneous_requests_for_the_same_job_make_one_row(app: Flask, world: World) -> None:
    group = linked_group(world, "crowd")
    headers = world.headers("manager")
    body = {"kind": "pull_members", "group_uuid": group.uuid}

    def post(_: int) -> tuple[int, str]:
        response = app.test_client().post(f"{JOBS}/", json=body, headers=headers)
        return response.status_code, (response.json or {}).get("uuid", response.json)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(post, range(20)))
    assert sorted(status for status, _ in results) == [200] * 19 + [202], results
    assert len({uuid for _, uuid in results}) == 1
    assert len(job_rows()) == 1


def test_3_simultaneous_sync_of_every_offering_by_staff_makes_one_row(app: Flask, world: World) -> None:
    """A job without an offering has no row to lock: the partial unique index alone keeps it to one."""
    headers = world.headers("staff")

    def post(_: int) -> int:
        return app.test_client().post(f"{JOBS}/", json={"kind": "sync_pending"}, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(post, range(10)))
    assert statuses == [200] * 9 + [202]
    assert len(job_rows(kind="sync_pending", offering_id=None)) == 1


def test_3_the_database_refuses_a_second_active_job_for_the_same_work(world: World) -> None:
    group = linked_group(world, "users")
    job = jobs.create_job(world.manager, JobKind.PULL_MEMBERS, group=group)
    twin = Job(kind=job.kind, offering=world.offering, group=group, created_by_name="raw", work_key=job.work_key)
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    job.state = "succeeded"  # once it ended, the same work may be asked for again
    db.session.commit()
    again = jobs.create_job(world.manager, JobKind.PULL_MEMBERS, group=group)
    assert again.id != job.id and again.work_key == job.work_key


def test_3_asking_for_a_job_or_a_preview_does_not_wait_for_the_offerings_long_apply(app: Flask, world: World) -> None:
    """Whoever holds the offering row locked for long (an apply of an older version held it for its whole
    transaction; a settings save still holds it while it writes): the rules above take a lock of their own, so a
    request meanwhile is answered at once, not after it."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one write lock for the whole database: there every write waits for its holder")
    group_uuid, offering_uuid = linked_group(world, "users").uuid, world.offering.uuid
    headers = world.headers("manager")
    pool = ThreadPoolExecutor(max_workers=1)
    with db.engine.connect() as other:
        apply = other.begin()
        other.execute(update(Offering).where(Offering.id == world.offering.id).values(modified=Offering.modified))
        try:
            job = pool.submit(
                lambda: (
                    app.test_client()
                    .post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group_uuid}, headers=headers)
                    .status_code
                )
            )
            assert job.result(timeout=60) == 202  # a hang guard, not a timing: blocked, it would wait for ever
            body = {"kind": "members", "offering_uuid": offering_uuid, "group_uuids": [group_uuid]}
            preview = pool.submit(lambda: app.test_client().post(f"{PLANS}/", json=body, headers=headers).status_code)
            assert preview.result(timeout=60) == 201
        finally:
            apply.rollback()
            pool.shutdown()


def test_3_an_offering_takes_at_most_n_waiting_jobs_then_429_in_words(
    app: Flask, client: FlaskClient, world: World
) -> None:
    assert app.config["JOBS_MAX_WAITING"] == 3  # the default
    groups = [linked_group(world, f"g{index}") for index in range(5)]
    headers = world.headers("manager")
    answers = [
        client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers)
        for group in groups[:4]
    ]
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    assert answers[3].json == {
        "detail": "HPC Cluster already has 3 jobs waiting to run, the most allowed. Nothing was queued: try again "
        "when they have run, or cancel one on the offering's Jobs tab."
    }
    assert len(job_rows()) == 3
    assert db.session.query(AuditEvent).filter_by(action="job.queued").count() == 3

    # The browser: a pull in the background, Check now and a large preview are refused alike, nothing written.
    csrf = sign_in(client, "manager")
    refused = post_form(client, f"/offerings/{world.offering.uuid}/groups/{groups[4].uuid}/pull-job", csrf)
    assert refused.status_code == 429
    alert = parse(refused.get_data(as_text=True)).select_one("[role=alert]")
    assert "HPC Cluster already has 3 jobs waiting to run" in text_of(alert)
    htmx = send(
        client,
        "POST",
        f"/offerings/{world.offering.uuid}/jobs",
        data={"csrf_token": csrf, "kind": "reconcile"},
        headers={"HX-Request": "true"},
    )
    assert htmx.status_code == 429 and "3 jobs waiting" in htmx.headers["HX-Trigger"]
    overview = post_form(client, "/overview/check", csrf)
    assert overview.status_code == 429
    assert "HPC Cluster already has 3 jobs waiting" in text_of(parse(overview.get_data(as_text=True)))
    assert len(job_rows()) == 3

    # Once one has run, there is room for one more.
    jobs.execute(job_rows()[0].uuid)
    assert (
        client.post(
            f"{JOBS}/", json={"kind": "pull_members", "group_uuid": groups[4].uuid}, headers=headers
        ).status_code
        == 202
    )


def test_3_simultaneous_requests_cannot_pass_the_waiting_limit(app: Flask, world: World) -> None:
    uuids = [linked_group(world, f"rush{index}").uuid for index in range(10)]
    headers = world.headers("manager")

    def post(group_uuid: str) -> int:
        body = {"kind": "pull_members", "group_uuid": group_uuid}
        return app.test_client().post(f"{JOBS}/", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(post, uuids))
    assert statuses == [202] * 3 + [429] * 7
    assert len(job_rows(state="queued")) == 3


def test_3_the_periodic_round_does_not_queue_again_what_is_queued(client: FlaskClient, world: World) -> None:
    csrf = sign_in(client, "manager")
    post_form(client, "/overview/check", csrf)  # a drift check is waiting
    first = jobs.enqueue_periodic_round()
    mine = sorted(job.kind for job in first if job.offering_id == world.offering.id)
    assert mine == ["reconcile", "sync_pending"]  # its drift check is the one already queued
    assert [job for job in jobs.enqueue_periodic_round() if job.offering_id == world.offering.id] == []
    kinds = sorted(job.kind for job in job_rows(offering_id=world.offering.id))
    assert kinds == ["drift_check", "reconcile", "sync_pending"]


def test_3_a_bad_waiting_limit_stops_the_start_in_words(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for value in ("lots", "0", "-1"):
        with pytest.raises(
            ValueError, match=f"OKG_JOBS_MAX_WAITING must be a whole number of at least 1, not '{value}'"
        ):
            create_app(_config(f"sqlite:///{tmp_path / 'x.sqlite'}", JOBS_MAX_WAITING=value))
    with pytest.raises(ValueError, match="OKG_PLAN_RETENTION_DAYS must be a whole number of at least 1"):
        create_app(_config(f"sqlite:///{tmp_path / 'x.sqlite'}", PLAN_RETENTION_DAYS="30 days"))


# -- 4. previews are bounded ----------------------------------------------------------------------------------


def test_4_a_large_api_preview_runs_as_a_job(client: FlaskClient, world: World, small_threshold: None) -> None:
    group = linked_group(world, "big", members=3)
    db.session.add_all(OfferingKeycloakMembership(group=group, username=f"big-{i}", state="active") for i in (0, 1))
    db.session.commit()
    headers = world.headers("manager")
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [group.uuid]}
    answer = client.post(f"{PLANS}/", json=body, headers=headers)
    assert answer.status_code == 202
    assert (answer.json["kind"], answer.json["state"], answer.json["group_uuid"]) == (
        "plan_members",
        "queued",
        group.uuid,
    )
    assert db.session.query(Plan).count() == 0  # nothing computed in the request
    again = client.post(f"{PLANS}/", json=body, headers=headers)
    assert again.status_code == 200 and again.json["uuid"] == answer.json["uuid"]  # the same preview: that job
    assert len(job_rows()) == 1

    jobs.execute(answer.json["uuid"])
    done = client.get(f"{JOBS}/{answer.json['uuid']}/", headers=headers).json
    assert done["state"] == "succeeded"
    plan = client.get(f"{PLANS}/{done['result']['plan_uuid']}/", headers=headers).json
    assert plan["state"] == "open" and plan["summary"] == {"add_local": 1, "update_local": 2}

    small = linked_group(world, "small")
    body["group_uuids"] = [small.uuid]
    assert client.post(f"{PLANS}/", json=body, headers=headers).status_code == 201  # small: the plan at once


def test_4_a_big_group_never_pulled_and_unknown_here_is_asked_of_keycloak(
    client: FlaskClient, world: World, small_threshold: None
) -> None:
    """Nothing here says how big the group is (no pull, no local members): one Keycloak request finds out that it
    reaches the threshold, and its first preview goes to a worker; a group below it still previews at once."""
    big = linked_group(world, "unseen", members=2)
    headers = world.headers("manager")
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [big.uuid]}
    answer = client.post(f"{PLANS}/", json=body, headers=headers)
    assert answer.status_code == 202 and answer.json["kind"] == "plan_members"
    assert db.session.query(Plan).count() == 0  # nothing computed in the request
    small = linked_group(world, "unseen-small", members=1)
    body["group_uuids"] = [small.uuid]
    assert client.post(f"{PLANS}/", json=body, headers=headers).status_code == 201


def test_4_a_large_preview_of_several_groups_runs_as_one_job(
    client: FlaskClient, world: World, small_threshold: None
) -> None:
    one, two = linked_group(world, "one"), linked_group(world, "two")  # one member each: two together
    headers = world.headers("manager")
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [two.uuid, one.uuid]}
    db.session.add_all(
        OfferingKeycloakMembership(group=group, username=f"{group.name}-0", state="active") for group in (one, two)
    )
    db.session.commit()
    answer = client.post(f"{PLANS}/", json=body, headers=headers)
    assert answer.status_code == 202
    body["group_uuids"] = [one.uuid, two.uuid]  # the same groups in another order: the same work
    assert client.post(f"{PLANS}/", json=body, headers=headers).json["uuid"] == answer.json["uuid"]
    sign_in(client, "manager")
    page = parse(
        send(client, "GET", f"/offerings/{world.offering.uuid}/jobs/{answer.json['uuid']}").get_data(as_text=True)
    )
    assert text_of(page.select_one("#job-heading")) == "Preview members: 2 groups"
    jobs.execute(answer.json["uuid"])
    job = job_rows()[0]
    assert job.state == "succeeded", job.error
    plan = db.session.scalar(select(Plan).where(Plan.uuid == job.result["plan_uuid"]))
    assert plan is not None and sorted(plan.params["group_uuids"]) == sorted([one.uuid, two.uuid])


def test_4_a_new_preview_of_the_same_groups_supersedes_the_open_one(client: FlaskClient, world: World) -> None:
    group, other = linked_group(world, "users", members=2), linked_group(world, "others")
    headers = world.headers("manager")
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [group.uuid]}
    older = client.post(f"{PLANS}/", json=body, headers=headers).json
    elsewhere = client.post(f"{PLANS}/", json={**body, "group_uuids": [other.uuid]}, headers=headers).json
    newer = client.post(f"{PLANS}/", json=body, headers=headers).json
    states = {plan["uuid"]: plan["state"] for plan in client.get(f"{PLANS}/", headers=headers).json}
    assert states == {older["uuid"]: "discarded", elsewhere["uuid"]: "open", newer["uuid"]: "open"}
    replaced = client.get(f"{PLANS}/{older['uuid']}/", headers=headers).json
    assert replaced["result"]["superseded_by"] == newer["uuid"]
    assert replaced["result"]["error"].startswith("A newer preview of the same groups replaced this one at ")
    refused = client.post(f"{PLANS}/{older['uuid']}/apply/", json={}, headers=headers)
    assert refused.status_code == 400 and refused.json["detail"] == replaced["result"]["error"]
    assert db.session.query(OfferingKeycloakMembership).count() == 0  # nothing applied
    event = db.session.query(AuditEvent).filter_by(action="plan.superseded").one()
    assert event.details == {"plan": older["uuid"], "by": newer["uuid"], "kind": "members"}
    assert client.post(f"{PLANS}/{newer['uuid']}/apply/", json={}, headers=headers).status_code == 200

    # The older plan's page says so in words, where its Apply button was.
    sign_in(client, "manager")
    page = parse(send(client, "GET", f"/offerings/{world.offering.uuid}/plans/{older['uuid']}").get_data(as_text=True))
    assert "A newer preview of the same groups replaced this one" in text_of(page.select_one("[role=alert]"))
    assert page.select_one("#apply-button") is None


def test_4_simultaneous_previews_of_the_same_groups_leave_one_open(app: Flask, world: World) -> None:
    group = linked_group(world, "users", members=2)
    headers = world.headers("manager")
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [group.uuid]}

    def post(_: int) -> int:
        return app.test_client().post(f"{PLANS}/", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(post, range(6))) == [201] * 6
    db.session.expire_all()
    assert sorted(plan.state for plan in db.session.query(Plan)) == ["discarded"] * 5 + ["open"]


def _ended_plans(world: World) -> dict[str, Plan]:
    """An applied plan, an expired one and a discarded one, each ended 31 days ago; and the same, ended today."""
    made: dict[str, Plan] = {}
    for age, days in (("old", 31), ("recent", 1)):
        group = linked_group(world, f"users-{age}", members=3)
        applied = plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))
        plans.apply_plan(world.manager, applied, ApplySelection({}, ""))
        expired = plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))
        expired.state, expired.expires = "expired", utcnow() - timedelta(days=days)
        discarded = plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))
        plans.discard_plan(world.manager, discarded)
        for plan in (applied, discarded):
            plan.finished = utcnow() - timedelta(days=days)
        made |= {f"{age}-applied": applied, f"{age}-expired": expired, f"{age}-discarded": discarded}
    db.session.commit()
    made["open"] = plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))
    made["open"].created = utcnow() - timedelta(days=40)  # old, but open: kept whatever its age
    db.session.commit()
    return made


def test_4_the_retention_sweep_keeps_the_row_and_drops_the_items(client: FlaskClient, world: World) -> None:
    made = _ended_plans(world)
    ids = {name: plan.id for name, plan in made.items()}
    applied_result = dict(made["old-applied"].result)
    applied_summary = dict(made["old-applied"].summary)
    assert applied_result["counts"]["applied"] == 3

    jobs.enqueue_periodic_round()  # the sweep is part of the round

    db.session.expire_all()
    items = {name: db.session.query(PlanItem).filter_by(plan_id=plan_id).count() for name, plan_id in ids.items()}
    assert items == {
        "old-applied": 0, "old-expired": 0, "old-discarded": 0,
        "recent-applied": 3, "recent-expired": 3, "recent-discarded": 3, "open": 3,
    }  # fmt: skip
    kept = db.session.get(Plan, ids["old-applied"])
    assert kept is not None and kept.items_removed is not None
    assert (kept.state, kept.result, kept.summary) == ("applied", applied_result, applied_summary)
    event = db.session.query(AuditEvent).filter_by(action="plan.items_removed").one()
    assert event.details == {"plans": 3, "items": 9, "retention_days": 30}

    # The API and the pages say in words what happened; no 500, no empty table that reads "no changes".
    headers = world.headers("manager")
    detail = client.get(f"{PLANS}/{kept.uuid}/", headers=headers).json
    assert detail["items_removed"] and detail["result"]["counts"]["applied"] == 3
    words = "The items of this preview were removed on "
    for url in (detail["items_url"], f"{detail['items_url']}?format=csv"):
        gone = client.get(url, headers=headers)
        assert gone.status_code == 410 and gone.json["detail"].startswith(words), gone.data
        assert ", 31 days after it ended" in gone.json["detail"]
    sign_in(client, "manager")
    base = f"/offerings/{world.offering.uuid}/plans"
    result = send(client, "GET", f"{base}/{kept.uuid}/result")
    assert result.status_code == 200
    page = parse(result.get_data(as_text=True))
    assert text_of(page.select_one("#items-removed")).startswith(words)
    assert "3 applied" in text_of(page) and "No items." not in text_of(page)
    expired = db.session.get(Plan, ids["old-expired"])
    assert expired is not None
    shown = parse(send(client, "GET", f"{base}/{expired.uuid}").get_data(as_text=True))
    assert text_of(shown.select_one("#items-removed")).startswith(words)
    assert shown.select_one("table.plan-items") is None
    csv = send(client, "GET", f"{base}/{expired.uuid}/items.csv")
    assert csv.status_code == 410 and words in csv.get_data(as_text=True)

    assert plans.remove_old_items() == 0  # a second sweep finds nothing more


def test_4_the_retention_sweep_runs_from_the_command_line(app: Flask, world: World) -> None:
    made = _ended_plans(world)
    app.config["PLAN_RETENTION_DAYS"] = 60
    runner = app.test_cli_runner()
    assert "0 ended plans lost their items" in runner.invoke(args=["prune-plans"]).output
    app.config["PLAN_RETENTION_DAYS"] = 1
    output = runner.invoke(args=["prune-plans"]).output
    assert "6 ended plans lost their items" in output, output  # the recent ones ended a day ago, too
    db.session.expire_all()
    assert db.session.query(PlanItem).filter(PlanItem.plan_id != made["open"].id).count() == 0
    assert db.session.query(Plan).count() == 7  # every row stays
