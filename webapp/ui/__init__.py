"""Server-rendered pages (Jinja + htmx). Views are thin: forms in, service calls, templates out."""

from flask import Blueprint, Response

ui_bp = Blueprint("ui", __name__)


@ui_bp.after_request
def vary_on_htmx(response: Response) -> Response:
    # The same URL answers with a page or a fragment depending on HX-Request; caches must know.
    response.vary.add("HX-Request")
    return response


from . import account_views, auth_views, group_views, member_views, offering_views, token_views  # noqa: E402,F401
