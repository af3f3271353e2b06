"""The queue's periodic round and its settings (the worker processes themselves: tests/integration)."""

from __future__ import annotations

from flask import Flask

from tests.factories import World
from webapp.extensions import db
from webapp.jobs.queue import JobQueue, job_queue
from webapp.models import Job


def test_the_periodic_round_is_queued_once_per_tick_however_many_schedulers(app: Flask, world: World) -> None:
    schedulers = [job_queue(), JobQueue(app)]  # two consumers' schedulers on the same storage
    for queue in schedulers:
        queue._tick()
    kinds = sorted((job.offering.name, job.kind) for job in db.session.query(Job) if job.offering)
    assert kinds == [
        ("HPC Cluster", "drift_check"),
        ("HPC Cluster", "reconcile"),
        ("HPC Cluster", "sync_pending"),
        ("Other Service", "drift_check"),
        ("Other Service", "reconcile"),
        ("Other Service", "sync_pending"),
    ]


def test_a_job_waits_while_another_job_of_its_offering_runs(app: Flask, world: World) -> None:
    import time

    from webapp.models import JobKind, utcnow
    from webapp.services.jobs import core as jobs

    remote_id = world.realm.add_path("/base/hpc/busy")
    busy = jobs.create_job(world.manager, JobKind.PULL_MEMBERS, group=world.add_group("busy", backend_id=remote_id))
    busy.state, busy.started = "running", utcnow()  # a worker elsewhere is pulling
    db.session.commit()
    job_queue().set_live(busy.uuid, "heartbeat", time.time())
    round_jobs = jobs.enqueue_periodic_round()  # queued behind it, not refused
    mine = next(job for job in round_jobs if job.offering_id == world.offering.id)
    jobs.execute(mine.uuid)
    db.session.refresh(mine)
    assert mine.state == "queued"  # not run: retried later
    busy.state = "succeeded"
    db.session.commit()
    jobs.execute(mine.uuid)
    db.session.refresh(mine)
    assert mine.state == "succeeded"


def test_with_the_queue_down_pages_still_serve_and_jobs_say_they_are_unavailable(
    app: Flask, client, world: World
) -> None:
    app.config["JOBS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions["okg_jobs"] = JobQueue(app)
    group = world.add_group("users", backend_id=world.realm.add_path("/base/hpc/users"))
    headers = world.headers("manager")
    response = client.post(
        "/api/offering-keycloak-jobs/", json={"kind": "pull_members", "group_uuid": group.uuid}, headers=headers
    )
    assert response.status_code == 503
    assert response.json == {
        "detail": "Jobs are unavailable: the job queue (redis://127.0.0.1:1/0) cannot be reached. Nothing was started."
    }
    listed = client.get("/api/offering-keycloak-jobs/", headers=headers)
    assert listed.status_code == 200 and listed.json[0]["state"] == "failed"  # recorded, not lost
    assert client.get("/api/offering-keycloak-groups/", headers=headers).status_code == 200


def test_an_offering_whose_keycloak_fails_is_skipped_for_the_round_and_then_backed_off(
    app: Flask, world: World
) -> None:
    from datetime import timedelta

    from webapp.models import OfferingKeycloakMembership
    from webapp.services.jobs import core as jobs

    group = world.add_group("users", backend_id=world.realm.add_path("/base/hpc/users"))
    db.session.add(OfferingKeycloakMembership(group=group, username="late", state="pending"))
    db.session.commit()
    world.realm.down = True

    def run_round() -> list[Job]:
        mine = [job for job in jobs.enqueue_periodic_round() if job.offering_id == world.offering.id]
        for job in mine:
            jobs.execute(job.uuid)
            db.session.refresh(job)
        return mine

    first = run_round()
    assert [(job.kind, job.state) for job in first] == [
        ("sync_pending", "failed"),
        ("reconcile", "cancelled"),
        ("drift_check", "cancelled"),
    ]
    assert "Cannot connect to Keycloak" in first[0].error
    assert first[1].error.startswith("Skipped this round: ") and "Cannot connect to Keycloak" in first[1].error
    assert jobs.backing_off(world.offering) is None  # one failed round: the next round tries again
    assert [job.state for job in run_round()] == ["failed", "cancelled", "cancelled"]
    next_try = jobs.backing_off(world.offering)
    assert next_try is not None  # two failed rounds in a row: it waits two intervals
    assert run_round() == []  # left out of this round
    last = (
        db.session.query(Job).filter_by(offering_id=world.offering.id, state="failed").order_by(Job.id.desc()).first()
    )
    assert last is not None and last.finished is not None
    last.finished -= timedelta(minutes=30)  # two 15-minute intervals later
    db.session.commit()
    world.realm.down = False
    assert [job.state for job in run_round()] == ["succeeded", "succeeded", "succeeded"]
    assert jobs.backing_off(world.offering) is None
