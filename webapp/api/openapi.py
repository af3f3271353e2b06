"""The OpenAPI 3.0.3 document at /api/schema/ (docs/PRODUCT.md §2): every endpoint of the `api` blueprint, as served.

Assembled from the route registry: each route's operations are declared beside its handler (`docs.declare`),
and the shapes come from shapes.py. Operation ids follow the published Waldur client (waldur-api-client 8.0.x)
where it has the call: `_list` and `_count` (HEAD) on lists, `_retrieve` on details; HEAD on a detail is
`<retrieve id>_head`.

tests/api/test_openapi.py checks the document against `app.url_map` and validates real responses against it,
so a route added without a declaration fails the tests.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

from .docs import (
    DECLARATIONS,
    ERROR_RESPONSES,
    TOKEN_ONLY,
    PathItem,
    Schema,
    array,
    integer,
    json_response,
    obj,
    ref,
    session_cookie_name,
    string,
    uuid_path_parameter,
)
from .shapes import component_schemas

CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def error_schemas() -> dict[str, Schema]:
    return {
        "FieldErrors": {
            "type": "object",
            "additionalProperties": array(string()),
            "description": 'Messages per field, e.g. {"offering_uuid": ["Offering not found."]}.',
        },
        "ErrorList": array(string(), 'Messages, e.g. ["Keycloak integration is not enabled for this offering."].'),
        "ValidationError": {"oneOf": [ref("FieldErrors"), ref("ErrorList")]},
        "TestConnectionError": obj(
            {"status": string(enum=["error"]), "error": string("What failed, short and secret-free.")}
        ),
    }


def schemas() -> dict[str, Schema]:
    return {**component_schemas(), **error_schemas()}


def component_responses() -> dict[str, Schema]:
    detail = ref("Detail")
    unauthorized = json_response(ERROR_RESPONSES[401][1], detail)
    unauthorized["headers"] = {"WWW-Authenticate": {"schema": string(enum=["Token"])}}
    return {
        "ValidationError": json_response(ERROR_RESPONSES[400][1], ref("ValidationError")),
        "Unauthorized": unauthorized,
        "Forbidden": json_response(ERROR_RESPONSES[403][1], detail),
        "NotFound": json_response(ERROR_RESPONSES[404][1], detail),
        "MethodNotAllowed": json_response('{"detail": "Method \\"POST\\" not allowed."}', detail),
        "Conflict": json_response(ERROR_RESPONSES[409][1], detail),
        "ItemsRemoved": json_response(ERROR_RESPONSES[410][1], detail),
        "TooManyJobs": json_response(ERROR_RESPONSES[429][1], detail),
        "QueueUnavailable": json_response(ERROR_RESPONSES[503][1], detail),
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


def paths() -> dict[str, PathItem]:
    """Every route of the api blueprint, with the operations declared beside its handler."""
    found: dict[str, PathItem] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        build = DECLARATIONS.get(rule.endpoint)
        if build is None:
            raise LookupError(f"{rule.endpoint} has no OpenAPI declaration (webapp/api/docs.py: declare)")
        found.setdefault(CONVERTER.sub(r"{\1}", rule.rule), {}).update(build())
    return found


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
            {"name": "offering-keycloak-group-managers"},
            {"name": "offerings", "description": "Read-only targets of the URLs in group representations."},
            {"name": "schema"},
        ],
        "paths": with_path_details(paths()),
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
