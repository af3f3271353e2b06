"""The periodic read of an offering's admin events (events.py), a registered job kind: deeper than the read right
before a page (IN_ROUND_PAGES pages), the one that checks the realm's events settings again, and one that walks
the offering's subtree first, so that groups made under any of its groups are kept."""

from __future__ import annotations

from typing import Any

from ...models import Job, JobKind
from ..errors import ServiceError
from ..groups.diff import sync_status
from ..jobs.kinds import JobKindSpec, KeycloakFailed, Report
from .events import IN_ROUND_PAGES, refresh


def _work(job: Job, _report: Report) -> dict[str, Any]:
    if job.offering is None:
        return {}
    try:
        subtree = sync_status(job.offering).subtree_ids
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
