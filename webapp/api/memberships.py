"""/api/offering-keycloak-memberships/ (docs/PRODUCT.md §4): list and retrieve."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from flask import Response, g, jsonify, request

from ..models import MembershipState, OfferingKeycloakMembership
from ..services import lookups
from ..services.commands import GrantAccess
from ..services.errors import ValidationFailed
from ..services.memberships import pages as member_pages
from ..services.memberships.grants import create_membership, delete_membership
from ..services.memberships.pages import MAX_QUERY_LENGTH
from . import api_bp
from .docs import (
    array,
    declare,
    detail,
    error_refs,
    json_response,
    list_page_parameters,
    offering_filter,
    operation,
    ordering_parameter,
    paged_list,
    query,
    ref,
    string,
    uuid_filter,
)
from .formats import list_response
from .inputs import json_body, parse_body, uuid_param
from .ordering import apply_ordering
from .shapes import OfferingKeycloakMembershipOut, OfferingKeycloakMembershipRequest, serialize_membership

if TYPE_CHECKING:
    from sqlalchemy import Select

MEMBERSHIP_ORDERING = ("username", "email", "state", "created", "modified", "last_checked")
STATES = tuple(state.value for state in MembershipState)
TAG, PREFIX = "offering-keycloak-memberships", "offering_keycloak_memberships"


def _filtered() -> Select[OfferingKeycloakMembership]:
    offering = (
        lookups.offering_param(g.api_user, request.args["offering_uuid"], "offering_uuid")
        if "offering_uuid" in request.args
        else None
    )
    text = request.args.get("q", "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed.field("q", f"Search for at most {MAX_QUERY_LENGTH} characters.")
    states = [value for value in request.args.getlist("state") if value]
    bad = [value for value in states if value not in STATES]
    if bad:
        raise ValidationFailed.field("state", f"Select a valid choice. {bad[0]} is not one of the available choices.")
    filters = member_pages.MembershipFilter(
        uuid_param("group_uuid"),
        offering,
        uuid_param("role_uuid"),
        uuid_param("resource_uuid"),
        request.args.get("username", ""),
        request.args.get("email", ""),
        text,
        request.args.get("first_name", ""),
        request.args.get("last_name", ""),
        tuple(states),
    )
    found = member_pages.membership_list(g.api_user, filters)
    return apply_ordering(found, OfferingKeycloakMembership, MEMBERSHIP_ORDERING)


@declare(
    lambda: paged_list(
        PREFIX,
        TAG,
        "OfferingKeycloakMembership",
        [
            uuid_filter("group_uuid"),
            offering_filter(),
            uuid_filter("role_uuid"),
            uuid_filter("resource_uuid"),
            query("username", string(), "Exact, case-insensitive."),
            query("email", string(), "Exact, case-insensitive."),
            query("first_name", string(), "Case-insensitive substring."),
            query("last_name", string(), "Case-insensitive substring."),
            query("q", string(maxLength=100), "Username, email, first or last name contains it (ignoring case)."),
            query(
                "state",
                array(ref("MembershipState")),
                "Repeatable; any of the given states.",
                style="form",
                explode=True,
            ),
            ordering_parameter(MEMBERSHIP_ORDERING),
            *list_page_parameters(),
        ],
        (400, 404),
        csv=True,
    )
)
@api_bp.get("/offering-keycloak-memberships/")
def membership_list() -> Response:
    dump = partial(serialize_membership, viewer_is_staff=g.api_user.is_staff)
    return list_response(_filtered(), OfferingKeycloakMembershipOut, "memberships.csv", dump)


@declare(lambda: detail(PREFIX, TAG, "OfferingKeycloakMembership"))
@api_bp.get("/offering-keycloak-memberships/<uuid>/")
def membership_detail(uuid: str) -> Response:
    membership = lookups.membership_page(g.api_user, uuid)
    return jsonify(serialize_membership(membership, g.api_user.is_staff))


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_create",
            "Grant access: find or create the group (in Keycloak too) and add the user, or keep it pending",
            TAG,
            {"201": json_response("The membership.", ref("OfferingKeycloakMembership")), **error_refs(400, 502)},
            body="OfferingKeycloakMembershipRequest",
        )
    }
)
@api_bp.post("/offering-keycloak-memberships/")
def membership_create() -> tuple[Response, int]:
    body = parse_body(OfferingKeycloakMembershipRequest, json_body())
    offering = lookups.offering_reference(g.api_user, body.offering, "offering")
    command = GrantAccess(
        offering,
        lookups.role_of(offering, body.role),
        lookups.resource_of(offering, body.resource),
        body.scope_id or "",
        body.username,
        body.email or "",
    )
    membership = create_membership(g.api_user, command)
    return jsonify(serialize_membership(membership, g.api_user.is_staff)), 201


@declare(
    lambda: {
        "delete": operation(
            f"{PREFIX}_destroy",
            "Revoke access: remove the user from the Keycloak group (never the group itself)",
            TAG,
            {"204": {"description": "Deleted."}, **error_refs(400, 404, 502)},
        )
    }
)
@api_bp.delete("/offering-keycloak-memberships/<uuid>/")
def membership_delete(uuid: str) -> tuple[str, int]:
    membership = lookups.membership_page(g.api_user, uuid)
    delete_membership(g.api_user, membership)
    return "", 204
