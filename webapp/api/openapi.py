"""The OpenAPI 3.0.3 document served at /api/schema/ (SPEC §2): every endpoint of the `api` blueprint, as served.

Operation ids follow the published Waldur client (waldur-api-client 8.0.x) where it has the call: `_list` and
`_count` (HEAD) on lists, `_retrieve` on details. Calls Waldur never had get ids in the same style; HEAD on a
detail, which Flask answers for every GET route, is `<retrieve id>_head`.

tests/api/test_openapi.py checks the document against `app.url_map` and validates real responses against it,
so a route added without a matching entry here fails the tests.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import current_app, has_app_context

from .audit import AUDIT_ORDERING
from .groups import GROUP_ORDERING
from .memberships import MEMBERSHIP_ORDERING
from .shapes import component_schemas

Schema = dict[str, Any]

JSON = "application/json"
GROUPS = "/api/offering-keycloak-groups/"
MEMBERSHIPS = "/api/offering-keycloak-memberships/"
TOKEN_ONLY: list[dict[str, list[str]]] = [{"TokenAuth": []}]
TOKEN_OR_SESSION: list[dict[str, list[str]]] = [{"TokenAuth": []}, {"SessionAuth": []}]

ERROR_RESPONSES = {
    400: ("ValidationError", "Invalid input: field errors, or a list of messages."),
    401: ("Unauthorized", "Missing or invalid credentials."),
    404: ("NotFound", "Not found, not visible to the caller, or a page past the last."),
    405: ("MethodNotAllowed", "The method is not served on this path."),
    502: ("KeycloakUnavailable", "Keycloak could not be reached, timed out or refused our credentials."),
}


def _setting(name: str, fallback: int) -> int:
    return int(current_app.config.get(name, fallback)) if has_app_context() else fallback


def session_cookie_name() -> str:
    return str(current_app.config.get("SESSION_COOKIE_NAME", "session")) if has_app_context() else "session"


# -- schema helpers ---------------------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def described(schema: Schema, description: str = "", nullable: bool = False) -> Schema:
    if description:
        schema["description"] = description
    if nullable:
        schema["nullable"] = True
    return schema


def string(description: str = "", nullable: bool = False, **extra: Any) -> Schema:
    return described({"type": "string", **extra}, description, nullable)


def uuid(description: str = "", nullable: bool = False) -> Schema:
    return string(description or "32-character hex (input also accepts the hyphenated form).", nullable, format="uuid")


def url(description: str = "", nullable: bool = False) -> Schema:
    return string(description, nullable, format="uri")


def timestamp(description: str = "") -> Schema:
    return string(description, format="date-time")


def integer(description: str = "", **extra: Any) -> Schema:
    return described({"type": "integer", **extra}, description)


def boolean(description: str = "") -> Schema:
    return described({"type": "boolean"}, description)


def array(items: Schema, description: str = "") -> Schema:
    return described({"type": "array", "items": items}, description)


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """An object; every property is required (always present in responses) unless `required` says otherwise."""
    required = list(properties) if required is None else required
    schema: Schema = {"type": "object", "properties": properties}
    return {**schema, "required": required} if required else schema


# -- component schemas: declared once in shapes.py; errors here -----------------------------------


def error_schemas() -> dict[str, Schema]:
    return {
        "FieldErrors": {
            "type": "object",
            "additionalProperties": array(string()),
            "description": 'Messages per field, e.g. {"offering_uuid": ["Offering not found."]}.',
        },
        "ErrorList": array(string(), 'Messages, e.g. ["Keycloak integration is not enabled for this offering."].'),
        "ValidationError": {"oneOf": [ref("FieldErrors"), ref("ErrorList")]},
        "Detail": obj({"detail": string()}),
        "TestConnectionError": obj(
            {"status": string(enum=["error"]), "error": string("What failed, short and secret-free.")}
        ),
    }


def schemas() -> dict[str, Schema]:
    return {**component_schemas(), **error_schemas()}


# -- parameters -------------------------------------------------------------------------------------


def query(name: str, schema: Schema, description: str = "", required: bool = False, **extra: Any) -> Schema:
    parameter: Schema = {"name": name, "in": "query", "required": required, "schema": schema, **extra}
    if description:
        parameter["description"] = description
    return parameter


def page_parameters(default_size: int) -> list[Schema]:
    max_size = _setting("API_MAX_PAGE_SIZE", 300)
    page = {"oneOf": [integer(minimum=1), string(enum=["last"])]}
    return [
        query("page", page, '1-based page number, or "last". A page past the last is 404 {"detail": "Invalid page."}.'),
        query(
            "page_size",
            integer(minimum=1, default=default_size),
            f"Items per page; larger values are capped at {max_size}.",
        ),
    ]


def list_page_parameters() -> list[Schema]:
    return page_parameters(_setting("API_DEFAULT_PAGE_SIZE", 10))


def ordering_parameter(fields: tuple[str, ...]) -> Schema:
    choices = [choice for name in fields for choice in (name, f"-{name}")]
    return query(
        "o",
        array(string(enum=choices)),
        "Ordering, comma-separated; '-' for descending. Default -created; unknown names are ignored.",
        style="form",
        explode=False,
    )


def uuid_filter(name: str, description: str = "") -> Schema:
    return query(name, uuid(), description or f'Malformed is 400 {{"{name}": ["Must be a valid UUID."]}}.')


def offering_filter(required: bool = False) -> Schema:
    return query(
        "offering_uuid",
        uuid(),
        'Unknown or not visible is 400 {"offering_uuid": ["Offering not found."]}.',
        required=required,
    )


def uuid_path_parameter() -> Schema:
    return {
        "name": "uuid",
        "in": "path",
        "required": True,
        "schema": uuid(),
        "description": "Hex with or without hyphens; anything else is 404.",
    }


# -- responses --------------------------------------------------------------------------------------


def header(name: str) -> Schema:
    return {"$ref": f"#/components/headers/{name}"}


PAGE_HEADERS = {"X-Result-Count": header("X-Result-Count"), "Link": header("Link")}


def json_response(description: str, schema: Schema, headers: dict[str, Schema] | None = None) -> Schema:
    response: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def page_response(item: str) -> Schema:
    return json_response(f"One page of {item} objects.", array(ref(item)), PAGE_HEADERS)


def error_refs(*codes: int) -> dict[str, Schema]:
    return {str(code): {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"} for code in codes}


def component_responses() -> dict[str, Schema]:
    detail = ref("Detail")
    unauthorized = json_response(ERROR_RESPONSES[401][1], detail)
    unauthorized["headers"] = {"WWW-Authenticate": {"schema": string(enum=["Token"])}}
    return {
        "ValidationError": json_response(ERROR_RESPONSES[400][1], ref("ValidationError")),
        "Unauthorized": unauthorized,
        "NotFound": json_response(ERROR_RESPONSES[404][1], detail),
        "MethodNotAllowed": json_response('{"detail": "Method \\"POST\\" not allowed."}', detail),
        "KeycloakUnavailable": json_response('{"detail": "<what failed>: <reason>"}', detail),
    }


def component_headers() -> dict[str, Schema]:
    return {
        "X-Result-Count": {"description": "Total number of items over all pages.", "schema": integer()},
        "Link": {
            "description": 'RFC 8288 links: <url>; rel="first", "prev", "next" (when they exist) and "last".',
            "schema": string(),
        },
    }


# -- operations -------------------------------------------------------------------------------------


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Schema],
    parameters: list[Schema] | None = None,
    body: str | None = None,
    body_required: bool = True,
    security: list[dict[str, list[str]]] | None = None,
) -> Schema:
    op: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"required": body_required, "content": {JSON: {"schema": ref(body)}}}
    op["responses"] = {**responses, **({} if security == [] else error_refs(401))}
    op["security"] = TOKEN_ONLY if security is None else security
    return op


def head_of(get: Schema, operation_id: str, headers: dict[str, Schema] | None = None) -> Schema:
    """The HEAD twin of a GET: same parameters and statuses, the 200's headers, never a body."""
    head = copy.deepcopy(get)
    head["operationId"] = operation_id
    head["summary"] = f"{get['summary']}: headers only (HEAD)"
    responses: dict[str, Schema] = {}
    for status, response in get["responses"].items():
        if "$ref" in response:  # an error: same status, no body
            responses[status] = {"description": f"{ERROR_RESPONSES[int(status)][1]} No body."}
        elif status == "200":
            responses[status] = {"description": "Headers only, no body."}
            if headers:
                responses[status]["headers"] = headers
    head["responses"] = responses
    return head


def read(
    prefix: str,
    tag: str,
    summary: str,
    responses: dict[str, Schema],
    parameters: list[Schema] | None = None,
    count_headers: dict[str, Schema] | None = None,
    kind: str = "list",
) -> dict[str, Schema]:
    """GET and HEAD for one path. Lists: `<prefix>_list` / `<prefix>_count`; details: `_retrieve` / `_retrieve_head`."""
    get_id = f"{prefix}_{kind}"
    head_id = f"{prefix}_count" if count_headers is not None else f"{get_id}_head"
    get = operation(get_id, summary, tag, responses, parameters, security=TOKEN_OR_SESSION)
    return {"get": get, "head": head_of(get, head_id, count_headers)}


def detail(prefix: str, tag: str, item: str) -> dict[str, Schema]:
    responses = {"200": json_response(item, ref(item)), **error_refs(404)}
    return read(prefix, tag, f"Retrieve one {item}", responses, kind="retrieve")


def paged_list(
    prefix: str, tag: str, item: str, parameters: list[Schema], errors: tuple[int, ...]
) -> dict[str, Schema]:
    responses = {"200": page_response(item), **error_refs(*errors)}
    return read(prefix, tag, f"List {item} objects", responses, parameters, PAGE_HEADERS)


# -- paths ------------------------------------------------------------------------------------------


def group_paths() -> dict[str, dict[str, Schema]]:
    tag, prefix = "offering-keycloak-groups", "offering_keycloak_groups"
    remote_page = list_page_parameters()
    group_filters = [
        offering_filter(),
        uuid_filter("role_uuid"),
        uuid_filter("resource_uuid"),
        query("backend_id", string(), "Exact Keycloak group id."),
        query("name", string(), "Case-insensitive substring of the name."),
        query("linked", boolean(), "true: has a backend_id; false: unlinked. Also 1/0, yes/no."),
        ordering_parameter(GROUP_ORDERING),
        *list_page_parameters(),
    ]
    destroy = operation(
        f"{prefix}_destroy",
        "Delete a local group and its memberships",
        tag,
        {"204": {"description": "Deleted."}, **error_refs(400, 404, 502)},
        [
            query(
                "delete_remote",
                boolean(),
                "Also delete the Keycloak group; only for groups created here (imported: 400).",
            )
        ],
    )
    test_connection = operation(
        f"{prefix}_test_connection",
        "Check the offering's Keycloak connection",
        tag,
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
    remote_groups = paged_list(
        f"{prefix}_remote_groups",
        tag,
        "RemoteGroup",
        [offering_filter(True), query("search", string(), "Case-insensitive substring of the name."), *remote_page],
        (400, 404, 502),
    )
    remote_members = paged_list(
        f"{prefix}_remote_group_members",
        tag,
        "RemoteGroupMember",
        [
            offering_filter(True),
            query("group_id", string(minLength=1), "Keycloak group id; unknown is 400 on group_id.", required=True),
            *remote_page,
        ],
        (400, 404, 502),
    )
    search_size = _setting("SEARCH_USERS_DEFAULT_LIMIT", 25)
    search_users = paged_list(
        f"{prefix}_search_remote_users",
        tag,
        "RemoteGroupMember",
        [
            offering_filter(True),
            query(
                "q", string(minLength=1), "Matches username, email, first or last name; blank is 400.", required=True
            ),
            *page_parameters(search_size),
        ],
        (400, 404, 502),
    )
    sync_status = read(
        f"{prefix}_sync_status",
        tag,
        "Compare local groups with the offering's Keycloak subtree",
        {
            "200": json_response(
                "Local vs remote, matched by Keycloak id.",
                ref("SyncStatusResponse"),
                {"X-Result-Count": header("X-Result-Count")},
            ),
            **error_refs(400, 502),
        },
        [offering_filter(True)],
        {"X-Result-Count": header("X-Result-Count")},
        kind="retrieve",
    )
    import_remote = operation(
        f"{prefix}_import_remote",
        "Register an existing Keycloak group locally",
        tag,
        {"201": json_response("The new local group.", ref("OfferingKeycloakGroup")), **error_refs(400, 502)},
        body="ImportRemoteGroupRequest",
    )
    set_backend_id = operation(
        f"{prefix}_set_backend_id",
        "Link, re-link or unlink a local group",
        tag,
        {"200": json_response("The updated group.", ref("OfferingKeycloakGroup")), **error_refs(400, 404, 502)},
        body="SetBackendIdRequest",
        body_required=False,
    )
    pull_members = operation(
        f"{prefix}_pull_members",
        "Copy the Keycloak group's direct members into local memberships",
        tag,
        {"200": json_response("Counts.", ref("PullMembersResponse")), **error_refs(400, 404, 502)},
    )
    group_detail = detail(prefix, tag, "OfferingKeycloakGroup")
    return {
        GROUPS: paged_list(prefix, tag, "OfferingKeycloakGroup", group_filters, (400, 404)),
        GROUPS + "{uuid}/": {**group_detail, "delete": destroy},
        GROUPS + "test_connection/": {"post": test_connection},
        GROUPS + "remote_groups/": remote_groups,
        GROUPS + "remote_group_members/": remote_members,
        GROUPS + "search_remote_users/": search_users,
        GROUPS + "sync_status/": sync_status,
        GROUPS + "import_remote/": {"post": import_remote},
        GROUPS + "{uuid}/set_backend_id/": {"post": set_backend_id},
        GROUPS + "{uuid}/pull_members/": {"post": pull_members},
    }


def membership_paths() -> dict[str, dict[str, Schema]]:
    tag, prefix = "offering-keycloak-memberships", "offering_keycloak_memberships"
    filters = [
        uuid_filter("group_uuid"),
        offering_filter(),
        uuid_filter("role_uuid"),
        uuid_filter("resource_uuid"),
        query("username", string(), "Exact, case-insensitive."),
        query("email", string(), "Exact, case-insensitive."),
        query("first_name", string(), "Case-insensitive substring."),
        query("last_name", string(), "Case-insensitive substring."),
        query(
            "state", array(ref("MembershipState")), "Repeatable; any of the given states.", style="form", explode=True
        ),
        ordering_parameter(MEMBERSHIP_ORDERING),
        *list_page_parameters(),
    ]
    create = operation(
        f"{prefix}_create",
        "Grant access: find or create the group (in Keycloak too) and add the user, or keep it pending",
        tag,
        {"201": json_response("The membership.", ref("OfferingKeycloakMembership")), **error_refs(400, 502)},
        body="OfferingKeycloakMembershipRequest",
    )
    destroy = operation(
        f"{prefix}_destroy",
        "Revoke access: remove the user from the Keycloak group (never the group itself)",
        tag,
        {"204": {"description": "Deleted."}, **error_refs(400, 404, 502)},
    )
    return {
        MEMBERSHIPS: {
            **paged_list(prefix, tag, "OfferingKeycloakMembership", filters, (400, 404)),
            "post": create,
        },
        MEMBERSHIPS + "{uuid}/": {**detail(prefix, tag, "OfferingKeycloakMembership"), "delete": destroy},
    }


def audit_paths() -> dict[str, dict[str, Schema]]:
    tag = "offering-keycloak-audit"
    filters = [
        offering_filter(),
        query("action", string(), "Exact action name, e.g. group.imported."),
        query("actor", string(), "Username of who did it."),
        ordering_parameter(AUDIT_ORDERING),
        *list_page_parameters(),
    ]
    return {
        "/api/offering-keycloak-audit/": paged_list("offering_keycloak_audit", tag, "AuditEvent", filters, (400, 404))
    }


def catalog_paths() -> dict[str, dict[str, Schema]]:
    """Read-only offerings, roles and resources: the targets of the URLs in the representations above."""
    tag = "offerings"
    return {
        "/api/offerings/": paged_list("offerings", tag, "Offering", list_page_parameters(), (404,)),
        "/api/offerings/{uuid}/": detail("offerings", tag, "Offering"),
        "/api/offering-roles/{uuid}/": detail("offering_roles", tag, "OfferingRole"),
        "/api/resources/{uuid}/": detail("resources", tag, "Resource"),
    }


def schema_paths() -> dict[str, dict[str, Schema]]:
    get = operation(
        "schema_retrieve",
        "This OpenAPI document",
        "schema",
        {"200": json_response("OpenAPI 3.0.3 document.", {"type": "object"})},
        security=[],
    )
    return {"/api/schema/": {"get": get, "head": head_of(get, "schema_retrieve_head")}}


def with_path_details(paths: dict[str, dict[str, Schema]]) -> dict[str, dict[str, Any]]:
    """Declare `{uuid}` once per path, and say which other methods answer 405."""
    result: dict[str, dict[str, Any]] = {}
    for path, operations in paths.items():
        served = sorted(method.upper() for method in operations)
        item: dict[str, Any] = {
            "description": f"Serves {', '.join(served)} (and OPTIONS); any other method is 405 "
            '{"detail": "Method \\"<METHOD>\\" not allowed."}.',
            **operations,
        }
        if "{uuid}" in path:
            item["parameters"] = [uuid_path_parameter()]
        result[path] = item
    return result


def build_document() -> dict[str, Any]:
    paths = {**group_paths(), **membership_paths(), **audit_paths(), **catalog_paths(), **schema_paths()}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Offering Keycloak Groups",
            "version": "1",
            "description": "Waldur-compatible API for offerings whose access control lives in Keycloak groups. "
            "Lists are bare JSON arrays with `Link` and `X-Result-Count` headers; HEAD answers the headers only.",
        },
        "tags": [
            {"name": "offering-keycloak-groups"},
            {"name": "offering-keycloak-memberships"},
            {"name": "offering-keycloak-audit"},
            {"name": "offerings", "description": "Read-only targets of the URLs in group representations."},
            {"name": "schema"},
        ],
        "paths": with_path_details(paths),
        "components": {
            "schemas": schemas(),
            "responses": component_responses(),
            "headers": component_headers(),
            "securitySchemes": {
                "TokenAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Token <key>",
                },
                "SessionAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": session_cookie_name(),
                    "description": "The web UI's login session; accepted for GET and HEAD only.",
                },
            },
        },
        "security": TOKEN_ONLY,
    }
