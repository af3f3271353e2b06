"""/api/offering-keycloak-memberships/ (docs/PRODUCT.md §4): list and retrieve."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from flask import Response, g, jsonify

from ..models import OfferingKeycloakMembership
from ..services import lookups
from ..services.commands import GrantAccess
from ..services.memberships import expiry
from ..services.memberships import pages as member_pages
from ..services.memberships.grants import create_membership, delete_membership
from . import api_bp
from .docs import (
    declare,
    detail,
    error_refs,
    json_response,
    list_page_parameters,
    operation,
    ordering_parameter,
    paged_list,
    query_parameters,
    ref,
)
from .formats import list_response
from .inputs import json_body, parse_body, parse_query
from .ordering import apply_ordering
from .queries import MembershipListQuery
from .shapes import (
    OfferingKeycloakMembershipOut,
    OfferingKeycloakMembershipRequest,
    RenewRequest,
    serialize_membership,
)

if TYPE_CHECKING:
    from sqlalchemy import Select

MEMBERSHIP_ORDERING = ("username", "email", "state", "created", "modified", "last_checked")
TAG, PREFIX = "offering-keycloak-memberships", "offering_keycloak_memberships"


def _filtered() -> Select[OfferingKeycloakMembership]:
    asked = parse_query(MembershipListQuery)
    filters = member_pages.MembershipFilter(
        asked.group_uuid,
        lookups.optional_offering(g.api_user, asked.offering_uuid, "offering_uuid"),
        asked.role_uuid,
        asked.resource_uuid,
        asked.username,
        asked.email,
        asked.q,
        asked.first_name,
        asked.last_name,
        tuple(state.value for state in asked.state),
    )
    found = member_pages.membership_list(g.api_user, filters)
    return apply_ordering(found, OfferingKeycloakMembership, MEMBERSHIP_ORDERING)


@declare(
    lambda: paged_list(
        PREFIX,
        TAG,
        "OfferingKeycloakMembership",
        [
            *query_parameters(MembershipListQuery),
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
    offering = lookups.reached_offering_reference(g.api_user, body.offering, "offering")
    command = GrantAccess(
        offering,
        lookups.role_of(offering, body.role),
        lookups.resource_of(offering, body.resource),
        body.scope_id or "",
        body.username,
        body.email or "",
        body.expires_at,
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


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_renew",
            "Set a new end for a membership that has not ended (at most the group's max_days from now)",
            TAG,
            {"200": json_response("The membership.", ref("OfferingKeycloakMembership")), **error_refs(400, 404)},
            body="RenewRequest",
            body_required=False,
        )
    }
)
@api_bp.post("/offering-keycloak-memberships/<uuid>/renew/")
def membership_renew(uuid: str) -> Response:
    membership = lookups.membership_page(g.api_user, uuid)
    body = parse_body(RenewRequest, json_body())
    renewed = expiry.renew(g.api_user, membership, body.expires_at)
    return jsonify(serialize_membership(renewed, g.api_user.is_staff))
