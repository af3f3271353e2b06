"""The periodic read of an offering's admin events (events.py), a registered job kind: deeper than the read right
before a page (IN_ROUND_PAGES pages), the one that checks the realm's events settings again, and one that walks
the offering's subtree first, so that groups made under any of its groups are kept."""

from __future__ import annotations

from typing import Any

from ...models import Job, JobKind, Offering
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.subtree import walk_offering
from ..errors import ServiceError
from ..jobs.kinds import JobKindSpec, KeycloakFailed, Report
from .events import IN_ROUND_PAGES, refresh


def subtree_ids(offering: Offering) -> set[str]:
    """The ids of the offering's group and every group under it, walked now (none when it does not exist)."""
    gateway = gateway_for_offering(offering)
    root, groups = call_keycloak("Reading the Keycloak groups failed", lambda: walk_offering(gateway, offering))
    return ({root.id} if root else set()) | {group.id for group in groups}


def _work(job: Job, _report: Report) -> dict[str, Any]:
    if job.offering is None:
        return {}
    try:
        subtree = subtree_ids(job.offering)
    except ServiceError as exc:
        raise KeycloakFailed(exc.message) from exc
    read = refresh(job.offering, IN_ROUND_PAGES, check_settings=True, subtree_ids=subtree)
    if read.error:
        raise KeycloakFailed(read.error)
    return read.as_dict()


def _outcome(result: dict[str, Any]) -> str:
    if result.get("state") == "off":
        return "admin events are off in the realm"
    if result.get("state") == "unreadable":
        return "our account may not read the admin events"
    return f"{result.get('stored', 0)} new changes made in Keycloak"


READ_KEYCLOAK_EVENTS = JobKindSpec(
    name=JobKind.READ_KEYCLOAK_EVENTS.value,
    label="Read Keycloak's admin events",
    words="A read of Keycloak's admin events",
    work=_work,
    unit="events",
    needs=("offering",),
    periodic=True,
    start_label="Read Keycloak's admin events now",
    outcome=_outcome,
)
