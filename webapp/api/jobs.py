"""/api/offering-keycloak-jobs/: ask for long work, follow its progress, cancel it."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from ..models import Offering, OfferingKeycloakGroup, Plan
from ..services import lookups
from ..services.errors import ValidationFailed
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
from .inputs import json_body, parse_body, parse_query
from .pagination import paginated_response
from .queries import JobListQuery
from .shapes import JobCreateRequest, JobOut

TAG, PREFIX = "offering-keycloak-jobs", "offering_keycloak_jobs"


def _target(body: JobCreateRequest) -> tuple[Offering | None, OfferingKeycloakGroup | None, Plan | None]:
    group = lookups.group_page(g.api_user, body.group_uuid) if body.group_uuid else None
    plan = plans.plan_page(g.api_user, body.plan_uuid) if body.plan_uuid else None
    offering = (
        lookups.reached_offering_param(g.api_user, body.offering_uuid, "offering_uuid") if body.offering_uuid else None
    )
    for other in (group, plan):
        if offering is not None and other is not None and other.offering_id != offering.id:
            raise ValidationFailed.field("offering_uuid", "The group or plan belongs to another offering.")
    if offering is None and not g.api_user.is_staff and group is None and plan is None:
        raise ValidationFailed.field("offering_uuid", "This field is required.")  # only staff run all offerings
    return offering, group, plan


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_create",
            "Queue a job; it runs in a worker. The same work (kind and target) already queued or running is "
            "answered with that job (200), never queued twice; while another job of the offering runs the "
            "request is refused (409); an offering with OKG_JOBS_MAX_WAITING jobs waiting takes no more (429)",
            TAG,
            {
                "202": json_response("The queued job.", ref("Job")),
                "200": json_response("The same work was already queued or running: that job.", ref("Job")),
                **error_refs(400, 404, 409, 429, 503),
            },
            body="JobCreateRequest",
        ),
        **paged_list(
            PREFIX,
            TAG,
            "Job",
            [
                *query_parameters(JobListQuery),
                *list_page_parameters(),
            ],
            (400, 404),
        ),
    }
)
@api_bp.route("/offering-keycloak-jobs/", methods=["GET", "POST"])
def job_list() -> tuple[Response, int] | Response:
    if request.method == "POST":
        body = parse_body(JobCreateRequest, json_body())
        offering, group, plan = _target(body)
        asked = jobs.ask_job(g.api_user, body.kind, offering, group, plan)
        return jsonify(JobOut.dump(asked.job)), 200 if asked.existing else 202
    wanted = parse_query(JobListQuery)
    offering = lookups.optional_offering(g.api_user, wanted.offering_uuid, "offering_uuid")
    return paginated_response(jobs.job_list(g.api_user, offering, wanted.kind or "", wanted.state or ""), JobOut.dump)


@declare(lambda: detail(PREFIX, TAG, "Job"))
@api_bp.get("/offering-keycloak-jobs/<uuid>/")
def job_detail(uuid: str) -> Response:
    return jsonify(JobOut.dump(jobs.job_page(g.api_user, uuid)))


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_cancel",
            "Cancel a job: a queued one at once, a running one at its next page (its work is rolled back)",
            TAG,
            {"202": json_response("The job, as it is now.", ref("Job")), **error_refs(400, 404)},
        )
    }
)
@api_bp.post("/offering-keycloak-jobs/<uuid>/cancel/")
def job_cancel(uuid: str) -> tuple[Response, int]:
    job = jobs.cancel_job(g.api_user, jobs.job_page(g.api_user, uuid))
    return jsonify(JobOut.dump(jobs.reloaded(job))), 202
