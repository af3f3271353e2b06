"""/api/offering-keycloak-groups/ (SPEC §3). Thin: parse input, call a service, serialize."""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request
from sqlalchemy import Select
from sqlalchemy.orm import joinedload

from ..models import Offering, OfferingKeycloakGroup, OfferingRole, Resource
from ..services import access, groups, members, remote, sync
from ..services.errors import REQUIRED, RemoteFailure, ValidationFailed
from . import api_bp
from .inputs import bool_param, json_body, uuid_param
from .ordering import apply_ordering
from .pagination import link_headers, page_request, paginated_response, resolve_page
from .shapes import (
    ImportRemoteGroupRequest,
    OfferingKeycloakGroupOut,
    OfferingUUIDRequest,
    RemoteGroupMemberOut,
    RemoteGroupOut,
    SetBackendIdRequest,
    parse_body,
)

GROUP_ORDERING = ("name", "created", "modified", "backend_id", "scope_id")


def _filtered_groups() -> Select[OfferingKeycloakGroup]:
    query = access.visible_groups(g.api_user).options(
        joinedload(OfferingKeycloakGroup.offering),
        joinedload(OfferingKeycloakGroup.role),
        joinedload(OfferingKeycloakGroup.resource),
    )
    if "offering_uuid" in request.args:
        offering = access.offering_from_param(g.api_user, request.args["offering_uuid"])
        query = query.where(OfferingKeycloakGroup.offering_id == offering.id)
    if role_uuid := uuid_param("role_uuid"):
        query = query.join(OfferingRole, OfferingKeycloakGroup.role_id == OfferingRole.id).where(
            OfferingRole.uuid == role_uuid
        )
    if resource_uuid := uuid_param("resource_uuid"):
        query = query.join(Resource, OfferingKeycloakGroup.resource_id == Resource.id).where(
            Resource.uuid == resource_uuid
        )
    if backend_id := request.args.get("backend_id"):
        query = query.where(OfferingKeycloakGroup.backend_id == backend_id)
    if name := request.args.get("name"):
        query = query.where(OfferingKeycloakGroup.name.icontains(name, autoescape=True))
    linked = bool_param("linked")
    if linked is True:
        query = query.where(OfferingKeycloakGroup.backend_id != "")
    elif linked is False:
        query = query.where(OfferingKeycloakGroup.backend_id == "")
    return apply_ordering(query, OfferingKeycloakGroup, GROUP_ORDERING)


@api_bp.get("/offering-keycloak-groups/")
def group_list() -> Response:
    return paginated_response(_filtered_groups(), OfferingKeycloakGroupOut.dump)


@api_bp.get("/offering-keycloak-groups/<uuid>/")
def group_detail(uuid: str) -> Response:
    return jsonify(OfferingKeycloakGroupOut.dump(access.visible_group(g.api_user, uuid)))


@api_bp.delete("/offering-keycloak-groups/<uuid>/")
def group_delete(uuid: str) -> tuple[str, int]:
    group = access.visible_group(g.api_user, uuid)
    delete_remote = bool_param("delete_remote") or False
    groups.delete_group(g.api_user, group, delete_remote=delete_remote)
    return "", 204


@api_bp.post("/offering-keycloak-groups/test_connection/")
def group_test_connection() -> tuple[Response, int]:
    fields = parse_body(OfferingUUIDRequest, json_body())
    offering = access.offering_from_param(g.api_user, fields["offering_uuid"])
    try:
        check = remote.test_connection(offering)
    except RemoteFailure as exc:
        return jsonify({"status": "error", "error": exc.reason}), 502
    body: dict[str, object] = {"status": "ok", "groups_count": len(check.groups), "groups": check.groups}
    if check.missing_root:
        body["missing_offering_group"] = check.missing_root
    return jsonify(body), 200


def _offering_param() -> Offering:
    if not request.args.get("offering_uuid"):
        raise ValidationFailed.field("offering_uuid", REQUIRED)
    return access.offering_from_param(g.api_user, request.args["offering_uuid"])


@api_bp.get("/offering-keycloak-groups/remote_groups/")
def group_remote_groups() -> Response:
    offering = _offering_param()
    found = remote.remote_groups(offering, request.args.get("search", ""))
    return paginated_response(found, RemoteGroupOut.dump)


@api_bp.get("/offering-keycloak-groups/remote_group_members/")
def group_remote_group_members() -> Response:
    offering = _offering_param()
    found = remote.remote_group_members(offering, request.args.get("group_id", "").strip())
    return paginated_response(found, RemoteGroupMemberOut.dump)


@api_bp.get("/offering-keycloak-groups/search_remote_users/")
def group_search_remote_users() -> Response:
    offering = _offering_param()
    default_size = current_app.config["SEARCH_USERS_DEFAULT_LIMIT"]
    wanted = page_request(default_size)
    total, users = remote.search_remote_users(
        offering, request.args.get("q"), first=max(wanted.offset, 0), limit=wanted.size
    )
    page = resolve_page(wanted, total)
    if page.number != wanted.number:  # "last" was asked for: fetch that page now that we know the total
        total, users = remote.search_remote_users(offering, request.args.get("q"), page.offset, page.size)
    response = jsonify([RemoteGroupMemberOut.dump(user) for user in users])
    response.headers.update(link_headers(page, total))
    return response


@api_bp.get("/offering-keycloak-groups/sync_status/")
def group_sync_status() -> Response:
    offering = _offering_param()
    status = sync.sync_status(offering).as_dict()
    response = jsonify(status)
    total = len(status["local_only"]) + len(status["remote_only"]) + len(status["synced"])
    response.headers["X-Result-Count"] = str(total)
    return response


@api_bp.post("/offering-keycloak-groups/import_remote/")
def group_import_remote() -> tuple[Response, int]:
    fields = parse_body(ImportRemoteGroupRequest, json_body())
    offering = access.offering_from_param(g.api_user, fields["offering_uuid"])
    group = groups.import_remote(
        g.api_user,
        offering,
        role_uuid=fields["role_uuid"],
        remote_group_id=fields["remote_group_id"].strip(),
        resource_uuid=fields.get("resource_uuid"),
        scope_id=(fields.get("scope_id") or "").strip(),
    )
    return jsonify(OfferingKeycloakGroupOut.dump(group)), 201


@api_bp.post("/offering-keycloak-groups/<uuid>/set_backend_id/")
def group_set_backend_id(uuid: str) -> Response:
    group = access.visible_group(g.api_user, uuid)
    fields = parse_body(SetBackendIdRequest, json_body())
    group = groups.set_backend_id(
        g.api_user,
        group,
        backend_id=fields.get("backend_id", groups.UNSET),
        resource_uuid=fields.get("resource_uuid", groups.UNSET),
        scope_id=fields.get("scope_id", groups.UNSET),
    )
    return jsonify(OfferingKeycloakGroupOut.dump(group))


@api_bp.post("/offering-keycloak-groups/<uuid>/pull_members/")
def group_pull_members(uuid: str) -> Response:
    group = access.visible_group(g.api_user, uuid)
    return jsonify(members.pull_members(g.api_user, group).as_dict())
