"""Server-rendered pages (Jinja + htmx). Views are thin: forms in, service calls, templates out."""

from flask import Blueprint, make_response, render_template
from werkzeug.wrappers import Response

from ..services.errors import RemoteFailure, ServiceError
from .htmx import is_htmx

ui_bp = Blueprint("ui", __name__)


@ui_bp.after_request
def vary_on_htmx(response: Response) -> Response:
    # The same URL answers with a page or a fragment depending on HX-Request; caches must know.
    response.vary.add("HX-Request")
    return response


@ui_bp.errorhandler(ServiceError)
def service_error(exc: ServiceError) -> Response:
    """A service error no view turned into words of its own: in place for htmx (400/502 are swapped into the
    request's target), as a page otherwise. Views with a form use helpers.attempt to show it beside the form."""
    status = 502 if isinstance(exc, RemoteFailure) else 400
    if is_htmx():
        return make_response(render_template("_service_error.html", message=exc.message), status)
    title = "Keycloak failed" if status == 502 else "Not done"
    return make_response(render_template("errors/error.html", code=status, title=title, message=exc.message), status)


from . import account_views, auth_views, group_views, member_views, offering_views, token_views  # noqa: E402,F401
