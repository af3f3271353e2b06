"""Proxy actions on /api/offering-keycloak-groups/ against the fake Keycloak: test_connection,
remote_groups, remote_group_members, search_remote_users, sync_status."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import World
from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup

BASE = "/api/offering-keycloak-groups"


def snapshot() -> list[tuple[str, str, str]]:
    return sorted((g.uuid, g.name, g.backend_id) for g in db.session.query(OfferingKeycloakGroup))


# -- test_connection ------------------------------------------------------------------------------


def test_test_connection_lists_offering_subtree(client, world: World) -> None:
    world.realm.add_path("/base/hpc/users")
    world.realm.add_path("/base/hpc/admins/deep")
    world.realm.add_path("/elsewhere")
    response = client.post(
        f"{BASE}/test_connection/", json={"offering_uuid": world.offering.uuid}, headers=world.headers("manager")
    )
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert sorted(response.json["groups"]) == ["admins", "deep", "users"]
    assert response.json["groups_count"] == 3
    assert response.json["keycloak_version"] == "26.7.3"  # what the fake says it is


def test_test_connection_without_offering_group_lists_nothing_and_names_the_path(client, world: World) -> None:
    world.offering.keycloak_base_group = "missing"
    db.session.commit()
    response = client.post(
        f"{BASE}/test_connection/", json={"offering_uuid": world.offering.uuid}, headers=world.headers("manager")
    )
    # Fail closed: never the realm's top-level groups.
    assert response.json == {
        "status": "ok",
        "groups_count": 0,
        "groups": [],
        "keycloak_version": "26.7.3",
        "missing_offering_group": "/missing/hpc",
        "admin_events": {
            "enabled": False,
            "readable": True,
            "details": False,
            "words": "Admin events are off in realm demo: changes made in Keycloak cannot be attributed. Turn them "
            "on (Realm settings → Events → Admin events settings, with Include representation), or below.",
        },
    }


def test_test_connection_errors(client, world: World) -> None:
    headers = world.headers("manager")
    assert client.post(f"{BASE}/test_connection/", json={}, headers=headers).json == {
        "offering_uuid": ["This field is required."]
    }
    hidden = client.post(f"{BASE}/test_connection/", json={"offering_uuid": world.other_offering.uuid}, headers=headers)
    assert hidden.status_code == 400 and hidden.json == {"offering_uuid": ["Offering not found."]}
    assert client.post(f"{BASE}/test_connection/", json={"offering_uuid": world.offering.uuid}).status_code == 401


def test_test_connection_down_is_502(client, world: World) -> None:
    world.realm.down = True
    response = client.post(
        f"{BASE}/test_connection/", json={"offering_uuid": world.offering.uuid}, headers=world.headers("manager")
    )
    assert response.status_code == 502
    assert response.json["status"] == "error"
    assert "Cannot connect" in response.json["error"]


def test_test_connection_bad_credentials_is_502_auth(client, world: World) -> None:
    world.realm.reject_credentials = True
    response = client.post(
        f"{BASE}/test_connection/", json={"offering_uuid": world.offering.uuid}, headers=world.headers("manager")
    )
    assert response.status_code == 502
    assert "Authentication failed" in response.json["error"]


def test_keycloak_not_enabled_is_400(client, world: World) -> None:
    world.offering.keycloak_enabled = False
    db.session.commit()
    for call in (
        lambda h: client.post(f"{BASE}/test_connection/", json={"offering_uuid": world.offering.uuid}, headers=h),
        lambda h: client.get(f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}", headers=h),
        lambda h: client.get(f"{BASE}/sync_status/?offering_uuid={world.offering.uuid}", headers=h),
    ):
        response = call(world.headers("manager"))
        assert response.status_code == 400
        assert response.json == ["Keycloak integration is not enabled for this offering."]


def test_incomplete_settings_are_400_not_500(client, world: World) -> None:
    world.offering.keycloak_url = ""
    db.session.commit()
    response = client.get(
        f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}", headers=world.headers("manager")
    )
    assert response.status_code == 400
    assert "incomplete" in response.json[0]


# -- remote_groups --------------------------------------------------------------------------------


def test_remote_groups_walks_the_whole_subtree(client, world: World) -> None:
    world.realm.add_path("/base/hpc/a/b/c")
    world.realm.add_path("/base/hpc/x")
    world.realm.add_path("/base/other/ignored")
    response = client.get(
        f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}&page_size=50", headers=world.headers("manager")
    )
    assert response.status_code == 200
    by_name = {g["name"]: g for g in response.json}
    assert set(by_name) == {"a", "b", "c", "x"}
    assert by_name["a"]["path"] == "/base/hpc/a" and by_name["a"]["sub_group_count"] == 1
    assert by_name["c"]["path"] == "/base/hpc/a/b/c" and by_name["c"]["sub_group_count"] == 0
    assert response.headers["X-Result-Count"] == "4"


def test_remote_groups_paginates_and_searches(client, world: World) -> None:
    for index in range(15):
        world.realm.add_path(f"/base/hpc/team-{index:02d}")
    headers = world.headers("manager")
    first = client.get(f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}", headers=headers)
    assert len(first.json) == 10 and first.headers["X-Result-Count"] == "15" and 'rel="next"' in first.headers["Link"]
    second = client.get(f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}&page=2", headers=headers)
    assert len(second.json) == 5
    search = client.get(f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}&search=TEAM-1", headers=headers)
    assert sorted(g["name"] for g in search.json) == [f"team-1{i}" for i in range(5)]
    head = client.head(f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}", headers=headers)
    assert head.headers["X-Result-Count"] == "15"


def test_remote_groups_errors(client, world: World) -> None:
    headers = world.headers("manager")
    assert client.get(f"{BASE}/remote_groups/", headers=headers).json == {"offering_uuid": ["This field is required."]}
    assert client.get(f"{BASE}/remote_groups/?offering_uuid={uuid.uuid4()}", headers=headers).json == {
        "offering_uuid": ["Offering not found."]
    }
    assert client.get(f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}").status_code == 401
    world.realm.down = True
    down = client.get(f"{BASE}/remote_groups/?offering_uuid={world.offering.uuid}", headers=headers)
    assert down.status_code == 502
    assert down.json["detail"].startswith("Listing Keycloak groups failed: ")


# -- remote_group_members -------------------------------------------------------------------------


def test_remote_group_members(client, world: World) -> None:
    group_id = world.realm.add_path("/base/hpc/users")
    alice = world.realm.add_user("Alice", "alice@example.org", "Alice", "Liddell")
    bare = world.realm.add_user("bare")
    world.realm.add_member(group_id, alice)
    world.realm.add_member(group_id, bare)
    response = client.get(
        f"{BASE}/remote_group_members/?offering_uuid={world.offering.uuid}&group_id={group_id}",
        headers=world.headers("manager"),
    )
    assert response.status_code == 200
    assert sorted(response.json, key=lambda u: u["username"]) == [
        {"id": alice, "username": "alice", "email": "alice@example.org", "first_name": "Alice", "last_name": "Liddell"},
        {"id": bare, "username": "bare", "email": "", "first_name": "", "last_name": ""},
    ]
    assert response.headers["X-Result-Count"] == "2"


def test_remote_group_members_errors(client, world: World) -> None:
    headers = world.headers("manager")
    url = f"{BASE}/remote_group_members/?offering_uuid={world.offering.uuid}"
    assert client.get(url, headers=headers).json == {"group_id": ["This field is required."]}
    missing = client.get(f"{url}&group_id=nope", headers=headers)
    assert missing.status_code == 400 and missing.json == {"group_id": ["Remote group not found in Keycloak."]}
    world.realm.down = True
    assert client.get(f"{url}&group_id=x", headers=headers).status_code == 502


# -- search_remote_users --------------------------------------------------------------------------


def test_search_remote_users(client, world: World) -> None:
    for name in ("bob", "bobby", "alice"):
        world.realm.add_user(name, f"{name}@example.org")
    headers = world.headers("manager")
    response = client.get(
        f"{BASE}/search_remote_users/?offering_uuid={world.offering.uuid}&q=%20bob%20", headers=headers
    )
    assert response.status_code == 200
    assert [u["username"] for u in response.json] == ["bob", "bobby"]
    assert response.headers["X-Result-Count"] == "2"


def test_search_remote_users_default_page_is_25_and_pages(client, world: World) -> None:
    for index in range(30):
        world.realm.add_user(f"user{index:02d}")
    headers = world.headers("manager")
    url = f"{BASE}/search_remote_users/?offering_uuid={world.offering.uuid}&q=user"
    first = client.get(url, headers=headers)
    assert len(first.json) == 25 and first.headers["X-Result-Count"] == "30"
    second = client.get(f"{url}&page=2", headers=headers)
    assert [u["username"] for u in second.json] == [f"user{i}" for i in range(25, 30)]


def test_search_remote_users_errors(client, world: World) -> None:
    headers = world.headers("manager")
    url = f"{BASE}/search_remote_users/?offering_uuid={world.offering.uuid}"
    assert client.get(url, headers=headers).json == {"q": ["This field is required."]}
    assert client.get(f"{url}&q=%20%20", headers=headers).json == {"q": ["This field is required."]}
    world.realm.down = True
    down = client.get(f"{url}&q=bob", headers=headers)
    assert down.status_code == 502 and down.json["detail"].startswith("Searching Keycloak users failed")


# -- sync_status ----------------------------------------------------------------------------------


def test_sync_status_matches_by_id_not_name(client, world: World) -> None:
    synced_id = world.realm.add_path("/base/hpc/zeta")
    world.realm.add_path("/base/hpc/remote-b")
    world.realm.add_path("/base/hpc/remote-a")
    same_name_id = world.realm.add_path("/base/hpc/local-same-name")
    world.add_group("renamed-locally", backend_id=synced_id, scope_id="1")
    world.add_group("local-same-name", scope_id="2")  # same name as a remote group, but not linked
    world.add_group("broken", backend_id="deadbeef", scope_id="3")
    response = client.get(f"{BASE}/sync_status/?offering_uuid={world.offering.uuid}", headers=world.headers("manager"))
    assert response.status_code == 200
    body = response.json
    assert body["local_only"] == ["broken", "local-same-name"]
    assert body["remote_only"] == ["local-same-name", "remote-a", "remote-b"]
    assert [(s["local_name"], s["remote_name"], s["backend_id"]) for s in body["synced"]] == [
        ("renamed-locally", "zeta", synced_id)
    ]
    broken = {g["name"]: g["broken_link"] for g in body["local_only_groups"]}
    assert broken == {"broken": True, "local-same-name": False}
    assert same_name_id in {g["id"] for g in body["remote_only_groups"]}


def test_sync_status_errors_and_down(client, world: World) -> None:
    headers = world.headers("manager")
    assert client.get(f"{BASE}/sync_status/", headers=headers).status_code == 400
    assert client.get(f"{BASE}/sync_status/?offering_uuid={world.other_offering.uuid}", headers=headers).json == {
        "offering_uuid": ["Offering not found."]
    }
    assert client.get(f"{BASE}/sync_status/?offering_uuid={world.offering.uuid}").status_code == 401
    world.realm.down = True
    response = client.get(f"{BASE}/sync_status/?offering_uuid={world.offering.uuid}", headers=headers)
    assert response.status_code == 502 and "Cannot connect" in response.json["detail"]


@pytest.mark.parametrize("who", ["staff", "manager"])
def test_sync_status_head_counts(client, world: World, who: str) -> None:
    world.realm.add_path("/base/hpc/one")
    head = client.head(f"{BASE}/sync_status/?offering_uuid={world.offering.uuid}", headers=world.headers(who))
    assert head.status_code == 200 and head.headers["X-Result-Count"] == "1"
