"""Jobs run by a real `flask worker` process (Huey on its SQLite storage) against a real Keycloak: progress,
one writer per offering, cancel, and a worker killed with SIGKILL in the middle of a pull.

The module shares one realm: each test seeds Keycloak groups of its own name, and the three tests that
interrupt a long pull read the same 3,000-member group, which only pulls read (Keycloak takes a minute and
more to import 3,000 members on two busy cores; once per module instead of once per test).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.workers import Worker
from webapp.extensions import db
from webapp.models import Job, OfferingKeycloakMembership

from .conftest import RealWorld

# One worker of pytest-xdist runs the module: its tests share the realm and the crowd below.
pytestmark = pytest.mark.xdist_group("jobs-on-a-worker")
JOBS = "/api/offering-keycloak-jobs"
POLL = 0.05  # seconds between two looks at a job: the worker itself polls its queue every 0.1 s at most
CROWD = 3000  # members of the group whose pull is interrupted: 60 pages of 50, long enough to catch it running


@pytest.fixture(scope="module")
def module_realm(keycloak_server):  # type: ignore[no-untyped-def]
    realm = keycloak_server.create_realm()
    yield realm
    realm.delete()


@pytest.fixture
def real_realm(module_realm):  # type: ignore[no-untyped-def]
    """This module's realm for the `real` fixture: tests keep apart by the names of their groups and users."""
    return module_realm


@pytest.fixture(scope="module")
def crowd_id(module_realm) -> str:  # type: ignore[no-untyped-def]
    """The Keycloak id of /base/hpc/jobs-crowd, a group of CROWD members."""
    remote_id = module_realm.add_path("/base/hpc/jobs-crowd")
    module_realm.add_users_bulk([{"username": f"jobs-crowd-{i:04d}"} for i in range(CROWD)], ["/base/hpc/jobs-crowd"])
    return remote_id


@pytest.fixture
def worker(app: Flask) -> Iterator[Callable[[], Worker]]:
    started: list[Worker] = []

    def start() -> Worker:
        started.append(Worker(app))
        return started[-1]

    yield start
    for item in started:
        item.stop()


def wait_for(client, real: RealWorld, uuid: str, done: Callable[[dict], bool], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        db.session.expire_all()
        job = client.get(f"{JOBS}/{uuid}/", headers=real.world.headers("manager")).json
        if done(job) or time.monotonic() > deadline:
            return job
        time.sleep(POLL)


def members() -> int:
    db.session.expire_all()
    return db.session.query(OfferingKeycloakMembership).count()


def big_group(real: RealWorld, name: str, count: int):  # type: ignore[no-untyped-def]
    remote_id = real.realm.add_path(f"/base/hpc/{name}")
    real.realm.add_users_bulk([{"username": f"{name}-{i:04d}"} for i in range(count)], [f"/base/hpc/{name}"])
    return real.world.add_group(name, backend_id=remote_id, scope_id=name)


def crowd_group(real: RealWorld, name: str, crowd_id: str):  # type: ignore[no-untyped-def]
    """A local group of this test linked to the shared group of CROWD members."""
    return real.world.add_group(name, backend_id=crowd_id, scope_id=name)


def test_a_pull_job_reports_progress_to_the_end(client, real: RealWorld, worker) -> None:
    group = big_group(real, "jobs-a", 300)
    headers = real.world.headers("manager")
    response = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers)
    assert response.status_code == 202 and response.json["state"] == "queued"
    again = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers)
    assert again.status_code == 200 and again.json["uuid"] == response.json["uuid"]  # the same work: that job
    worker()
    job = wait_for(client, real, response.json["uuid"], lambda job: job["state"] not in ("queued", "running"))
    assert job["state"] == "succeeded", job
    assert job["progress"] == {"done": 300, "total": 300, "unit": "members"}
    assert job["result"]["created"] == 300 and members() == 300


def test_two_jobs_of_one_offering_run_one_after_the_other(client, real: RealWorld, worker, app: Flask) -> None:
    from webapp.models import JobKind
    from webapp.services.jobs import core as jobs

    group, other = big_group(real, "jobs-b", 200), big_group(real, "jobs-g", 200)
    first = jobs.create_job(real.world.manager, JobKind.PULL_MEMBERS, group=group)
    second = jobs.create_job(real.world.manager, JobKind.PULL_MEMBERS, group=other)  # waits: the first is queued
    assert second.id != first.id  # another group's pull is other work (the same group's would be the first job)
    worker(), worker()  # two worker processes take the two jobs at once
    for job in (first, second):
        assert wait_for(client, real, job.uuid, lambda j: j["state"] == "succeeded")["state"] == "succeeded"
    db.session.expire_all()
    one, two = db.session.get(Job, first.id), db.session.get(Job, second.id)
    assert one and two and one.finished and two.started
    assert one.finished <= two.started or two.finished <= one.started  # never at the same time
    assert members() == 400  # no duplicate rows


def test_cancel_a_queued_job(client, real: RealWorld) -> None:
    group = big_group(real, "jobs-c", 5)
    headers = real.world.headers("manager")
    job = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers).json
    cancelled = client.post(f"{JOBS}/{job['uuid']}/cancel/", headers=headers)
    assert cancelled.status_code == 202 and cancelled.json["state"] == "cancelled"
    again = client.post(f"{JOBS}/{job['uuid']}/cancel/", headers=headers)
    assert again.status_code == 400 and again.json == {"detail": "This job already ended (cancelled)."}
    assert client.get(f"{JOBS}/{job['uuid']}/", headers=real.world.headers("other")).status_code == 404


def test_a_worker_killed_mid_pull_leaves_nothing_and_the_job_fails(
    client, real: RealWorld, worker, app, crowd_id: str
) -> None:
    group = crowd_group(real, "jobs-d", crowd_id)
    headers = real.world.headers("manager")
    job = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers).json
    process = worker()
    running = wait_for(client, real, job["uuid"], lambda j: j["state"] == "running" and j["progress"]["done"] >= 100)
    assert running["state"] == "running", running
    process.stop(signal.SIGKILL)
    assert members() == 0  # the pull's transaction died with the process
    app.config["JOB_STALE_SECONDS"] = 1
    # A look at the job marks it failed once its last heartbeat is more than a second old.
    failed = wait_for(client, real, job["uuid"], lambda j: j["state"] != "running", seconds=30)
    assert failed["state"] == "failed"
    assert failed["error"] == "The worker stopped while running this job; nothing it did was kept."


def test_cancel_a_running_pull_rolls_it_back(client, real: RealWorld, worker, crowd_id: str) -> None:
    group = crowd_group(real, "jobs-e", crowd_id)
    headers = real.world.headers("manager")
    job = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers).json
    worker()
    wait_for(client, real, job["uuid"], lambda j: j["state"] == "running" and j["progress"]["done"] >= 100)
    assert client.post(f"{JOBS}/{job['uuid']}/cancel/", headers=headers).status_code == 202
    ended = wait_for(client, real, job["uuid"], lambda j: j["state"] not in ("queued", "running"))
    assert ended["state"] == "cancelled", ended
    assert ended["error"] == "Cancelled while running; everything it had done was rolled back."
    assert members() == 0


def test_sigterm_stops_at_the_next_page_and_another_worker_finishes_the_job(
    client, real: RealWorld, worker, crowd_id: str
) -> None:
    group = crowd_group(real, "jobs-f", crowd_id)
    headers = real.world.headers("manager")
    job = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers).json
    first = worker()
    wait_for(client, real, job["uuid"], lambda j: j["state"] == "running" and j["progress"]["done"] >= 100)
    first.stop(signal.SIGTERM)
    assert first.process.returncode == 0
    back = client.get(f"{JOBS}/{job['uuid']}/", headers=headers).json
    assert back["state"] == "queued" and members() == 0  # rolled back and put back in the queue
    worker()
    done = wait_for(client, real, job["uuid"], lambda j: j["state"] not in ("queued", "running"), seconds=120)
    assert done["state"] == "succeeded" and members() == CROWD
