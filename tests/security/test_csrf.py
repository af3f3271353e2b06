"""CSRF: every UI POST needs the page's token (form field or htmx's X-CSRFToken header); the API needs none
because it never accepts the session cookie for writes."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.factories import World
from webapp.extensions import db
from webapp.models import AuditEvent

from .matrix import UNAUTHENTICATED, Row, check, first_rows, send, send_api, send_ui, served_routes, sign_in

UI_POSTS = first_rows("POST", api=False)
API_WRITES = [r for method in ("POST", "PUT", "PATCH", "DELETE") for r in first_rows(method, api=True)]
API_READS = first_rows("GET", api=True)
CSRF_ERROR = "Your form expired or was sent from another site."


def by_id(rows: list[Row]) -> list:  # type: ignore[type-arg]
    return [pytest.param(r, id=r.id) for r in rows]


def audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id))) or 0


def assert_csrf_refused(response, context: str) -> None:  # type: ignore[no-untyped-def]
    """The error page for a plain POST; for htmx, a toast and nothing swapped (never a page in a fragment)."""
    text = response.get_data(as_text=True)
    assert response.status_code == 400, f"{context}: expected 400, got {response.status_code} {text[:200]!r}"
    if response.request.headers.get("HX-Request") == "true":
        assert response.headers["HX-Reswap"] == "none" and text == "", f"{context}: htmx answer swaps {text[:200]!r}"
        assert CSRF_ERROR in json.loads(response.headers["HX-Trigger"])["toast"]["message"], context
    else:
        assert CSRF_ERROR in text, f"{context}: 400 but not the CSRF error page: {text[:300]!r}"


def assert_still_signed_in(client: FlaskClient) -> None:
    assert send(client, "GET", "/tokens").status_code == 200


def test_every_write_route_is_exercised(app: Flask) -> None:
    served = served_routes(app)
    assert sorted(e for e, m in served if e.startswith("ui.") and m == "POST") == sorted(r.endpoint for r in UI_POSTS)
    writes = sorted((e, m) for e, m in served if e.startswith("api.") and m != "GET")
    assert writes == sorted((r.endpoint, r.method) for r in API_WRITES)


# -- UI --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", by_id(UI_POSTS))
def test_ui_post_without_token_is_refused(client: FlaskClient, world: World, row: Row) -> None:
    call = row.build(world, "manager")
    sign_in(client, "manager")
    before = audit_count()
    response = send_ui(client, "POST", call, csrf=None)
    assert_csrf_refused(response, row.id)
    assert audit_count() == before
    assert_still_signed_in(client)  # not even logout went through


@pytest.mark.parametrize("token", ["wrong", "foreign"])
@pytest.mark.parametrize("row", by_id(UI_POSTS))
def test_ui_htmx_post_with_wrong_header_is_refused(
    app: Flask, client: FlaskClient, world: World, row: Row, token: str
) -> None:
    """htmx sends the token in X-CSRFToken; a made-up one, or a valid one of another session, is refused."""
    if token == "foreign":
        token = sign_in(app.test_client(), "staff")
    call = row.build(world, "manager")
    sign_in(client, "manager")
    before = audit_count()
    response = send_ui(client, "POST", call, csrf=None, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert_csrf_refused(response, row.id)
    assert audit_count() == before
    assert_still_signed_in(client)


@pytest.mark.parametrize("row", by_id(UI_POSTS))
def test_ui_htmx_post_with_right_header_passes(client: FlaskClient, world: World, row: Row) -> None:
    """The control for the test above: the page's own token in the header is all an htmx POST needs (asked by
    the manager, or by staff for what only staff may do)."""
    who = "manager" if row.expected["manager"].status < 400 else "staff"
    call = row.build(world, who)
    token = sign_in(client, who)
    response = send_ui(client, "POST", call, csrf=None, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code in (200, 204, 302, 303), f"{row.id}: {response.status_code}"
    assert CSRF_ERROR not in response.get_data(as_text=True)


@pytest.mark.parametrize("row", by_id(UI_POSTS))
def test_anonymous_post_without_token_is_refused_before_login_check(
    client: FlaskClient, world: World, row: Row
) -> None:
    """Flask-WTF's global check runs before login_required: a token-less POST is 400, not a login redirect."""
    response = send_ui(client, "POST", row.build(world, "anonymous"), csrf=None)
    assert_csrf_refused(response, row.id)


# -- API -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", by_id(API_WRITES))
def test_api_write_with_token_needs_no_csrf(client: FlaskClient, world: World, row: Row) -> None:
    response = send_api(client, world, "manager", row.method, row.build(world, "manager"))
    check(response, row.expected["manager"], world, f"{row.id} with a token and no CSRF token")


@pytest.mark.parametrize("with_csrf_header", [False, True], ids=["plain", "with-csrf-header"])
@pytest.mark.parametrize("row", by_id(API_WRITES))
def test_api_write_refuses_session_cookie(client: FlaskClient, world: World, row: Row, with_csrf_header: bool) -> None:
    """A signed-in browser (even one sending its valid CSRF token) cannot write through the API."""
    call = row.build(world, "manager")
    token = sign_in(client, "manager")
    before = audit_count()
    headers = {"X-CSRFToken": token} if with_csrf_header else {}
    response = send_api(client, world, "anonymous", row.method, call, headers=headers)
    check(response, UNAUTHENTICATED, world, f"{row.id} with the session cookie")
    assert audit_count() == before


@pytest.mark.parametrize("row", by_id(API_READS))
def test_api_read_accepts_session_cookie(client: FlaskClient, world: World, row: Row) -> None:
    """docs/PRODUCT.md §2: browser sessions also work for GET."""
    call = row.build(world, "manager")
    sign_in(client, "manager")
    response = send_api(client, world, "anonymous", "GET", call)
    check(response, row.expected["manager"], world, f"{row.id} with the session cookie")
