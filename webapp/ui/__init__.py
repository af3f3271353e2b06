"""Server-rendered pages (Jinja + htmx). Views are thin: forms in, service calls, templates out."""

from flask import Blueprint, make_response, render_template
from flask_login import current_user
from werkzeug.wrappers import Response

from ..htmx import is_htmx
from ..models import Offering
from ..services import access
from ..services.errors import ServiceError
from .helpers import status_of

ui_bp = Blueprint("ui", __name__)


@ui_bp.after_request
def vary_on_htmx(response: Response) -> Response:
    # The same URL answers with a page or a fragment depending on HX-Request; caches must know.
    response.vary.add("HX-Request")
    return response


@ui_bp.app_context_processor
def offering_reach() -> dict[str, object]:
    """`manages(offering)`: whether the signed-in user may do everything with it (the offering header shows its
    tabs), or only manages some of its groups (a way back to My groups)."""

    def manages(offering: Offering) -> bool:
        return bool(current_user.is_authenticated) and access.manages(current_user, offering)

    return {"manages": manages}


@ui_bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    """A service error no view turned into words of its own: in place for htmx (400/502 are swapped into the
    request's target), as a page otherwise. Views with a form use helpers.attempt to show it beside the form."""
    status = status_of(exc)
    if is_htmx():
        return make_response(render_template("_service_error.html", message=exc.message), status)
    title = {502: "Keycloak failed", 409: "Changed meanwhile"}.get(status, "Not done")
    return make_response(render_template("errors/error.html", code=status, title=title, message=exc.message), status)


from . import (  # noqa: E402,F401
    account_views,
    auth_views,
    delegation_views,
    expiry_views,
    export_views,
    group_views,
    job_views,
    member_views,
    offering_views,
    overview_views,
    plan_views,
    review_views,
    token_views,
)
