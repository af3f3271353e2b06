"""Signing in and sending forms like a browser does, shared by tests/ui and tests/security.

The tests share one app context with every request they make, so `g` would carry per-request state from one
request (and one client) to the next: flask-login's cached user, flask-wtf's generated CSRF token and its
csrf_valid flag, the API user. Real requests never share it, so each request here starts with an empty g.
"""

from __future__ import annotations

import re
from typing import Any

from flask import g
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def send(client: FlaskClient, method: str, url: str, **kwargs: Any) -> TestResponse:
    vars(g).clear()
    return client.open(url, method=method, **kwargs)


def page_csrf_token(response: TestResponse) -> str | None:
    match = CSRF_META.search(response.get_data(as_text=True))
    return match.group(1) if match else None


def csrf_token_of(response: TestResponse) -> str:
    token = page_csrf_token(response)
    assert token, f"no CSRF token on {response.request.path} ({response.status_code})"
    return token


def log_in(client: FlaskClient, username: str, password: str) -> TestResponse:
    """The login form, filled in and sent with the page's CSRF token."""
    token = csrf_token_of(send(client, "GET", "/login"))
    return send(client, "POST", "/login", data={"csrf_token": token, "username": username, "password": password})
