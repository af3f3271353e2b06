"""import_remote, set_backend_id, pull_members and DELETE on /api/offering-keycloak-groups/."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import World
from webapp.extensions import db
from webapp.models import AuditEvent, OfferingKeycloakGroup, OfferingKeycloakMembership

BASE = "/api/offering-keycloak-groups"


def state() -> tuple[list[tuple], list[tuple]]:
    """Everything a failed request must leave untouched."""
    db.session.expire_all()
    groups = sorted(
        (g.uuid, g.name, g.backend_id, g.resource_id, g.scope_id) for g in db.session.query(OfferingKeycloakGroup)
    )
    members = sorted((m.username, m.state, m.email) for m in db.session.query(OfferingKeycloakMembership))
    return groups, members


def import_body(world: World, remote_id: str, **extra) -> dict:
    return {
        "offering_uuid": str(uuid.UUID(world.offering.uuid)),
        "role_uuid": str(uuid.UUID(world.member_role.uuid)),
        "remote_group_id": remote_id,
        **extra,
    }


# -- import_remote --------------------------------------------------------------------------------


def test_import_remote_creates_local_group_named_like_remote(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    calls_before = len(world.realm.groups)
    response = client.post(
        f"{BASE}/import_remote/",
        json=import_body(world, remote_id, resource_uuid=world.resource.uuid),
        headers=world.headers("manager"),
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == "users" and response.json["backend_id"] == remote_id
    assert response.json["resource_uuid"] == world.resource.uuid
    group = db.session.query(OfferingKeycloakGroup).one()
    assert group.origin == "imported"
    assert len(world.realm.groups) == calls_before  # nothing created remotely
    assert db.session.query(AuditEvent).filter_by(action="group.imported").count() == 1


def test_import_remote_validation_order_and_messages(client, world: World) -> None:
    headers = world.headers("manager")
    remote_id = world.realm.add_path("/base/hpc/users")
    post = lambda body: client.post(f"{BASE}/import_remote/", json=body, headers=headers)  # noqa: E731
    before = state()

    assert post({}).json == {
        "offering_uuid": ["This field is required."],
        "role_uuid": ["This field is required."],
        "remote_group_id": ["This field is required."],
    }
    assert post({"offering_uuid": "x", "role_uuid": world.member_role.uuid, "remote_group_id": "r"}).json == {
        "offering_uuid": ["Must be a valid UUID."]
    }
    assert post(import_body(world, remote_id) | {"offering_uuid": world.other_offering.uuid}).json == {
        "offering_uuid": ["Offering not found."]
    }
    assert post(import_body(world, remote_id) | {"role_uuid": world.other_role.uuid}).json == {
        "role_uuid": ["Role not found for this offering."]
    }
    assert post(import_body(world, remote_id, resource_uuid=world.other_resource.uuid)).json == {
        "resource_uuid": ["Resource not found for this offering."]
    }
    scoped = import_body(world, remote_id, resource_uuid=world.resource.uuid, scope_id="c-9") | {
        "role_uuid": world.cluster_role.uuid
    }
    assert list(post(scoped).json) == ["scope_id"]
    assert post(import_body(world, "does-not-exist")).json == {
        "remote_group_id": ["Remote group not found in Keycloak."]
    }
    assert post(import_body(world, str(uuid.uuid4()))).json == {
        "remote_group_id": ["Remote group not found in Keycloak."]
    }
    assert state() == before


def test_import_remote_scoped_role_happy_path(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/c1-admins")
    body = import_body(world, remote_id, resource_uuid=world.resource.uuid, scope_id="c-1") | {
        "role_uuid": world.cluster_role.uuid
    }
    response = client.post(f"{BASE}/import_remote/", json=body, headers=world.headers("manager"))
    assert response.status_code == 201, response.json
    assert response.json["scope_id"] == "c-1" and response.json["role_scope_type"] == "cluster"


def test_import_remote_twice_and_scope_clash_are_400(client, world: World) -> None:
    headers = world.headers("manager")
    first_id = world.realm.add_path("/base/hpc/users")
    second_id = world.realm.add_path("/base/hpc/users-2")
    assert client.post(f"{BASE}/import_remote/", json=import_body(world, first_id), headers=headers).status_code == 201
    again = client.post(f"{BASE}/import_remote/", json=import_body(world, first_id), headers=headers)
    assert again.status_code == 400
    assert again.json == ["A local group already exists for this remote Keycloak group."]
    # Same (offering, role, resource=NULL, scope_id) — Waldur let this through as a duplicate or a 500.
    clash = client.post(f"{BASE}/import_remote/", json=import_body(world, second_id), headers=headers)
    assert clash.status_code == 400
    assert clash.json == ["A local group already exists for this role, resource and scope."]
    assert db.session.query(OfferingKeycloakGroup).count() == 1


def test_import_remote_keycloak_down_is_502_and_changes_nothing(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    world.realm.down = True
    before = state()
    response = client.post(
        f"{BASE}/import_remote/", json=import_body(world, remote_id), headers=world.headers("manager")
    )
    assert response.status_code == 502
    assert response.json["detail"].startswith("Reading the Keycloak group failed: ")
    assert state() == before


def test_import_remote_anonymous_and_not_enabled(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    assert client.post(f"{BASE}/import_remote/", json=import_body(world, remote_id)).status_code == 401
    world.offering.keycloak_enabled = False
    db.session.commit()
    response = client.post(
        f"{BASE}/import_remote/", json=import_body(world, remote_id), headers=world.headers("manager")
    )
    assert response.json == ["Keycloak integration is not enabled for this offering."]


def test_import_remote_rejects_non_object_body(client, world: World) -> None:
    response = client.post(
        f"{BASE}/import_remote/", data="[1]", content_type="application/json", headers=world.headers("manager")
    )
    assert response.status_code == 400 and "non_field_errors" in response.json


# -- set_backend_id -------------------------------------------------------------------------------


def test_set_backend_id_links_and_keeps_absent_fields(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    group = world.add_group("local", role=world.cluster_role, resource=world.resource, scope_id="c-1")
    response = client.post(
        f"{BASE}/{group.uuid}/set_backend_id/", json={"backend_id": remote_id}, headers=world.headers("manager")
    )
    assert response.status_code == 200, response.json
    assert response.json["backend_id"] == remote_id
    # Better than Waldur: an absent scope_id keeps the current value, absent resource_uuid too.
    assert response.json["scope_id"] == "c-1" and response.json["resource_uuid"] == world.resource.uuid


def test_set_backend_id_empty_or_null_unlinks_without_keycloak(client, world: World) -> None:
    group = world.add_group("local", backend_id="gone")
    world.realm.down = True  # proves Keycloak is not called
    for value in ("", None):
        response = client.post(
            f"{BASE}/{group.uuid}/set_backend_id/", json={"backend_id": value}, headers=world.headers("manager")
        )
        assert response.status_code == 200 and response.json["backend_id"] == ""


def test_set_backend_id_resource_null_clears_and_uuid_sets(client, world: World) -> None:
    group = world.add_group("local", resource=world.resource)
    headers = world.headers("manager")
    cleared = client.post(f"{BASE}/{group.uuid}/set_backend_id/", json={"resource_uuid": None}, headers=headers)
    assert cleared.json["resource_uuid"] is None
    set_again = client.post(
        f"{BASE}/{group.uuid}/set_backend_id/",
        json={"resource_uuid": str(uuid.UUID(world.resource.uuid))},
        headers=headers,
    )
    assert set_again.json["resource_uuid"] == world.resource.uuid


def test_set_backend_id_errors(client, world: World) -> None:
    taken_id = world.realm.add_path("/base/hpc/taken")
    world.add_group("owner", backend_id=taken_id, scope_id="a")
    group = world.add_group("local", scope_id="b")
    headers = world.headers("manager")
    url = f"{BASE}/{group.uuid}/set_backend_id/"
    before = state()
    assert client.post(url, json={"backend_id": "nope"}, headers=headers).json == {
        "backend_id": ["Remote group not found in Keycloak."]
    }
    taken = client.post(url, json={"backend_id": taken_id}, headers=headers)
    assert taken.status_code == 400 and "already linked" in taken.json["backend_id"][0]
    assert client.post(url, json={"resource_uuid": world.other_resource.uuid}, headers=headers).json == {
        "resource_uuid": ["Resource not found for this offering."]
    }
    assert client.post(url, json={"scope_id": "a"}, headers=headers).json == [
        "A local group already exists for this role, resource and scope."
    ]
    assert client.post(url, json={"backend_id": taken_id}).status_code == 401
    assert client.post(url, json={"backend_id": taken_id}, headers=world.headers("other")).status_code == 404
    world.realm.down = True
    assert client.post(url, json={"backend_id": taken_id}, headers=headers).status_code == 502
    assert state() == before


# -- pull_members ---------------------------------------------------------------------------------


def seed_members(world: World, group_id: str, names: list[str]) -> dict[str, str]:
    ids = {}
    for name in names:
        ids[name] = world.realm.add_user(name, f"{name}@example.org", name.title(), "Tester")
        world.realm.add_member(group_id, ids[name])
    return ids


def test_pull_members_creates_updates_and_flags_removed(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    ids = seed_members(world, remote_id, ["alice", "bob", "carol"])
    group = world.add_group("users", backend_id=remote_id)
    headers = world.headers("manager")
    url = f"{BASE}/{group.uuid}/pull_members/"

    first = client.post(url, headers=headers)
    assert first.status_code == 200
    assert first.json == {"created": 3, "updated": 0, "unchanged": 0, "removed_remotely": 0, "total_remote": 3}

    world.realm.groups[remote_id].members.remove(ids["carol"])
    world.realm.users[ids["bob"]].email = "bob@new.example.org"
    second = client.post(url, headers=headers).json
    assert second == {"created": 0, "updated": 1, "unchanged": 1, "removed_remotely": 1, "total_remote": 2}
    rows = {m.username: m for m in db.session.query(OfferingKeycloakMembership)}
    assert rows["carol"].state == "removed_remotely" and rows["bob"].email == "bob@new.example.org"

    world.realm.add_member(remote_id, ids["carol"])
    third = client.post(url, headers=headers).json
    assert third["updated"] == 1 and third["removed_remotely"] == 0
    db.session.expire_all()
    assert {m.state for m in db.session.query(OfferingKeycloakMembership)} == {"active"}


def test_pull_members_activates_pending(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    seed_members(world, remote_id, ["dora"])
    group = world.add_group("users", backend_id=remote_id)
    db.session.add(OfferingKeycloakMembership(group=group, username="dora", state="pending"))
    db.session.commit()
    result = client.post(f"{BASE}/{group.uuid}/pull_members/", headers=world.headers("manager")).json
    assert result["updated"] == 1 and result["created"] == 0
    db.session.expire_all()
    assert db.session.query(OfferingKeycloakMembership).one().state == "active"


def test_pull_members_pages_past_100(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/big")
    seed_members(world, remote_id, [f"user{i:03d}" for i in range(250)])
    group = world.add_group("big", backend_id=remote_id)
    result = client.post(f"{BASE}/{group.uuid}/pull_members/", headers=world.headers("manager")).json
    assert result["created"] == 250 and result["total_remote"] == 250


def test_pull_members_errors(client, world: World) -> None:
    unlinked = world.add_group("unlinked", scope_id="1")
    headers = world.headers("manager")
    response = client.post(f"{BASE}/{unlinked.uuid}/pull_members/", headers=headers)
    assert response.status_code == 400
    assert response.json == ["Group is not linked to a remote Keycloak group. Remap it first to set a backend ID."]
    broken = world.add_group("broken", backend_id="missing", scope_id="2")
    assert client.post(f"{BASE}/{broken.uuid}/pull_members/", headers=headers).json == {
        "backend_id": ["Remote group not found in Keycloak."]
    }
    assert client.post(f"{BASE}/{broken.uuid}/pull_members/").status_code == 401
    assert client.post(f"{BASE}/{broken.uuid}/pull_members/", headers=world.headers("other")).status_code == 404


def test_pull_members_keycloak_down_changes_nothing(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    seed_members(world, remote_id, ["alice"])
    group = world.add_group("users", backend_id=remote_id)
    client.post(f"{BASE}/{group.uuid}/pull_members/", headers=world.headers("manager"))
    world.realm.groups[remote_id].members.clear()
    world.realm.down = True
    before = state()
    response = client.post(f"{BASE}/{group.uuid}/pull_members/", headers=world.headers("manager"))
    assert response.status_code == 502
    assert response.json["detail"].startswith("Pulling members from Keycloak failed: ")
    assert state() == before


def test_pull_members_failure_mid_write_rolls_back(client, world: World, monkeypatch) -> None:
    from webapp.services.memberships import pull as members

    remote_id = world.realm.add_path("/base/hpc/users")
    seed_members(world, remote_id, [f"u{i}" for i in range(30)])
    group = world.add_group("users", backend_id=remote_id)
    before = state()
    monkeypatch.setattr(members, "BATCH_SIZE", 10)
    real_execute = db.session.execute
    calls = {"n": 0}

    def failing_execute(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the select, one insert batch, then fail on the second batch
            raise RuntimeError("disk full")
        return real_execute(*args, **kwargs)

    monkeypatch.setattr(db.session, "execute", failing_execute)
    with pytest.raises(RuntimeError):
        members.pull_members(world.manager, group)
    monkeypatch.setattr(db.session, "execute", real_execute)
    assert state() == before


# -- DELETE ---------------------------------------------------------------------------------------


def test_delete_local_only_by_default(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    seed = seed_members(world, remote_id, ["alice"])
    group = world.add_group("users", backend_id=remote_id)
    client.post(f"{BASE}/{group.uuid}/pull_members/", headers=world.headers("manager"))
    response = client.delete(f"{BASE}/{group.uuid}/", headers=world.headers("manager"))
    assert response.status_code == 204
    assert db.session.query(OfferingKeycloakGroup).count() == 0
    assert db.session.query(OfferingKeycloakMembership).count() == 0
    assert remote_id in world.realm.groups and seed["alice"] in world.realm.groups[remote_id].members


def test_delete_remote_only_for_created_groups(client, world: World) -> None:
    created_id = world.realm.add_path("/base/hpc/made-here")
    imported_id = world.realm.add_path("/base/hpc/imported")
    created = world.add_group(
        "made-here", backend_id=created_id, origin="created", scope_id="1", created_backend_id=created_id
    )
    imported = world.add_group("imported", backend_id=imported_id, origin="imported", scope_id="2")
    headers = world.headers("manager")
    refused = client.delete(f"{BASE}/{imported.uuid}/?delete_remote=true", headers=headers)
    assert refused.status_code == 400 and "never deleted in Keycloak" in refused.json["delete_remote"][0]
    assert imported_id in world.realm.groups
    assert client.delete(f"{BASE}/{created.uuid}/?delete_remote=true", headers=headers).status_code == 204
    assert created_id not in world.realm.groups


def test_delete_errors(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    group = world.add_group("users", backend_id=remote_id, created_backend_id=remote_id)
    assert client.delete(f"{BASE}/{group.uuid}/").status_code == 401
    assert client.delete(f"{BASE}/{group.uuid}/", headers=world.headers("other")).status_code == 404
    world.realm.down = True
    down = client.delete(f"{BASE}/{group.uuid}/?delete_remote=true", headers=world.headers("manager"))
    assert down.status_code == 502
    assert db.session.query(OfferingKeycloakGroup).count() == 1


def test_set_backend_id_absent_keeps_the_link(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    group = world.add_group(
        "local", backend_id=remote_id, role=world.cluster_role, resource=world.resource, scope_id="c-1"
    )
    world.realm.down = True  # an unchanged link needs no Keycloak call
    response = client.post(
        f"{BASE}/{group.uuid}/set_backend_id/",
        json={"resource_uuid": world.resource.uuid},
        headers=world.headers("manager"),
    )
    assert response.status_code == 200, response.json
    assert response.json["backend_id"] == remote_id


def test_groups_of_another_offering_in_the_same_realm_are_out_of_reach(client, world: World) -> None:
    """Offerings share a realm: a manager must not import, link or read another offering's groups by id."""
    foreign = world.realm.add_path("/base/other-svc/their-group")
    headers = world.headers("manager")
    imported = client.post(f"{BASE}/import_remote/", json=import_body(world, foreign), headers=headers)
    assert imported.json == {"remote_group_id": ["Remote group not found in Keycloak."]}
    group = world.add_group("local")
    linked = client.post(f"{BASE}/{group.uuid}/set_backend_id/", json={"backend_id": foreign}, headers=headers)
    assert linked.json == {"backend_id": ["Remote group not found in Keycloak."]}
    members = client.get(
        f"{BASE}/remote_group_members/?offering_uuid={world.offering.uuid}&group_id={foreign}", headers=headers
    )
    assert members.json == {"group_id": ["Remote group not found in Keycloak."]}


def test_pull_members_keycloak_failing_on_a_later_page_changes_nothing(client, world: World) -> None:
    """Page 1 is written while page 2 is fetched; page 2 failing must undo page 1 too."""
    from webapp.keycloak.fake_gateway import Fault

    remote_id = world.realm.add_path("/base/hpc/users")
    seed_members(world, remote_id, [f"u{i:03d}" for i in range(150)])
    group = world.add_group("users", backend_id=remote_id)
    world.realm.faults["iter_group_members"] = Fault(after_pages=1)  # the second page of 100 fails
    before = state()
    response = client.post(f"{BASE}/{group.uuid}/pull_members/", headers=world.headers("manager"))
    assert response.status_code == 502
    assert state() == before
