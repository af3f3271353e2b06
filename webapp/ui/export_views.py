"""CSV downloads in the browser: the groups diff (with the page's filters), a group's members side by side, a
plan's items (with outcomes once applied) and the activity log (a date range). Columns of plan items and events
are the API's shapes (api/shapes.py), so a download and `?format=csv` read the same."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..downloads import csv_response, primed, shape_csv
from ..services import audit
from ..services.attribution import events
from ..services.memberships import exports
from ..services.plans import core as plans
from ..services.reviews import core as reviews
from . import ui_bp
from .diff_rows import DIFF_COLUMNS, diff_export
from .helpers import attempt, group_page_of, offering_or_404, reached_or_404
from .plan_views import plan_or_404


def _shapes() -> Any:
    """The API's shapes, imported when first needed: the api package imports the app's auth, which is still
    being imported while the UI registers its views."""
    from ..api import shapes

    return shapes


def _columns(shape: Any) -> list[str]:
    return [name for name, _ in shape.getters()]


@ui_bp.get("/offerings/<offering_uuid>/groups.csv")
@login_required
def groups_csv(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    rows = diff_export(offering, request.args.get("status", ""), request.args.get("q", ""))
    return csv_response(f"{offering.slug}-groups.csv", DIFF_COLUMNS, rows)


@ui_bp.get("/offerings/<offering_uuid>/groups/<group_uuid>/members.csv")
@login_required
def group_members_csv(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid)
    rows = primed(exports.group_members(group))  # Keycloak failing at once: an error page, not a cut file
    return csv_response(f"{offering.slug}-{group.name}-members.csv", exports.MEMBER_COLUMNS, rows)


@ui_bp.get("/offerings/<offering_uuid>/plans/<plan_uuid>/items.csv")
@login_required
def plan_items_csv(offering_uuid: str, plan_uuid: str) -> Response:
    offering = reached_or_404(offering_uuid)
    plan = plan_or_404(offering, plan_uuid)
    found = attempt(
        lambda: plans.items_query(
            plan, request.args.get("action", "").strip(), request.args.get("q", ""), show_unchanged=True
        )
    )
    if found.value is None:
        abort(found.status, description=found.error)  # its items were removed after the retention period
    shape = _shapes().PlanItemOut
    dump_page = _shapes().dump_plan_items(plan)
    return shape_csv(f"preview-{plan.uuid}.csv", found.value, shape.dump, _columns(shape), dump_page)


KEYCLOAK_CHANGE_COLUMNS = ["when", "operation", "group", "member", "source", "by", "client", "at", "event_id", "words"]


@ui_bp.get("/offerings/<offering_uuid>/activity/keycloak.csv")
@login_required
def keycloak_changes_csv(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    rows = (
        [row.get(name) for name in KEYCLOAK_CHANGE_COLUMNS]
        for chunk in events.changes_in_chunks(offering)
        for row in chunk
    )
    return csv_response(f"{offering.slug}-keycloak-changes.csv", KEYCLOAK_CHANGE_COLUMNS, rows)


@ui_bp.get("/offerings/<offering_uuid>/activity.csv")
@login_required
def activity_csv(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    first = audit.parse_day(request.args.get("from"), "from")
    last = audit.parse_day(request.args.get("to"), "to")
    query = audit.offering_activity(offering, first, last)
    shape = _shapes().AuditEventOut
    return shape_csv(f"{offering.slug}-activity.csv", query, shape.dump, _columns(shape))


@ui_bp.get("/reviews/<review_uuid>/items.csv")
@login_required
def review_items_csv(review_uuid: str) -> Response:
    """A review's evidence: every item the user may see, its decision, note, who decided when, and its removal's
    outcome (the same columns as the API's items)."""
    found = attempt(lambda: reviews.review_for(current_user, review_uuid))
    if found.value is None:
        abort(404)
    review = found.value
    query = reviews.items_query(review, reviews.scope_of(current_user, review))
    shape = _shapes().ReviewItemOut
    return shape_csv(f"review-{review.uuid}-items.csv", query, shape.dump, _columns(shape))
