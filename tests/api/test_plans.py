"""Plan → apply through /api/offering-keycloak-plans/ on the fake Keycloak (the same flow runs on a real one in
tests/integration/test_plans_on_real_keycloak.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import World
from webapp.extensions import db
from webapp.models import AuditEvent, OfferingKeycloakGroup, OfferingKeycloakMembership, Plan, utcnow

PLANS = "/api/offering-keycloak-plans"


def rows() -> dict[str, tuple[str, str, str]]:
    db.session.expire_all()
    return {m.username: (m.state, m.email, m.keycloak_user_id) for m in db.session.query(OfferingKeycloakMembership)}


def member(world: World, group_id: str, name: str, email: str = "") -> str:
    user_id = world.realm.add_user(name, email or f"{name}@example.org", name.title(), "Tester")
    world.realm.add_member(group_id, user_id)
    return user_id


def local(group: OfferingKeycloakGroup, name: str, state: str = "active", email: str = "", user_id: str = "") -> None:
    db.session.add(
        OfferingKeycloakMembership(
            group=group,
            username=name,
            state=state,
            email=email or f"{name}@example.org",
            first_name=name.title(),
            last_name="Tester",
            keycloak_user_id=user_id,
        )
    )
    db.session.commit()


@pytest.fixture()
def drift(world: World) -> dict:
    """One linked group with every situation of the action table."""
    remote_id = world.realm.add_path("/base/hpc/users")
    group = world.add_group("users", backend_id=remote_id)
    ids = {name: member(world, remote_id, name) for name in ("newbie", "same", "moved", "waiting", "returned")}
    local(group, "same", user_id=ids["same"])
    local(group, "moved", email="old@example.org", user_id=ids["moved"])
    local(group, "waiting", state="pending")
    local(group, "returned", state="removed_remotely", user_id=ids["returned"])
    ids["gone"] = world.realm.add_user("gone", "gone@example.org", "Gone", "Tester")  # not in the group
    local(group, "gone", user_id=ids["gone"])
    ids["arrived"] = world.realm.add_user("arrived", "arrived@example.org", "Arr", "Ived")
    local(group, "arrived", state="pending")
    local(group, "nobody", state="pending")
    return {"group": group, "remote_id": remote_id, "ids": ids}


def preview(client, world: World, group: OfferingKeycloakGroup, who: str = "manager"):
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [group.uuid]}
    return client.post(f"{PLANS}/", json=body, headers=world.headers(who))


def items_of(client, world: World, plan: dict, **params) -> dict[str, dict]:
    response = client.get(
        plan["items_url"], query_string={"page_size": 300, **params}, headers=world.headers("manager")
    )
    assert response.status_code == 200, response.json
    return {item["username"]: item for item in response.json}


def test_a_members_plan_offers_both_directions_per_row(client, world: World, drift: dict) -> None:
    before = rows()
    response = preview(client, world, drift["group"])
    assert response.status_code == 201, response.json
    plan = response.json
    assert plan["state"] == "open" and plan["kind"] == "members" and plan["created_by"] == "manager"
    assert plan["summary"] == {
        "add_local": 1,
        "unchanged": 1,
        "update_local": 1,
        "activate_local": 2,
        "flag_removed": 1,
        "add_remote": 1,
        "skipped": 1,
    }
    assert plan["brake"]["phrase"] == "remove 1 member"  # the one possible removal is 20 % of the group
    assert "1 of the 5 members of users" in plan["brake"]["reason"]
    items = items_of(client, world, plan)
    assert set(items) == {"newbie", "moved", "waiting", "returned", "gone", "arrived", "nobody"}  # unchanged hidden
    assert items["newbie"]["actions"] == ["add_local", "remove_remote"] and items["newbie"]["destructive"] is True
    assert items["moved"]["changes"] == {"email": ["old@example.org", "moved@example.org"]}
    assert items["waiting"]["changes"]["state"] == ["pending", "active"]
    assert items["gone"]["actions"] == ["flag_removed", "restore_remote"]
    assert items["arrived"]["actions"] == ["add_remote"] and items["arrived"]["where"] == "keycloak"
    assert items["nobody"]["actions"] == [] and "no Keycloak user" in items["nobody"]["note"]
    assert items_of(client, world, plan, action="unchanged").keys() == {"same"}
    assert items_of(client, world, plan, q="MOV").keys() == {"moved"}
    assert rows() == before  # a preview changes nothing
    assert db.session.query(AuditEvent).filter_by(action="plan.created").count() == 1


def test_applying_the_defaults_fixes_the_register_and_adds_the_arrived_user(client, world: World, drift: dict) -> None:
    plan = preview(client, world, drift["group"]).json
    response = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=world.headers("manager"))
    assert response.status_code == 200, response.json
    assert response.json["state"] == "applied"
    assert response.json["counts"] == {"applied": 6, "failed": 0, "not_selected": 0}
    after = rows()
    assert after["newbie"][0] == after["waiting"][0] == after["returned"][0] == after["arrived"][0] == "active"
    assert after["moved"][1] == "moved@example.org" and after["gone"][0] == "removed_remotely"
    assert after["nobody"][0] == "pending"
    assert drift["ids"]["arrived"] in world.realm.groups[drift["remote_id"]].members  # add_remote in Keycloak
    event = db.session.query(AuditEvent).filter_by(action="plan.applied").one()
    assert event.details["partial"] is False and event.details["selected"] == 6

    again = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=world.headers("manager"))
    assert again.status_code == 200 and again.json == response.json  # the recorded result, nothing written again
    assert db.session.query(AuditEvent).filter_by(action="plan.applied").count() == 1


def test_a_partial_selection_in_both_directions(client, world: World, drift: dict) -> None:
    plan = preview(client, world, drift["group"]).json
    items = items_of(client, world, plan)
    selection = {
        items["newbie"]["key"]: "remove_remote",
        items["gone"]["key"]: "restore_remote",
        items["moved"]["key"]: None,
    }
    response = client.post(
        f"{PLANS}/{plan['uuid']}/apply/",
        json={"selection": selection, "confirm": "remove 1 member"},
        headers=world.headers("manager"),
    )
    assert response.status_code == 200, response.json
    assert response.json["state"] == "partially_applied"
    assert response.json["counts"] == {"applied": 5, "failed": 0, "not_selected": 1}
    members = world.realm.groups[drift["remote_id"]].members
    assert drift["ids"]["newbie"] not in members and drift["ids"]["gone"] in members
    after = rows()
    assert "newbie" not in after and after["gone"][0] == "active" and after["moved"][1] == "old@example.org"
    outcomes = {item["key"]: item for item in response.json["items"]}
    assert outcomes[items["moved"]["key"]]["outcome"] == "not_selected"
    assert outcomes[items["newbie"]["key"]] | {"message": ""} == {
        "key": items["newbie"]["key"],
        "action": "remove_remote",
        "outcome": "applied",
        "message": "",
    }
    assert db.session.query(AuditEvent).filter_by(action="plan.applied").one().details["partial"] is True
    applied = items_of(client, world, plan, action="applied")
    assert "newbie" in applied and applied["newbie"]["outcome"] == "applied"


def test_removals_over_the_brake_need_the_typed_phrase(client, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    group = world.add_group("users", backend_id=remote_id)
    for index in range(7):
        member(world, remote_id, f"user{index}")
    plan = preview(client, world, group).json
    assert plan["brake"]["phrase"] == "remove 7 members"
    selection = {item["key"]: "remove_remote" for item in items_of(client, world, plan).values()}
    url = f"{PLANS}/{plan['uuid']}/apply/"
    refused = client.post(url, json={"selection": selection}, headers=world.headers("manager"))
    assert refused.status_code == 400
    assert refused.json["confirm"][0].startswith("Type 'remove 7 members' to confirm.")
    wrong = client.post(url, json={"selection": selection, "confirm": "yes"}, headers=world.headers("manager"))
    assert wrong.status_code == 400 and len(world.realm.groups[remote_id].members) == 7
    done = client.post(
        url, json={"selection": selection, "confirm": "remove 7 members"}, headers=world.headers("manager")
    )
    assert done.status_code == 200 and world.realm.groups[remote_id].members == []


def test_keycloak_changed_since_the_preview_is_409_and_nothing_is_written(client, world: World, drift: dict) -> None:
    plan = preview(client, world, drift["group"]).json
    member(world, drift["remote_id"], "latecomer")
    before = rows()
    response = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=world.headers("manager"))
    assert response.status_code == 409
    assert response.json == {
        "detail": "Keycloak changed since this preview: users: 6 members in Keycloak, 5 at preview. Preview again."
    }
    assert rows() == before
    assert drift["ids"]["arrived"] not in world.realm.groups[drift["remote_id"]].members
    assert client.get(f"{PLANS}/{plan['uuid']}/", headers=world.headers("manager")).json["state"] == "stale"


def test_local_changes_make_a_plan_stale_too(client, world: World, drift: dict) -> None:
    plan = preview(client, world, drift["group"]).json
    local(drift["group"], "someone-new", state="pending")
    response = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=world.headers("manager"))
    assert response.status_code == 409 and "users: the local register changed" in response.json["detail"]


def test_expired_discarded_and_bad_selections(client, world: World, drift: dict) -> None:
    headers = world.headers("manager")
    plan = preview(client, world, drift["group"]).json
    apply = f"{PLANS}/{plan['uuid']}/apply/"
    items = items_of(client, world, plan)
    bad = client.post(apply, json={"selection": {items["arrived"]["key"]: "remove_remote"}}, headers=headers)
    assert bad.status_code == 400
    assert bad.json["selection"] == [
        f"Item '{items['arrived']['key']}' does not offer 'remove_remote'; it offers: add_remote."
    ]
    unknown = client.post(apply, json={"selection": {"nope": "add_local"}}, headers=headers)
    assert unknown.json == {"selection": ["No item with key 'nope' in this preview."]}
    assert client.post(apply, json={"selection": "all"}, headers=headers).status_code == 400
    nothing = {item["key"]: None for item in items.values()}
    assert client.post(apply, json={"selection": nothing}, headers=headers).json == {
        "selection": ["Nothing is selected: choose at least one change to apply."]
    }

    row = db.session.query(Plan).filter_by(uuid=plan["uuid"]).one()
    row.expires = utcnow() - timedelta(seconds=1)
    db.session.commit()
    expired = client.post(apply, json={}, headers=headers)
    assert expired.status_code == 400 and expired.json["detail"].startswith("This preview expired at ")
    assert client.get(f"{PLANS}/", query_string={"state": "expired"}, headers=headers).json[0]["uuid"] == plan["uuid"]
    bogus = client.get(f"{PLANS}/", query_string={"state": "bogus"}, headers=headers)
    assert bogus.status_code == 400 and bogus.json["state"][0].startswith('"bogus" is not one of: open, applying')

    second = preview(client, world, drift["group"]).json
    assert client.post(f"{PLANS}/{second['uuid']}/discard/", headers=headers).status_code == 204
    refused = client.post(f"{PLANS}/{second['uuid']}/apply/", json={}, headers=headers)
    assert refused.status_code == 400 and refused.json == {"detail": "This preview was discarded. Preview again."}
    assert rows()["arrived"][0] == "pending"


def test_one_apply_per_offering_at_a_time(client, world: World, drift: dict) -> None:
    headers = world.headers("manager")
    first = preview(client, world, drift["group"]).json
    second = preview(client, world, drift["group"]).json
    running = db.session.query(Plan).filter_by(uuid=first["uuid"]).one()
    running.state, running.applied_by_name, running.apply_started = "applying", "staff", utcnow()
    db.session.commit()
    response = client.post(f"{PLANS}/{second['uuid']}/apply/", json={}, headers=headers)
    assert (
        response.status_code == 409
        and "An apply by staff is running for this offering since" in response.json["detail"]
    )
    assert rows()["arrived"][0] == "pending"
    # A stuck apply (the process died) stops blocking after the timeout.
    running.apply_started = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert client.post(f"{PLANS}/{second['uuid']}/apply/", json={}, headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.query(Plan).filter_by(uuid=first["uuid"]).one().state == "failed"


def test_plans_of_other_offerings_are_invisible(client, world: World, drift: dict) -> None:
    plan = preview(client, world, drift["group"]).json
    other = world.headers("other")
    assert client.get(f"{PLANS}/{plan['uuid']}/", headers=other).status_code == 404
    assert client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=other).status_code == 404
    assert client.get(f"{PLANS}/", headers=other).json == []
    assert preview(client, world, drift["group"], who="other").status_code == 400  # offering not found for them
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": ["0" * 32]}
    assert client.post(f"{PLANS}/", json=body, headers=world.headers("manager")).status_code == 404


def test_create_validation(client, world: World) -> None:
    headers = world.headers("manager")
    post = lambda body: client.post(f"{PLANS}/", json=body, headers=headers)  # noqa: E731
    assert post({}).json == {"kind": ["This field is required."], "offering_uuid": ["This field is required."]}
    assert post({"kind": "everything", "offering_uuid": world.offering.uuid}).json == {
        "kind": ['"everything" is not a valid choice.']
    }
    assert post({"kind": "members", "offering_uuid": world.offering.uuid}).json == {
        "group_uuids": ["This field is required."]
    }
    unlinked = world.add_group("unlinked")
    assert post({"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [unlinked.uuid]}).json == {
        "group_uuids": ["Not linked to a Keycloak group, so there is nothing to compare: unlinked."]
    }
    assert post({"kind": "import", "offering_uuid": world.offering.uuid, "remote_group_ids": "x"}).json == {
        "remote_group_ids": ['Expected a list of items but got type "str".']
    }
    world.realm.down = True
    linked = world.add_group("linked", backend_id=world.realm.add_path("/base/hpc/linked"), scope_id="x")
    down = post({"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [linked.uuid]})
    assert down.status_code == 502
    assert db.session.query(Plan).count() == 0


def test_an_import_plan_says_why_each_group_is_skipped(client, world: World) -> None:
    headers = world.headers("manager")
    fresh = world.realm.add_path("/base/hpc/fresh")
    taken = world.realm.add_path("/base/hpc/taken")
    outside = world.realm.add_path("/elsewhere/x")
    world.add_group("taken", backend_id=taken)
    body = {
        "kind": "import",
        "offering_uuid": world.offering.uuid,
        "role_uuid": world.member_role.uuid,
        "remote_group_ids": [fresh, taken, outside],
    }
    plan = client.post(f"{PLANS}/", json=body, headers=headers).json
    assert plan["summary"] == {"import": 1, "skipped": 2}
    items = {item["key"]: item for item in client.get(plan["items_url"], headers=headers).json}
    assert items[taken]["note"] == "Already linked to local group 'taken'."
    assert items[outside]["note"].startswith("Not in Keycloak under this offering's group")
    assert items[fresh]["remote_path"] == "/base/hpc/fresh" and items[fresh]["actions"] == ["import"]
    result = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=headers).json
    assert result["state"] == "applied" and result["counts"]["applied"] == 1
    assert db.session.query(OfferingKeycloakGroup).filter_by(backend_id=fresh).one().scope_id == "fresh"


def test_link_suggestions_and_a_links_plan(client, world: World) -> None:
    headers = world.headers("manager")
    exact = world.realm.add_path("/base/hpc/alpha")
    cased = world.realm.add_path("/base/hpc/sub/GAMMA")
    world.realm.add_path("/base/hpc/unrelated")
    alpha = world.add_group("alpha", scope_id="1")
    gamma = world.add_group("gamma", scope_id="2")
    world.add_group("lonely", scope_id="3")
    response = client.get(
        "/api/offering-keycloak-groups/link_suggestions/",
        query_string={"offering_uuid": world.offering.uuid},
        headers=headers,
    )
    assert response.status_code == 200
    assert [(s["group_name"], s["remote_path"], s["reason"]) for s in response.json] == [
        ("alpha", "/base/hpc/alpha", "same_path"),
        ("gamma", "/base/hpc/sub/GAMMA", "same_name_ignoring_case"),
    ]
    assert db.session.get(OfferingKeycloakGroup, alpha.id).backend_id == ""  # never applied without a plan
    plan = client.post(f"{PLANS}/", json={"kind": "links", "offering_uuid": world.offering.uuid}, headers=headers).json
    assert plan["summary"] == {"link": 2}
    selection = {gamma.uuid: None}
    result = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={"selection": selection}, headers=headers).json
    assert result["state"] == "partially_applied"
    db.session.expire_all()
    assert db.session.get(OfferingKeycloakGroup, alpha.id).backend_id == exact
    assert db.session.get(OfferingKeycloakGroup, gamma.id).backend_id == ""
    assert cased


def test_the_plan_endpoints_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/schema/").json["paths"]
    for path in ("/api/offering-keycloak-plans/", "/api/offering-keycloak-plans/{uuid}/apply/"):
        assert path in paths
    assert "/api/offering-keycloak-groups/link_suggestions/" in paths
