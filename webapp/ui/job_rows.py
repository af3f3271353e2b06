"""A job as the pages show it: its kind, target and progress in words."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from ..models import Job, JobState
from ..services.jobs import kinds as job_kinds
from ..services.jobs.core import JOB_FINISHED, live_progress
from ..services.plans.core import PLAN_FINISHED, clock

STATE_LABELS = {
    JobState.QUEUED: "Queued",
    JobState.RUNNING: "Running",
    JobState.SUCCEEDED: "Succeeded",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
}


def start_labels() -> dict[str, str]:
    """The kinds an offering's Jobs page starts by hand (its periodic work, "now"), with their buttons' words."""
    return {spec.name: spec.start_label for spec in job_kinds.kinds() if spec.start_label}


@dataclass(frozen=True)
class JobView:
    job: Job

    @property
    def kind(self) -> job_kinds.JobKindSpec | None:
        return job_kinds.find(self.job.kind)

    @property
    def title(self) -> str:
        target = self.job.group.name if self.job.group else self.job.offering.name if self.job.offering else ""
        several = len((self.job.params or {}).get("group_uuids") or [])
        target = f"{several} groups" if several > 1 else target  # one preview of several groups
        return f"{self.kind.label if self.kind else self.job.kind}: {target}"

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.job.state, self.job.state)

    @property
    def finished(self) -> bool:
        return self.job.state in JOB_FINISHED

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
        about = "about " if self.kind is None or self.kind.estimated_total else ""
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
        leads_to = self.kind.leads_to if self.kind else ""
        if leads_to == "result" and plan is not None and plan.state in PLAN_FINISHED:
            plan_uuid = plan.uuid  # an apply that stopped midway has its record on the result page too
        elif self.job.state != JobState.SUCCEEDED:
            return None
        if not plan_uuid or self.job.offering is None:
            return None
        if leads_to == "preview":
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
        if self.kind is not None and self.kind.outcome is not None and result:
            return self.kind.outcome(result)
        return ", ".join(
            f"{key.replace('_', ' ')}: {value}" for key, value in result.items() if not isinstance(value, list | dict)
        )
