"""The Waldur-compatible JSON API (docs/PRODUCT.md §2 to §4)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from ..auth import AuthError, api_user
from ..services.errors import (
    Conflict,
    Gone,
    NotAllowed,
    ObjectNotFound,
    Refused,
    RemoteFailure,
    TooBusy,
    Unavailable,
    ValidationFailed,
)
from .pagination import InvalidPage

api_bp = Blueprint("api", __name__, url_prefix="/api")


@api_bp.before_request
def authenticate() -> Response | None:
    from flask import request

    if request.endpoint == "api.schema":
        return None
    try:
        g.api_user = api_user()
    except AuthError as exc:
        response = jsonify({"detail": exc.detail})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Token"
        return response
    return None


@api_bp.errorhandler(ValidationFailed)
def validation_failed(exc: ValidationFailed) -> tuple[Response, int]:
    return jsonify(exc.errors), 400


@api_bp.errorhandler(ObjectNotFound)
def object_not_found(_exc: ObjectNotFound) -> tuple[Response, int]:
    return jsonify({"detail": "Not found."}), 404


@api_bp.errorhandler(NotAllowed)
def not_allowed(exc: NotAllowed) -> tuple[Response, int]:
    return jsonify({"detail": exc.message}), 403


@api_bp.errorhandler(InvalidPage)
def invalid_page(_exc: InvalidPage) -> tuple[Response, int]:
    return jsonify({"detail": "Invalid page."}), 404


@api_bp.errorhandler(Refused)
def refused(exc: Refused) -> tuple[Response, int]:
    return jsonify({"detail": exc.message}), 400


@api_bp.errorhandler(Conflict)
def conflict(exc: Conflict) -> tuple[Response, int]:
    return jsonify({"detail": exc.message}), 409


@api_bp.errorhandler(TooBusy)
def too_busy(exc: TooBusy) -> tuple[Response, int]:
    return jsonify({"detail": exc.message}), 429


@api_bp.errorhandler(Gone)
def gone(exc: Gone) -> tuple[Response, int]:
    return jsonify({"detail": exc.message}), 410


@api_bp.errorhandler(Unavailable)
def unavailable(exc: Unavailable) -> tuple[Response, int]:
    return jsonify({"detail": exc.message}), 503


@api_bp.errorhandler(RemoteFailure)
def remote_failure(exc: RemoteFailure) -> tuple[Response, int]:
    return jsonify({"detail": exc.message}), 502


from . import audit, catalog, group_managers, groups, jobs, memberships, plans, reviews, schema  # noqa: E402,F401  (routes register on import)
