"""The API end to end on a real Keycloak 26: groups, members, memberships, and Keycloak dying mid-request."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership
from webapp.services.memberships.periodic import sync_pending

from .conftest import RealWorld

GROUPS = "/api/offering-keycloak-groups"
MEMBERSHIPS = "/api/offering-keycloak-memberships/"


def state() -> tuple:
    db.session.expire_all()
    return (
        sorted((g.name, g.backend_id) for g in db.session.query(OfferingKeycloakGroup)),
        sorted((m.username, m.state) for m in db.session.query(OfferingKeycloakMembership)),
    )


def test_groups_flow(client, real: RealWorld) -> None:
    headers = real.world.headers("manager")
    offering = real.world.offering.uuid
    team = real.realm.add_path("/base/hpc/teams/team-a")
    real.realm.add_path("/base/hpc/teams/team-b")
    real.realm.add_users_bulk(
        [{"username": f"user{i:03d}", "email": f"u{i}@example.org"} for i in range(130)], ["/base/hpc/teams/team-a"]
    )

    connection = client.post(f"{GROUPS}/test_connection/", json={"offering_uuid": offering}, headers=headers)
    assert connection.status_code == 200 and sorted(connection.json["groups"]) == ["team-a", "team-b", "teams"]
    remote = client.get(f"{GROUPS}/remote_groups/?offering_uuid={offering}", headers=headers).json
    assert {g["path"] for g in remote} == {"/base/hpc/teams", "/base/hpc/teams/team-a", "/base/hpc/teams/team-b"}

    imported = client.post(
        f"{GROUPS}/import_remote/",
        headers=headers,
        json={"offering_uuid": offering, "role_uuid": real.world.member_role.uuid, "remote_group_id": team},
    )
    assert imported.status_code == 201
    pulled = client.post(f"{GROUPS}/{imported.json['uuid']}/pull_members/", headers=headers).json
    assert pulled["created"] == 130 and pulled["total_remote"] == 130

    status = client.get(f"{GROUPS}/sync_status/?offering_uuid={offering}", headers=headers).json
    assert [s["backend_id"] for s in status["synced"]] == [team]
    assert status["remote_only"] == ["team-b", "teams"]

    missing = client.post(
        f"{GROUPS}/import_remote/",
        headers=headers,
        json={
            "offering_uuid": offering,
            "role_uuid": real.world.cluster_role.uuid,
            "resource_uuid": real.world.resource.uuid,
            "scope_id": "c-1",
            "remote_group_id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert missing.status_code == 400 and missing.json == {"remote_group_id": ["Remote group not found in Keycloak."]}
    users = client.get(f"{GROUPS}/search_remote_users/?offering_uuid={offering}&q=user12", headers=headers)
    assert [u["username"] for u in users.json] == [f"user12{i}" for i in range(10)]
    assert sum(g.token_requests for g in real.gateways) == 1  # one token for the whole flow


def test_membership_lifecycle(client, real: RealWorld) -> None:
    headers = real.world.headers("manager")
    body = {"offering": real.world.offering.uuid, "role": real.world.member_role.uuid, "email": ""}
    real.realm.add_user("bobby", "bobby@example.org")
    real.realm.add_user("carol", "carol@example.org", "Carol", "C")

    granted = client.post(MEMBERSHIPS, json=body | {"username": "carol"}, headers=headers)
    assert granted.status_code == 201 and granted.json["state"] == "active"
    group = db.session.query(OfferingKeycloakGroup).one()
    assert real.realm.group_members(group.backend_id) == ["carol"]

    bob = client.post(MEMBERSHIPS, json=body | {"username": "bob"}, headers=headers)
    assert bob.status_code == 201 and bob.json["state"] == "pending"  # bobby is not bob
    assert real.realm.group_members(group.backend_id) == ["carol"]

    real.realm.add_user("bob", "bob@example.org")
    summary = sync_pending()
    assert summary.activated == 1
    assert sorted(real.realm.group_members(group.backend_id)) == ["bob", "carol"]

    revoked = client.delete(f"{MEMBERSHIPS}{granted.json['uuid']}/", headers=headers)
    assert revoked.status_code == 204
    assert real.realm.group_members(group.backend_id) == ["bob"]
    assert real.realm.group_by_path(f"/base/hpc/{group.name}")["id"] == group.backend_id  # group kept


def test_keycloak_down_is_502_and_changes_nothing(client, real: RealWorld) -> None:
    headers = real.world.headers("manager")
    offering = real.world.offering.uuid
    team = real.realm.add_path("/base/hpc/team")
    real.proxy.cut()
    before = state()
    for response in (
        client.get(f"{GROUPS}/sync_status/?offering_uuid={offering}", headers=headers),
        client.post(
            f"{GROUPS}/import_remote/",
            headers=headers,
            json={"offering_uuid": offering, "role_uuid": real.world.member_role.uuid, "remote_group_id": team},
        ),
        client.post(
            MEMBERSHIPS,
            headers=headers,
            json={"offering": offering, "role": real.world.member_role.uuid, "username": "x", "email": ""},
        ),
    ):
        assert response.status_code == 502, response.json
        assert "Cannot connect to Keycloak" in response.json["detail"]
    connection = client.post(f"{GROUPS}/test_connection/", json={"offering_uuid": offering}, headers=headers)
    assert connection.status_code == 502 and connection.json["status"] == "error"
    assert state() == before


def test_keycloak_dies_mid_membership_creation(client, real: RealWorld, monkeypatch) -> None:
    """Group created in Keycloak, then Keycloak dies before the user is added: a recorded pending row."""
    from webapp.keycloak.admin_gateway import AdminGateway

    headers = real.world.headers("manager")
    real.realm.add_user("dora")
    original = AdminGateway.find_user_by_username

    def find_then_die(self, username):
        found = original(self, username)
        real.proxy.cut()
        return found

    monkeypatch.setattr(AdminGateway, "find_user_by_username", find_then_die)
    response = client.post(
        MEMBERSHIPS,
        headers=headers,
        json={
            "offering": real.world.offering.uuid,
            "role": real.world.member_role.uuid,
            "username": "dora",
            "email": "",
        },
    )
    assert response.status_code == 502 and "saved as pending" in response.json["detail"]
    monkeypatch.undo()
    group = db.session.query(OfferingKeycloakGroup).one()
    membership = db.session.query(OfferingKeycloakMembership).one()
    assert membership.state == "pending" and membership.error_message
    assert real.realm.group_by_path(f"/base/hpc/{group.name}")["id"] == group.backend_id  # linked, not orphaned

    real.proxy.restore()
    assert sync_pending().activated == 1
    assert real.realm.group_members(group.backend_id) == ["dora"]


def test_wrong_credentials_say_authentication_failed(client, real: RealWorld) -> None:
    from webapp.crypto import encrypt

    real.world.offering.keycloak_password_encrypted = encrypt("wrong")
    db.session.commit()
    response = client.post(
        f"{GROUPS}/test_connection/",
        json={"offering_uuid": real.world.offering.uuid},
        headers=real.world.headers("manager"),
    )
    assert response.status_code == 502
    assert response.json == {"status": "error", "error": "Authentication failed: Keycloak rejected the credentials"}


def test_connection_dropped_part_way_through_a_pull_changes_nothing(client, real: RealWorld, monkeypatch) -> None:
    """The proxy drops Keycloak after the first page of members: 502, and the first page is not kept."""
    from webapp.keycloak.admin_gateway import AdminGateway

    headers = real.world.headers("manager")
    team = real.realm.add_path("/base/hpc/big-team")
    real.realm.add_users_bulk([{"username": f"m{i:03d}"} for i in range(140)], ["/base/hpc/big-team"])
    group = real.world.add_group("big-team", backend_id=team)
    original = AdminGateway._get_json
    calls = {"members": 0}

    def drop_after_first_page(self, path, **params):
        if path.endswith("/members"):
            calls["members"] += 1
            if calls["members"] == 2:
                real.proxy.cut()
        return original(self, path, **params)

    monkeypatch.setattr(AdminGateway, "_get_json", drop_after_first_page)
    before = state()
    response = client.post(f"{GROUPS}/{group.uuid}/pull_members/", headers=headers)
    assert response.status_code == 502
    assert response.json["detail"].startswith("Pulling members from Keycloak failed: ")
    assert state() == before


def test_slow_keycloak_ends_within_the_timeout(client, real: RealWorld) -> None:
    """A Keycloak that accepts connections but never answers: the request ends after the offering's timeout."""
    import time

    from tests.silent_server import silent_server

    with silent_server() as port:
        real.world.offering.keycloak_url = f"http://127.0.0.1:{port}/"
        real.world.offering.keycloak_timeout = 2
        db.session.commit()
        started = time.monotonic()
        response = client.get(
            f"{GROUPS}/sync_status/?offering_uuid={real.world.offering.uuid}", headers=real.world.headers("manager")
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 502 and "did not answer within 2 s" in response.json["detail"]
    assert elapsed < 2 * 2 + 2  # the token request and at most one retry, each bounded by the timeout
