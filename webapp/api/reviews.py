"""/api/offering-keycloak-reviews/ (docs/PRODUCT.md §12): access reviews. Thin: parse, call
services/reviews/core.py, dump."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from ..services import lookups
from ..services.reviews import core as reviews
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
from .queries import ReviewItemsQuery, ReviewListQuery
from .shapes import (
    AccessReviewOut,
    ReviewCreateRequest,
    ReviewDecideRequest,
    ReviewItemOut,
    dump_review,
    dump_reviews,
)

TAG, PREFIX = "offering-keycloak-reviews", "offering_keycloak_reviews"
ONE = "The review, with its counts."


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_create",
            "Open an access review: the members in Keycloak of each reviewed group now are its items; the reviewers "
            "decide keep, remove or unsure for each",
            TAG,
            {"201": json_response(ONE, ref("AccessReview")), **error_refs(400, 502)},
            body="ReviewCreateRequest",
        ),
        **paged_list(
            PREFIX,
            TAG,
            "AccessReview",
            [*query_parameters(ReviewListQuery), *list_page_parameters()],
            (400, 404),
            csv=True,
        ),
    }
)
@api_bp.route("/offering-keycloak-reviews/", methods=["GET", "POST"])
def review_list() -> tuple[Response, int] | Response:
    if request.method == "POST":
        body = parse_body(ReviewCreateRequest, json_body())
        offering = lookups.offering_param(g.api_user, body.offering_uuid, "offering_uuid")
        groups = None
        if body.group_uuids is not None:
            with field_names(groups="group_uuids"):
                groups = lookups.groups_of(g.api_user, offering, body.group_uuids)
        review = reviews.open_review(g.api_user, offering, groups, body.due, body.reviewers, body.repeat_months)
        return jsonify(dump_review(review)), 201
    asked = parse_query(ReviewListQuery)
    only = lookups.optional_offering(g.api_user, asked.offering_uuid, "offering_uuid")
    found = reviews.review_list(g.api_user, only, asked.state or "")
    return list_response(found, AccessReviewOut, "access-reviews.csv", dump_page=dump_reviews)


@declare(lambda: detail(PREFIX, TAG, "AccessReview"))
@api_bp.get("/offering-keycloak-reviews/<uuid>/")
def review_detail(uuid: str) -> Response:
    return jsonify(dump_review(reviews.review_for(g.api_user, uuid)))


@declare(
    lambda: paged_list(
        f"{PREFIX}_items",
        TAG,
        "AccessReviewItem",
        [*query_parameters(ReviewItemsQuery), *list_page_parameters()],
        (400, 404),
        csv=True,
    )
)
@api_bp.get("/offering-keycloak-reviews/<uuid>/items/")
def review_items(uuid: str) -> Response:
    """Every item with its decision, note, who decided when and its removal's outcome: with ?format=csv, the
    evidence for auditors."""
    review = reviews.review_for(g.api_user, uuid)
    asked = parse_query(ReviewItemsQuery)
    found = reviews.items_query(review, reviews.scope_of(g.api_user, review), asked.decision or "", asked.q)
    return list_response(found, ReviewItemOut, f"review-{review.uuid}-items.csv")


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_decide",
            "Decide on members: keep, remove or unsure, with an optional note. Only the review's reviewers (and "
            "staff) decide; a closed review refuses (409)",
            TAG,
            {"200": json_response(ONE, ref("AccessReview")), **error_refs(400, 404, 409)},
            body="ReviewDecideRequest",
        )
    }
)
@api_bp.post("/offering-keycloak-reviews/<uuid>/decide/")
def review_decide(uuid: str) -> Response:
    review = reviews.review_for(g.api_user, uuid)
    body = parse_body(ReviewDecideRequest, json_body())
    reviews.decide(g.api_user, review, body.decisions, body.note)
    return jsonify(dump_review(review))


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_close",
            "Close the review: a plan of kind review of its remove decisions (plan_uuid; null when nobody is to be "
            "removed), applied through /api/offering-keycloak-plans/. Undecided and unsure members stay",
            TAG,
            {"200": json_response(ONE, ref("AccessReview")), **error_refs(400, 404, 409, 502)},
        )
    }
)
@api_bp.post("/offering-keycloak-reviews/<uuid>/close/")
def review_close(uuid: str) -> Response:
    review = reviews.review_for(g.api_user, uuid)
    reviews.close(g.api_user, review)
    return jsonify(dump_review(review))
