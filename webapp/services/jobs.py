"""Jobs: long work asked for now and done by a worker (webapp/jobs/queue.py), one writer per offering.

A job row is created `queued` and its uuid enqueued. A worker claims it by one conditional UPDATE that fails
while another job of the same offering runs (that job waits its turn and is retried). While running, the job
reports progress and a heartbeat to the queue's store; a cancel request is seen at the next page, and the
work's own transaction is rolled back. A job whose heartbeat stopped (its worker was killed) is marked
failed by whoever looks at it next; an apply's plan is then ended from what the apply recorded.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, exists, func, select, update
from sqlalchemy.orm import aliased

from ..extensions import db
from ..jobs.queue import QueueUnavailable, job_queue, parse_minutes
from ..models import (
    Job,
    JobKind,
    JobState,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    Plan,
    PlanState,
    User,
    utcnow,
)
from . import audit, drift, periodic, plans, pull
from .access import visible_offerings
from .commands import ApplySelection, PreviewMembers
from .errors import Conflict, ObjectNotFound, Refused, RemoteFailure, ServiceError, Unavailable, ValidationFailed
from .plan_journal import Interrupted
from .plans import aware, clock
from .uuids import parse_uuid

ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)
FINISHED = (JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.CANCELLED.value)
WAIT_SECONDS = 2.0  # a job whose offering is busy is tried again after this long
KIND_WORDS = {
    JobKind.PULL_MEMBERS.value: "A pull",
    JobKind.PLAN_MEMBERS.value: "A preview",
    JobKind.APPLY_PLAN.value: "An apply",
    JobKind.SYNC_PENDING.value: "A pending sync",
    JobKind.RECONCILE.value: "A reconcile",
    JobKind.DRIFT_CHECK.value: "A drift check",
}


class JobCancelled(Interrupted):
    """Raised inside the work at its next page after a cancel request; the work rolls back."""

    stopped = "The apply was cancelled"


class KeycloakFailed(ServiceError):
    """A periodic job's Keycloak failed; the job fails with these words and its round skips the offering."""


class WorkerStopping(Interrupted):
    """Raised inside the work at its next page when its worker is stopping; the job goes back to the queue
    (an apply stops after its current batch instead: what it did in Keycloak cannot be rolled back)."""

    stopped = "The worker was stopped"


class ApplyStopped(ServiceError):
    """An apply job stopped before its end; the words say how far it got (the plan has the rest)."""


# -- asking -------------------------------------------------------------------------------------------------


def create_job(
    actor: User | None,
    kind: JobKind,
    offering: Offering | None = None,
    group: OfferingKeycloakGroup | None = None,
    plan: Plan | None = None,
    wait_if_busy: bool = False,
    params: dict[str, Any] | None = None,
    total: int | None = None,
) -> Job:
    """Queue a job. While another job of the offering is queued or running, it is refused in words, or with
    `wait_if_busy` queued behind it (the worker runs one job per offering at a time either way)."""
    if kind in (JobKind.PULL_MEMBERS, JobKind.PLAN_MEMBERS) and group is None:
        raise ValidationFailed.field("group_uuid", "This kind of job needs a group.")
    if kind == JobKind.APPLY_PLAN and plan is None:
        raise ValidationFailed.field("plan_uuid", "This kind of job needs a plan.")
    offering = offering or (group.offering if group else plan.offering if plan else None)
    if kind in (JobKind.PULL_MEMBERS, JobKind.APPLY_PLAN, JobKind.RECONCILE, JobKind.DRIFT_CHECK) and not offering:
        raise ValidationFailed.field("offering_uuid", "This kind of job needs an offering.")
    if offering is not None and not wait_if_busy:
        busy = _active_job(offering)
        if busy is not None:
            raise Conflict(busy_words(busy))
    job = Job(
        kind=kind.value,
        offering=offering,
        group=group,
        plan=plan,
        created_by_id=actor.id if actor else None,
        created_by_name=actor.username if actor else "system",
        progress={"done": 0, "total": total or _expected_members(kind, group), "unit": _unit(kind)},
        params=params or {},
    )
    db.session.add(job)
    audit.record(actor, offering, "job.queued", job, {"job": job.uuid, "kind": kind.value})
    db.session.commit()
    try:
        job_queue().enqueue(job.uuid)
    except QueueUnavailable as exc:
        message = f"Jobs are unavailable: the job queue ({exc.args[0]}) cannot be reached. Nothing was started."
        _finish(job, JobState.FAILED, error=message)
        db.session.commit()
        raise Unavailable(message) from exc
    return job


def _expected_members(kind: JobKind, group: OfferingKeycloakGroup | None) -> int | None:
    """What a pull or preview counts up to, as far as it is known before it starts (Keycloak has no count)."""
    if kind in (JobKind.PULL_MEMBERS, JobKind.PLAN_MEMBERS) and group is not None:
        return expected_members(group)
    return None


def expected_members(group: OfferingKeycloakGroup) -> int | None:
    """The group's size in Keycloak as last seen: its last pull, else the members recorded here."""
    if group.remote_member_count is not None:
        return group.remote_member_count or None
    pulled = db.session.scalar(
        select(Job.result)
        .where(Job.group_id == group.id, Job.kind == JobKind.PULL_MEMBERS.value, Job.state == JobState.SUCCEEDED.value)
        .order_by(Job.id.desc())
        .limit(1)
    )
    if pulled and pulled.get("total_remote"):
        return int(pulled["total_remote"])
    recorded = db.session.scalar(
        select(func.count())
        .select_from(OfferingKeycloakMembership)
        .where(OfferingKeycloakMembership.group_id == group.id)
    )
    return int(recorded or 0) or None


def runs_in_background(count: int | None) -> bool:
    """Work on this many members or items goes to a worker rather than the web request."""
    return bool(count) and int(count or 0) >= int(current_app.config["BACKGROUND_THRESHOLD"])


def start_apply(actor: User, plan: Plan, selection: ApplySelection) -> Job:
    """Check an apply as the request would (open, something selected, the brake's phrase), then queue it."""
    chosen = plans.check_apply(plan, selection)
    params = {"choices": selection.choices, "confirm": selection.confirm}
    return create_job(actor, JobKind.APPLY_PLAN, plan=plan, params=params, total=chosen)


def _unit(kind: JobKind) -> str:
    return {JobKind.APPLY_PLAN: "items", JobKind.SYNC_PENDING: "memberships"}.get(kind, "members")


def _active_job(offering: Offering) -> Job | None:
    mark_dead_jobs()
    return db.session.scalar(
        select(Job).where(Job.offering_id == offering.id, Job.state.in_(ACTIVE)).order_by(Job.id).limit(1)
    )


def busy_words(job: Job) -> str:
    what = KIND_WORDS.get(job.kind, "A job")
    about = f" of {job.group.name}" if job.group else f" of {job.offering.name}" if job.offering else ""
    if job.state == JobState.RUNNING.value and job.started:
        return f"{what}{about} is running, started {clock(job.started)} by {job.created_by_name}."
    return f"{what}{about} is queued, asked {clock(job.created)} by {job.created_by_name}."


def cancel_job(actor: User, job: Job) -> Job:
    if job.state in FINISHED:
        raise Refused(f"This job already ended ({job.state}).")
    if job.state == JobState.RUNNING.value and job.kind == JobKind.APPLY_PLAN.value:
        raise Refused("An apply that has started cannot be cancelled: its changes in Keycloak are made one by one.")
    job_queue().set_live(job.uuid, "cancel", True)
    if job.state == JobState.QUEUED.value:
        _finish(job, JobState.CANCELLED, error=f"Cancelled by {actor.username} before it started.")
    audit.record(actor, job.offering, "job.cancel_requested", job, {"job": job.uuid, "kind": job.kind})
    db.session.commit()
    return job


# -- reading ------------------------------------------------------------------------------------------------


def visible_jobs(user: User) -> Select[Job]:
    mark_dead_jobs()
    query = select(Job)
    if not user.is_staff:
        query = query.where(Job.offering_id.in_(visible_offerings(user).with_only_columns(Offering.id)))
    return query.order_by(Job.created.desc(), Job.id.desc())


def job_page(user: User, value: str) -> Job:
    job_uuid = parse_uuid(value)
    job = job_uuid and db.session.scalar(visible_jobs(user).where(Job.uuid == job_uuid))
    if not job:
        raise ObjectNotFound()
    return job


def live_progress(job: Job) -> dict[str, Any]:
    """The stored progress, or while the job runs what its worker last reported."""
    if job.state == JobState.RUNNING.value:
        reported = job_queue().live(job.uuid, "progress")
        if isinstance(reported, dict):
            return reported
    return job.progress or {}


def mark_dead_jobs() -> int:
    """Running jobs whose worker has not reported for JOB_STALE_SECONDS failed: the worker was killed."""
    limit = float(current_app.config["JOB_STALE_SECONDS"])
    queue = job_queue()
    dead = 0
    for job in list(db.session.scalars(select(Job).where(Job.state == JobState.RUNNING.value))):
        beat = queue.live(job.uuid, "heartbeat") or (aware(job.started).timestamp() if job.started else 0)
        if time.time() - float(beat) > limit:
            _finish(job, JobState.FAILED, error=_dead_words(job))
            db.session.commit()
            dead += 1
    return dead


def _dead_words(job: Job) -> str:
    """What a job whose worker died leaves: a pull or a preview is one transaction, so nothing; an apply's
    Keycloak changes were recorded as it went, so the plan is ended from that record (and says how far)."""
    if job.kind == JobKind.APPLY_PLAN.value and job.plan is not None:
        return plans.stop_apply(job.plan, "The worker stopped", run=job.uuid)
    return "The worker stopped while running this job; nothing it did was kept."


# -- running (in the worker) ----------------------------------------------------------------------------------


def execute(job_uuid: str) -> None:
    """Run one job by uuid: claim it (or wait while its offering is busy), do the work, record the outcome."""
    job = db.session.scalar(select(Job).where(Job.uuid == job_uuid))
    if job is None or job.state != JobState.QUEUED.value:
        return  # cancelled, or already run by another worker
    if not _claim(job):
        job_queue().enqueue(job.uuid, delay=WAIT_SECONDS)  # another job of this offering runs: wait its turn
        return
    queue = job_queue()
    queue.set_live(job.uuid, "heartbeat", time.time())
    try:
        result = _work(job)
    except WorkerStopping:
        db.session.rollback()
        job.state, job.started, job.heartbeat = JobState.QUEUED.value, None, None
        db.session.commit()
        queue.enqueue(job.uuid)  # for the next worker; this one is shutting down
        return
    except JobCancelled:
        db.session.rollback()
        _finish(job, JobState.CANCELLED, error="Cancelled while running; everything it had done was rolled back.")
    except ServiceError as exc:
        db.session.rollback()
        _finish(job, JobState.FAILED, error=exc.message)
        if isinstance(exc, RemoteFailure | KeycloakFailed) and job.created_by_id is None:
            _skip_rest_of_round(job)
    except Exception as exc:  # never leave a job running: say so in words, keep the traceback in the log
        db.session.rollback()
        current_app.logger.exception("job %s failed", job.uuid)
        _finish(job, JobState.FAILED, error=f"The job failed unexpectedly ({type(exc).__name__}).")
    else:
        job.result = result
        _finish(job, JobState.SUCCEEDED)
    db.session.commit()


def _claim(job: Job) -> bool:
    """queued → running, unless another job of the same offering runs (one writer per offering)."""
    other = aliased(Job)
    busy = exists().where(
        and_(other.offering_id == job.offering_id, other.state == JobState.RUNNING.value, other.id != job.id)
    )
    condition = [Job.id == job.id, Job.state == JobState.QUEUED.value]
    if job.offering_id is not None:
        # The offering row's lock first: on PostgreSQL two claims would otherwise each miss the other's
        # uncommitted "running"; the second now waits, and its UPDATE then sees the first one committed.
        db.session.execute(update(Offering).where(Offering.id == job.offering_id).values(modified=Offering.modified))
        condition.append(~busy)
    now = utcnow()
    claimed = db.session.execute(
        update(Job).where(*condition).values(state=JobState.RUNNING.value, started=now, heartbeat=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    db.session.refresh(job)
    return bool(getattr(claimed, "rowcount", 0))


def _reporter(job: Job) -> Any:
    """The progress callback handed to the work: stores progress and a heartbeat, and stops it on cancel."""
    queue = job_queue()
    unit = (job.progress or {}).get("unit", "members")
    total = (job.progress or {}).get("total")

    def report(pages: int, done: int) -> None:
        queue.set_live(job.uuid, "heartbeat", time.time())
        queue.set_live(job.uuid, "progress", {"done": done, "total": total, "unit": unit, "pages": pages})
        if queue.live(job.uuid, "cancel"):
            raise JobCancelled()
        if queue.stopping.is_set():
            raise WorkerStopping()

    return report


def _work(job: Job) -> dict[str, Any]:
    report = _reporter(job)
    if job.kind == JobKind.PULL_MEMBERS.value:
        if job.group is None:
            raise ValidationFailed(["The group of this job no longer exists."])
        pulled = pull.pull_members(_actor(job), job.group, progress=report)
        job.progress = {"done": pulled.total_remote, "total": pulled.total_remote, "unit": "members"}
        return pulled.as_dict()
    if job.kind == JobKind.PLAN_MEMBERS.value:
        if job.group is None or job.offering is None:
            raise ValidationFailed(["The group of this job no longer exists."])
        made = plans.create_plan(_required_actor(job), PreviewMembers(job.offering, [job.group]), progress=report)
        return {"plan_uuid": made.uuid, "summary": made.summary}
    if job.kind == JobKind.APPLY_PLAN.value:
        if job.plan is None:
            raise ValidationFailed(["The plan of this job no longer exists."])
        params = job.params or {}
        selection = ApplySelection(dict(params.get("choices") or {}), str(params.get("confirm") or ""))
        try:
            applied = plans.apply_plan(_required_actor(job), job.plan, selection, progress=report, run=job.uuid)
        except Interrupted as exc:
            db.session.refresh(job.plan)
            if job.plan.state == PlanState.OPEN.value:
                raise  # stopped before its first write: the plan is still applicable, the job goes on as asked
            # Stopped between two batches: the plan was ended from its record, and says how far it got.
            raise ApplyStopped(str((job.plan.result or {}).get("error") or exc.stopped)) from exc
        done = sum(count for outcome, count in applied.counts.items() if outcome != plans.NOT_SELECTED)
        job.progress = {**(job.progress or {}), "done": done}
        return {"plan_uuid": job.plan.uuid, "state": applied.plan.state, "counts": applied.counts}
    if job.kind == JobKind.DRIFT_CHECK.value:
        if job.offering is None:
            raise ValidationFailed(["The offering of this job no longer exists."])
        return drift.check_offering(job.offering)
    summary = (
        periodic.sync_pending(job.offering)
        if job.kind == JobKind.SYNC_PENDING.value
        else periodic.reconcile(job.offering)
    )
    if summary.keycloak_failed and job.offering is not None:  # what it did before is committed, row by row
        raise KeycloakFailed(summary.keycloak_failed)
    return {key: value for key, value in vars(summary).items() if key != "keycloak_failed"}


def _actor(job: Job) -> User | None:
    return db.session.get(User, job.created_by_id) if job.created_by_id else None


def _required_actor(job: Job) -> User:
    actor = _actor(job)
    if actor is None:
        raise ValidationFailed(["The user who asked for this job no longer exists."])
    return actor


def _finish(job: Job, state: JobState, error: str = "") -> None:
    job.state = state.value
    job.finished = utcnow()
    job.error = error
    if state != JobState.SUCCEEDED:
        live = job_queue().live(job.uuid, "progress")
        if isinstance(live, dict):
            job.progress = live
    audit.record(None, job.offering, f"job.{state.value}", job, {"job": job.uuid, "kind": job.kind, "error": error})


# -- periodic -----------------------------------------------------------------------------------------------


PERIODIC = (JobKind.SYNC_PENDING, JobKind.RECONCILE, JobKind.DRIFT_CHECK)
MAX_BACKOFF_ROUNDS = 16  # an offering whose Keycloak keeps failing is tried at least every 16 intervals


def enqueue_periodic_round() -> list[Job]:
    """A sync_pending, a reconcile and a drift_check job per offering with Keycloak enabled (each waits while
    another job of its offering runs), and the expiry sweep of previews. An offering whose Keycloak failed in
    its last rounds is left out for 1, 2, 4 … rounds (backoff)."""
    plans.expire_open_plans()
    queued = []
    for offering in db.session.scalars(select(Offering).where(Offering.keycloak_enabled.is_(True))):
        if backing_off(offering):
            continue
        for kind in PERIODIC:
            queued.append(create_job(None, kind, offering, wait_if_busy=True))
    return queued


def _skip_rest_of_round(failed: Job) -> None:
    """The offering's other periodic jobs still queued in this round would each wait for the same timeout."""
    for job in db.session.scalars(
        select(Job).where(
            Job.offering_id == failed.offering_id,
            Job.state == JobState.QUEUED.value,
            Job.created_by_id.is_(None),
            Job.kind.in_([kind.value for kind in PERIODIC]),
        )
    ):
        _finish(job, JobState.CANCELLED, error=f"Skipped this round: {failed.error}")


def backing_off(offering: Offering) -> datetime | None:
    """When the offering's periodic work is tried next, if that is after this round: its last k rounds failed
    on Keycloak, so it waits 2^(k-1) intervals after the last failure (at most MAX_BACKOFF_ROUNDS)."""
    rounds = list(
        db.session.scalars(
            select(Job)
            .where(
                Job.offering_id == offering.id, Job.created_by_id.is_(None), Job.kind.in_([k.value for k in PERIODIC])
            )
            .where(Job.state.in_(FINISHED))
            .order_by(Job.id.desc())
            .limit(3 * (MAX_BACKOFF_ROUNDS.bit_length() + 1))
        )
    )
    failed = []
    for job in rounds:
        if job.state == JobState.SUCCEEDED.value:
            break
        if job.state == JobState.FAILED.value and job.finished:
            failed.append(job)
    if len(failed) < 2:
        return None
    interval = timedelta(minutes=parse_minutes(current_app.config.get("SYNC_INTERVAL", "15m")))
    wait = interval * min(2 ** (len(failed) - 1), MAX_BACKOFF_ROUNDS) - interval / 2  # the round's own time: slack
    next_try = aware(failed[0].finished) + wait  # type: ignore[arg-type]
    return next_try if next_try > utcnow() else None
