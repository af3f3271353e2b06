"""Plan → apply on a real Keycloak (22, 24 and 26 in the version matrix): both directions, stale, brake,
Keycloak down between preview and apply, and an import plan."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership

from .conftest import RealWorld

PLANS = "/api/offering-keycloak-plans"


def registered() -> dict[str, str]:
    db.session.expire_all()
    return {m.username: m.state for m in db.session.query(OfferingKeycloakMembership)}


def linked(real: RealWorld, path: str) -> tuple[OfferingKeycloakGroup, str]:
    remote_id = real.realm.add_path(path)
    return real.world.add_group(path.rsplit("/", 1)[-1], backend_id=remote_id, scope_id=path), remote_id


def members_plan(client, real: RealWorld, group: OfferingKeycloakGroup) -> dict:
    body = {"kind": "members", "offering_uuid": real.world.offering.uuid, "group_uuids": [group.uuid]}
    response = client.post(f"{PLANS}/", json=body, headers=real.world.headers("manager"))
    assert response.status_code == 201, response.json
    return response.json


def items(client, real: RealWorld, plan: dict) -> dict[str, dict]:
    response = client.get(plan["items_url"], query_string={"page_size": 300}, headers=real.world.headers("manager"))
    return {item["username"]: item for item in response.json}


def test_review_and_apply_in_both_directions(client, real: RealWorld) -> None:
    headers = real.world.headers("manager")
    group, remote_id = linked(real, "/base/hpc/plan-both")
    real.realm.add_users_bulk(
        [{"username": f"in{i:03d}", "email": f"in{i}@example.org"} for i in range(120)], ["/base/hpc/plan-both"]
    )
    real.realm.add_user("arrived", "arrived@example.org")
    db.session.add_all(
        [
            OfferingKeycloakMembership(group=group, username="in000", state="active", email="old@example.org"),
            OfferingKeycloakMembership(group=group, username="arrived", state="pending"),
            OfferingKeycloakMembership(group=group, username="never", state="pending"),
        ]
    )
    db.session.commit()

    plan = members_plan(client, real, group)
    assert plan["summary"] == {"add_local": 119, "update_local": 1, "add_remote": 1, "skipped": 1}
    listed = items(client, real, plan)
    selection = {listed["in001"]["key"]: "remove_remote", listed["in002"]["key"]: None}
    response = client.post(
        f"{PLANS}/{plan['uuid']}/apply/",
        json={"selection": selection, "confirm": "remove 1 member"},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["counts"] == {"applied": 120, "failed": 0, "not_selected": 1}
    in_keycloak = set(real.realm.group_members(remote_id))
    assert "in001" not in in_keycloak and "arrived" in in_keycloak and len(in_keycloak) == 120
    after = registered()
    assert after["arrived"] == "active" and after["never"] == "pending" and "in002" not in after
    assert "in001" not in after and len(after) == 120


def test_a_change_in_keycloak_between_preview_and_apply_writes_nothing(client, real: RealWorld) -> None:
    group, remote_id = linked(real, "/base/hpc/plan-stale")
    real.realm.add_users_bulk([{"username": f"s{i}"} for i in range(3)], ["/base/hpc/plan-stale"])
    plan = members_plan(client, real, group)
    real.realm.add_member(remote_id, real.realm.add_user("latecomer"))
    response = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=real.world.headers("manager"))
    assert response.status_code == 409
    assert "plan-stale: 4 members in Keycloak, 3 at preview" in response.json["detail"]
    assert registered() == {}


def test_keycloak_down_at_apply_is_502_and_the_preview_stays_usable(client, real: RealWorld) -> None:
    headers = real.world.headers("manager")
    group, _remote_id = linked(real, "/base/hpc/plan-down")
    real.realm.add_users_bulk([{"username": f"d{i}"} for i in range(3)], ["/base/hpc/plan-down"])
    plan = members_plan(client, real, group)
    real.proxy.cut()
    try:
        response = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=headers)
        assert response.status_code == 502 and registered() == {}
    finally:
        real.proxy.restore()
    assert client.get(f"{PLANS}/{plan['uuid']}/", headers=headers).json["state"] == "open"
    done = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=headers)
    assert done.status_code == 200 and len(registered()) == 3


def test_an_import_plan_on_real_groups(client, real: RealWorld) -> None:
    headers = real.world.headers("manager")
    fresh = real.realm.add_path("/base/hpc/imp/fresh")
    taken = real.realm.add_path("/base/hpc/imp/taken")
    real.world.add_group("taken", backend_id=taken)
    body = {
        "kind": "import",
        "offering_uuid": real.world.offering.uuid,
        "role_uuid": real.world.member_role.uuid,
        "remote_group_ids": [fresh, taken],
    }
    plan = client.post(f"{PLANS}/", json=body, headers=headers).json
    assert plan["summary"] == {"import": 1, "skipped": 1}
    result = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=headers).json
    assert result["state"] == "applied"
    db.session.expire_all()
    assert db.session.query(OfferingKeycloakGroup).filter_by(backend_id=fresh).one().name == "fresh"
