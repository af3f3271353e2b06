"""/api/offering-keycloak-groups/ (docs/PRODUCT.md §3). Thin: parse input, call a service, serialize."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, current_app, g, jsonify

from ..models import OfferingKeycloakGroup
from ..services import lookups
from ..services.commands import KEEP, ChangeLink, ImportGroup
from ..services.errors import RemoteFailure
from ..services.groups import diff, remote
from ..services.groups import register as groups
from ..services.memberships import expiry, pull
from . import api_bp
from .docs import (
    declare,
    detail,
    error_refs,
    header,
    json_response,
    list_page_parameters,
    operation,
    ordering_parameter,
    page_parameters,
    paged_list,
    query_parameters,
    read,
    ref,
)
from .inputs import field_names, json_body, parse_body, parse_query
from .ordering import apply_ordering
from .pagination import link_headers, page_request, paginated_response, resolve_page
from .queries import (
    GroupDeleteQuery,
    GroupListQuery,
    OfferingQuery,
    RemoteGroupMembersQuery,
    RemoteGroupsQuery,
    RemoteUsersQuery,
)
from .shapes import (
    ImportRemoteGroupRequest,
    MembershipPolicyRequest,
    OfferingKeycloakGroupOut,
    OfferingUUIDRequest,
    RemoteGroupMemberOut,
    RemoteGroupOut,
    SetBackendIdRequest,
    SyncStatusOut,
)

if TYPE_CHECKING:
    from sqlalchemy import Select

GROUP_ORDERING = ("name", "created", "modified", "backend_id", "scope_id")
TAG, PREFIX = "offering-keycloak-groups", "offering_keycloak_groups"


def _filtered_groups() -> Select[OfferingKeycloakGroup]:
    asked = parse_query(GroupListQuery)
    filters = groups.GroupFilter(
        lookups.optional_offering(g.api_user, asked.offering_uuid, "offering_uuid"),
        asked.role_uuid,
        asked.resource_uuid,
        asked.backend_id,
        asked.name,
        asked.linked,
    )
    return apply_ordering(groups.group_list(g.api_user, filters), OfferingKeycloakGroup, GROUP_ORDERING)


@declare(
    lambda: paged_list(
        PREFIX,
        TAG,
        "OfferingKeycloakGroup",
        [
            *query_parameters(GroupListQuery),
            ordering_parameter(GROUP_ORDERING),
            *list_page_parameters(),
        ],
        (400, 404),
    )
)
@api_bp.get("/offering-keycloak-groups/")
def group_list() -> Response:
    return paginated_response(_filtered_groups(), OfferingKeycloakGroupOut.dump)


@declare(lambda: detail(PREFIX, TAG, "OfferingKeycloakGroup"))
@api_bp.get("/offering-keycloak-groups/<uuid>/")
def group_detail(uuid: str) -> Response:
    return jsonify(OfferingKeycloakGroupOut.dump(lookups.group_page(g.api_user, uuid)))


@declare(
    lambda: {
        "delete": operation(
            f"{PREFIX}_destroy",
            "Delete a local group and its memberships",
            TAG,
            {"204": {"description": "Deleted."}, **error_refs(400, 404, 502)},
            query_parameters(GroupDeleteQuery),
        )
    }
)
@api_bp.delete("/offering-keycloak-groups/<uuid>/")
def group_delete(uuid: str) -> tuple[str, int]:
    group = lookups.managed_group_page(g.api_user, uuid)
    groups.delete_group(g.api_user, group, delete_remote=parse_query(GroupDeleteQuery).delete_remote)
    return "", 204


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_test_connection",
            "Check the offering's Keycloak connection",
            TAG,
            {
                "200": json_response(
                    "Connected; the offering subtree's groups (none when the offering group is missing).",
                    ref("TestConnectionResponse"),
                ),
                **error_refs(400),
                "502": json_response("Keycloak failed.", ref("TestConnectionError")),
            },
            body="OfferingUUIDRequest",
        )
    }
)
@api_bp.post("/offering-keycloak-groups/test_connection/")
def group_test_connection() -> tuple[Response, int]:
    asked = parse_body(OfferingUUIDRequest, json_body())
    offering = lookups.offering_param(g.api_user, asked.offering_uuid, "offering_uuid")
    try:
        check = remote.test_connection(offering)
    except RemoteFailure as exc:
        return jsonify({"status": "error", "error": exc.reason}), 502
    body: dict[str, object] = {
        "status": "ok",
        "groups_count": len(check.groups),
        "groups": check.groups,
        "keycloak_version": check.server_version,
        "admin_events": check.admin_events.as_dict() | {"words": check.admin_events.words},
    }
    if check.missing_root:
        body["missing_offering_group"] = check.missing_root
    return jsonify(body), 200


@declare(
    lambda: paged_list(
        f"{PREFIX}_remote_groups",
        TAG,
        "RemoteGroup",
        [*query_parameters(RemoteGroupsQuery), *list_page_parameters()],
        (400, 404, 502),
    )
)
@api_bp.get("/offering-keycloak-groups/remote_groups/")
def group_remote_groups() -> Response:
    asked = parse_query(RemoteGroupsQuery)
    offering = lookups.offering_param(g.api_user, asked.offering_uuid, "offering_uuid")
    found = remote.remote_groups(offering, asked.search)
    return paginated_response(found, RemoteGroupOut.dump)


@declare(
    lambda: paged_list(
        f"{PREFIX}_remote_group_members",
        TAG,
        "RemoteGroupMember",
        [*query_parameters(RemoteGroupMembersQuery), *list_page_parameters()],
        (400, 404, 502),
    )
)
@api_bp.get("/offering-keycloak-groups/remote_group_members/")
def group_remote_group_members() -> Response:
    asked = parse_query(RemoteGroupMembersQuery)
    offering = lookups.offering_param(g.api_user, asked.offering_uuid, "offering_uuid")
    with field_names(remote_group="group_id"):
        found = remote.remote_group_members(offering, asked.group_id)
    return paginated_response(found, RemoteGroupMemberOut.dump)


@declare(
    lambda: paged_list(
        f"{PREFIX}_search_remote_users",
        TAG,
        "RemoteGroupMember",
        [
            *query_parameters(RemoteUsersQuery),
            *page_parameters(current_app.config["SEARCH_USERS_DEFAULT_LIMIT"]),
        ],
        (400, 404, 502),
    )
)
@api_bp.get("/offering-keycloak-groups/search_remote_users/")
def group_search_remote_users() -> Response:
    asked = parse_query(RemoteUsersQuery)
    # A group manager searches too: finding whom to add is half of managing a group's members.
    offering = lookups.reached_offering_param(g.api_user, asked.offering_uuid, "offering_uuid")
    default_size = current_app.config["SEARCH_USERS_DEFAULT_LIMIT"]
    wanted = page_request(default_size)
    total, users = remote.search_remote_users(offering, asked.q, first=max(wanted.offset, 0), limit=wanted.size)
    page = resolve_page(wanted, total)
    if page.number != wanted.number:  # "last" was asked for: fetch that page now that we know the total
        total, users = remote.search_remote_users(offering, asked.q, page.offset, page.size)
    response = jsonify([RemoteGroupMemberOut.dump(user) for user in users])
    response.headers.update(link_headers(page, total))
    return response


@declare(
    lambda: read(
        f"{PREFIX}_sync_status",
        TAG,
        "Compare local groups with the offering's Keycloak subtree",
        {
            "200": json_response(
                "Local vs remote, matched by Keycloak id.",
                ref("SyncStatusResponse"),
                {"X-Result-Count": header("X-Result-Count")},
            ),
            **error_refs(400, 502),
        },
        query_parameters(OfferingQuery),
        {"X-Result-Count": header("X-Result-Count")},
        kind="retrieve",
    )
)
@api_bp.get("/offering-keycloak-groups/sync_status/")
def group_sync_status() -> Response:
    offering = lookups.offering_param(g.api_user, parse_query(OfferingQuery).offering_uuid, "offering_uuid")
    status = SyncStatusOut.dump(diff.attributed_sync_status(offering))
    response = jsonify(status)
    total = len(status["local_only"]) + len(status["remote_only"]) + len(status["synced"])
    response.headers["X-Result-Count"] = str(total)
    return response


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_import_remote",
            "Register an existing Keycloak group locally",
            TAG,
            {"201": json_response("The new local group.", ref("OfferingKeycloakGroup")), **error_refs(400, 502)},
            body="ImportRemoteGroupRequest",
        )
    }
)
@api_bp.post("/offering-keycloak-groups/import_remote/")
def group_import_remote() -> tuple[Response, int]:
    body = parse_body(ImportRemoteGroupRequest, json_body())
    offering = lookups.offering_param(g.api_user, body.offering_uuid, "offering_uuid")
    with field_names(role="role_uuid", resource="resource_uuid", remote_group="remote_group_id"):
        command = ImportGroup(
            offering,
            lookups.role_of(offering, body.role_uuid),
            lookups.resource_of(offering, body.resource_uuid),
            (body.scope_id or "").strip(),
            body.remote_group_id.strip(),
        )
        group = groups.import_remote(g.api_user, command)
    return jsonify(OfferingKeycloakGroupOut.dump(group)), 201


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_set_backend_id",
            "Link, re-link or unlink a local group",
            TAG,
            {"200": json_response("The updated group.", ref("OfferingKeycloakGroup")), **error_refs(400, 404, 502)},
            body="SetBackendIdRequest",
            body_required=False,
        )
    }
)
@api_bp.post("/offering-keycloak-groups/<uuid>/set_backend_id/")
def group_set_backend_id(uuid: str) -> Response:
    group = lookups.managed_group_page(g.api_user, uuid)
    body = parse_body(SetBackendIdRequest, json_body())
    given = body.model_fields_set
    with field_names(resource="resource_uuid"):
        change = ChangeLink(
            backend_id=body.backend_id if "backend_id" in given else KEEP,
            resource=lookups.resource_of(group.offering, body.resource_uuid) if "resource_uuid" in given else KEEP,
            scope_id=(body.scope_id or "") if "scope_id" in given else KEEP,
        )
        group = groups.set_backend_id(g.api_user, group, change)
    return jsonify(OfferingKeycloakGroupOut.dump(group))


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_pull_members",
            "Copy the Keycloak group's direct members into local memberships",
            TAG,
            {"200": json_response("Counts.", ref("PullMembersResponse")), **error_refs(400, 404, 502)},
        )
    }
)
@api_bp.post("/offering-keycloak-groups/<uuid>/pull_members/")
def group_pull_members(uuid: str) -> Response:
    group = lookups.group_page(g.api_user, uuid)
    return jsonify(pull.pull_members(g.api_user, group).as_dict())


@declare(
    lambda: {
        "post": operation(
            f"{PREFIX}_set_membership_policy",
            "Set how long a grant in this group lasts by default and at most, in days (null: no default, no maximum)",
            TAG,
            {"200": json_response("The updated group.", ref("OfferingKeycloakGroup")), **error_refs(400, 404)},
            body="MembershipPolicyRequest",
            body_required=False,
        )
    }
)
@api_bp.post("/offering-keycloak-groups/<uuid>/set_membership_policy/")
def group_set_membership_policy(uuid: str) -> Response:
    group = lookups.managed_group_page(g.api_user, uuid)
    body = parse_body(MembershipPolicyRequest, json_body())
    policy = expiry.Policy(body.default_days, body.max_days)
    return jsonify(OfferingKeycloakGroupOut.dump(expiry.set_policy(g.api_user, group, policy)))
