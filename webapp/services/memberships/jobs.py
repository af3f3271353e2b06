"""The membership work that runs as jobs: a pull of a group's members, and the periodic pending sync and
reconcile of an offering (their registrations; the work itself is in pull.py and periodic.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from ...extensions import db
from ...keycloak.errors import KeycloakError
from ...models import Job, JobKind, JobState, Offering, OfferingKeycloakGroup, OfferingKeycloakMembership
from ..connection.gateway import gateway_for_offering
from ..errors import ServiceError, ValidationFailed
from ..jobs.kinds import JobKindSpec, KeycloakFailed, Report, Target, Work, actor_of
from . import periodic, pull


def expected_members(group: OfferingKeycloakGroup) -> int | None:
    """The group's size in Keycloak as last seen: its last pull, else the members recorded here."""
    if group.remote_member_count is not None:
        return group.remote_member_count or None
    pulled = db.session.scalar(
        select(Job.result)
        .where(Job.group_id == group.id, Job.kind == JobKind.PULL_MEMBERS.value, Job.state == JobState.SUCCEEDED)
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


def at_least_in_keycloak(group: OfferingKeycloakGroup, count: int) -> bool:
    """Whether the group's Keycloak side has `count` members or more, for a group never pulled and without
    members here: one request for the member at position count-1. Keycloak out of reach says no (the work then
    runs where it was asked and fails there in its own words)."""
    if not group.backend_id or count < 1:
        return False
    try:
        found = gateway_for_offering(group.offering).group_members_page(group.backend_id, count - 1, 1)
    except (KeycloakError, ServiceError):
        return False
    return bool(found)


def group_size(target: Target) -> int | None:
    """What a pull or preview counts up to, as far as it is known before it starts (Keycloak has no count)."""
    return expected_members(target.group) if target.group is not None else None


def _pull(job: Job, report: Report) -> dict[str, Any]:
    if job.group is None:
        raise ValidationFailed(["The group of this job no longer exists."])
    pulled = pull.pull_members(actor_of(job), job.group, progress=report)
    job.progress = {"done": pulled.total_remote, "total": pulled.total_remote, "unit": "members"}
    return pulled.as_dict()


def _pulled(result: dict[str, Any]) -> str:
    return (
        f"{result.get('created', 0)} new · {result.get('updated', 0)} updated · "
        f"{result.get('removed_remotely', 0)} removed in Keycloak · {result.get('total_remote', 0)} in Keycloak"
    )


def _round(run: Callable[[Offering | None], periodic.RunSummary]) -> Work:
    """A periodic pass over one offering (or, without one, all of them); a Keycloak that failed fails the job
    (what it did before is committed, row by row)."""

    def work(job: Job, report: Report) -> dict[str, Any]:
        summary = run(job.offering)
        if summary.keycloak_failed and job.offering is not None:
            raise KeycloakFailed(summary.keycloak_failed)
        return {key: value for key, value in vars(summary).items() if key != "keycloak_failed"}

    return work


PULL_MEMBERS = JobKindSpec(
    name=JobKind.PULL_MEMBERS.value,
    label="Pull members",
    words="A pull",
    work=_pull,
    needs=("group", "offering"),
    for_group_managers=True,
    expected=group_size,
    outcome=_pulled,
)


def _rounded(result: dict[str, Any]) -> str:
    """ "2 added in Keycloak, 1 still pending, 0 flagged as removed in Keycloak, 0 back in Keycloak" """
    words = (
        f"{result.get('activated', 0)} added in Keycloak, {result.get('still_pending', 0)} still pending, "
        f"{result.get('flagged_removed', 0)} flagged as removed in Keycloak, "
        f"{result.get('restored', 0)} back in Keycloak"
    )
    errors = result.get("errors") or []
    return f"{words}; {len(errors)} not done: {errors[0]}" if errors else words


SYNC_PENDING = JobKindSpec(
    name=JobKind.SYNC_PENDING.value,
    label="Sync pending",
    words="A pending sync",
    work=_round(periodic.sync_pending),
    unit="memberships",
    periodic=True,
    start_label="Sync pending now",
    outcome=_rounded,
)
RECONCILE = JobKindSpec(
    name=JobKind.RECONCILE.value,
    label="Reconcile",
    words="A reconcile",
    work=_round(periodic.reconcile),
    needs=("offering",),
    periodic=True,
    start_label="Reconcile now",
    outcome=_rounded,
)
