"""The plan work that runs as jobs: a members preview too big for a request, and an apply (their
registrations; the work itself is in core.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...models import Job, JobKind, OfferingKeycloakGroup, PlanState
from ..commands import ApplySelection, PreviewMembers
from ..errors import ServiceError, ValidationFailed
from ..jobs.kinds import JobKindSpec, Report, required_actor
from ..memberships.jobs import group_size
from . import core as plans
from .journal import Interrupted


class ApplyStopped(ServiceError):
    """An apply job stopped before its end; the words say how far it got (the plan has the rest)."""


def _preview(job: Job, report: Report) -> dict[str, Any]:
    if job.group is None or job.offering is None:
        raise ValidationFailed(["The group of this job no longer exists."])
    made = plans.create_plan(required_actor(job), PreviewMembers(job.offering, _groups_of(job)), progress=report)
    return {"plan_uuid": made.uuid, "summary": made.summary}


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


def _apply(job: Job, report: Report) -> dict[str, Any]:
    if job.plan is None:
        raise ValidationFailed(["The plan of this job no longer exists."])
    params = job.params or {}
    selection = ApplySelection(dict(params.get("choices") or {}), str(params.get("confirm") or ""))
    try:
        applied = plans.apply_plan(required_actor(job), job.plan, selection, progress=report, run=job.uuid)
    except Interrupted as exc:
        db.session.refresh(job.plan)
        if job.plan.state == PlanState.OPEN:
            raise  # stopped before its first write: the plan is still applicable, the job goes on as asked
        # Stopped between two batches: the plan was ended from its record, and says how far it got.
        raise ApplyStopped(str((job.plan.result or {}).get("error") or exc.stopped)) from exc
    done = sum(count for outcome, count in applied.counts.items() if outcome != plans.NOT_SELECTED)
    job.progress = {**(job.progress or {}), "done": done}
    return {"plan_uuid": job.plan.uuid, "state": applied.plan.state, "counts": applied.counts}


def _apply_died(job: Job) -> str | None:
    """An apply's Keycloak changes were recorded as it went: its plan is ended from that record (and says how
    far it got)."""
    return plans.stop_apply(job.plan, "The worker stopped", run=job.uuid) if job.plan is not None else None


PLAN_MEMBERS = JobKindSpec(
    name=JobKind.PLAN_MEMBERS.value,
    label="Preview members",
    words="A preview",
    work=_preview,
    needs=("group",),
    for_group_managers=True,
    params=frozenset({"group_uuids"}),
    expected=group_size,
    leads_to="preview",
)
APPLY_PLAN = JobKindSpec(
    name=JobKind.APPLY_PLAN.value,
    label="Apply a preview",
    words="An apply",
    work=_apply,
    unit="items",
    needs=("plan", "offering"),
    for_group_managers=True,
    params=frozenset({"choices", "confirm"}),
    estimated_total=False,
    cancel_refused_running=(
        "An apply that has started cannot be cancelled: its changes in Keycloak are made one by one."
    ),
    died=_apply_died,
    leads_to="result",
)
