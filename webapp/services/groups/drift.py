"""Drift across offerings: a drift_check job stores each offering's counts; the overview and /metrics read them
(never walking every Keycloak on a page load)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ...extensions import db
from ...models import (
    Job,
    JobKind,
    JobState,
    MembershipState,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
)
from ..errors import ValidationFailed
from ..jobs.kinds import JobKindSpec, Report
from .diff import sync_status

COUNTS = ("synced", "local_only", "remote_only", "broken", "pending", "removed_remotely")


def check_offering(offering: Offering) -> dict[str, Any]:
    """The drift_check job's work: the group comparison (one subtree walk) and the membership states."""
    status = sync_status(offering)
    states = dict(
        db.session.execute(
            select(OfferingKeycloakMembership.state, func.count())
            .join(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == offering.id)
            .group_by(OfferingKeycloakMembership.state)
        ).all()
    )
    return {
        "synced": len(status.synced),
        "local_only": len(status.local_only),
        "remote_only": len(status.remote_only),
        "broken": len(status.broken),
        "pending": int(states.get(MembershipState.PENDING, 0)),
        "removed_remotely": int(states.get(MembershipState.REMOVED_REMOTELY, 0)),
    }


@dataclass(frozen=True)
class OfferingDrift:
    offering: Offering
    counts: dict[str, int] | None  # None: never checked
    checked: datetime | None
    check_error: str
    last_job: Job | None


def overview(offerings: list[Offering]) -> list[OfferingDrift]:
    """Per offering: the last successful drift check, the last check's error if it failed after, the last job."""
    rows = []
    for offering in offerings:
        checks = list(
            db.session.scalars(
                select(Job)
                .where(Job.offering_id == offering.id, Job.kind == JobKind.DRIFT_CHECK.value)
                .where(Job.state.in_((JobState.SUCCEEDED, JobState.FAILED)))
                .order_by(Job.finished.desc(), Job.id.desc())
                .limit(5)
            )
        )
        good = next((job for job in checks if job.state == JobState.SUCCEEDED), None)
        latest = checks[0] if checks else None
        last_job = db.session.scalar(
            select(Job).where(Job.offering_id == offering.id).order_by(Job.created.desc(), Job.id.desc()).limit(1)
        )
        rows.append(
            OfferingDrift(
                offering,
                {key: int(good.result.get(key, 0)) for key in COUNTS} if good else None,
                good.finished if good else None,
                latest.error if latest is not None and latest.state == JobState.FAILED else "",
                last_job,
            )
        )
    return rows


def _check(job: Job, report: Report) -> dict[str, Any]:
    if job.offering is None:
        raise ValidationFailed(["The offering of this job no longer exists."])
    return check_offering(job.offering)


def _checked(result: dict[str, Any]) -> str:
    """ "3 synced, 1 local only, 2 remote only, 0 broken links; 1 pending, 0 removed in Keycloak" """
    groups = (
        f"{result.get('synced', 0)} synced, {result.get('local_only', 0)} local only, "
        f"{result.get('remote_only', 0)} remote only, {result.get('broken', 0)} broken links"
    )
    return f"{groups}; {result.get('pending', 0)} pending, {result.get('removed_remotely', 0)} removed in Keycloak"


DRIFT_CHECK = JobKindSpec(
    name=JobKind.DRIFT_CHECK.value,
    label="Drift check",
    words="A drift check",
    work=_check,
    needs=("offering",),
    periodic=True,
    start_label="Check drift now",
    outcome=_checked,
)


@dataclass(frozen=True)
class MemberDrift:
    """An offering's member differences as its linked groups' last comparisons counted them."""

    differences: int  # over the compared groups
    compared: int  # linked groups compared at least once
    linked: int
    oldest: datetime | None  # the oldest of those comparisons


def member_drift(offering_ids: list[int]) -> dict[int, MemberDrift]:
    """Per offering, one statement: the sum of its linked groups' last member differences (/overview)."""
    if not offering_ids:
        return {}
    group = OfferingKeycloakGroup
    rows = db.session.execute(
        select(
            group.offering_id,
            func.coalesce(func.sum(group.member_differences), 0),
            func.count(group.member_differences),
            func.count(),
            func.min(group.differences_checked_at),
        )
        .where(group.offering_id.in_(offering_ids), group.backend_id != "")
        .group_by(group.offering_id)
    )
    return {
        offering_id: MemberDrift(int(total or 0), int(compared or 0), int(linked or 0), oldest)
        for offering_id, total, compared, linked, oldest in rows
    }
