"""Activity in sentences (issue 30, item 9): each audit action said as a person would say it, with a link to what it
is about (the plan, the group, the job, the review) where there is one; the raw details stay one click away on the
page and whole in the CSV."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import url_for

from ..models import AuditEvent, Offering

Words = Callable[[str, str, Mapping[str, Any]], str]  # (who, object, details) -> the sentence


def _n(count: Any, thing: str) -> str:
    number = int(count) if isinstance(count, int | float) else 0
    return f"{number:,} {thing}{'' if number == 1 else 's'}"


def _applied(who: str, _object: str, details: Mapping[str, Any]) -> str:
    counts = details.get("counts") if isinstance(details.get("counts"), Mapping) else {}
    done = int(counts.get("applied", 0)) if counts else 0
    selected = details.get("selected", details.get("total_items", 0))
    partial = " (partly: it stopped midway)" if details.get("partial") else ""
    failed = int(counts.get("failed", 0)) if counts else 0
    failures = f"; {_n(failed, 'change')} failed" if failed else ""
    plan = f"a {details.get('kind', '')} plan"
    return f"{who} applied {done:,} of {_n(selected, 'selected change')} of {plan}{failures}{partial}."


def _summary(details: Mapping[str, Any]) -> str:
    summary = details.get("summary") if isinstance(details.get("summary"), Mapping) else {}
    changes = sum(int(n) for key, n in (summary or {}).items() if key not in ("unchanged", "skipped"))
    return _n(changes, "change")


def _review_counts(details: Mapping[str, Any]) -> str:
    counts = details.get("counts") if isinstance(details.get("counts"), Mapping) else {}
    if not counts:
        return ""
    return (
        f" ({counts.get('keep', 0)} kept, {counts.get('remove', 0)} to remove, {counts.get('undecided', 0)} undecided)"
    )


SENTENCES: dict[str, Words] = {
    "membership.created": lambda who, what, d: f"{who} granted {what} access to {d.get('group', 'a group')}.",
    "membership.deleted": lambda who, what, d: f"{who} removed {what} from {d.get('group', 'a group')}.",
    "membership.activated": lambda _w, what, d: (
        f"{what} was added to {d.get('group', 'a group')} in Keycloak now that the account exists."
    ),
    "membership.expired": lambda _w, what, d: f"{what}'s access to {d.get('group', 'a group')} ended on time.",
    "membership.renewed": lambda who, what, d: f"{who} renewed {what}'s access to {d.get('group', 'a group')}.",
    "membership.reminded": lambda _w, what, d: (
        f"{what} was reminded that their access ends in "
        f"{_n(d.get('days', 0), 'day')}{' (mailed)' if d.get('mailed') else ''}."
    ),
    "group.imported": lambda who, what, d: f"{who} imported the Keycloak group {d.get('path', '')} as {what}.",
    "group.deleted": lambda who, what, d: (
        f"{who} deleted the local group {what}{' and its Keycloak group' if d.get('remote_deleted') else ''}."
    ),
    "group.members_pulled": lambda who, what, _d: f"{who} pulled the members of {what} from Keycloak.",
    "group.membership_policy_set": lambda who, what, _d: f"{who} changed how long access to {what} lasts.",
    "group_manager.created": lambda who, what, d: f"{who} made {d.get('username', 'someone')} a manager of {what}.",
    "group_manager.deleted": lambda who, what, d: f"{who} ended {d.get('username', 'someone')}'s management of {what}.",
    "plan.created": lambda who, _what, d: f"{who} previewed a {d.get('kind', '')} plan: {_summary(d)}.",
    "plan.superseded": lambda _w, _what, d: f"A newer preview replaced a {d.get('kind', '')} plan.",
    "plan.discarded": lambda who, _what, d: f"{who} discarded a {d.get('kind', '')} plan.",
    "plan.apply_started": lambda who, _what, d: f"{who} started applying a {d.get('kind', '')} plan.",
    "plan.applied": _applied,
    "plan.items_removed": lambda _w, _what, _d: "A plan's items were removed after the retention period.",
    "job.queued": lambda who, _what, d: f"{who} asked for a {str(d.get('kind', '')).replace('_', ' ')} job.",
    "job.cancel_requested": lambda who, _what, d: f"{who} cancelled a {str(d.get('kind', '')).replace('_', ' ')} job.",
    "job.succeeded": lambda _w, _what, d: f"A {str(d.get('kind', '')).replace('_', ' ')} job succeeded.",
    "job.failed": lambda _w, _what, d: (
        f"A {str(d.get('kind', '')).replace('_', ' ')} job failed{': ' + str(d['error']) if d.get('error') else '.'}"
    ),
    "job.cancelled": lambda _w, _what, d: f"A {str(d.get('kind', '')).replace('_', ' ')} job was cancelled.",
    "offering.keycloak_settings_changed": lambda who, _what, _d: f"{who} changed the Keycloak settings.",
    "keycloak.admin_events_enabled": lambda who, _what, d: (
        f"{who} turned on admin events in realm {d.get('realm', '')}."
    ),
    "review.opened": lambda who, _what, d: (
        f"{who} opened an access review of "
        f"{', '.join(map(str, d.get('groups') or [])) or 'the linked groups'}, due {d.get('due', '')}."
    ),
    "review.decided": lambda who, _what, d: (
        f"{who} decided on {_n(sum((d.get('decisions') or {}).values()), 'member')} in an access review."
    ),
    "review.closed": lambda who, _what, d: f"{who} closed an access review{_review_counts(d)}.",
    "review.reminded": lambda _w, _what, d: (
        f"The reviewers were reminded that an access review is due in {_n(d.get('days', 0), 'day')}."
    ),
}


@dataclass(frozen=True)
class ActivityRow:
    event: AuditEvent
    sentence: str
    link_label: str = ""
    link_url: str = ""


def _link(offering: Offering, event: AuditEvent) -> tuple[str, str]:
    details = event.details or {}
    plan, job = details.get("plan"), details.get("job")
    if event.action.startswith("plan.") and isinstance(plan, str) and event.action != "plan.items_removed":
        return "the plan", url_for("ui.plan_detail", offering_uuid=offering.uuid, plan_uuid=plan)
    if event.action.startswith("job.") and isinstance(job, str):
        return "the job", url_for("ui.job_detail", offering_uuid=offering.uuid, job_uuid=job)
    if event.action.startswith("review.") and event.object_type == "AccessReview":
        review = details.get("review")
        if isinstance(review, str):
            return "the review", url_for("ui.review_detail", review_uuid=review)
    return "", ""


def activity_rows(offering: Offering, events: list[AuditEvent]) -> list[ActivityRow]:
    rows = []
    for event in events:
        who = event.actor_name or "system"
        words = SENTENCES.get(event.action)
        try:
            sentence = words(who, event.object_repr or "", event.details or {}) if words else ""
        except (TypeError, ValueError, AttributeError):  # details of an older shape: say it plainly
            sentence = ""
        sentence = sentence or f"{who}: {event.action.replace('_', ' ').replace('.', ' ')} {event.object_repr}".strip()
        label, url = _link(offering, event)
        rows.append(ActivityRow(event, sentence[0].upper() + sentence[1:] if sentence else sentence, label, url))
    return rows
