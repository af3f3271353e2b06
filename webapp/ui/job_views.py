"""Jobs in the browser: start a pull in the background, follow it live (htmx polls every second; a Refresh
link without JavaScript), cancel it, and the offering's list of jobs."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import is_htmx, redirect_to, render, toast_only, wants_fragment
from ..models import Job, JobKind, Offering
from ..services.errors import ObjectNotFound, TooBusy
from ..services.jobs import core as jobs
from . import ui_bp
from .forms import ConfirmForm
from .helpers import attempt, group_page_of, local_url, offering_or_404, reached_or_404
from .job_rows import JobView, start_labels

JOBS_SHOWN = 100
STOP_POLLING = 286  # htmx stops an `every 1s` poll when the answer has this status


def _job_or_404(offering: Offering, job_uuid: str) -> Job:
    try:
        job = jobs.job_page(current_user, job_uuid)
    except ObjectNotFound:
        abort(404)
    if job.offering_id != offering.id:
        abort(404)
    return job


@ui_bp.post("/offerings/<offering_uuid>/groups/<group_uuid>/pull-job")
@login_required
def group_pull_job(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = url_for("ui.group_detail", offering_uuid=offering.uuid, group_uuid=group.uuid)
    return start_job(offering, lambda: jobs.ask_job(current_user, JobKind.PULL_MEMBERS, group=group), back)


def start_job(offering: Offering, queue: Callable[[], jobs.Asked], back: str = "") -> Response:
    """Queue a job and follow it on its page. The same work asked for again is that job's page, saying so; a
    refusal ("A pull of … is running") goes back with the words; a full queue is a 429 that writes nothing."""
    queued = attempt(queue)
    if queued.value is None:
        if isinstance(queued.failure, TooBusy):
            return too_busy(offering, queued.error)
        flash(queued.error, "error")
        return redirect_to(
            local_url(request.form.get("next")) or back or url_for("ui.job_list", offering_uuid=offering.uuid)
        )
    job = queued.value.job
    if queued.value.existing:
        flash(jobs.already_words(job))
    return redirect_to(url_for("ui.job_detail", offering_uuid=offering.uuid, job_uuid=job.uuid))


def too_busy(offering: Offering, words: str) -> Response:
    """429 in words: a toast for htmx; otherwise the offering's Jobs tab, where the waiting jobs are listed."""
    if is_htmx():
        return toast_only(words, 429)
    return _job_list_page(offering, error=words, status=429)


@ui_bp.post("/offerings/<offering_uuid>/jobs")
@login_required
def job_start(offering_uuid: str) -> Response:
    """Sync now, reconcile now, check drift now: the periodic work of one offering, started by hand."""
    offering = offering_or_404(offering_uuid)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    kind = request.form.get("kind", "")
    if kind not in start_labels():
        abort(400)
    return start_job(offering, lambda: jobs.ask_job(current_user, kind, offering))


@ui_bp.get("/offerings/<offering_uuid>/jobs/<job_uuid>")
@login_required
def job_detail(offering_uuid: str, job_uuid: str) -> Response:
    offering = reached_or_404(offering_uuid)
    view = JobView(_job_or_404(offering, job_uuid))
    status = STOP_POLLING if wants_fragment() and view.finished else 200
    return render("jobs/job.html", "jobs/_job_status.html", offering=offering, view=view, tab="jobs", status=status)


@ui_bp.post("/offerings/<offering_uuid>/jobs/<job_uuid>/cancel")
@login_required
def job_cancel(offering_uuid: str, job_uuid: str) -> Response:
    offering = reached_or_404(offering_uuid)
    job = _job_or_404(offering, job_uuid)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    cancelled = attempt(lambda: jobs.cancel_job(current_user, job))
    flash("Cancel requested." if cancelled.ok else cancelled.error, "success" if cancelled.ok else "error")
    return redirect_to(url_for("ui.job_detail", offering_uuid=offering.uuid, job_uuid=job.uuid))


@ui_bp.get("/offerings/<offering_uuid>/jobs")
@login_required
def job_list(offering_uuid: str) -> Response:
    return _job_list_page(offering_or_404(offering_uuid))


def _job_list_page(offering: Offering, error: str = "", status: int = 200) -> Response:
    found = jobs.offering_jobs(current_user, offering, JOBS_SHOWN)
    views = [JobView(job) for job in found]
    return render(
        "jobs/list.html",
        offering=offering,
        views=views,
        startable=start_labels(),
        tab="jobs",
        error=error,
        status=status,
    )
