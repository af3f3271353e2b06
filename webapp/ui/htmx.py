"""One place that decides between a full page and an htmx fragment (CONVENTIONS 9)."""

from __future__ import annotations

import json
from typing import Any

from flask import make_response, redirect, render_template, request
from werkzeug.wrappers import Response


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """An htmx request for a piece of the page; boosted navigation still gets the whole page."""
    return is_htmx() and request.headers.get("HX-Boosted") != "true"


def render(page: str, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    template = fragment if fragment and wants_fragment() else page
    return make_response(render_template(template, **context), status)


def redirect_to(url: str) -> Response:
    """Post/Redirect/Get for plain forms; HX-Location for fragment requests."""
    if wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Location"] = json.dumps({"path": url, "target": "body"})
        return response
    return redirect(url, code=303)


def add_toast(response: Response, message: str, level: str = "success") -> Response:
    response.headers["HX-Trigger"] = json.dumps({"toast": {"message": message, "level": level}})
    return response
