"""One place that decides between a full page and an htmx fragment (CONVENTIONS 9)."""

from __future__ import annotations

import json
from typing import Any

from flask import make_response, redirect, render_template, request
from werkzeug.wrappers import Response


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """An htmx request for a piece of the page; boosted navigation, and htmx restoring a page of its history
    (Back after `hx-push-url`, when its cache no longer has the page), still get the whole page."""
    return (
        is_htmx()
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


FRAGMENT_PAGE = "offerings/fragment_page.html"  # the one page that wraps a fragment for plain requests


def render(page: str, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    template = fragment if fragment and wants_fragment() else page
    return make_response(render_template(template, fragment=fragment, **context), status)


def redirect_to(url: str) -> Response:
    """Post/Redirect/Get for plain forms; HX-Location for fragment requests."""
    if wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Location"] = json.dumps({"path": url, "target": "body"})
        return response
    return redirect(url, code=303)


def add_toast(response: Response, message: str, level: str = "success") -> Response:
    """Add a toast event to HX-Trigger, keeping any event already there."""
    events: dict[str, Any] = {}
    existing = response.headers.get("HX-Trigger", "")
    if existing:
        try:
            parsed = json.loads(existing)
        except ValueError:
            parsed = None
        # HX-Trigger is either JSON ({"event": detail}) or a comma-separated list of event names.
        events = parsed if isinstance(parsed, dict) else {name.strip(): None for name in existing.split(",") if name}
    events["toast"] = {"message": message, "level": level}
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def toast_only(message: str, status: int, level: str = "error") -> Response:
    """An htmx answer that changes nothing on the page (HX-Reswap: none) and says why in a toast."""
    response = make_response("", status)
    response.headers["HX-Reswap"] = "none"
    return add_toast(response, message, level)


def htmx_redirect(url: str, status: int = 200) -> Response:
    """Send the whole browser elsewhere (the login page, say) instead of swapping a page into a fragment."""
    response = make_response("", status)
    response.headers["HX-Redirect"] = url
    return response
