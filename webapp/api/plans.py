"""/api/offering-keycloak-plans/ (plan → apply) and link suggestions. Thin: parse, call services/plans/core.py, dump."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from ..models import Offering, OfferingKeycloakGroup
from ..services import lookups
from ..services.commands import ApplySelection, ImportParams, Preview, PreviewImport, PreviewLinks, PreviewMembers
from ..services.errors import REQUIRED, ValidationFailed
from ..services.groups import suggestions
from ..services.jobs import core as jobs
from ..services.plans import core as plans
from . import api_bp
from .docs import (
    declare,
    detail,
    error_refs,
    json_response,
    list_page_parameters,
    operation,
    paged_list,
    query_parameters,
    ref,
)
from .formats import list_response
from .inputs import field_names, json_body, parse_body, parse_query
from .pagination import paginated_response
from .queries import OfferingQuery, PlanItemsQuery, PlanListQuery
from .shapes import (
    JobOut,
    LinkSuggestionOut,
    PlanApplyOut,
    PlanApplyRequest,
    PlanCreateRequest,
    PlanItemOut,
    PlanOut,
    dump_plan_items,
)

TAG, PREFIX = "offering-keycloak-plans", "offering_keycloak_plans"


def _groups_of(offering: Offering, uuids: list[str]) -> list[OfferingKeycloakGroup]:
    with field_names(groups="group_uuids"):
        return lookups.groups_of(g.api_user, offering, uuids)


def _preview(body: PlanCreateRequest) -> Preview:
    if body.kind == "members":  # a group manager's too, for their groups
        offering = lookups.reached_offering_param(g.api_user, body.offering_uuid, "offering_uuid")
        if not body.group_uuids:
            raise ValidationFailed.field("group_uuids", REQUIRED)
        return PreviewMembers(offering, _groups_of(offering, body.group_uuids))
    offering = lookups.offering_param(g.api_user, body.offering_uuid, "offering_uuid")
    if body.kind == "links":
        uuids = body.group_uuids
        return PreviewLinks(offering, [group.uuid for group in _groups_of(offering, uuids)] if uuids else None)
    if not body.role_uuid or not body.remote_group_ids:
        missing = [name for name in ("role_uuid", "remote_group_ids") if not getattr(body, name)]
        raise ValidationFailed({name: [REQUIRED] for name in missing})
    with field_names(role="role_uuid", resource="resource_uuid"):
        params = ImportParams(
            lookups.role_of(offering, body.role_uuid),
            lookups.resource_of(offering, body.resource_uuid),
            (body.scope_id or "").strip(),
            body.remote_group_ids,
        )
    return PreviewImport(offering, params)


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_create",
            "Preview changes: compute and store a plan (nothing else changes). A members preview of at least "
            "OKG_BACKGROUND_THRESHOLD members (as last seen) runs as a job instead: 202 with the job, whose "
            "result names the plan when it ends (200 with the job when the same preview is already queued or "
            "running). A new plan discards the open plan of the same kind and parameters it replaces.",
            TAG,
            {
                "201": json_response("The plan.", ref("Plan")),
                "202": json_response("A large members preview, queued as a job.", ref("Job")),
                "200": json_response("The same large preview was already queued or running: that job.", ref("Job")),
                **error_refs(400, 404, 409, 429, 502, 503),
            },
            body="PlanCreateRequest",
        ),
        **paged_list(
            PREFIX,
            TAG,
            "Plan",
            [
                *query_parameters(PlanListQuery),
                *list_page_parameters(),
            ],
            (400, 404),
        ),
    }
)
@api_bp.route("/offering-keycloak-plans/", methods=["GET", "POST"])
def plan_list() -> tuple[Response, int] | Response:
    if request.method == "POST":
        preview = _preview(parse_body(PlanCreateRequest, json_body()))
        if isinstance(preview, PreviewMembers) and jobs.preview_runs_in_background(preview):
            asked = jobs.start_preview(g.api_user, preview)
            return jsonify(JobOut.dump(asked.job)), 200 if asked.existing else 202
        plan = plans.create_plan(g.api_user, preview)
        return jsonify(PlanOut.dump(plan)), 201
    plans.expire_open_plans()
    wanted = parse_query(PlanListQuery)
    offering = lookups.optional_offering(g.api_user, wanted.offering_uuid, "offering_uuid")
    found = plans.plan_list(g.api_user, offering, wanted.state or "")
    return paginated_response(found, PlanOut.dump)


@declare(lambda: detail(PREFIX, TAG, "Plan"))
@api_bp.get("/offering-keycloak-plans/<uuid>/")
def plan_detail(uuid: str) -> Response:
    return jsonify(PlanOut.dump(plans.plan_page(g.api_user, uuid)))


@declare(
    lambda: paged_list(
        f"{PREFIX}_items",
        TAG,
        "PlanItem",
        [
            *query_parameters(PlanItemsQuery),
            *list_page_parameters(),
        ],
        (400, 404, 410),
        csv=True,
    )
)
@api_bp.get("/offering-keycloak-plans/<uuid>/items/")
def plan_items(uuid: str) -> Response:
    plan = plans.plan_page(g.api_user, uuid)
    asked = parse_query(PlanItemsQuery)
    found = plans.items_query(plan, asked.action, asked.q)
    return list_response(found, PlanItemOut, f"plan-{plan.uuid}-items.csv", dump_page=dump_plan_items(plan))


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_apply",
            "Apply the chosen items of a plan, after checking that nothing changed since the preview",
            TAG,
            {
                "200": json_response("What happened to each item.", ref("PlanApplyResponse")),
                **error_refs(400, 404, 409, 502),
            },
            body="PlanApplyRequest",
            body_required=False,
        )
    }
)
@api_bp.post("/offering-keycloak-plans/<uuid>/apply/")
def plan_apply(uuid: str) -> Response:
    plan = plans.plan_page(g.api_user, uuid)
    body = parse_body(PlanApplyRequest, json_body())
    result = plans.apply_plan(g.api_user, plan, ApplySelection(body.selection or {}, body.confirm or ""))
    return jsonify(PlanApplyOut.dump(result))


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_discard",
            "Discard a plan",
            TAG,
            {"204": {"description": "Discarded."}, **error_refs(400, 404, 409)},
        )
    }
)
@api_bp.post("/offering-keycloak-plans/<uuid>/discard/")
def plan_discard(uuid: str) -> tuple[str, int]:
    plans.discard_plan(g.api_user, plans.plan_page(g.api_user, uuid))
    return "", 204


@declare(
    lambda: paged_list(
        "offering_keycloak_groups_link_suggestions",
        "offering-keycloak-groups",
        "LinkSuggestion",
        [*query_parameters(OfferingQuery), *list_page_parameters()],
        (400, 404, 502),
    )
)
@api_bp.get("/offering-keycloak-groups/link_suggestions/")
def group_link_suggestions() -> Response:
    offering = lookups.offering_param(g.api_user, parse_query(OfferingQuery).offering_uuid, "offering_uuid")
    return paginated_response(suggestions.link_suggestions(offering), LinkSuggestionOut.dump)
