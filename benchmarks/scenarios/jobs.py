"""Jobs on real `flask worker` processes (issue 12), on the embedded SQLite queue and on Redis.

- ``pull_job_5k_sqlite`` / ``_redis``: the 5,000-member pull as a job, enqueue → succeeded, against the same
  pull run in-process (``pull_members.pull``), alternately; target ≤ 1.2x.
- ``queue_latency_sqlite`` / ``_redis``: enqueue → started of a job with nothing to do, the worker idle between
  jobs (a random pause of 0.3-0.8 s, so the SQLite poll phase is sampled); target p50 ≤ 200 ms.
- ``reconcile_50_offerings``: a reconcile job for each of 50 offerings on the bench realm (each with one group of
  10 members recorded here), run by one worker process and then by two, on Redis; target two ≤ 0.7x one. The
  floor is the same Keycloak reads with plain ``requests``, in one thread and in two, so a Keycloak that cannot go
  faster on these cores shows in ``floor_two_over_one``.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import delete, func, insert, select

from webapp import create_app
from webapp.extensions import db
from webapp.models import (
    Job,
    JobKind,
    JobState,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    OfferingRole,
    User,
)
from webapp.services.jobs import core as jobs

from ..harness import ENCRYPTION_KEY, SECRET_KEY, BenchContext, Timings, app_config, timed
from ..report import Check, Result
from ..seed import MANAGER, MEMBERS_5K, REPO_ROOT, PlainKeycloak, log
from .pull_members import clear_members, pull

PULL_RATIO = 1.2
LATENCY_P50 = 0.200
LATENCY_SAMPLES = 15
RECONCILE_OFFERINGS = 50
RECONCILE_RATIO = 0.7


# ------------------------------------------------------------------------------------------- plumbing


def redis_url() -> str:
    """scripts/redis-dev start (installs Debian's redis-server once) prints OKG_JOBS_URL=redis://…"""
    started = subprocess.run(
        [str(REPO_ROOT / "scripts" / "redis-dev"), "start"], capture_output=True, text=True, check=True
    )
    return started.stdout.strip().removeprefix("OKG_JOBS_URL=")


def jobs_app(ctx: BenchContext, jobs_url: str) -> Flask:
    return create_app(app_config(ctx.database) | {"JOBS_URL": jobs_url})


@contextmanager
def workers(database: Path, jobs_url: str, count: int) -> Iterator[None]:
    """`count` worker processes, as production runs them; stopped with SIGTERM."""
    env = os.environ | {
        "FLASK_APP": "webapp",
        "OKG_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "OKG_JOBS_URL": jobs_url,
        "OKG_SECRET_KEY": SECRET_KEY,
        "OKG_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "OKG_SYNC_INTERVAL": "24h",  # no periodic round during the measurements
    }
    with ExitStack() as stack:
        processes = []
        for _ in range(count):
            output = stack.enter_context(tempfile.TemporaryFile(mode="w+"))
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "worker"], cwd=REPO_ROOT, env=env, stdout=output, stderr=output
                )
            )
        try:
            yield
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()


def wait_all(uuids: list[str], timeout: float = 600) -> list[Job]:
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        found = list(db.session.scalars(select(Job).where(Job.uuid.in_(uuids))))
        if all(job.state in jobs.JOB_FINISHED for job in found) or time.monotonic() > deadline:
            db.session.commit()  # end the read transaction: the workers write next
            failed = [f"{job.kind}: {job.state} {job.error}" for job in found if job.state != JobState.SUCCEEDED]
            assert not failed, failed[:3]
            return found
        db.session.commit()
        time.sleep(0.02)


def manager() -> User:
    found = db.session.scalar(select(User).where(User.username == MANAGER))
    assert found is not None
    return found


# ----------------------------------------------------------------------------------------- pull as a job


def pull_as_job(ctx: BenchContext, app: Flask, group_uuid: str) -> None:
    with app.app_context():
        group = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == group_uuid))
        job = jobs.create_job(manager(), JobKind.PULL_MEMBERS, group=group)
        (done,) = wait_all([job.uuid])
        assert done.result["created"] == MEMBERS_5K, done.result


def pull_result(ctx: BenchContext, storage: str, jobs_url: str) -> Result:
    app = jobs_app(ctx, jobs_url)
    group_uuid = ctx.seed.pull_groups["m5k"]
    timings = Timings()
    with workers(ctx.database, jobs_url, 1):
        for index in range(ctx.repeat + 1):  # alternately, into an empty group each time; one warm-up round
            clear_members(ctx, group_uuid)
            in_process, _ = timed(lambda: pull(ctx, group_uuid))
            clear_members(ctx, group_uuid)
            as_job, _ = timed(lambda: pull_as_job(ctx, app, group_uuid))
            if index:
                timings.floor.append(in_process)
                timings.ours.append(as_job)
    ratio = timings.ours_median / timings.floor_median
    return Result(
        scenario=f"pull_job_5k_{storage}",
        ours_s=timings.ours_median,
        floor_s=timings.floor_median,
        target=f"job (enqueue → succeeded) ≤ {PULL_RATIO}x the pull in-process",
        checks=[Check("ratio", round(ratio, 3), PULL_RATIO, ratio <= PULL_RATIO)],
        extra={
            "floor_is": "the same pull in-process (services.memberships.pull.pull_members), into an empty local group",
            "queue": storage,
            "runs_ours_s": [round(t, 4) for t in timings.ours],
            "runs_floor_s": [round(t, 4) for t in timings.floor],
        },
    )


# ------------------------------------------------------------------------------------------ queue latency


def latency_result(ctx: BenchContext, storage: str, jobs_url: str) -> Result:
    app = jobs_app(ctx, jobs_url)
    pause = random.Random(12)
    samples: list[float] = []
    with workers(ctx.database, jobs_url, 1), app.app_context():
        offering = db.session.scalar(select(Offering).where(Offering.slug == "filler-0"))  # nothing pending
        for index in range(LATENCY_SAMPLES + 1):
            time.sleep(pause.uniform(0.3, 0.8))
            job = jobs.create_job(manager(), JobKind.SYNC_PENDING, offering)
            (done,) = wait_all([job.uuid])
            if index and done.started is not None:  # the first one waits for the worker to start
                samples.append((done.started - done.created).total_seconds())
    p50 = statistics.median(samples)
    return Result(
        scenario=f"queue_latency_{storage}",
        ours_s=p50,
        floor_s=None,
        target=f"enqueue → started p50 ≤ {int(LATENCY_P50 * 1000)} ms, worker idle",
        checks=[Check("p50_s", round(p50, 4), LATENCY_P50, p50 <= LATENCY_P50)],
        extra={"queue": storage, "samples_s": [round(s, 4) for s in samples], "max_s": round(max(samples), 4)},
    )


# --------------------------------------------------------------------------------- reconcile, 1 vs 2 workers


def seed_reconcile_offerings(ctx: BenchContext, usernames: list[str], remote_id: str) -> list[int]:
    """50 offerings on the bench realm, each with one group linked to the 10-member group, its members recorded."""
    with ctx.app.app_context():
        template = db.session.scalar(select(Offering).where(Offering.slug == "bench-members"))
        assert template is not None
        ids = []
        for index in range(RECONCILE_OFFERINGS):
            slug = f"reconcile-{index:02d}"
            offering = db.session.scalar(select(Offering).where(Offering.slug == slug))
            if offering is None:
                offering = Offering(
                    organization_id=template.organization_id,
                    name=f"Reconcile {index:02d}",
                    slug=slug,
                    keycloak_enabled=True,
                    keycloak_url=template.keycloak_url,
                    keycloak_realm=template.keycloak_realm,
                    keycloak_client_id=template.keycloak_client_id,
                    keycloak_client_secret_encrypted=template.keycloak_client_secret_encrypted,
                    keycloak_base_group="",
                    keycloak_timeout=120,
                )
                role = OfferingRole(offering=offering, name="member")
                group = OfferingKeycloakGroup(
                    offering=offering,
                    role=role,
                    name="small",
                    scope_id="small",
                    backend_id=remote_id,
                    origin="imported",
                )
                db.session.add_all([offering, role, group])
                db.session.flush()
                db.session.execute(
                    insert(OfferingKeycloakMembership),
                    [{"group_id": group.id, "username": name, "state": "active"} for name in usernames],
                )
            ids.append(offering.id)
        db.session.commit()
        return ids


def reconcile_round(app: Flask, offering_ids: list[int]) -> None:
    with app.app_context():
        offerings = list(db.session.scalars(select(Offering).where(Offering.id.in_(offering_ids))))
        queued = [jobs.create_job(None, JobKind.RECONCILE, offering).uuid for offering in offerings]
        done = wait_all(queued)
        flagged = sum(int(job.result.get("flagged_removed", 0)) for job in done)
        assert flagged == 0, f"{flagged} members flagged: the recorded members are not the group's"


def reconcile_result(ctx: BenchContext, jobs_url: str) -> Result:
    plain = PlainKeycloak(ctx.realm.server.url)
    remote_id = ctx.realm.member_groups["small"]
    page = int(ctx.app.config["KEYCLOAK_MEMBERS_PAGE_SIZE"])
    usernames = [user["username"] for user in plain.members(remote_id, page)]
    offering_ids = seed_reconcile_offerings(ctx, usernames, remote_id)
    app = jobs_app(ctx, jobs_url)
    repeat = max(3, ctx.repeat // 2)

    def measure(count: int) -> list[float]:
        with workers(ctx.database, jobs_url, count):
            reconcile_round(app, offering_ids)  # warm-up: the workers start, log in to Keycloak
            return [timed(lambda: reconcile_round(app, offering_ids))[0] for _ in range(repeat)]

    def floor(threads: int) -> float:
        def read(_: int) -> int:
            return len(plain.members(remote_id, page))

        def all_offerings() -> None:
            with ThreadPoolExecutor(threads) as pool:
                assert sum(pool.map(read, range(RECONCILE_OFFERINGS))) == RECONCILE_OFFERINGS * len(usernames)

        all_offerings()
        return statistics.median(timed(all_offerings)[0] for _ in range(repeat))

    one, two = measure(1), measure(2)
    floor_one, floor_two = floor(1), floor(2)
    ratio = statistics.median(two) / statistics.median(one)
    _cleanup_jobs(ctx, offering_ids)
    return Result(
        scenario="reconcile_50_offerings",
        ours_s=statistics.median(two),
        floor_s=statistics.median(one),
        target=f"two workers ≤ {RECONCILE_RATIO}x one worker",
        checks=[Check("two_over_one", round(ratio, 3), RECONCILE_RATIO, ratio <= RECONCILE_RATIO)],
        extra={
            "ours_is": "two worker processes, Redis queue; floor_s is one worker process",
            "offerings": RECONCILE_OFFERINGS,
            "members_per_offering": len(usernames),
            "runs_one_worker_s": [round(t, 4) for t in one],
            "runs_two_workers_s": [round(t, 4) for t in two],
            "plain_reads_one_thread_s": round(floor_one, 4),
            "plain_reads_two_threads_s": round(floor_two, 4),
            "floor_two_over_one": round(floor_two / floor_one, 3),
        },
    )


def _cleanup_jobs(ctx: BenchContext, offering_ids: list[int]) -> None:
    with ctx.app.app_context():
        db.session.execute(delete(Job).where(Job.offering_id.in_(offering_ids)))
        db.session.commit()
        left = db.session.scalar(select(func.count()).select_from(Job).where(Job.state.in_(jobs.ACTIVE)))
        assert not left, f"{left} jobs still active"


# --------------------------------------------------------------------------------------------------- run


def failed(name: str, exc: Exception) -> Result:
    return Result(name, None, None, "—", [Check("ran", f"{type(exc).__name__}: {exc}", "ok", False)])


def run(ctx: BenchContext) -> list[Result]:
    sqlite_url = f"sqlite:///{ctx.database.parent / 'bench-jobs.sqlite'}"
    Path(sqlite_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    results = []
    steps: list[tuple[str, Callable[[], Result]]] = [
        ("pull_job_5k_sqlite", lambda: pull_result(ctx, "sqlite", sqlite_url)),
        ("queue_latency_sqlite", lambda: latency_result(ctx, "sqlite", sqlite_url)),
    ]
    try:
        url = redis_url()
    except (OSError, subprocess.CalledProcessError) as exc:
        results.append(failed("redis", exc))
    else:
        subprocess.run(["redis-cli", "-u", url, "flushdb"], capture_output=True, check=False)
        steps += [
            ("pull_job_5k_redis", lambda: pull_result(ctx, "redis", url)),
            ("queue_latency_redis", lambda: latency_result(ctx, "redis", url)),
            ("reconcile_50_offerings", lambda: reconcile_result(ctx, url)),
        ]
    for name, step in steps:
        log(f"  {name} …")
        try:
            results.append(step())
        except Exception as exc:  # one broken measurement must not hide the others
            results.append(failed(name, exc))
    return results
