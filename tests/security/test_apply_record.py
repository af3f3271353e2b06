"""Nothing an apply does in Keycloak goes unrecorded (item 8 of the security issue).

An apply used to keep one database transaction open from its first local write to its last Keycloak call:
on SQLite that held the write lock for the whole apply (logins failed with a 500 after 5 s), and a worker
killed in the middle took every record of what it had done in Keycloak with it, while its job said "nothing
it did was kept". Each test below does that to an apply, on the in-memory Keycloak or (marked `keycloak`)
with a real worker process killed with SIGKILL against a real Keycloak, and checks that the record left
behind says exactly what Keycloak has.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from tests.factories import PASSWORD, World
from tests.html import parse, text_of
from tests.integration.conftest import RealWorld, proxy, real  # noqa: F401  (fixtures for the real-worker test)
from tests.signin import log_in, send
from tests.workers import Worker
from webapp.extensions import db
from webapp.jobs.queue import job_queue
from webapp.keycloak.fake_gateway import FakeGateway
from webapp.models import (
    AuditEvent,
    Job,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    Plan,
    PlanItem,
    new_uuid,
)
from webapp.services.commands import ApplySelection, PreviewMembers
from webapp.services.errors import Conflict
from webapp.services.jobs import core as jobs
from webapp.services.plans import core as plans
from webapp.services.plans.journal import BATCH_ITEMS, Journal

from .matrix import sign_in

PLANS = "/api/offering-keycloak-plans"
JOBS = "/api/offering-keycloak-jobs"


class Killed(BaseException):
    """The process dies at this point: nothing after it runs, nothing it had not committed is kept (SIGKILL).
    A BaseException, so no `except Exception` of the app can tidy up after it."""


def waiting_crowd(world: World, count: int, name: str = "crowd") -> tuple[OfferingKeycloakGroup, str]:
    """A linked group whose `count` pending members now have Keycloak accounts: each is an add_remote item."""
    remote_id = world.realm.add_path(f"/base/hpc/{name}")
    group = world.add_group(name, backend_id=remote_id, scope_id=name)
    for index in range(count):
        username = f"{name}{index:03d}"
        world.realm.add_user(username, f"{username}@example.org")
        db.session.add(OfferingKeycloakMembership(group=group, username=username, state="pending"))
    db.session.commit()
    return group, remote_id


def preview(world: World, group: OfferingKeycloakGroup) -> Plan:
    return plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))


def in_keycloak(world: World, remote_id: str) -> set[str]:
    realm = world.realm
    return {realm.users[user_id].username for user_id in realm.groups[remote_id].members}


def recorded(plan: Plan) -> dict[str, tuple[str | None, str]]:
    """username -> (outcome, message) of the plan's items, as committed."""
    db.session.expire_all()
    rows = db.session.execute(
        select(PlanItem.username, PlanItem.outcome, PlanItem.message).where(PlanItem.plan_id == plan.id)
    )
    return {username: (outcome, message) for username, outcome, message in rows}


def states(group: OfferingKeycloakGroup) -> dict[str, str]:
    db.session.expire_all()
    rows = db.session.execute(
        select(OfferingKeycloakMembership.username, OfferingKeycloakMembership.state).where(
            OfferingKeycloakMembership.group_id == group.id
        )
    )
    return {str(username): str(state) for username, state in rows}


def assert_record_matches(plan: Plan, group: OfferingKeycloakGroup, members: set[str]) -> None:
    """Each item says applied exactly when Keycloak has the change, and the local row followed it."""
    outcomes = recorded(plan)
    applied = {username for username, (outcome, _message) in outcomes.items() if outcome == "applied"}
    assert applied == members
    assert {outcome for outcome, _message in outcomes.values()} <= {"applied", "failed"}
    local = states(group)
    assert {username for username, state in local.items() if state == "active"} == members


@pytest.fixture
def kill_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """kill_at(n): the n-th Keycloak write reaches Keycloak, then the process dies before it can record it."""

    def arm(n: int) -> None:
        original, record = FakeGateway.add_user_to_group, Journal.record
        calls = [0]

        def add(self: FakeGateway, user_id: str, group_id: str) -> None:
            original(self, user_id, group_id)
            calls[0] += 1
            if calls[0] == n:
                raise Killed()

        def dead_record(self: Journal, *args: Any) -> None:
            if calls[0] >= n:
                raise Killed()  # a dead process records nothing more (no `finally` runs after SIGKILL)
            record(self, *args)

        monkeypatch.setattr(FakeGateway, "add_user_to_group", add)
        monkeypatch.setattr(Journal, "record", dead_record)

    return arm


# -- the database is not locked while Keycloak is called ----------------------------------------------------


class Gate:
    """Holds the apply inside its n-th Keycloak write until released, as a slow Keycloak would."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.calls = 0
        self.inside = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate(at=BATCH_ITEMS + 6)
    original = FakeGateway.add_user_to_group

    def add(self: FakeGateway, user_id: str, group_id: str) -> None:
        held.calls += 1
        if held.calls == held.at:
            held.inside.set()
            assert held.release.wait(60), "the test never released the apply"
        original(self, user_id, group_id)

    monkeypatch.setattr(FakeGateway, "add_user_to_group", add)
    yield held
    held.release.set()


def test_while_an_apply_waits_for_keycloak_logins_and_writes_go_on_and_its_record_is_committed(
    app: Flask, world: World, gate: Gate
) -> None:
    group, remote_id = waiting_crowd(world, 60)
    plan = preview(world, group)
    bystander = world.add_group("bystander", scope_id="bystander")
    headers = world.headers("manager")
    url = f"{PLANS}/{plan.uuid}/apply/"

    def apply() -> Any:
        return app.test_client().post(url, json={}, headers=headers)

    with ThreadPoolExecutor(max_workers=1) as pool:
        applying = pool.submit(apply)
        assert gate.inside.wait(30), applying.exception(timeout=1) if applying.done() else "the apply never got there"

        # The apply now waits inside a Keycloak call. Nobody else has to wait for it:
        signed_in = log_in(app.test_client(), "staff", PASSWORD)
        assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/"
        deleted = send(app.test_client(), "DELETE", f"/api/offering-keycloak-groups/{bystander.uuid}/", headers=headers)
        assert deleted.status_code == 204

        # and what it has done so far is committed, so a kill at this moment would leave the truth:
        db.session.expire_all()
        started = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.apply_started")).one()
        assert started.details["selected"] == 60 and started.details["to_send"] == 60
        assert db.session.get(Plan, plan.id).state == "applying"
        members = in_keycloak(world, remote_id)
        assert len(members) == gate.at - 1
        outcomes = recorded(plan)
        sending = set(db.session.get(Plan, plan.id).result["sending"])
        assert 0 < len(sending) <= BATCH_ITEMS
        sent_names = set(db.session.scalars(select(PlanItem.username).where(PlanItem.id.in_(sending))))
        for username, (outcome, message) in outcomes.items():
            if username in sent_names:
                continue  # in flight: checked in Keycloak if the apply dies now (the next tests)
            assert (outcome == "applied") is (username in members), (username, outcome, message)
            if outcome != "applied":
                assert message == "Not made: the apply stopped before this change."
        assert len([o for o, _m in outcomes.values() if o == "applied"]) >= gate.at - 1 - BATCH_ITEMS

        gate.release.set()
        response = applying.result(timeout=60)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "applied" and response.json["counts"]["applied"] == 60
    assert_record_matches(plan, group, in_keycloak(world, remote_id))


# -- a worker killed in the middle ---------------------------------------------------------------------------


def dead_job_words(client: FlaskClient, world: World, job: Job, app: Flask) -> dict:
    """The job as the next person to look at it sees it, once its worker's heartbeat is old."""
    app.config["JOB_STALE_SECONDS"] = 0
    time.sleep(0.01)
    response = send(client, "GET", f"{JOBS}/{job.uuid}/", headers=world.headers("manager"))
    assert response.status_code == 200
    return response.json


def test_a_worker_killed_mid_apply_leaves_the_truth_and_its_job_says_how_far_it_got(
    app: Flask, client: FlaskClient, world: World, kill_at: Callable[[int], None]
) -> None:
    group, remote_id = waiting_crowd(world, 60)
    plan = preview(world, group)
    job = jobs.start_apply(world.manager, plan, ApplySelection({})).job
    kill_at(37)  # in the second batch: 25 recorded, then 12 made but not recorded when the process dies
    with pytest.raises(Killed):
        jobs.execute(job.uuid)
    db.session.rollback()  # what the dead process had not committed is gone with it

    assert db.session.get(Plan, plan.id).state == "applying"
    seen = dead_job_words(client, world, job, app)
    words = (
        "The worker stopped after 37 of 60 changes; those are recorded on the plan's result page; "
        "the rest were not made."
    )
    assert seen["state"] == "failed" and seen["error"] == words

    db.session.expire_all()
    ended = db.session.get(Plan, plan.id)
    assert ended.state == "partially_applied" and ended.result["error"] == words
    assert ended.result["counts"] == {"applied": 37, "failed": 23, "not_selected": 0}
    members = in_keycloak(world, remote_id)
    assert len(members) == 37
    assert_record_matches(plan, group, members)
    applied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.applied")).one()
    assert applied.details["stopped"] == words and applied.details["counts"]["applied"] == 37

    failed = f"{PLANS}/{plan.uuid}/items/?action=failed&page_size=300"
    result = send(client, "GET", failed, headers=world.headers("manager"))
    assert {item["message"] for item in result.json} == {"Not made: the apply stopped before this change."}

    sign_in(client, "manager")  # the manager's pages say the same, and lead from the job to the record
    job_page = parse(send(client, "GET", f"/offerings/{world.offering.uuid}/jobs/{job.uuid}"))
    assert words in text_of(job_page.select_one("#job-status"))
    link = job_page.select_one("#job-status a.button")
    assert text_of(link) == "See the result" and link["href"].endswith(f"/plans/{plan.uuid}/result")
    result_page = parse(send(client, "GET", link["href"]))
    assert text_of(result_page.select_one('.plan-result [role="alert"]')) == words
    assert text_of(result_page.select_one("#result-heading")).startswith("Partly applied: 37 add in keycloak")


def test_when_keycloak_cannot_be_asked_after_the_kill_the_record_says_so(
    app: Flask, client: FlaskClient, world: World, kill_at: Callable[[int], None]
) -> None:
    group, remote_id = waiting_crowd(world, 60)
    plan = preview(world, group)
    job = jobs.start_apply(world.manager, plan, ApplySelection({})).job
    kill_at(37)
    with pytest.raises(Killed):
        jobs.execute(job.uuid)
    db.session.rollback()
    world.realm.down = True
    seen = dead_job_words(client, world, job, app)
    assert seen["error"] == (
        "The worker stopped after 25 of 60 changes; those are recorded on the plan's result page. 25 more were "
        "being sent to Keycloak when it stopped and could not be checked there (preview again to see what "
        "Keycloak has); the rest were not made."
    )
    outcomes = recorded(plan)
    unknown = [name for name, (_o, message) in outcomes.items() if message.startswith("Unknown: ")]
    assert len(unknown) == BATCH_ITEMS
    world.realm.down = False
    members = in_keycloak(world, remote_id)
    applied = {name for name, (outcome, _m) in outcomes.items() if outcome == "applied"}
    assert len(applied) == 25 and applied < members and members - applied <= set(unknown)


def test_a_stopped_worker_ends_the_apply_after_its_batch(
    app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    group, remote_id = waiting_crowd(world, 60)
    plan = preview(world, group)
    job = jobs.start_apply(world.manager, plan, ApplySelection({})).job
    original = FakeGateway.add_user_to_group
    calls = [0]

    def add(self: FakeGateway, user_id: str, group_id: str) -> None:
        calls[0] += 1
        if calls[0] == 30:
            job_queue().stopping.set()  # SIGTERM: the worker is asked to stop
        original(self, user_id, group_id)

    monkeypatch.setattr(FakeGateway, "add_user_to_group", add)
    jobs.execute(job.uuid)
    db.session.expire_all()
    stopped = db.session.get(Job, job.id)
    words = (
        "The worker was stopped after 50 of 60 changes; those are recorded on the plan's result page; "
        "the rest were not made."
    )
    assert stopped.state == "failed" and stopped.error == words
    assert db.session.get(Plan, plan.id).state == "partially_applied"
    assert_record_matches(plan, group, in_keycloak(world, remote_id))
    assert len(in_keycloak(world, remote_id)) == 50


def test_a_request_that_died_mid_apply_is_ended_from_its_record_after_the_timeout(
    app: Flask, client: FlaskClient, world: World, kill_at: Callable[[int], None]
) -> None:
    group, remote_id = waiting_crowd(world, 60)
    plan = preview(world, group)
    kill_at(37)
    with pytest.raises(Killed):
        plans.apply_plan(world.manager, plan, ApplySelection({}))
    db.session.rollback()
    headers = world.headers("manager")
    blocked = send(client, "POST", f"{PLANS}/{plan.uuid}/apply/", json={}, headers=headers)
    assert blocked.status_code == 409 and "An apply by manager is running for this offering" in blocked.json["detail"]
    app.config["PLAN_APPLY_TIMEOUT_SECONDS"] = 0
    seen = send(client, "GET", f"{PLANS}/{plan.uuid}/", headers=headers)
    assert seen.json["state"] == "partially_applied"
    db.session.expire_all()
    assert db.session.get(Plan, plan.id).result["error"] == (
        "The apply timed out after 37 of 60 changes; those are recorded on the plan's result page; "
        "the rest were not made."
    )
    assert_record_matches(plan, group, in_keycloak(world, remote_id))


def test_a_worker_killed_while_it_reads_keycloak_again_changed_nothing_and_says_so(
    app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    group, remote_id = waiting_crowd(world, 10)
    plan = preview(world, group)
    job = jobs.start_apply(world.manager, plan, ApplySelection({})).job

    def killed(self: FakeGateway, group_id: str, label: str = "") -> Iterator[list[Any]]:
        raise Killed()
        yield []  # pragma: no cover  (a generator, like the real one)

    monkeypatch.setattr(FakeGateway, "iter_group_members", killed)
    with pytest.raises(Killed):
        jobs.execute(job.uuid)
    db.session.rollback()
    seen = dead_job_words(client, world, job, app)
    assert seen["error"] == "The worker stopped before the apply's first change; nothing was changed. Preview again."
    assert db.session.get(Plan, plan.id).state == "failed"
    assert in_keycloak(world, remote_id) == set() and set(states(group).values()) == {"pending"}


# -- the stale check still writes nothing ------------------------------------------------------------------


def test_a_register_change_while_keycloak_is_read_again_still_writes_nothing(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The register is compared again inside the transaction that writes, after Keycloak was read."""
    group, remote_id = waiting_crowd(world, 10)
    plan = preview(world, group)
    engine = db.engine
    original = FakeGateway.iter_group_members

    def read_and_meddle(self: FakeGateway, group_id: str, label: str = "") -> Iterator[list[Any]]:
        yield from original(self, group_id, label)
        with engine.begin() as connection:  # someone else adds a member here meanwhile
            row = {"uuid": new_uuid(), "group_id": group.id, "username": "meddler", "state": "pending"}
            connection.execute(insert(OfferingKeycloakMembership), [row])

    monkeypatch.setattr(FakeGateway, "iter_group_members", read_and_meddle)
    before = states(group)
    with pytest.raises(Conflict, match="crowd: the local register changed"):
        plans.apply_plan(world.manager, plan, ApplySelection({}))
    assert in_keycloak(world, remote_id) == set()
    assert states(group) == before | {"meddler": "pending"}
    assert {outcome for outcome, _m in recorded(plan).values()} == {None}
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "plan.apply_started")).all() == []


# -- a real worker process killed with SIGKILL, against a real Keycloak ---------------------------------------


@pytest.mark.keycloak
def test_sigkill_of_a_real_worker_mid_apply_leaves_what_keycloak_has(
    app: Flask,
    client: FlaskClient,
    real: RealWorld,  # noqa: F811
) -> None:
    count = 1000
    remote_id = real.realm.add_path("/base/hpc/kill-apply")
    real.realm.add_users_bulk([{"username": f"k{i:04d}"} for i in range(count)], ["/base/hpc/kill-apply"])
    group = real.world.add_group("kill-apply", backend_id=remote_id, scope_id="kill-apply")
    plan = plans.create_plan(real.world.manager, PreviewMembers(real.world.offering, [group]))
    keys = db.session.scalars(select(PlanItem.key).where(PlanItem.plan_id == plan.id)).all()
    selection = ApplySelection({key: "remove_remote" for key in keys}, f"remove {count} members")
    job = jobs.start_apply(real.world.manager, plan, selection).job
    headers = real.world.headers("manager")
    # Keycloak receives the first 300 removals; the 301st waits in the proxy, so the worker is mid-apply,
    # however fast this machine is, when it is killed.
    real.proxy.hold_after(300, b"DELETE ")
    worker = Worker(app)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            db.session.expire_all()  # the test shares one session with its requests: read what the worker wrote
            seen = send(client, "GET", f"{JOBS}/{job.uuid}/", headers=headers).json
            if seen["state"] != "queued" and seen["progress"].get("done", 0) >= 100:
                break
            time.sleep(0.05)
        assert seen["state"] == "running" and seen["progress"]["done"] < count, (seen, worker.stop())
        worker.stop(signal.SIGKILL)
    finally:
        worker.stop()
        real.proxy.release()
    db.session.expire_all()
    assert db.session.get(Plan, plan.id).state == "applying"

    app.config["JOB_STALE_SECONDS"] = 1
    time.sleep(1.5)
    db.session.expire_all()
    dead = send(client, "GET", f"{JOBS}/{job.uuid}/", headers=headers).json
    remaining = set(real.realm.group_members(remote_id))
    removed = count - len(remaining)
    assert 0 < removed < count
    assert dead["state"] == "failed"
    assert dead["error"] == (
        f"The worker stopped after {removed:,} of {count:,} changes; those are recorded on the plan's result "
        "page; the rest were not made."
    ), (dead["error"], removed)
    outcomes = recorded(plan)
    applied = {username for username, (outcome, _m) in outcomes.items() if outcome == "applied"}
    assert applied == {f"k{i:04d}" for i in range(count)} - remaining
    assert db.session.get(Plan, plan.id).state == "partially_applied"
