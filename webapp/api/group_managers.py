"""/api/offering-keycloak-group-managers/ (docs/PRODUCT.md §13): who manages the members of a group.

The offering's managers and staff assign, list and remove them; a group manager asking is answered 403."""

from __future__ import annotations

from flask import Response, g, jsonify, request

from ..services import lookups
from ..services.delegation import managers
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
from .queries import GroupManagerListQuery
from .shapes import GroupManagerOut, GroupManagerRequest

TAG, PREFIX = "offering-keycloak-group-managers", "offering_keycloak_group_managers"


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_create",
            "Let a user manage the members of one group (grant, revoke, pull, members plans), and nothing else",
            TAG,
            {"201": json_response("The delegation.", ref("GroupManager")), **error_refs(400, 502)},
            body="GroupManagerRequest",
        ),
        **paged_list(
            PREFIX, TAG, "GroupManager", [*query_parameters(GroupManagerListQuery), *list_page_parameters()], (400, 404)
        ),
    }
)
@api_bp.route("/offering-keycloak-group-managers/", methods=["GET", "POST"])
def group_manager_list() -> tuple[Response, int] | Response:
    if request.method == "POST":
        body = parse_body(GroupManagerRequest, json_body())
        group = lookups.group_param(g.api_user, body.group_uuid, "group_uuid")
        return jsonify(GroupManagerOut.dump(managers.assign(g.api_user, group, body.username))), 201
    asked = parse_query(GroupManagerListQuery)
    filters = managers.ManagerFilter(lookups.optional_group(g.api_user, asked.group_uuid, "group_uuid"), asked.username)
    return paginated_response(managers.manager_list(g.api_user, filters), GroupManagerOut.dump)


@declare(lambda: detail(PREFIX, TAG, "GroupManager"))
@api_bp.get("/offering-keycloak-group-managers/<uuid>/")
def group_manager_detail(uuid: str) -> Response:
    return jsonify(GroupManagerOut.dump(managers.manager_page(g.api_user, uuid)))


@declare(
    lambda: {
        "delete": operation(
            f"{PREFIX}_destroy",
            "End a delegation: from the next request on, the user sees nothing of the group",
            TAG,
            {"204": {"description": "Deleted."}, **error_refs(404)},
        )
    }
)
@api_bp.delete("/offering-keycloak-group-managers/<uuid>/")
def group_manager_delete(uuid: str) -> tuple[str, int]:
    managers.remove(g.api_user, managers.manager_page(g.api_user, uuid))
    return "", 204
