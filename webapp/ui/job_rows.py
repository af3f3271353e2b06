"""A job as the pages show it: its kind, target and progress in words."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from ..models import Job, JobKind, JobState
from ..services.jobs import FINISHED, live_progress
from ..services.plans import FINISHED as PLAN_FINISHED
from ..services.plans import clock

KIND_LABELS = {
    "pull_members": "Pull members",
    "plan_members": "Preview members",
    "apply_plan": "Apply a preview",
    "sync_pending": "Sync pending",
    "reconcile": "Reconcile",
    "drift_check": "Drift check",
}
START_LABELS = {  # the offering's periodic work, started by hand from its Jobs page
    JobKind.SYNC_PENDING: "Sync pending now",
    JobKind.RECONCILE: "Reconcile now",
    JobKind.DRIFT_CHECK: "Check drift now",
}
STATE_LABELS = {
    JobState.QUEUED.value: "Queued",
    JobState.RUNNING.value: "Running",
    JobState.SUCCEEDED.value: "Succeeded",
    JobState.FAILED.value: "Failed",
    JobState.CANCELLED.value: "Cancelled",
}


@dataclass(frozen=True)
class JobView:
    job: Job

    @property
    def title(self) -> str:
        target = self.job.group.name if self.job.group else self.job.offering.name if self.job.offering else ""
        several = len((self.job.params or {}).get("group_uuids") or [])
        target = f"{several} groups" if several > 1 else target  # one preview of several groups
        return f"{KIND_LABELS.get(self.job.kind, self.job.kind)}: {target}"

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.job.state, self.job.state)

    @property
    def finished(self) -> bool:
        return self.job.state in FINISHED

    @property
    def progress_words(self) -> str:
        """ "page 12 of about 50 · 11,842 of about 50,004 members" while it runs (the total is the group's size
        at its last pull, so "about"); "50,004 members" at the end."""
        progress = live_progress(self.job)
        done, total, unit = progress.get("done") or 0, progress.get("total"), progress.get("unit") or "members"
        pages = progress.get("pages")
        if self.finished or not total or done > total:
            counted = f"{done:,} {unit}" if not total or done > total else f"{done:,} of {total:,} {unit}"
            return f"page {pages} · {counted}" if pages and not self.finished else counted
        about = "about " if self.job.kind != JobKind.APPLY_PLAN.value else ""
        counted = f"{done:,} of {about}{total:,} {unit}"
        if not pages:
            return counted
        pages_total = -(-total * pages // max(done, 1))  # at the page size seen so far
        return f"page {pages} of {about}{max(pages_total, pages)} · {counted}"

    @property
    def follow_up(self) -> tuple[str, str] | None:
        """Where a finished job's outcome lives: the preview it made, the result of the apply it ran."""
        plan_uuid = (self.job.result or {}).get("plan_uuid")
        plan = self.job.plan
        if self.job.kind == JobKind.APPLY_PLAN.value and plan is not None and plan.state in PLAN_FINISHED:
            plan_uuid = plan.uuid  # an apply that stopped midway has its record on the result page too
        elif self.job.state != JobState.SUCCEEDED.value:
            return None
        if not plan_uuid or self.job.offering is None:
            return None
        if self.job.kind == JobKind.PLAN_MEMBERS.value:
            return "Open the preview", url_for(
                "ui.plan_detail", offering_uuid=self.job.offering.uuid, plan_uuid=plan_uuid
            )
        return "See the result", url_for("ui.plan_result", offering_uuid=self.job.offering.uuid, plan_uuid=plan_uuid)

    @property
    def when(self) -> str:
        job = self.job
        parts = [f"asked {clock(job.created)} by {job.created_by_name}"]
        if job.started:
            parts.append(f"started {clock(job.started)}")
        if job.finished:
            parts.append(f"ended {clock(job.finished)}")
        return " · ".join(parts)

    @property
    def outcome(self) -> str:
        job = self.job
        if job.error:
            return job.error
        result = job.result or {}
        if job.kind == "pull_members" and result:
            return (
                f"{result.get('created', 0)} new · {result.get('updated', 0)} updated · "
                f"{result.get('removed_remotely', 0)} removed in Keycloak · {result.get('total_remote', 0)} in Keycloak"
            )
        return ", ".join(f"{key}: {value}" for key, value in result.items() if not isinstance(value, list | dict))
