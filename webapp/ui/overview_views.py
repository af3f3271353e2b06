"""/overview: every offering the manager can see, with its drift counts from the last drift check."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import JobKind, Offering
from ..services import access, drift, jobs
from ..services.errors import ServiceError
from . import ui_bp
from .forms import ConfirmForm
from .htmx import redirect_to, render
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
    return list(db.session.scalars(access.visible_offerings(current_user).order_by(Offering.name)))


@ui_bp.get("/overview")
@login_required
def overview() -> Response:
    rows = drift.overview(_offerings())
    links = {
        row.offering.uuid: {
            key: url_for(endpoint, offering_uuid=row.offering.uuid, **params)
            for key, (_label, endpoint, params) in COLUMNS.items()
        }
        for row in rows
    }
    last_jobs = {row.offering.uuid: JobView(row.last_job) for row in rows if row.last_job}
    return render(
        "offerings/overview.html", rows=rows, columns=COLUMNS, links=links, last_jobs=last_jobs, form=ConfirmForm()
    )


@ui_bp.post("/overview/check")
@login_required
def overview_check() -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    queued, problems = 0, []
    for offering in _offerings():
        if not offering.keycloak_enabled:
            continue
        try:
            jobs.create_job(current_user, JobKind.DRIFT_CHECK, offering, wait_if_busy=True)
            queued += 1
        except ServiceError as exc:
            problems.append(f"{offering.name}: {exc.message}")
    if problems:
        flash(" ".join(problems), "error")
    flash(f"Checking {queued} offering{'' if queued == 1 else 's'} now; the figures update when each check ends.")
    return redirect_to(url_for("ui.overview"))
