"""Text no column can hold is a 400 on every database, never a 500 (PostgreSQL refuses NUL characters)."""

from __future__ import annotations

import pytest

from tests.factories import World
from webapp.extensions import db
from webapp.models import OfferingKeycloakMembership


@pytest.mark.parametrize(
    "url",
    [
        "/api/offering-keycloak-groups/?name=a%00b",
        "/api/offering-keycloak-groups/?backend_id=%00",
        "/api/offering-keycloak-memberships/?username=%00",
        "/api/offering-keycloak-audit/?actor=x%00",
    ],
)
def test_nul_in_query_is_400(client, world: World, url: str) -> None:
    response = client.get(url, headers=world.headers("manager"))
    assert response.status_code == 400
    assert list(response.json.values()) == [["Null characters are not allowed."]]


def test_nul_in_json_body_is_400_and_changes_nothing(client, world: World) -> None:
    body = {"offering": world.offering.uuid, "role": world.member_role.uuid, "username": "a\x00b", "email": ""}
    response = client.post("/api/offering-keycloak-memberships/", json=body, headers=world.headers("manager"))
    assert response.status_code == 400 and response.json == {"username": ["Null characters are not allowed."]}
    assert db.session.query(OfferingKeycloakMembership).count() == 0


def test_too_long_text_is_400(client, world: World) -> None:
    body = {"offering": world.offering.uuid, "role": world.member_role.uuid, "username": "u" * 256, "email": ""}
    response = client.post("/api/offering-keycloak-memberships/", json=body, headers=world.headers("manager"))
    assert response.status_code == 400
    assert response.json == {"username": ["Ensure this field has no more than 255 characters."]}
