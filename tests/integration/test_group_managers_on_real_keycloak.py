"""Group managers end to end on a real Keycloak (docs/PRODUCT.md §13): a project's PI, with no grant on the
offering and no Keycloak role, adds a user to their own group through the API; cannot add to a sibling group
(404, nothing in Keycloak) or change settings (403); the delegation's removal takes effect on the next request."""

from __future__ import annotations

from flask.testing import FlaskClient

from webapp.extensions import db
from webapp.models import AuditEvent, GroupManager

from .conftest import RealWorld

GROUPS = "/api/offering-keycloak-groups"
MEMBERSHIPS = "/api/offering-keycloak-memberships/"
MANAGERS = "/api/offering-keycloak-group-managers/"


def test_a_group_manager_manages_their_group_and_nothing_else(client: FlaskClient, real: RealWorld) -> None:
    world = real.world
    manager, pi = world.headers("manager"), world.headers("pi")
    own_id = real.realm.add_path("/base/hpc/project-a")
    sibling_id = real.realm.add_path("/base/hpc/project-b")
    real.realm.add_user("student", "student@example.org")
    own = world.add_group("project-a", backend_id=own_id, scope_id="project-a")
    sibling = world.add_group("project-b", backend_id=sibling_id, scope_id="project-b")

    # The offering's manager makes pi a manager of project-a (pi has an account here; no Keycloak role).
    assigned = client.post(MANAGERS, json={"group_uuid": own.uuid, "username": "PI"}, headers=manager)
    assert assigned.status_code == 201, assigned.json
    assert assigned.json["username"] == "pi" and assigned.json["group_name"] == "project-a"
    unknown = client.post(MANAGERS, json={"group_uuid": own.uuid, "username": "nobody-here"}, headers=manager)
    assert unknown.status_code == 400
    assert unknown.json == {"username": ["No account and no Keycloak user is named nobody-here."]}

    # pi sees exactly their group, and grants access in it: the user is in the Keycloak group.
    listed = client.get(f"{GROUPS}/", headers=pi)
    assert [group["name"] for group in listed.json] == ["project-a"]
    body = {"offering": world.offering.uuid, "role": world.member_role.uuid, "username": "student"}
    granted = client.post(MEMBERSHIPS, json=body | {"scope_id": "project-a"}, headers=pi)
    assert granted.status_code == 201 and granted.json["state"] == "active", granted.json
    assert real.realm.group_members(own_id) == ["student"]
    event = db.session.query(AuditEvent).filter_by(action="membership.created").one()
    assert event.actor_name == "pi"  # the audit names the group manager
    by_pi = client.get(f"/api/offering-keycloak-audit/?actor=pi&offering_uuid={world.offering.uuid}", headers=manager)
    assert [item["action"] for item in by_pi.json] == ["membership.created"]

    # A sibling group: 404 whichever way it is named, and nothing happens in Keycloak.
    refused = client.post(MEMBERSHIPS, json=body | {"scope_id": "project-b"}, headers=pi)
    assert refused.status_code == 404 and refused.json == {"detail": "Not found."}
    new_scope = client.post(MEMBERSHIPS, json=body | {"scope_id": "project-c"}, headers=pi)
    assert new_scope.status_code == 404  # a group manager creates no group, here or in Keycloak
    assert client.get(f"{GROUPS}/{sibling.uuid}/", headers=pi).status_code == 404
    assert client.post(f"{GROUPS}/{sibling.uuid}/pull_members/", headers=pi).status_code == 404
    assert real.realm.group_members(sibling_id) == []
    hpc = real.realm.group_by_path("/base/hpc")
    assert hpc is not None
    assert sorted(group["name"] for group in real.realm.children(hpc["id"])) == ["project-a", "project-b"]

    # Offering-level work is the offering managers': 403 in words.
    forbidden = {"detail": "Only the offering's managers may do this; you manage members of some of its groups."}
    settings = client.post(f"{GROUPS}/test_connection/", json={"offering_uuid": world.offering.uuid}, headers=pi)
    assert settings.status_code == 403 and settings.json == forbidden
    unlink = client.post(f"{GROUPS}/{own.uuid}/set_backend_id/", json={"backend_id": ""}, headers=pi)
    assert unlink.status_code == 403 and unlink.json == forbidden
    assert client.get(f"/api/offerings/{world.offering.uuid}/", headers=pi).status_code == 403

    # A members plan of their group, applied by pi: the removal is done in Keycloak, after the brake's phrase.
    real.realm.add_member(own_id, real.realm.add_user("stranger", "stranger@example.org"))
    plan = client.post(
        "/api/offering-keycloak-plans/",
        json={"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [own.uuid]},
        headers=pi,
    )
    assert plan.status_code == 201, plan.json
    items = client.get(f"/api/offering-keycloak-plans/{plan.json['uuid']}/items/", headers=pi).json
    stranger = next(item for item in items if item["username"] == "stranger")
    selection = {stranger["key"]: "remove_remote"}
    apply_url = f"/api/offering-keycloak-plans/{plan.json['uuid']}/apply/"
    braked = client.post(apply_url, json={"selection": selection}, headers=pi)  # the removal brake holds for pi too
    assert braked.status_code == 400 and "Type 'remove 1 member' to confirm" in braked.json["confirm"][0]
    assert sorted(real.realm.group_members(own_id)) == ["stranger", "student"]
    applied = client.post(apply_url, json={"selection": selection, "confirm": "remove 1 member"}, headers=pi)
    assert applied.status_code == 200, applied.json
    assert real.realm.group_members(own_id) == ["student"]

    # The delegation ends: from the next request on pi sees nothing of the group.
    delegation = db.session.query(GroupManager).one()
    assert client.delete(f"{MANAGERS}{delegation.uuid}/", headers=manager).status_code == 204
    assert client.get(f"{GROUPS}/{own.uuid}/", headers=pi).status_code == 404
    assert client.get(f"{GROUPS}/", headers=pi).json == []
    assert client.get(f"/api/offering-keycloak-plans/{plan.json['uuid']}/", headers=pi).status_code == 404
    again = client.post(MEMBERSHIPS, json=body | {"username": "stranger", "scope_id": "project-a"}, headers=pi)
    assert again.status_code == 400 and again.json == {"offering": ["Offering not found."]}
    assert real.realm.group_members(own_id) == ["student"]
