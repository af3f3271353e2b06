"""Jobs run by a real `flask worker` process (Huey on its SQLite storage) against a real Keycloak: progress,
one writer per offering, cancel, and a worker killed with SIGKILL in the middle of a pull."""

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

JOBS = "/api/offering-keycloak-jobs"


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
        time.sleep(0.2)


def members() -> int:
    db.session.expire_all()
    return db.session.query(OfferingKeycloakMembership).count()


def big_group(real: RealWorld, name: str, count: int):  # type: ignore[no-untyped-def]
    remote_id = real.realm.add_path(f"/base/hpc/{name}")
    real.realm.add_users_bulk([{"username": f"{name}-{i:04d}"} for i in range(count)], [f"/base/hpc/{name}"])
    return real.world.add_group(name, backend_id=remote_id, scope_id=name)


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
    from webapp.services import jobs

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


def test_a_worker_killed_mid_pull_leaves_nothing_and_the_job_fails(client, real: RealWorld, worker, app) -> None:
    group = big_group(real, "jobs-d", 3000)
    headers = real.world.headers("manager")
    job = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers).json
    process = worker()
    running = wait_for(client, real, job["uuid"], lambda j: j["state"] == "running" and j["progress"]["done"] >= 100)
    assert running["state"] == "running", running
    process.stop(signal.SIGKILL)
    assert members() == 0  # the pull's transaction died with the process
    app.config["JOB_STALE_SECONDS"] = 1
    time.sleep(1.5)
    failed = client.get(f"{JOBS}/{job['uuid']}/", headers=headers).json
    assert failed["state"] == "failed"
    assert failed["error"] == "The worker stopped while running this job; nothing it did was kept."


def test_cancel_a_running_pull_rolls_it_back(client, real: RealWorld, worker) -> None:
    group = big_group(real, "jobs-e", 3000)
    headers = real.world.headers("manager")
    job = client.post(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers).json
    worker()
    wait_for(client, real, job["uuid"], lambda j: j["state"] == "running" and j["progress"]["done"] >= 100)
    assert client.post(f"{JOBS}/{job['uuid']}/cancel/", headers=headers).status_code == 202
    ended = wait_for(client, real, job["uuid"], lambda j: j["state"] not in ("queued", "running"))
    assert ended["state"] == "cancelled", ended
    assert ended["error"] == "Cancelled while running; everything it had done was rolled back."
    assert members() == 0


def test_sigterm_stops_at_the_next_page_and_another_worker_finishes_the_job(client, real: RealWorld, worker) -> None:
    group = big_group(real, "jobs-f", 3000)
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
    assert done["state"] == "succeeded" and members() == 3000
