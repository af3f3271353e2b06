"""GET /api/schema/: the OpenAPI 3 document (built in openapi.py)."""

from flask import Response, jsonify

from . import api_bp
from .docs import declare, head_of, json_response, operation
from .openapi import build_document


def _schema_operations() -> dict[str, dict[str, object]]:
    get = operation(
        "schema_retrieve",
        "This OpenAPI document",
        "schema",
        {"200": json_response("OpenAPI 3.0.3 document.", {"type": "object"})},
        security=[],
    )
    return {"get": get, "head": head_of(get, "schema_retrieve_head")}


@declare(_schema_operations)
@api_bp.get("/schema/")
def schema() -> Response:
    return jsonify(build_document())
