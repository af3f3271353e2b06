"""What the OpenAPI document says about each route, declared beside its handler.

Handlers carry `@declare(lambda: ...)` with their operations (summary, parameters, responses); openapi.py
walks the route registry and assembles the document from these declarations and the shapes in shapes.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app
from pydantic import BaseModel

from .shapes import openapi30

Schema = dict[str, Any]
PathItem = dict[str, Schema]
F = TypeVar("F", bound=Callable[..., Any])

JSON = "application/json"
TOKEN_ONLY: list[dict[str, list[str]]] = [{"TokenAuth": []}]
TOKEN_OR_SESSION: list[dict[str, list[str]]] = [{"TokenAuth": []}, {"SessionAuth": []}]
ERROR_RESPONSES = {
    400: ("ValidationError", "Invalid input: field errors, or a list of messages."),
    401: ("Unauthorized", "Missing or invalid credentials."),
    403: (
        "Forbidden",
        "The caller manages only some groups of this offering, and this is the offering managers' work; "
        "the detail says so.",
    ),
    404: ("NotFound", "Not found, not visible to the caller, or a page past the last."),
    405: ("MethodNotAllowed", "The method is not served on this path."),
    409: ("Conflict", "Something changed or is running meanwhile; the detail says what."),
    410: ("ItemsRemoved", "The items were removed after the retention period; the plan keeps its counts."),
    429: ("TooManyJobs", "Too many jobs of this offering are waiting; nothing was queued."),
    503: ("QueueUnavailable", "The job queue cannot be reached; nothing was started."),
    502: ("KeycloakUnavailable", "Keycloak could not be reached, timed out or refused our credentials."),
}

# endpoint ("api.<function>") -> builder of its path item entries; filled as the handler modules are imported
DECLARATIONS: dict[str, Callable[[], PathItem]] = {}


def declare(build: Callable[[], PathItem]) -> Callable[[F], F]:
    """Attach the OpenAPI operations of one handler (built lazily: some read the app's settings)."""

    def register(handler: F) -> F:
        DECLARATIONS[f"api.{handler.__name__}"] = build
        return handler

    return register


# -- schema helpers ---------------------------------------------------------------------------------


def _setting(name: str) -> int:
    """The app's own setting: the document is built per request, so it says what this deployment does."""
    return int(current_app.config[name])


def session_cookie_name() -> str:
    return str(current_app.config["SESSION_COOKIE_NAME"])


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


# -- parameters -------------------------------------------------------------------------------------


def query(name: str, schema: Schema, description: str = "", required: bool = False, **extra: Any) -> Schema:
    parameter: Schema = {"name": name, "in": "query", "required": required, "schema": schema, **extra}
    if description:
        parameter["description"] = description
    return parameter


def query_parameters(model: type[BaseModel]) -> list[Schema]:
    """The query parameters of one endpoint, from its query model (queries.py): name, schema, description,
    required; a list field is a repeatable parameter."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # the enums it refers to are components already
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = openapi30(prop)
        description = prop.pop("description", "")
        if prop.get("default") is None or prop.get("default") == "" or prop.get("default") == []:
            prop.pop("default", None)
        prop.pop("nullable", None)  # absent, not null
        extra = {"style": "form", "explode": True} if prop.get("type") == "array" else {}
        parameters.append(query(name, prop, description, required=name in required, **extra))
    return parameters


def page_parameters(default_size: int) -> list[Schema]:
    max_size = _setting("API_MAX_PAGE_SIZE")
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
    return page_parameters(_setting("API_DEFAULT_PAGE_SIZE"))


def ordering_parameter(fields: tuple[str, ...]) -> Schema:
    choices = [choice for name in fields for choice in (name, f"-{name}")]
    return query(
        "o",
        array(string(enum=choices)),
        "Ordering, comma-separated; '-' for descending. Default -created; unknown names are ignored.",
        style="form",
        explode=False,
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
    op["responses"] = {**responses, **({} if security == [] else error_refs(401, 403))}
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
    prefix: str, tag: str, item: str, parameters: list[Schema], errors: tuple[int, ...], csv: bool = False
) -> dict[str, Schema]:
    """`csv`: the list also answers `?format=csv`, every matching row (page and page_size ignored), streamed."""
    page = page_response(item)
    if csv:
        parameters = [*parameters, CSV_FORMAT]
        page["content"][CSV] = {"schema": string(description=f"Every matching {item}, one per row, with a header.")}
    responses = {"200": page, **error_refs(*errors)}
    return read(prefix, tag, f"List {item} objects", responses, parameters, PAGE_HEADERS)


CSV = "text/csv"
CSV_FORMAT: Schema = {
    "name": "format",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["json", "csv"]},
    "description": "csv: every matching row as a spreadsheet-safe CSV download (page and page_size ignored).",
}
