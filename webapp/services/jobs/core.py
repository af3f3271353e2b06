"""Jobs: long work asked for now and done by a worker (webapp/jobs/queue.py), one writer per offering.

What a kind of job needs, counts and does is its registration (kinds.py); this module asks, runs and
records any kind the same way.

A job row is created `queued` and its uuid enqueued. A worker claims it by one conditional UPDATE that fails
while another job of the same offering runs (that job waits its turn and is retried). While running, the job
reports progress and a heartbeat to the queue's store; a cancel request is seen at the next page, and the
work's own transaction is rolled back. A job whose heartbeat stopped (its worker was killed) is marked
failed by whoever looks at it next; an apply's plan is then ended from what the apply recorded.

Asking is bounded (see ask_job): the same work queued or running is answered with that job, and an offering
has at most JOBS_MAX_WAITING jobs waiting.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from flask import current_app
from sqlalchemy import Select, and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ...extensions import db
from ...jobs.queue import QueueUnavailable, job_queue, parse_minutes
from ...models import Job, JobKind, JobState, Offering, OfferingKeycloakGroup, Plan, User, utcnow
from .. import audit, locks
from ..access import delegated_group_ids, require_manager, visible_offerings
from ..attribution import jobs as attribution_jobs
from ..commands import ApplySelection, PreviewMembers
from ..errors import (
    Conflict,
    ObjectNotFound,
    Refused,
    RemoteFailure,
    ServiceError,
    TooBusy,
    Unavailable,
    ValidationFailed,
)
from ..groups import drift
from ..memberships import jobs as member_jobs
from ..memberships.jobs import at_least_in_keycloak, expected_members
from ..plans import core as plans
from ..plans import expiry_run
from ..plans import jobs as plan_jobs
from ..plans.core import clock
from ..plans.journal import Interrupted
from ..plans.members import linked_groups
from ..reviews import jobs as review_jobs
from ..uuids import parse_uuid
from . import kinds as job_kinds
from .kinds import JobKindSpec, KeycloakFailed, Report, Target

# The app's own kinds, in the order the pages and the API list them (and the periodic round asks for them).
for _spec in (
    member_jobs.PULL_MEMBERS,
    plan_jobs.PLAN_MEMBERS,
    plan_jobs.APPLY_PLAN,
    member_jobs.SYNC_PENDING,
    member_jobs.RECONCILE,
    drift.DRIFT_CHECK,
    expiry_run.EXPIRE_MEMBERSHIPS,
    attribution_jobs.READ_KEYCLOAK_EVENTS,
    review_jobs.ACCESS_REVIEWS,
):
    job_kinds.register(_spec)

if TYPE_CHECKING:
    JobKindName = str
else:  # the kinds the API takes and lists: those registered when it is imported
    JobKindName = Literal[job_kinds.names()]

ACTIVE = (JobState.QUEUED, JobState.RUNNING)
JOB_FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
WAIT_SECONDS = 2.0  # a job whose offering is busy is tried again after this long


class JobCancelled(Interrupted):
    """Raised inside the work at its next page after a cancel request; the work rolls back."""

    stopped = "The apply was cancelled"


class WorkerStopping(Interrupted):
    """Raised inside the work at its next page when its worker is stopping; the job goes back to the queue
    (an apply stops after its current batch instead: what it did in Keycloak cannot be rolled back)."""

    stopped = "The worker was stopped"


# -- asking -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """What asking for a job gave: a new queued job, or (`existing`) the same work already queued or running."""

    job: Job
    existing: bool = False


def ask_job(
    actor: User | None,
    kind: str,
    offering: Offering | None = None,
    group: OfferingKeycloakGroup | None = None,
    plan: Plan | None = None,
    wait_if_busy: bool = False,
    params: dict[str, Any] | None = None,
    total: int | None = None,
    groups: list[OfferingKeycloakGroup] | None = None,
) -> Asked:
    """Queue a job, bounded three ways:

    - the same work (kind and target) already queued or running is answered with that job, never a second row;
    - while another job of the offering runs, a request is refused in words, unless `wait_if_busy` (the
      periodic round, *Check now*) queues it behind (the worker runs one job per offering at a time either way);
    - at most JOBS_MAX_WAITING jobs of one offering wait in the queue; one more is refused (TooBusy, a 429).

    The offering's job lock is held while this is decided, so simultaneous requests are decided one after the
    other; the partial unique index on `work_key` backs the first rule, for jobs without an offering too.

    What the kind needs (a group, a plan, an offering) and the params it takes are its registration's."""
    spec = job_kinds.kind_of(kind)
    group = group or (groups[0] if groups else None)
    offering = offering or (group.offering if group else plan.offering if plan else None)
    target = Target(offering, group, plan, tuple(groups or ()))
    if actor is not None and offering is not None and not spec.for_group_managers:
        require_manager(actor, offering)
    spec.check(target)
    spec.check_params(params or {})
    key = work_key(spec, target)
    mark_dead_jobs()
    if offering is not None:
        locks.hold(offering.id, "jobs")  # until the commit (or rollback) below
    same = _same_work(key)
    if same is not None:
        db.session.rollback()
        return Asked(same, existing=True)
    if offering is not None:
        _check_room(offering, wait_if_busy)
    expected = total or (spec.expected(target) if spec.expected else None)
    job = Job(
        kind=spec.name,
        offering=offering,
        group=group,
        plan=plan,
        created_by_id=actor.id if actor else None,
        created_by_name=actor.username if actor else "system",
        progress={"done": 0, "total": expected, "unit": spec.unit},
        params=params or {},
        work_key=key,
    )
    db.session.add(job)
    audit.record(actor, offering, "job.queued", job, {"job": job.uuid, "kind": spec.name})
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same work was asked for at the same moment elsewhere: that one stands
        same = _same_work(key)
        if same is None:
            raise
        return Asked(same, existing=True)
    try:
        job_queue().enqueue(job.uuid)
    except QueueUnavailable as exc:
        message = f"Jobs are unavailable: the job queue ({exc.args[0]}) cannot be reached. Nothing was started."
        _finish(job, JobState.FAILED, error=message)
        db.session.commit()
        raise Unavailable(message) from exc
    return Asked(job)


def create_job(
    actor: User | None,
    kind: str,
    offering: Offering | None = None,
    group: OfferingKeycloakGroup | None = None,
    plan: Plan | None = None,
    wait_if_busy: bool = False,
    params: dict[str, Any] | None = None,
    total: int | None = None,
) -> Job:
    """The job `ask_job` gives (new, or the same work already queued or running)."""
    return ask_job(actor, kind, offering, group, plan, wait_if_busy, params, total).job


def work_key(spec: JobKindSpec, target: Target) -> str:
    """What a job does to what, as one bounded string: its kind, its offering and its target (the group or
    groups of a pull or preview, the plan of an apply; the periodic kinds' target is their offering)."""
    offering = target.offering
    described = f"{spec.name}|{offering.uuid if offering else '*'}|{spec.work_target(target)}"
    return hashlib.sha256(described.encode()).hexdigest()


def _same_work(key: str) -> Job | None:
    return db.session.scalar(select(Job).where(Job.work_key == key, Job.state.in_(ACTIVE)).limit(1))


def _check_room(offering: Offering, wait_if_busy: bool) -> None:
    """Refuse (and roll back the lock) when another job of the offering runs and the caller does not wait, or
    when the offering already has JOBS_MAX_WAITING jobs waiting."""
    active = list(
        db.session.scalars(select(Job).where(Job.offering_id == offering.id, Job.state.in_(ACTIVE)).order_by(Job.id))
    )
    running = next((job for job in active if job.state == JobState.RUNNING), None)
    waiting = [job for job in active if job.state == JobState.QUEUED]
    limit = int(current_app.config["JOBS_MAX_WAITING"])
    if running is not None and not wait_if_busy:
        words = busy_words(running)
        db.session.rollback()
        raise Conflict(words)
    if len(waiting) >= limit:
        words = (
            f"{offering.name} already has {len(waiting)} job{'' if len(waiting) == 1 else 's'} waiting to run, "
            "the most allowed. Nothing was queued: try again when they have run, or cancel one on the "
            "offering's Jobs tab."
        )
        db.session.rollback()
        raise TooBusy(words)


def runs_in_background(count: int | None) -> bool:
    """Work on this many members or items goes to a worker rather than the web request."""
    return bool(count) and int(count or 0) >= int(current_app.config["BACKGROUND_THRESHOLD"])


def start_apply(actor: User, plan: Plan, selection: ApplySelection) -> Asked:
    """Check an apply as the request would (open, something selected, the brake's phrase), then queue it
    (or answer the apply of this plan already queued or running)."""
    chosen = plans.check_apply(plan, selection)
    params = {"choices": selection.choices, "confirm": selection.confirm}
    return ask_job(actor, JobKind.APPLY_PLAN, plan=plan, params=params, total=chosen)


def preview_size(preview: PreviewMembers) -> int:
    """How many members a members preview compares, as far as is known before it starts. A group never pulled
    and without members here is asked of Keycloak whether it reaches the threshold (one request), so that a
    big group's first preview does not run in the request."""
    threshold = int(current_app.config["BACKGROUND_THRESHOLD"])
    total = 0
    for group in preview.groups:
        known = expected_members(group)
        if known is None and at_least_in_keycloak(group, threshold):
            known = threshold
        total += known or 0
    return total


def preview_runs_in_background(preview: PreviewMembers) -> bool:
    return runs_in_background(preview_size(preview))


def start_preview(actor: User, preview: PreviewMembers) -> Asked:
    """Queue a members preview for a worker (checked first as create_plan would: the groups must be linked)."""
    groups = linked_groups(sorted(preview.groups, key=lambda group: (group.name, group.uuid)))
    params = {"group_uuids": [group.uuid for group in groups]} if len(groups) > 1 else None
    return ask_job(
        actor,
        JobKind.PLAN_MEMBERS,
        preview.offering,
        groups[0],
        params=params,
        total=preview_size(preview) or None,
        groups=groups,
    )


def _described(job: Job) -> tuple[str, str]:
    """("A pull of users", "queued, asked 14:03 by alice") or (…, "running, started 14:04 by alice")."""
    spec = job_kinds.find(job.kind)
    what = spec.words if spec else "A job"
    count = len((job.params or {}).get("group_uuids") or [])
    about = f" of {job.group.name}" if job.group else f" of {job.offering.name}" if job.offering else ""
    about = f" of {count} groups" if count > 1 else about
    if job.state == JobState.RUNNING and job.started:
        return f"{what}{about}", f"running, started {clock(job.started)} by {job.created_by_name}"
    return f"{what}{about}", f"queued, asked {clock(job.created)} by {job.created_by_name}"


def busy_words(job: Job) -> str:
    subject, state = _described(job)
    return f"{subject} is {state}."


def already_words(job: Job) -> str:
    """What a request for work already queued or running is told (it is shown that job)."""
    subject, state = _described(job)
    return f"{subject} is already {state}: nothing new was queued."


def cancel_job(actor: User, job: Job) -> Job:
    if job.state in JOB_FINISHED:
        raise Refused(f"This job already ended ({job.state}).")
    spec = job_kinds.find(job.kind)
    if job.state == JobState.RUNNING and spec is not None and spec.cancel_refused_running:
        raise Refused(spec.cancel_refused_running)
    job_queue().set_live(job.uuid, "cancel", True)
    if job.state == JobState.QUEUED:
        _finish(job, JobState.CANCELLED, error=f"Cancelled by {actor.username} before it started.")
    audit.record(actor, job.offering, "job.cancel_requested", job, {"job": job.uuid, "kind": job.kind})
    db.session.commit()
    return job


# -- reading ------------------------------------------------------------------------------------------------


def visible_jobs(user: User) -> Select[Job]:
    mark_dead_jobs()
    query = select(Job)
    if not user.is_staff:
        managed = Job.offering_id.in_(visible_offerings(user).with_only_columns(Offering.id))
        delegated = Job.group_id.in_(delegated_group_ids(user))  # a group manager: the jobs of their groups
        query = query.where(or_(managed, delegated, Job.created_by_id == user.id))  # and the ones they asked for
    return query.order_by(Job.created.desc(), Job.id.desc())


def job_page(user: User, value: str) -> Job:
    job_uuid = parse_uuid(value)
    job = job_uuid and db.session.scalar(visible_jobs(user).where(Job.uuid == job_uuid))
    if not job:
        raise ObjectNotFound()
    return job


def live_progress(job: Job) -> dict[str, Any]:
    """The stored progress, or while the job runs what its worker last reported."""
    if job.state == JobState.RUNNING:
        reported = job_queue().live(job.uuid, "progress")
        if isinstance(reported, dict):
            return reported
    return job.progress or {}


def mark_dead_jobs() -> int:
    """Running jobs whose worker has not reported for JOB_STALE_SECONDS failed: the worker was killed."""
    limit = float(current_app.config["JOB_STALE_SECONDS"])
    queue = job_queue()
    dead = 0
    for job in list(db.session.scalars(select(Job).where(Job.state == JobState.RUNNING))):
        beat = queue.live(job.uuid, "heartbeat") or (job.started.timestamp() if job.started else 0)
        if time.time() - float(beat) > limit:
            _finish(job, JobState.FAILED, error=_dead_words(job))
            db.session.commit()
            dead += 1
    return dead


def _dead_words(job: Job) -> str:
    """What a job whose worker died leaves: its work is one transaction, so nothing, unless its kind says
    otherwise (an apply's Keycloak changes were recorded as it went: its plan is ended from that record)."""
    spec = job_kinds.find(job.kind)
    words = spec.died(job) if spec is not None and spec.died is not None else None
    return words or "The worker stopped while running this job; nothing it did was kept."


# -- running (in the worker) ----------------------------------------------------------------------------------


def execute(job_uuid: str) -> float | None:
    """Run one job by uuid: claim it (or wait while its offering is busy), do the work, record the outcome.

    A number says the job is still queued and should be run again after that many seconds (the queue retries
    the same task): its offering was busy, or this worker is stopping and another one should take it."""
    job = db.session.scalar(select(Job).where(Job.uuid == job_uuid))
    if job is None or job.state != JobState.QUEUED:
        return None  # cancelled, or already run by another worker
    if not _claim(job):
        return WAIT_SECONDS  # another job of this offering runs: wait its turn
    queue = job_queue()
    queue.set_live(job.uuid, "heartbeat", time.time())
    try:
        result = _work(job)
    except WorkerStopping:
        db.session.rollback()
        job.state, job.started = JobState.QUEUED, None
        db.session.commit()
        return 0  # for the next worker at once; this one is shutting down
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
    return None


def _claim(job: Job) -> bool:
    """queued → running, unless another job of the same offering runs (one writer per offering)."""
    other = aliased(Job)
    busy = exists().where(
        and_(other.offering_id == job.offering_id, other.state == JobState.RUNNING, other.id != job.id)
    )
    condition = [Job.id == job.id, Job.state == JobState.QUEUED]
    if job.offering_id is not None:
        # The offering row's lock first: on PostgreSQL two claims would otherwise each miss the other's
        # uncommitted "running"; the second now waits, and its UPDATE then sees the first one committed.
        db.session.execute(update(Offering).where(Offering.id == job.offering_id).values(modified=Offering.modified))
        condition.append(~busy)
    now = utcnow()
    claimed = db.session.execute(
        update(Job).where(*condition).values(state=JobState.RUNNING, started=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    db.session.refresh(job)
    return bool(getattr(claimed, "rowcount", 0))


def _reporter(job: Job) -> Report:
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
    spec = job_kinds.find(job.kind)
    if spec is None:
        raise ValidationFailed(["This kind of job is no longer known."])
    return spec.work(job, _reporter(job))


def _finish(job: Job, state: JobState, error: str = "") -> None:
    job.state = state
    job.finished = utcnow()
    job.error = error
    if state != JobState.SUCCEEDED:
        live = job_queue().live(job.uuid, "progress")
        if isinstance(live, dict):
            job.progress = live
    audit.record(None, job.offering, f"job.{state.value}", job, {"job": job.uuid, "kind": job.kind, "error": error})


# -- periodic -----------------------------------------------------------------------------------------------


MAX_BACKOFF_ROUNDS = 16  # an offering whose Keycloak keeps failing is tried at least every 16 intervals


def periodic_kinds() -> list[str]:
    """The kinds the periodic round asks for, in the order it asks."""
    return [spec.name for spec in job_kinds.kinds() if spec.periodic]


def enqueue_periodic_round() -> list[Job]:
    """A sync_pending, a reconcile and a drift_check job per offering with Keycloak enabled (each waits while
    another job of its offering runs), the expiry sweep of previews and the retention sweep of old plans'
    items. The jobs queued are returned: a kind the offering already has queued or running is not queued
    again, and an offering whose queue is full gets the rest next round. An offering whose Keycloak failed
    in its last rounds is left out for 1, 2, 4 … rounds (backoff)."""
    plans.expire_open_plans()
    plans.remove_old_items()
    queued = []
    offerings = list(db.session.scalars(select(Offering).where(Offering.keycloak_enabled.is_(True))))
    for offering in offerings:
        if backing_off(offering):
            continue
        for kind in periodic_kinds():
            try:
                asked = ask_job(None, kind, offering, wait_if_busy=True)
            except TooBusy as exc:
                current_app.logger.info("periodic round: %s", exc.message)
                break
            if not asked.existing:
                queued.append(asked.job)
    return queued


def _skip_rest_of_round(failed: Job) -> None:
    """The offering's other periodic jobs still queued in this round would each wait for the same timeout."""
    for job in db.session.scalars(
        select(Job).where(
            Job.offering_id == failed.offering_id,
            Job.state == JobState.QUEUED,
            Job.created_by_id.is_(None),
            Job.kind.in_(periodic_kinds()),
        )
    ):
        _finish(job, JobState.CANCELLED, error=f"Skipped this round: {failed.error}")


def backing_off(offering: Offering) -> datetime | None:
    """When the offering's periodic work is tried next, if that is after this round: its last k rounds failed
    on Keycloak, so it waits 2^(k-1) intervals after the last failure (at most MAX_BACKOFF_ROUNDS)."""
    rounds = list(
        db.session.scalars(
            select(Job)
            .where(Job.offering_id == offering.id, Job.created_by_id.is_(None), Job.kind.in_(periodic_kinds()))
            .where(Job.state.in_(JOB_FINISHED))
            .order_by(Job.id.desc())
            .limit(3 * (MAX_BACKOFF_ROUNDS.bit_length() + 1))
        )
    )
    failed = []
    for job in rounds:
        if job.state == JobState.SUCCEEDED:
            break
        if job.state == JobState.FAILED and job.finished:
            failed.append(job)
    if len(failed) < 2:
        return None
    interval = timedelta(minutes=parse_minutes(current_app.config.get("SYNC_INTERVAL", "15m")))
    wait = interval * min(2 ** (len(failed) - 1), MAX_BACKOFF_ROUNDS) - interval / 2  # the round's own time: slack
    next_try = failed[0].finished + wait
    return next_try if next_try > utcnow() else None


def job_list(user: User, offering: Offering | None = None, kind: str = "", state: str = "") -> Select[Job]:
    """The jobs the user sees, newest first; only `offering`'s, of `kind` and in `state` when given."""
    query = visible_jobs(user)
    if offering is not None:
        query = query.where(Job.offering_id == offering.id)
    if kind:
        query = query.where(Job.kind == kind)
    if state:
        query = query.where(Job.state == state)
    return query


def offering_jobs(user: User, offering: Offering, limit: int) -> list[Job]:
    """The offering's newest `limit` jobs the user may see (its jobs tab)."""
    return list(db.session.scalars(visible_jobs(user).where(Job.offering_id == offering.id).limit(limit)))


def reloaded(job: Job) -> Job:
    """The job as stored now: a worker or a cancel may have written its row behind the loaded object."""
    db.session.refresh(job)
    return job
