"""No copy of a signed-in page or of an API answer may stay in a cache (item 11 of the security issue).

Pages list members, e-mail addresses and Keycloak settings; API answers carry the same. Without
`Cache-Control: no-store` a shared proxy may keep them, and the browser shows them again from its cache after
logging out (Back on a shared computer). Every route of the app is requested here, through the route table
the authorization matrix keeps complete (tests/security/matrix.py fails when a route has no row), as a
signed-in manager and, for the API, anonymously too (its 401s). Static files keep their caching.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World

from .matrix import API_ROWS, CROSS_OFFERING_ROWS, UI_ROWS, Row, endpoint_of, send, send_api, send_ui, sign_in

NO_STORE = "no-store"
UI = [pytest.param(row, id=row.id) for row in UI_ROWS + CROSS_OFFERING_ROWS if not row.is_api]
API = [pytest.param(row, id=row.id) for row in API_ROWS + CROSS_OFFERING_ROWS if row.is_api]


@pytest.mark.parametrize("row", UI)
def test_every_page_of_a_signed_in_user_is_no_store(app: Flask, client: FlaskClient, world: World, row: Row) -> None:
    call = row.build(world, "manager")
    assert endpoint_of(app, call.url, row.method) == row.endpoint
    csrf = sign_in(client, "manager")
    response = send_ui(client, row.method, call, csrf)
    response.get_data()  # a streamed download is read to its end inside its request, as a browser would
    assert response.status_code == row.expected["manager"].status
    assert response.headers.get("Cache-Control") == NO_STORE, f"{row.id}: {response.headers.get('Cache-Control')}"
    fragment = send_ui(client, row.method, row.build(world, "manager"), csrf, headers={"HX-Request": "true"})
    fragment.get_data()
    assert fragment.headers.get("Cache-Control") == NO_STORE, f"{row.id} (htmx)"


@pytest.mark.parametrize("who", ["anonymous", "manager"])
@pytest.mark.parametrize("row", API)
def test_every_api_answer_is_no_store(client: FlaskClient, world: World, row: Row, who: str) -> None:
    response = send_api(client, world, who, row.method, row.build(world, who))
    response.get_data()
    assert response.status_code == row.expected[who].status
    assert response.headers.get("Cache-Control") == NO_STORE, f"{row.id} as {who}"


def test_api_errors_and_unknown_paths_are_no_store(client: FlaskClient, world: World) -> None:
    headers = world.headers("manager")
    answers = [
        send(client, "GET", "/api/no-such-thing/", headers=headers),  # 404 outside any route
        send(client, "PUT", "/api/offering-keycloak-groups/", headers=headers),  # 405
        send(client, "GET", "/api/offering-keycloak-groups/?page=99", headers=headers),  # 404 invalid page
        send(client, "GET", "/api/offering-keycloak-groups/", headers={"Authorization": "Token wrong"}),  # 401
        send(client, "HEAD", "/api/offering-keycloak-groups/", headers=headers),
    ]
    assert [answer.status_code for answer in answers] == [404, 405, 404, 401, 200]
    assert all(answer.headers.get("Cache-Control") == NO_STORE for answer in answers)


def test_pages_a_signed_in_user_cannot_open_are_no_store_too(client: FlaskClient, world: World) -> None:
    sign_in(client, "manager")
    missing = send(client, "GET", f"/offerings/{world.other_offering.uuid}/groups")
    assert missing.status_code == 404 and missing.headers.get("Cache-Control") == NO_STORE


def test_static_files_keep_their_caching(client: FlaskClient, world: World) -> None:
    sign_in(client, "manager")
    page = send(client, "GET", "/").get_data(as_text=True)
    stylesheet = page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    response = send(client, "GET", stylesheet)
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != NO_STORE
    assert response.headers.get("ETag") or response.headers.get("Last-Modified")
