"""Jobs: long work asked for now and done by a worker (webapp/jobs/queue.py), one writer per offering.

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
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError
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
from . import audit, drift, locks, periodic, plans, pull
from .access import visible_offerings
from .commands import ApplySelection, PreviewMembers
from .errors import (
    Conflict,
    ObjectNotFound,
    Refused,
    RemoteFailure,
    ServiceError,
    TooBusy,
    Unavailable,
    ValidationFailed,
)
from .plan_journal import Interrupted
from .plan_members import linked_groups
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


@dataclass(frozen=True)
class Asked:
    """What asking for a job gave: a new queued job, or (`existing`) the same work already queued or running."""

    job: Job
    existing: bool = False


def ask_job(
    actor: User | None,
    kind: JobKind,
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
    other; the partial unique index on `work_key` backs the first rule, for jobs without an offering too."""
    if kind == JobKind.PLAN_MEMBERS and groups:
        group = group or groups[0]
    if kind in (JobKind.PULL_MEMBERS, JobKind.PLAN_MEMBERS) and group is None:
        raise ValidationFailed.field("group_uuid", "This kind of job needs a group.")
    if kind == JobKind.APPLY_PLAN and plan is None:
        raise ValidationFailed.field("plan_uuid", "This kind of job needs a plan.")
    offering = offering or (group.offering if group else plan.offering if plan else None)
    if kind in (JobKind.PULL_MEMBERS, JobKind.APPLY_PLAN, JobKind.RECONCILE, JobKind.DRIFT_CHECK) and not offering:
        raise ValidationFailed.field("offering_uuid", "This kind of job needs an offering.")
    key = work_key(kind, offering, group, plan, groups)
    mark_dead_jobs()
    if offering is not None:
        locks.hold(offering.id, "jobs")  # until the commit (or rollback) below
    same = _same_work(key)
    if same is not None:
        db.session.rollback()
        return Asked(same, existing=True)
    if offering is not None:
        _check_room(offering, wait_if_busy)
    job = Job(
        kind=kind.value,
        offering=offering,
        group=group,
        plan=plan,
        created_by_id=actor.id if actor else None,
        created_by_name=actor.username if actor else "system",
        progress={"done": 0, "total": total or _expected_members(kind, group), "unit": _unit(kind)},
        params=params or {},
        work_key=key,
    )
    db.session.add(job)
    audit.record(actor, offering, "job.queued", job, {"job": job.uuid, "kind": kind.value})
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
    kind: JobKind,
    offering: Offering | None = None,
    group: OfferingKeycloakGroup | None = None,
    plan: Plan | None = None,
    wait_if_busy: bool = False,
    params: dict[str, Any] | None = None,
    total: int | None = None,
) -> Job:
    """The job `ask_job` gives (new, or the same work already queued or running)."""
    return ask_job(actor, kind, offering, group, plan, wait_if_busy, params, total).job


def work_key(
    kind: JobKind,
    offering: Offering | None,
    group: OfferingKeycloakGroup | None,
    plan: Plan | None,
    groups: list[OfferingKeycloakGroup] | None = None,
) -> str:
    """What a job does to what, as one bounded string: its kind, its offering and its target (the group or
    groups of a pull or preview, the plan of an apply; the periodic kinds' target is their offering)."""
    if kind == JobKind.PLAN_MEMBERS:
        target = ",".join(sorted({item.uuid for item in groups or ([group] if group else [])}))
    elif kind == JobKind.PULL_MEMBERS:
        target = group.uuid if group else ""
    elif kind == JobKind.APPLY_PLAN:
        target = plan.uuid if plan else ""
    else:
        target = ""
    described = f"{kind.value}|{offering.uuid if offering else '*'}|{target}"
    return hashlib.sha256(described.encode()).hexdigest()


def _same_work(key: str) -> Job | None:
    return db.session.scalar(select(Job).where(Job.work_key == key, Job.state.in_(ACTIVE)).limit(1))


def _check_room(offering: Offering, wait_if_busy: bool) -> None:
    """Refuse (and roll back the lock) when another job of the offering runs and the caller does not wait, or
    when the offering already has JOBS_MAX_WAITING jobs waiting."""
    active = list(
        db.session.scalars(select(Job).where(Job.offering_id == offering.id, Job.state.in_(ACTIVE)).order_by(Job.id))
    )
    running = next((job for job in active if job.state == JobState.RUNNING.value), None)
    waiting = [job for job in active if job.state == JobState.QUEUED.value]
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


def start_apply(actor: User, plan: Plan, selection: ApplySelection) -> Asked:
    """Check an apply as the request would (open, something selected, the brake's phrase), then queue it
    (or answer the apply of this plan already queued or running)."""
    chosen = plans.check_apply(plan, selection)
    params = {"choices": selection.choices, "confirm": selection.confirm}
    return ask_job(actor, JobKind.APPLY_PLAN, plan=plan, params=params, total=chosen)


def preview_size(preview: PreviewMembers) -> int:
    """How many members a members preview compares, as far as is known before it starts."""
    return sum(expected_members(group) or 0 for group in preview.groups)


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


def _unit(kind: JobKind) -> str:
    return {JobKind.APPLY_PLAN: "items", JobKind.SYNC_PENDING: "memberships"}.get(kind, "members")


def _described(job: Job) -> tuple[str, str]:
    """("A pull of users", "queued, asked 14:03 by alice") or (…, "running, started 14:04 by alice")."""
    what = KIND_WORDS.get(job.kind, "A job")
    count = len((job.params or {}).get("group_uuids") or [])
    about = f" of {job.group.name}" if job.group else f" of {job.offering.name}" if job.offering else ""
    about = f" of {count} groups" if count > 1 else about
    if job.state == JobState.RUNNING.value and job.started:
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
        made = plans.create_plan(_required_actor(job), PreviewMembers(job.offering, _groups_of(job)), progress=report)
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


def _groups_of(job: Job) -> list[OfferingKeycloakGroup]:
    """The groups a preview job compares: its group, or the several it was asked for."""
    uuids = (job.params or {}).get("group_uuids") or ([job.group.uuid] if job.group else [])
    found = list(
        db.session.scalars(
            select(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == job.offering_id, OfferingKeycloakGroup.uuid.in_(uuids))
            .order_by(OfferingKeycloakGroup.name, OfferingKeycloakGroup.uuid)
        )
    )
    if not found or len(found) != len(set(uuids)):
        raise ValidationFailed(["Some groups of this preview no longer exist."])
    return found


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
        for kind in PERIODIC:
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
