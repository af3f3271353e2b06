"""A job as the pages show it: its kind, target and progress in words."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Job, JobState
from ..services.jobs import FINISHED, live_progress
from ..services.plans import clock

KIND_LABELS = {
    "pull_members": "Pull members",
    "plan_members": "Preview members",
    "apply_plan": "Apply a preview",
    "sync_pending": "Sync pending",
    "reconcile": "Reconcile",
    "drift_check": "Drift check",
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
        return f"{KIND_LABELS.get(self.job.kind, self.job.kind)}: {target}"

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.job.state, self.job.state)

    @property
    def finished(self) -> bool:
        return self.job.state in FINISHED

    @property
    def progress_words(self) -> str:
        """ "page 12 · 11,842 members" (or "… of 50,000" when the total is known)."""
        progress = live_progress(self.job)
        done, total, unit = progress.get("done") or 0, progress.get("total"), progress.get("unit") or "members"
        pages = progress.get("pages")
        counted = f"{done:,} of {total:,} {unit}" if total else f"{done:,} {unit}"
        return f"page {pages} · {counted}" if pages and not self.finished else counted

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
