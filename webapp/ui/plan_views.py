"""Preview → review → apply → result pages (docs/PLAN-APPLY.md). Plain forms and 303s, so they work without
JavaScript; app.js only recounts the Apply button as boxes are ticked."""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..htmx import redirect_to, render
from ..models import Offering, Plan, PlanState
from ..services import lookups
from ..services.commands import ApplySelection, ImportParams, Preview, PreviewImport, PreviewLinks, PreviewMembers
from ..services.errors import ObjectNotFound, ValidationFailed
from ..services.jobs import core as jobs
from ..services.plans import core as plans
from . import ui_bp
from .forms import ConfirmForm
from .helpers import attempt, group_or_404, local_url, offering_or_404, reached_or_404, status_of
from .job_views import start_job
from .plan_rows import PRESETS, build_plan_page, preset_action, result_heading, result_timeline


def plan_or_404(offering: Offering, plan_uuid: str) -> Plan:
    try:
        plan = plans.plan_page(current_user, plan_uuid)
    except ObjectNotFound:
        abort(404)
    if plan.offering_id != offering.id:
        abort(404)
    return plan


def _posted_plan(offering_uuid: str, plan_uuid: str) -> tuple[Offering, Plan]:
    """The offering and plan a form posts to, after its CSRF token was checked (400 without one)."""
    offering = reached_or_404(offering_uuid)
    plan = plan_or_404(offering, plan_uuid)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return offering, plan


def _preview_from(offering: Offering, form: MultiDict[str, str]) -> Preview:
    kind = form.get("kind", "")
    if kind == "members":
        groups = [group_or_404(offering, value) for value in form.getlist("group_uuids")]
        if not groups:
            raise ValidationFailed(["Choose at least one group to preview."])
        return PreviewMembers(offering, groups)
    if kind == "links":
        return PreviewLinks(offering, form.getlist("group_uuids") or None)
    if kind == "import":
        role = lookups.role_of(offering, form.get("role"))
        resource = lookups.resource_of(offering, form.get("resource") or None)
        return PreviewImport(
            offering, ImportParams(role, resource, form.get("scope_id", "").strip(), form.getlist("remote_group_ids"))
        )
    abort(400)


@ui_bp.post("/offerings/<offering_uuid>/plans")
@login_required
def plan_create(offering_uuid: str) -> Response:
    offering = reached_or_404(offering_uuid)
    if request.form.get("kind") != "members":
        offering_or_404(offering_uuid)  # the register's plans are the offering managers' (403 for a group manager)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    preview = attempt(lambda: _preview_from(offering, request.form))
    if isinstance(preview.value, PreviewMembers) and jobs.preview_runs_in_background(preview.value):
        members = preview.value
        return start_job(offering, lambda: jobs.start_preview(current_user, members))
    created = attempt(lambda: plans.create_plan(current_user, _preview_from(offering, request.form)))
    if created.value is None:
        flash(f"The preview could not be made: {created.error}", "error")
        return redirect_to(local_url(request.form.get("next")) or url_for("ui.groups", offering_uuid=offering.uuid))
    return redirect_to(url_for("ui.plan_detail", offering_uuid=offering.uuid, plan_uuid=created.value.uuid))


def _page_args() -> dict[str, object]:
    return {
        "action": request.args.get("action", "").strip(),
        "query": request.args.get("q", ""),
        "show_unchanged": request.args.get("show_unchanged") == "1",
        "preset": request.args.get("preset", "safe"),
        "page": request.args.get("page", 1, type=int) or 1,
    }


@ui_bp.get("/offerings/<offering_uuid>/plans/<plan_uuid>")
@login_required
def plan_detail(offering_uuid: str, plan_uuid: str) -> Response:
    offering = reached_or_404(offering_uuid)
    plan = plan_or_404(offering, plan_uuid)
    if plan.state in plans.PLAN_FINISHED:
        return redirect_to(url_for("ui.plan_result", offering_uuid=offering.uuid, plan_uuid=plan.uuid))
    page = build_plan_page(plan, **_page_args())  # type: ignore[arg-type]
    if plan.state != PlanState.OPEN:
        page.error = plans.state_words(plan, page=True)
    return render("plans/plan.html", "plans/_plan_body.html", offering=offering, view=page, tab="groups")


def _picks(plan: Plan, form: MultiDict[str, str]) -> dict[str, str | None]:
    """What the form says per item shown on it (`shown` lists their keys); an empty choice is "not applied"."""
    picks: dict[str, str | None] = {}
    for key in form.getlist("shown"):
        picks[key] = form.get(f"pick:{key}") or None
    return picks


def _selection(plan: Plan, form: MultiDict[str, str], picks: dict[str, str | None]) -> dict[str, str | None]:
    """Items on the page as ticked; the others as the preset the page was shown with says."""
    preset = form.get("preset", "safe")
    if preset not in PRESETS or preset == "safe":
        return picks  # absent keys take their default
    chosen = {item.key: preset_action(item, preset) for item in plans.iter_items(plan)}
    return chosen | picks


@ui_bp.post("/offerings/<offering_uuid>/plans/<plan_uuid>/apply")
@login_required
def plan_apply(offering_uuid: str, plan_uuid: str) -> Response:
    offering, plan = _posted_plan(offering_uuid, plan_uuid)
    picks = _picks(plan, request.form)
    selection = ApplySelection(_selection(plan, request.form, picks), request.form.get("confirm_text", ""))
    removes = plans.kind_of(plan).removes
    removals = sum(1 for action in selection.choices.values() if action in removes)  # defaults never remove
    if removals and request.form.get("confirmed") != "1":
        return _confirm_removals(offering, plan, picks, selection, removals)
    if jobs.runs_in_background(plans.changes_count(plan)):  # a large apply goes to a worker, followed live
        queued = attempt(lambda: jobs.start_apply(current_user, plan, selection))
        if queued.value is not None:
            if queued.value.existing:
                flash(jobs.already_words(queued.value.job))
            return redirect_to(url_for("ui.job_detail", offering_uuid=offering.uuid, job_uuid=queued.value.job.uuid))
        failure, error = queued.failure, queued.error
    else:
        applied = attempt(lambda: plans.apply_plan(current_user, plan, selection))
        if applied.value is not None:
            return redirect_to(url_for("ui.plan_result", offering_uuid=offering.uuid, plan_uuid=plan.uuid))
        failure, error = applied.failure, applied.error
    if isinstance(failure, ValidationFailed) and isinstance(failure.errors, dict) and "confirm" in failure.errors:
        return _confirm_removals(offering, plan, picks, selection, removals, failure.errors["confirm"][0])
    page = build_plan_page(plan, preset=request.form.get("preset", "safe"), picks=picks)
    page.error = error
    status = status_of(failure) if failure else 400
    return render("plans/plan.html", offering=offering, view=page, tab="groups", status=status)


def _confirm_removals(
    offering: Offering,
    plan: Plan,
    picks: dict[str, str | None],
    selection: ApplySelection,
    count: int,
    refusal: str = "",
) -> Response:
    """The destructive step: what will be removed in Keycloak, and the typed phrase when the brake trips."""
    page = build_plan_page(plan, preset=request.form.get("preset", "safe"), picks=picks)
    brake = attempt(lambda: plans.selection_brake(plan, selection))
    page.confirm = {
        "title": f"Remove {count} member{'' if count == 1 else 's'} from Keycloak?",
        "phrase": brake.value["phrase"] if brake.value else "",
        "reason": brake.value["reason"] if brake.value else "",
        "refusal": refusal or brake.error,
    }
    return render("plans/plan.html", offering=offering, view=page, tab="groups", status=400 if refusal else 200)


@ui_bp.get("/offerings/<offering_uuid>/plans/<plan_uuid>/result")
@login_required
def plan_result(offering_uuid: str, plan_uuid: str) -> Response:
    offering = reached_or_404(offering_uuid)
    plan = plan_or_404(offering, plan_uuid)
    if plan.state not in plans.PLAN_FINISHED:
        return redirect_to(url_for("ui.plan_detail", offering_uuid=offering.uuid, plan_uuid=plan.uuid))
    page = build_plan_page(
        plan,
        action=request.args.get("action", ""),
        page=request.args.get("page", 1, type=int) or 1,
        endpoint="ui.plan_result",
    )
    heading, timeline = result_heading(plan), result_timeline(plan, page.changes)
    return render("plans/result.html", offering=offering, view=page, heading=heading, timeline=timeline, tab="groups")


@ui_bp.post("/offerings/<offering_uuid>/plans/<plan_uuid>/again")
@login_required
def plan_again(offering_uuid: str, plan_uuid: str) -> Response:
    """Preview again with the same parameters (after a stale or expired preview, or to retry what failed)."""
    offering, plan = _posted_plan(offering_uuid, plan_uuid)
    again = attempt(lambda: plans.preview_of(plan))
    if isinstance(again.value, PreviewMembers) and jobs.preview_runs_in_background(again.value):
        members = again.value  # a large preview again goes to a worker, as the first one did
        return start_job(offering, lambda: jobs.start_preview(current_user, members))
    created = attempt(lambda: plans.create_plan(current_user, plans.preview_of(plan)))
    if created.value is None:
        flash(f"The preview could not be made: {created.error}", "error")
        return redirect_to(url_for("ui.plan_detail", offering_uuid=offering.uuid, plan_uuid=plan.uuid))
    return redirect_to(url_for("ui.plan_detail", offering_uuid=offering.uuid, plan_uuid=created.value.uuid))


@ui_bp.post("/offerings/<offering_uuid>/plans/<plan_uuid>/discard")
@login_required
def plan_discard(offering_uuid: str, plan_uuid: str) -> Response:
    offering, plan = _posted_plan(offering_uuid, plan_uuid)
    discarded = attempt(lambda: plans.discard_plan(current_user, plan))
    if discarded.ok:
        flash("Preview discarded; nothing was changed.", "success")
    else:
        flash(discarded.error, "error")
    return redirect_to(url_for("ui.groups", offering_uuid=offering.uuid))
