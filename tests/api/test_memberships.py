"""/api/offering-keycloak-memberships/: list, retrieve, create, delete (docs/PRODUCT.md §4) on the fake Keycloak."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import World
from webapp.extensions import db
from webapp.keycloak.fake_gateway import Fault
from webapp.models import AuditEvent, OfferingKeycloakGroup, OfferingKeycloakMembership

BASE = "/api/offering-keycloak-memberships/"


def body(world: World, username: str = "alice", **extra) -> dict:
    return {
        "offering": str(uuid.UUID(world.offering.uuid)),
        "role": world.member_role.uuid,
        "username": username,
        "email": f"{username}@example.org",
        **extra,
    }


def snapshot(world: World) -> tuple:
    db.session.expire_all()
    groups = sorted((g.name, g.backend_id) for g in db.session.query(OfferingKeycloakGroup))
    members = sorted((m.username, m.state) for m in db.session.query(OfferingKeycloakMembership))
    remote = sorted(world.realm.path_of(gid) for gid in world.realm.groups)
    return groups, members, remote


def test_create_makes_group_in_keycloak_and_adds_existing_user(client, world: World) -> None:
    alice = world.realm.add_user("alice", "alice@example.org", "Alice", "A")
    response = client.post(BASE, json=body(world), headers=world.headers("manager"))
    assert response.status_code == 201, response.json
    assert response.json["state"] == "active" and response.json["first_name"] == "Alice"
    group = db.session.query(OfferingKeycloakGroup).one()
    assert group.origin == "created" and group.name == f"{world.offering.uuid}_member"
    assert world.realm.path_of(group.backend_id) == f"/base/hpc/{group.name}"
    assert alice in world.realm.groups[group.backend_id].members
    assert db.session.query(AuditEvent).filter_by(action="membership.created").count() == 1


def test_create_uses_name_template_and_creates_missing_parents(client, world: World) -> None:
    world.offering.keycloak_group_name_template = "${offering_slug}-${role_name}"
    world.offering.keycloak_base_group = "new-base/deeper"
    db.session.commit()
    response = client.post(BASE, json=body(world, "ghost"), headers=world.headers("manager"))
    assert response.status_code == 201 and response.json["state"] == "pending"
    group = db.session.query(OfferingKeycloakGroup).one()
    assert world.realm.path_of(group.backend_id) == "/new-base/deeper/hpc/hpc-member"


def test_exact_username_match_bob_vs_bobby(client, world: World) -> None:
    world.realm.add_user("bobby")
    response = client.post(BASE, json=body(world, "bob"), headers=world.headers("manager"))
    assert response.json["state"] == "pending"  # Waldur's substring search would have added bobby
    group = db.session.query(OfferingKeycloakGroup).one()
    assert world.realm.groups[group.backend_id].members == []


def test_duplicate_is_400(client, world: World) -> None:
    world.realm.add_user("alice")
    assert client.post(BASE, json=body(world), headers=world.headers("manager")).status_code == 201
    again = client.post(BASE, json=body(world, "ALICE"), headers=world.headers("manager"))
    assert again.status_code == 400 and again.json == ["This keycloak membership already exists."]


def test_create_validation(client, world: World) -> None:
    headers = world.headers("manager")
    before = snapshot(world)
    assert client.post(BASE, json={}, headers=headers).json == {
        "offering": ["This field is required."],
        "role": ["This field is required."],
        "username": ["This field is required."],
    }
    assert client.post(BASE, json=body(world) | {"offering": world.other_offering.uuid}, headers=headers).json == {
        "offering": ["Offering not found."]
    }
    assert client.post(BASE, json=body(world) | {"role": world.other_role.uuid}, headers=headers).json == {
        "role": ["Role not found for this offering."]
    }
    assert client.post(BASE, json=body(world, resource=world.other_resource.uuid), headers=headers).json == {
        "resource": ["Resource not found for this offering."]
    }
    scoped = body(world) | {"role": world.cluster_role.uuid}
    assert list(client.post(BASE, json=scoped, headers=headers).json) == ["resource"]
    assert client.post(BASE, json=body(world, email="nope"), headers=headers).json == {
        "email": ["Enter a valid email address."]
    }
    assert client.post(BASE, json=body(world)).status_code == 401
    assert snapshot(world) == before


def test_create_accepts_urls(client, world: World) -> None:
    offering_url = f"http://testserver/api/offerings/{world.offering.uuid}/"
    role_url = f"http://testserver/api/offering-roles/{world.cluster_role.uuid}/"
    resource_url = f"http://testserver/api/resources/{world.resource.uuid}/"
    response = client.post(
        BASE,
        json=body(world) | {"offering": offering_url, "role": role_url, "resource": resource_url, "scope_id": "c-1"},
        headers=world.headers("manager"),
    )
    assert response.status_code == 201, response.json
    assert response.json["group_scope_id"] == "c-1" and response.json["group_resource_uuid"] == world.resource.uuid


def test_keycloak_down_changes_nothing(client, world: World) -> None:
    world.realm.down = True
    before = snapshot(world)
    response = client.post(BASE, json=body(world), headers=world.headers("manager"))
    assert response.status_code == 502 and response.json["detail"].startswith("Creating the Keycloak group failed")
    world.realm.down = False
    assert snapshot(world) == before


def test_failure_after_group_creation_deletes_the_new_groups(client, world: World) -> None:
    """Keycloak fails after we created groups: the request compensates, leaving no orphan behind."""
    world.realm.add_user("alice")
    world.offering.keycloak_base_group = "fresh-base"
    db.session.commit()
    before = snapshot(world)
    world.realm.faults["add_user_to_group"] = Fault()
    response = client.post(BASE, json=body(world), headers=world.headers("manager"))
    assert response.status_code == 502
    assert snapshot(world) == before  # /fresh-base, /fresh-base/hpc and the group itself are gone again


def test_delete_removes_user_from_keycloak_group_but_keeps_group(client, world: World) -> None:
    alice = world.realm.add_user("alice")
    created = client.post(BASE, json=body(world), headers=world.headers("manager")).json
    group = db.session.query(OfferingKeycloakGroup).one()
    response = client.delete(f"{BASE}{created['uuid']}/", headers=world.headers("manager"))
    assert response.status_code == 204
    assert alice not in world.realm.groups[group.backend_id].members
    assert db.session.query(OfferingKeycloakMembership).count() == 0
    assert db.session.query(OfferingKeycloakGroup).count() == 1


def test_delete_errors(client, world: World) -> None:
    world.realm.add_user("alice")
    created = client.post(BASE, json=body(world), headers=world.headers("manager")).json
    url = f"{BASE}{created['uuid']}/"
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers=world.headers("other")).status_code == 404
    world.realm.down = True
    down = client.delete(url, headers=world.headers("manager"))
    assert down.status_code == 502
    assert db.session.query(OfferingKeycloakMembership).count() == 1


def test_list_filters_and_visibility(client, world: World) -> None:
    world.realm.add_user("alice")
    headers = world.headers("manager")
    client.post(BASE, json=body(world), headers=headers)
    client.post(BASE, json=body(world, "pending-pat"), headers=headers)
    names = lambda query, who="manager": sorted(  # noqa: E731
        m["username"] for m in client.get(f"{BASE}?{query}", headers=world.headers(who)).json
    )
    assert names("") == ["alice", "pending-pat"]
    assert names("state=pending") == ["pending-pat"]
    assert names("state=pending&state=active") == ["alice", "pending-pat"]
    assert names("username=ALICE") == ["alice"]
    assert names(f"offering_uuid={world.offering.uuid}") == ["alice", "pending-pat"]
    assert names(f"role_uuid={world.member_role.uuid}") == ["alice", "pending-pat"]
    assert names("", "other") == [] and names("", "staff") == ["alice", "pending-pat"]
    assert names("q=PAT") == ["pending-pat"] and names("q=example.org&state=active") == ["alice"]
    assert names("q=%25") == [] and names("q=%20") == [
        "alice",
        "pending-pat",
    ]  # wildcards are plain; blank is no filter
    long_search = client.get(f"{BASE}?q={'x' * 101}", headers=headers)
    assert long_search.status_code == 400 and "q" in long_search.json
    bad = client.get(f"{BASE}?state=weird", headers=headers)
    assert bad.status_code == 400 and "state" in bad.json


def test_retrieve_and_error_traceback_staff_only(client, world: World) -> None:
    created = client.post(BASE, json=body(world, "pat"), headers=world.headers("manager")).json
    membership = db.session.query(OfferingKeycloakMembership).one()
    membership.error_traceback = "Traceback: internal"
    db.session.commit()
    url = f"{BASE}{created['uuid']}/"
    assert client.get(url, headers=world.headers("manager")).json["error_traceback"] == ""
    assert client.get(url, headers=world.headers("staff")).json["error_traceback"] == "Traceback: internal"
    assert client.get(url, headers=world.headers("other")).status_code == 404
    assert client.get(f"{BASE}{uuid.uuid4()}/", headers=world.headers("staff")).status_code == 404


@pytest.mark.parametrize("method", ["put", "patch"])
def test_updates_are_405(client, world: World, method: str) -> None:
    assert getattr(client, method)(BASE, json={}, headers=world.headers("staff")).status_code == 405


def test_audit_endpoint(client, world: World) -> None:
    world.realm.add_user("alice")
    client.post(BASE, json=body(world), headers=world.headers("manager"))
    response = client.get(
        f"/api/offering-keycloak-audit/?offering_uuid={world.offering.uuid}", headers=world.headers("manager")
    )
    assert response.status_code == 200 and response.headers["X-Result-Count"] == "1"
    (event,) = response.json
    assert event["action"] == "membership.created" and event["actor"] == "manager"
    assert event["offering_uuid"] == world.offering.uuid
    assert client.get("/api/offering-keycloak-audit/?action=nothing", headers=world.headers("manager")).json == []
    seen_by_other = client.get("/api/offering-keycloak-audit/", headers=world.headers("other")).json
    assert [e["action"] for e in seen_by_other] == ["token.created"]  # only their own account events
    assert client.get("/api/offering-keycloak-audit/").status_code == 401


def test_keycloak_lost_after_group_creation_keeps_a_recorded_pending_row(client, world: World) -> None:
    """Keycloak goes away after our group was created and cannot be deleted again: no orphan, a recorded error."""
    alice = world.realm.add_user("alice")
    world.realm.faults["add_user_to_group"] = Fault(stays_down=True)
    response = client.post(BASE, json=body(world), headers=world.headers("manager"))
    assert response.status_code == 502 and "saved as pending" in response.json["detail"]
    group = db.session.query(OfferingKeycloakGroup).one()
    membership = db.session.query(OfferingKeycloakMembership).one()
    assert group.backend_id in world.realm.groups  # the Keycloak group is known locally, not orphaned
    assert membership.state == "pending" and "sync-pending will retry" in membership.error_message

    world.realm.faults.clear()
    world.realm.down = False
    from webapp.services.memberships.periodic import sync_pending

    summary = sync_pending()
    assert summary.activated == 1
    db.session.refresh(membership)
    assert membership.state == "active" and membership.error_message == ""
    assert alice in world.realm.groups[group.backend_id].members
