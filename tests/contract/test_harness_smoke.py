"""Smoke tests for the real-Keycloak test harness (tests/realkeycloak.py + scripts/keycloak-dev).

Needs Java and Maven (the first run downloads and builds Keycloak) or ``KEYCLOAK_URL`` pointing at a
running server.  A server this module starts itself is stopped again at the end; one that was
already running is left alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.realkeycloak import RealRealm, start_server, stop_server

pytestmark = [pytest.mark.keycloak, pytest.mark.xdist_group("harness-smoke")]  # one module realm

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def realm():
    server, started_by_us = start_server(REPO_ROOT)
    try:
        realm = server.create_realm(access_token_lifespan=120)
        try:
            yield realm
        finally:
            realm.delete()
            assert realm.name not in server.list_realms()
    finally:
        if started_by_us:
            stop_server(REPO_ROOT)


def test_realm_settings(realm: RealRealm):
    rep = realm.admin("GET", "").json()
    assert rep["realm"] == realm.name
    assert rep["enabled"] is True
    assert rep["accessTokenLifespan"] == 120


def test_add_path_builds_three_levels(realm: RealRealm):
    leaf = realm.add_path("/smoke/level2/level3")
    got = realm.admin("GET", "/group-by-path/smoke/level2/level3").json()
    assert got["id"] == leaf
    assert got["path"] == "/smoke/level2/level3"
    # idempotent: existing groups are reused, a new branch hangs under the same parents
    assert realm.add_path("/smoke/level2/level3") == leaf
    other = realm.add_path("/smoke/level2/other")
    assert other != leaf
    parent = realm.admin("GET", "/group-by-path/smoke/level2").json()
    children = realm.children(parent["id"])  # /children on 23+, inline subGroups on 22
    assert sorted(c["name"] for c in children) == ["level3", "other"]


def test_add_group_duplicate_sibling_raises(realm: RealRealm):
    top = realm.add_group("dup-parent")
    realm.add_group("child", top)
    with pytest.raises(Exception) as info:
        realm.add_group("child", top)
    assert getattr(info.value, "status_code", None) == 409


def test_add_user_and_member(realm: RealRealm):
    group = realm.add_path("/members/direct")
    uid = realm.add_user("Alice", "Alice@Example.org", "Alice", "Liddell")
    assert realm.user_id("alice") == uid
    realm.add_member(group, uid)
    realm.add_member(group, uid)  # idempotent
    assert realm.group_members(group) == ["alice"]
    user = realm.admin("GET", f"/users/{uid}").json()
    assert (user["email"], user["firstName"], user["lastName"]) == ("alice@example.org", "Alice", "Liddell")


def test_add_users_bulk(realm: RealRealm):
    group = realm.add_path("/bulk/users")
    users = [
        {
            "username": f"bulk{i:04d}",
            "email": f"bulk{i:04d}@example.org",
            "first_name": "Bulk",
            "last_name": str(i),
        }
        for i in range(250)
    ]
    realm.add_users_bulk(users, group_paths=["/bulk/users"])
    members = realm.group_members(group)
    assert len(members) == 250
    assert sorted(members) == sorted(u["username"] for u in users)
    # existing users are skipped, not duplicated or failed
    realm.add_users_bulk(users[:10], group_paths=["/bulk/users"])
    assert len(realm.group_members(group)) == 250


def test_add_groups_bulk(realm: RealRealm):
    realm.add_groups_bulk(
        [
            {
                "name": "tree",
                "subGroups": [{"name": f"n{i}", "subGroups": [{"name": "leaf"}]} for i in range(30)],
            }
        ]
    )
    got = realm.admin("GET", "/group-by-path/tree/n29/leaf").json()
    assert got["path"] == "/tree/n29/leaf"
    count = realm.admin("GET", "/groups/count", params={"search": "tree"}).json()
    assert count["count"] >= 1


def test_service_account_can_list_groups(realm: RealRealm):
    resp = requests.post(
        realm.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": realm.client_id,
            "client_secret": realm.client_secret,
        },
        timeout=30,
        verify=realm.server.verify,
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    base = f"{realm.server.url}/admin/realms/{realm.name}"
    headers = {"Authorization": f"Bearer {token}"}
    groups = requests.get(f"{base}/groups", headers=headers, timeout=30, verify=realm.server.verify)
    assert groups.status_code == 200, groups.text
    assert isinstance(groups.json(), list)
    users = requests.get(f"{base}/users", params={"max": 1}, headers=headers, timeout=30, verify=realm.server.verify)
    assert users.status_code == 200, users.text
    # a wrong secret is refused
    bad = requests.post(
        realm.token_url,
        data={"grant_type": "client_credentials", "client_id": realm.client_id, "client_secret": "nope"},
        timeout=30,
        verify=realm.server.verify,
    )
    assert bad.status_code == 401
