"""Removal on time (docs/PRODUCT.md §11): the expiry run removes the members whose time is up from Keycloak and
marks them expired, group by group; more of them in one group and round than the removal brake allows are marked
expired here and become an expiry plan (expiry.py), which removes them from Keycloak when a manager applies it.
The periodic round runs it per offering (the job kind below), `flask expire-memberships` for all."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Select, func, select

from ...extensions import db
from ...models import (
    Job,
    JobKind,
    MembershipState,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    utcnow,
)
from ..commands import PreviewExpiry
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..errors import ServiceError
from ..jobs.kinds import JobKindSpec, KeycloakFailed, Report
from ..locks import lock_group
from ..memberships import lifecycle
from ..memberships.grants import remove_from_keycloak
from ..memberships.reminders import send_reminders
from .core import create_plan, removal_brake
from .expiry import waiting_plans

PENDING = MembershipState.PENDING
BATCH_SIZE = 500  # expiries removed from Keycloak and committed together, each batch under the group's lock


@dataclass
class ExpiryRun:
    """What one run did: members expired (and removed from Keycloak), expiry plans made, and what is overdue
    (its time is up but Keycloak could not be asked: the next round tries again)."""

    groups: int = 0
    expired: int = 0
    planned: list[str] = field(default_factory=list)  # the uuids of the expiry plans made
    overdue: int = 0
    errors: list[str] = field(default_factory=list)
    keycloak_failed: str = ""


def due(only: Offering | None = None) -> Select[OfferingKeycloakMembership]:
    """Memberships whose time is up and that have not ended yet (of one offering, or of all)."""
    model = OfferingKeycloakMembership
    query = select(model).where(
        model.state.in_(list(lifecycle.CURRENT)), model.expires_at.is_not(None), model.expires_at <= utcnow()
    )
    if only is not None:
        query = query.join(OfferingKeycloakGroup).where(OfferingKeycloakGroup.offering_id == only.id)
    return query


def _count(query: Select[OfferingKeycloakMembership]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def expire_due(only: Offering | None = None) -> ExpiryRun:
    """Expire what is due, group by group; a group whose Keycloak fails is left for the next round."""
    run = ExpiryRun()
    group_ids = list(
        dict.fromkeys(db.session.scalars(due(only).with_only_columns(OfferingKeycloakMembership.group_id)))
    )
    for group_id in group_ids:
        try:
            _expire_group(group_id, run)
        except ServiceError as exc:
            db.session.rollback()
            left = _count(due().where(OfferingKeycloakMembership.group_id == group_id))
            run.overdue += left
            run.errors.append(f"{exc.message} ({left} overdue, tried again next round)")
            run.keycloak_failed = run.keycloak_failed or exc.message
    return run


def _expire_group(group_id: int, run: ExpiryRun) -> None:
    """One group's due members: above the brake they all end here at once and an expiry plan waits; otherwise
    they leave Keycloak in batches of BATCH_SIZE, each batch read again under the group's lock and committed
    before the next (a renewal made meanwhile is seen, and no writer of the group waits for thousands of calls)."""
    if not lock_group(group_id):
        return  # deleted meanwhile
    group = db.session.get(OfferingKeycloakGroup, group_id, populate_existing=True)
    if group is None:
        return
    of_group = due().where(OfferingKeycloakMembership.group_id == group_id)
    total = _count(of_group)
    if not total:
        return
    run.groups += 1
    offering = group.offering
    in_keycloak_total = _count(of_group.where(OfferingKeycloakMembership.state != PENDING)) if group.backend_id else 0
    if removal_brake(in_keycloak_total) is not None:
        # Above the brake: they end here now, and leave Keycloak when a manager applies the expiry plan.
        rows = list(db.session.scalars(of_group.execution_options(populate_existing=True)))
        for row in rows:
            lifecycle.expire(offering, row, in_keycloak=row.state != PENDING and bool(group.backend_id))
        db.session.commit()
        if not waiting_plans([group.offering_id], group):
            run.planned.append(create_plan(None, PreviewExpiry(offering, [group])).uuid)
        run.expired += len(rows)
        return
    gateway = gateway_for_offering(offering)
    for batch_number in range(-(-total // BATCH_SIZE)):  # at most what was due when the run looked
        if batch_number and not lock_group(group_id):
            return
        rows = list(
            db.session.scalars(
                of_group.order_by(OfferingKeycloakMembership.id)
                .limit(BATCH_SIZE)
                .execution_options(populate_existing=True)
            )
        )
        if not rows:
            return
        for row in rows:
            if row.state != PENDING and group.backend_id:
                call_keycloak(
                    "Removing an expired member from the Keycloak group failed",
                    partial(remove_from_keycloak, gateway, group, row),
                )
        for row in rows:
            lifecycle.expire(offering, row, in_keycloak=False)
        db.session.commit()
        run.expired += len(rows)


def _work(job: Job, _report: Report) -> dict[str, Any]:
    """The reminders that are due, then the expiries (reminders first: a member never gets one after the end)."""
    reminded = send_reminders(job.offering)
    run = expire_due(job.offering)
    if run.keycloak_failed and job.offering is not None:
        raise KeycloakFailed(run.keycloak_failed)
    result = {key: value for key, value in vars(run).items() if key != "keycloak_failed"}
    return result | {"reminded": reminded.reminded, "mailed": reminded.mailed, "errors": run.errors + reminded.errors}


def _expired(result: dict[str, Any]) -> str:
    planned = len(result.get("planned", []))
    return f"{result.get('expired', 0)} expired" + (
        f" · {planned} expiry plan{'s' if planned != 1 else ''}" if planned else ""
    )


EXPIRE_MEMBERSHIPS = JobKindSpec(
    name=JobKind.EXPIRE_MEMBERSHIPS.value,
    label="Expire memberships",
    words="An expiry of memberships",
    work=_work,
    unit="memberships",
    needs=("offering",),
    periodic=True,
    start_label="Expire due memberships now",
    outcome=_expired,
)
