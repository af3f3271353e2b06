"""Who changed it, on a real Keycloak (docs/PRODUCT.md §10; runs on 22.0.5, 24.0.5 and 26.7.3 in the version
matrix): a realm-local admin with manage-users adds and removes members of a linked group through admin-cli; the
next plan's items say who, through which client, and when; our own apply is "this app"; with admin events off
the items say "unknown" and why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from flask.testing import FlaskClient

from webapp.extensions import db
from webapp.models import OfferingKeycloakMembership

from .conftest import RealWorld

PLANS = "/api/offering-keycloak-plans"


@pytest.fixture
def events_on(real: RealWorld) -> Iterator[RealWorld]:
    """Admin events on in the managed realm for this test, the settings as they were afterwards."""
    before = real.realm.admin("GET", "/events/config").json()
    real.realm.admin("PUT", "/events/config", json=before | {"adminEventsEnabled": True})
    try:
        yield real
    finally:
        real.realm.admin("PUT", "/events/config", json=before)


def realm_admin(real: RealWorld, username: str) -> requests.Session:
    """A user of the managed realm with realm-management's manage-users, signed in through admin-cli."""
    user_id = real.realm.add_user(username, f"{username}@example.org", "Help", "Desk")
    real.realm.admin(
        "PUT",
        f"/users/{user_id}/reset-password",
        json={"type": "password", "value": "helpdesk-password", "temporary": False},
    )
    management = real.realm.admin("GET", "/clients", params={"clientId": "realm-management"}).json()[0]["id"]
    role = real.realm.admin("GET", f"/clients/{management}/roles/manage-users").json()
    real.realm.admin("POST", f"/users/{user_id}/role-mappings/clients/{management}", json=[role])
    token = requests.post(
        real.realm.token_url,
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": username,
            "password": "helpdesk-password",
        },
        timeout=30,
    )
    assert token.status_code == 200, token.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session


def plan(client: FlaskClient, real: RealWorld, group_uuid: str) -> tuple[str, dict[str, dict]]:
    world = real.world
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [group_uuid]}
    made = client.post(f"{PLANS}/", json=body, headers=world.headers("manager"))
    assert made.status_code == 201, made.json
    items = client.get(made.json["items_url"], query_string={"page_size": 300}, headers=world.headers("manager"))
    return made.json["uuid"], {item["username"]: item for item in items.json}


def seconds_ago(at: str) -> float:
    return datetime.now(UTC).timestamp() - datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def test_a_realm_admin_s_changes_and_ours_are_attributed(client: FlaskClient, events_on: RealWorld) -> None:
    real = events_on
    world = real.world
    group_id = real.realm.add_path("/base/hpc/attributed")
    group = world.add_group("attributed", backend_id=group_id, scope_id="attributed")
    frank = real.realm.add_user("frank", "frank@example.org")
    real.realm.add_member(group_id, frank)
    db.session.add(OfferingKeycloakMembership(group=group, username="frank", state="active", keycloak_user_id=frank))
    db.session.commit()
    erin = real.realm.add_user("erin", "erin@example.org")
    helpdesk = realm_admin(real, "helpdesk")
    admin_base = f"{real.realm.server.url}/admin/realms/{real.realm.name}"
    assert helpdesk.put(f"{admin_base}/users/{erin}/groups/{group_id}", timeout=30).status_code == 204
    assert helpdesk.delete(f"{admin_base}/users/{frank}/groups/{group_id}", timeout=30).status_code == 204

    plan_uuid, items = plan(client, real, group.uuid)
    added, removed = items["erin"]["keycloak_change"], items["frank"]["keycloak_change"]
    for change in (added, removed):
        assert (change["source"], change["by"], change["client"]) == ("keycloak_admin", "helpdesk", "admin-cli")
        assert 0 <= seconds_ago(change["at"]) < 60
    assert items["erin"]["default_action"] == "add_local"

    applied = client.post(
        f"{PLANS}/{plan_uuid}/apply/",
        json={"selection": {items["erin"]["key"]: "remove_remote"}, "confirm": "remove 1 member"},
        headers=world.headers("manager"),
    )
    assert applied.status_code == 200, applied.json
    assert "erin" not in real.realm.group_members(group_id)
    # The register says erin is active (as a restore of an older backup would): the plan finds her gone from
    # Keycloak, and our own removal is what explains it.
    row = db.session.query(OfferingKeycloakMembership).filter_by(group_id=group.id, username="erin").one_or_none()
    row = row or OfferingKeycloakMembership(group=group, username="erin")
    row.state, row.keycloak_user_id = "active", erin  # noqa: state written by a test
    db.session.add(row)
    db.session.commit()
    _, items = plan(client, real, group.uuid)
    ours = items["erin"]["keycloak_change"]
    assert ours["source"] == "this_app" and 0 <= seconds_ago(ours["at"]) < 60, ours


def test_events_off_say_unknown_and_why(client: FlaskClient, real: RealWorld) -> None:
    world = real.world
    config = real.realm.admin("GET", "/events/config").json()
    real.realm.admin("PUT", "/events/config", json=config | {"adminEventsEnabled": False})
    group_id = real.realm.add_path("/base/hpc/unattributed")
    group = world.add_group("unattributed", backend_id=group_id, scope_id="unattributed")
    real.realm.add_member(group_id, real.realm.add_user("gina", "gina@example.org"))
    _, items = plan(client, real, group.uuid)
    change = items["gina"]["keycloak_change"]
    assert change["source"] == "unknown" and change["reason"].startswith("Admin events are off in realm"), change


def test_a_user_created_with_groups_has_no_event(client: FlaskClient, events_on: RealWorld) -> None:
    real = events_on
    group_id = real.realm.add_path("/base/hpc/created-with-groups")
    group = real.world.add_group("created-with-groups", backend_id=group_id, scope_id="created-with-groups")
    created = real.realm.admin(
        "POST",
        "/users",
        json={
            "username": "hana",
            "email": "hana@example.org",
            "firstName": "Hana",
            "lastName": "Made",
            "enabled": True,
            "groups": ["/base/hpc/created-with-groups"],
        },
    )
    assert created.status_code == 201
    assert real.realm.group_members(group_id) == ["hana"]
    _, items = plan(client, real, group.uuid)
    change = items["hana"]["keycloak_change"]
    assert change["source"] == "unknown" and change["reason"].startswith("No admin event records it since "), change
    assert "a user created with their groups" in change["reason"]


def test_groups_made_and_deleted_by_a_realm_admin_are_attributed_on_the_diff(
    client: FlaskClient, events_on: RealWorld
) -> None:
    """Keycloak names a subgroup it made only in the event's representation: admin events with details."""
    real = events_on
    world = real.world
    config = real.realm.admin("GET", "/events/config").json()
    real.realm.admin("PUT", "/events/config", json=config | {"adminEventsDetailsEnabled": True})
    root_id = real.realm.add_path("/base/hpc")
    doomed_id = real.realm.add_path("/base/hpc/doomed")
    world.add_group("doomed", backend_id=doomed_id, scope_id="doomed")
    helpdesk = realm_admin(real, "helpdesk-groups")
    admin_base = f"{real.realm.server.url}/admin/realms/{real.realm.name}"
    made = helpdesk.post(f"{admin_base}/groups/{root_id}/children", json={"name": "by-hand"}, timeout=30)
    assert made.status_code == 201, made.text
    assert helpdesk.delete(f"{admin_base}/groups/{doomed_id}", timeout=30).status_code == 204

    answer = client.get(
        "/api/offering-keycloak-groups/sync_status/",
        query_string={"offering_uuid": world.offering.uuid},
        headers=world.headers("manager"),
    )
    assert answer.status_code == 200, answer.json
    [by_hand] = [group for group in answer.json["remote_only_groups"] if group["name"] == "by-hand"]
    change = by_hand["keycloak_change"]
    assert (change["source"], change["operation"], change["by"], change["client"]) == (
        "keycloak_admin",
        "created",
        "helpdesk-groups",
        "admin-cli",
    ), change
    assert 0 <= seconds_ago(change["at"]) < 60
    [dangling] = [group for group in answer.json["local_only_groups"] if group["name"] == "doomed"]
    assert dangling["broken_link"]
    gone = dangling["keycloak_change"]
    assert (gone["source"], gone["operation"], gone["by"]) == ("keycloak_admin", "deleted", "helpdesk-groups"), gone
