"""/overview: every offering the manager can see, with its drift counts from the last drift check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, current_app, flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import is_htmx, redirect_to, render, toast_only
from ..models import JobKind, Offering
from ..services import access
from ..services.errors import ServiceError, TooBusy
from ..services.groups import drift
from ..services.jobs import core as jobs
from ..services.memberships import expiry
from ..services.plans import expiry as expiry_plans
from ..services.reviews import core as reviews
from . import ui_bp
from .diff_rows import ago
from .forms import ConfirmForm
from .job_rows import JobView

# count -> (label, the filtered view it links to: endpoint and query)
COLUMNS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "synced": ("Synced", "ui.groups", {"status": "synced"}),
    "local_only": ("Local only", "ui.groups", {"status": "local_only"}),
    "remote_only": ("Remote only", "ui.groups", {"status": "remote_only"}),
    "broken": ("Broken link", "ui.groups", {"status": "broken"}),
    "pending": ("Pending", "ui.members", {}),
    "removed_remotely": ("Removed in Keycloak", "ui.members", {}),
}


def _offerings() -> list[Offering]:
    return access.offerings_of(current_user)


@ui_bp.get("/overview")
@login_required
def overview() -> Response:
    return _overview_page()


def _overview_page(error: str = "", status: int = 200) -> Response:
    rows = drift.overview(_offerings())
    links = {
        row.offering.uuid: {
            key: url_for(endpoint, offering_uuid=row.offering.uuid, **params)
            for key, (_label, endpoint, params) in COLUMNS.items()
        }
        for row in rows
    }
    last_jobs = {row.offering.uuid: JobView(row.last_job) for row in rows if row.last_job}
    ids = [row.offering.id for row in rows]
    soon_days = max(current_app.config["EXPIRY_REMINDER_DAYS"] or [30])
    return render(
        "offerings/overview.html",
        rows=rows,
        columns=COLUMNS,
        links=links,
        last_jobs=last_jobs,
        expiry=expiry.expiry_counts(ids, timedelta(days=soon_days)),
        soon_days=soon_days,
        waiting=expiry_plans.waiting_plans(ids),
        reviews_open=reviews.open_reviews_of(ids),
        member_drift={offering_id: _member_words(found) for offering_id, found in drift.member_drift(ids).items()},
        reviewing=reviews.waiting_for(current_user),
        form=ConfirmForm(),
        error=error,
        status=status,
    )


def _member_words(found: drift.MemberDrift) -> str:
    """ "12 in 3 of 4 linked groups · oldest check 2 h ago" """
    if not found.compared:
        return f"not compared yet ({found.linked} linked group{'' if found.linked == 1 else 's'})"
    when = f" · oldest check {ago(found.oldest)}" if found.oldest else ""
    return f"{found.differences:,} in {found.compared} of {found.linked} linked groups{when}"


@ui_bp.post("/overview/check")
@login_required
def overview_check() -> Response:
    """A drift check per offering; one already queued or running is not asked again (pressing twelve times
    queues one), and when every offering's queue is full nothing is queued and the answer is a 429."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    queued, already, problems, full = 0, 0, [], []
    for offering in _offerings():
        if not offering.keycloak_enabled:
            continue
        try:
            asked = jobs.ask_job(current_user, JobKind.DRIFT_CHECK, offering, wait_if_busy=True)
        except TooBusy as exc:
            full.append(exc.message)
            continue
        except ServiceError as exc:
            problems.append(f"{offering.name}: {exc.message}")
            continue
        if asked.existing:
            already += 1
        else:
            queued += 1
    if full and not queued and not already and not problems:
        words = " ".join(full)
        return toast_only(words, 429) if is_htmx() else _overview_page(words, 429)
    if problems or full:
        flash(" ".join([*problems, *full]), "error")
    words = f"Checking {queued} offering{'' if queued == 1 else 's'} now"
    if already:
        words += f"; {already} already had a check queued or running, not asked again"
    flash(f"{words}; the figures update when each check ends.")
    return redirect_to(url_for("ui.overview"))
