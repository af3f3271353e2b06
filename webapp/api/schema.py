"""GET /api/schema/: the OpenAPI 3 document (built in openapi.py)."""

from flask import Response, jsonify

from . import api_bp
from .openapi import build_document


@api_bp.get("/schema/")
def schema() -> Response:
    return jsonify(build_document())
