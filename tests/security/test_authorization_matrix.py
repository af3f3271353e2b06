"""Every API endpoint and UI route, for every persona, with the exact status each must get (tables in matrix.py).

A route added to the `api` or `ui` blueprint without a row in the table fails test_every_route_has_a_row.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.factories import World
from webapp.extensions import db
from webapp.models import AuditEvent

from .matrix import (
    GROUPS,
    PERSONAS,
    ROWS,
    Expect,
    Row,
    api_headers,
    build_as,
    check,
    endpoint_of,
    local_group,
    membership,
    send,
    send_api,
    send_ui,
    served_routes,
    sign_in,
)

CELLS = [pytest.param(row, who, id=f"{row.id}-{who}") for row in ROWS for who in PERSONAS]


def audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEvent.id))) or 0


def refused(wanted: Expect) -> bool:
    return wanted.status >= 400 or (wanted.status == 302 and wanted.location == "/login")


def test_every_route_has_a_row(app: Flask) -> None:
    covered = {(r.endpoint, r.method) for r in ROWS}
    served = served_routes(app)
    assert sorted(served - covered) == [], "routes without a row in tests/security/matrix.py"
    assert sorted(covered - served) == [], "rows for routes that no longer exist"


@pytest.mark.parametrize(("row", "who"), CELLS)
def test_access(app: Flask, client: FlaskClient, world: World, row: Row, who: str) -> None:
    call = build_as(row, world, who)
    assert endpoint_of(app, call.url, row.method) == row.endpoint, f"{row.id}: {call.url} is another route"
    if row.is_api:
        before = audit_count()
        response = send_api(client, world, who, row.method, call)
    else:
        csrf = sign_in(client, who)
        before = audit_count()
        response = send_ui(client, row.method, call, csrf)
    wanted = row.expected[who]
    check(response, wanted, world, f"{row.id} as {who}")
    if row.method != "GET" and refused(wanted):
        assert audit_count() == before, f"{row.id} as {who}: a refused request changed something"


# -- HEAD (Flask adds it to every GET route; the published clients' *_count calls use it on lists) -----

GET_ROWS = [pytest.param(r, id=r.id) for r in ROWS if r.method == "GET"]


@pytest.mark.parametrize("row", GET_ROWS)
def test_head_answers_like_get(app: Flask, world: World, row: Row) -> None:
    for who in PERSONAS:
        client = app.test_client()
        call = build_as(row, world, who)
        if row.is_api:
            response = send(client, "HEAD", call.url, headers=api_headers(world, who))
        else:
            sign_in(client, who)
            response = send(client, "HEAD", call.url)
        wanted = row.expected[who]
        assert response.status_code == wanted.status, f"HEAD {row.id} as {who}: {response.status_code}"
        assert response.get_data() == b"", f"HEAD {row.id} as {who} has a body"


# -- lists answer 200 to everyone signed in, but with only what the caller may see ------------------

LISTS = [
    "/api/offerings/",
    f"{GROUPS}/",
    "/api/offering-keycloak-memberships/",
    "/api/offering-keycloak-audit/",
]


@pytest.mark.parametrize("who", ["nobody", "other", "manager", "staff"])
@pytest.mark.parametrize("url", LISTS)
def test_lists_show_only_visible_objects(client: FlaskClient, world: World, url: str, who: str) -> None:
    item = membership(world)  # a group and a membership of world.offering
    victim = local_group(world)  # deleting it leaves an audit event of world.offering
    assert send(client, "DELETE", f"{GROUPS}/{victim.uuid}/", headers=api_headers(world, "staff")).status_code == 204
    response = send(client, "GET", f"{url}?page_size=300", headers=api_headers(world, who))
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    markers = [world.offering.uuid, item.uuid, item.group.uuid]
    visible = any(marker in text for marker in markers)
    assert visible is (who in ("manager", "staff")), f"{url} as {who}: world.offering's objects visible={visible}"


@pytest.mark.parametrize(("who", "sees"), [("nobody", False), ("other", False), ("manager", True), ("staff", True)])
def test_offerings_page_lists_only_managed_offerings(client: FlaskClient, world: World, who: str, sees: bool) -> None:
    sign_in(client, who)
    html = send(client, "GET", "/").get_data(as_text=True)
    assert (world.offering.name in html) is sees
    assert (world.offering.uuid in html) is sees


# -- docs/PRODUCT.md §2: groups are created by import or membership create, never by POST/PUT/PATCH --------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_group_collection_and_detail_refuse_writes(client: FlaskClient, world: World, method: str) -> None:
    group = local_group(world)
    for url in (f"{GROUPS}/", f"{GROUPS}/{group.uuid}/"):
        response = send(client, method, url, json={"name": "x"}, headers=api_headers(world, "staff"))
        assert response.status_code == 405, f"{method} {url}: {response.status_code}"
        assert response.get_json() == {"detail": f'Method "{method}" not allowed.'}
