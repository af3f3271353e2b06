"""Who changed it (docs/PRODUCT.md §10) on the fake Keycloak: plan items carry `keycloak_change` from the realm's
admin events, read incrementally and bounded; our own writes are "this app"; "unknown" always says why."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    KeycloakChange,
    KeycloakEventCursor,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
)
from webapp.services.attribution import events
from webapp.services.attribution.jobs import READ_KEYCLOAK_EVENTS

PLANS = "/api/offering-keycloak-plans"


def linked(world: World, name: str = "project-a") -> OfferingKeycloakGroup:
    return world.add_group(name, backend_id=world.realm.add_path(f"/base/hpc/{name}"), scope_id=name)


def registered(world: World, group: OfferingKeycloakGroup, username: str) -> str:
    """A member here and in the Keycloak group (seeded, so no event); returns the Keycloak user id."""
    user_id = world.realm.add_user(username, f"{username}@example.org")
    world.realm.add_member(group.backend_id, user_id)
    db.session.add(OfferingKeycloakMembership(group=group, username=username, state="active", keycloak_user_id=user_id))
    db.session.commit()
    return user_id


def plan_items(client: FlaskClient, world: World, group: OfferingKeycloakGroup) -> dict[str, dict]:
    body = {"kind": "members", "offering_uuid": world.offering.uuid, "group_uuids": [group.uuid]}
    made = client.post(f"{PLANS}/", json=body, headers=world.headers("manager"))
    assert made.status_code == 201, made.json
    listed = client.get(made.json["items_url"], query_string={"page_size": 300}, headers=world.headers("manager"))
    assert listed.status_code == 200, listed.json
    return {item["username"]: item for item in listed.json}


def test_a_realm_admin_s_changes_say_who_when_and_through_which_client(client: FlaskClient, world: World) -> None:
    world.realm.admin_events_enabled = True
    group = linked(world)
    helpdesk = world.realm.add_user("helpdesk", "helpdesk@example.org")
    frank = registered(world, group, "frank")
    erin = world.realm.add_user("erin", "erin@example.org")
    before = int(time.time() * 1000)
    world.realm.admin_change("CREATE", erin, group.backend_id, helpdesk, client="admin-cli")
    world.realm.admin_change("DELETE", frank, group.backend_id, helpdesk, client="admin-cli")

    items = plan_items(client, world, group)
    added, removed = items["erin"]["keycloak_change"], items["frank"]["keycloak_change"]
    assert (added["source"], added["by"], added["client"]) == ("keycloak_admin", "helpdesk", "admin-cli")
    assert (removed["source"], removed["by"], removed["client"]) == ("keycloak_admin", "helpdesk", "admin-cli")
    assert added["event_id"] and added["reason"] is None
    assert abs(int(time.mktime(time.strptime(added["at"][:19], "%Y-%m-%dT%H:%M:%S"))) - before / 1000) < 86_400

    plan_uuid = client.get(f"{PLANS}/", headers=world.headers("manager")).json[0]["uuid"]
    csv = client.get(f"{PLANS}/{plan_uuid}/items/", query_string={"format": "csv"}, headers=world.headers("manager"))
    assert csv.status_code == 200
    assert '"by"":""helpdesk""' in csv.get_data(as_text=True)  # the change as JSON in its cell


def test_our_own_writes_are_this_app(client: FlaskClient, world: World) -> None:
    world.realm.admin_events_enabled = True
    group = linked(world)
    world.realm.add_user("grace", "grace@example.org")
    body = {"offering": world.offering.uuid, "role": world.member_role.uuid, "scope_id": group.scope_id}
    granted = client.post(
        "/api/offering-keycloak-memberships/", json=body | {"username": "grace"}, headers=world.headers("manager")
    )
    assert granted.status_code == 201, granted.json
    # The register loses the row (say, restored from an older backup): the plan finds grace only in Keycloak.
    db.session.query(OfferingKeycloakMembership).filter_by(username="grace").delete()
    db.session.commit()
    change = plan_items(client, world, group)["grace"]["keycloak_change"]
    assert change["source"] == "this_app" and change["by"] is None and change["at"]
    granted_event = db.session.query(AuditEvent).filter_by(action="membership.created").one()
    assert change["audit_event"] == granted_event.uuid  # our own audit event that made it


def test_unknown_always_says_why(client: FlaskClient, world: World) -> None:
    group = linked(world)
    frank = registered(world, group, "frank")
    world.realm.remove_member(group.backend_id, frank)  # no event: admin events are off
    change = plan_items(client, world, group)["frank"]["keycloak_change"]
    assert change["source"] == "unknown" and change["reason"].startswith("Admin events are off in realm")

    world.realm.admin_events_enabled = True
    world.realm.may_view_events = False
    db.session.query(KeycloakEventCursor).delete()
    db.session.commit()
    change = plan_items(client, world, group)["frank"]["keycloak_change"]
    assert change["source"] == "unknown" and "view-events" in change["reason"]

    world.realm.may_view_events = True
    db.session.query(KeycloakEventCursor).delete()
    db.session.commit()
    change = plan_items(client, world, group)["frank"]["keycloak_change"]
    assert change["source"] == "unknown" and change["reason"].startswith("No admin event records it since ")
    assert "identity-provider mapper" in change["reason"]


def test_an_administrator_of_another_realm_is_said_in_words(client: FlaskClient, world: World) -> None:
    world.realm.admin_events_enabled = True
    group = linked(world)
    erin = world.realm.add_user("erin", "erin@example.org")
    world.realm.admin_change("CREATE", erin, group.backend_id, "1ee59b0e-admin", actor_realm_id="c6b98685-master")
    change = plan_items(client, world, group)["erin"]["keycloak_change"]
    assert change["source"] == "keycloak_admin" and change["client"] is None
    assert change["by"] == "an administrator of another realm (realm id c6b98685-master, user id 1ee59b0e-admin)"


def test_reading_is_incremental_bounded_and_kept_to_the_offering_s_groups(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "PAGE_SIZE", 100)
    monkeypatch.setattr(events, "ON_VIEW_PAGES", 2)
    monkeypatch.setattr(events, "OVERLAP", 0)
    world.realm.admin_events_enabled = True
    group = linked(world)
    elsewhere = world.realm.add_path("/other/team")
    helpdesk = world.realm.add_user("helpdesk")
    base = int(time.time() * 1000) - 60_000
    for index in range(450):
        user = world.realm.add_user(f"user{index:03d}")
        target = group.backend_id if index % 3 else elsewhere
        world.realm.admin_change("CREATE", user, target, helpdesk, at_ms=base + index)
    calls = world.realm.calls
    read = events.refresh(world.offering, events.ON_VIEW_PAGES)  # right before a page: two pages here
    assert (read.requests - 2, read.seen, read.caught_up) == (2, 200, False)  # 2 settings requests on the first
    # two settings, two pages, our account's id, and a few names (the rest on later reads)
    assert world.realm.calls - calls <= 2 + 2 + 1 + events.ON_VIEW_NAMES
    cursor = db.session.query(KeycloakEventCursor).one()
    assert cursor.complete_from is not None  # the 250 older ones are not known: said, not guessed

    result = READ_KEYCLOAK_EVENTS.work(_job(world), lambda *_: None)  # the periodic round reads deeper
    assert result["caught_up"] and result["stored"] == 0  # nothing newer than what was read
    world.realm.admin_change("CREATE", world.realm.add_user("late"), group.backend_id, helpdesk)
    again = events.refresh(world.offering)
    assert (again.requests, again.seen, again.stored, again.caught_up) == (1, 1, 1, True)
    stored = db.session.query(KeycloakChange).all()
    assert {change.group_id for change in stored} == {group.backend_id}  # the other realm group is not ours


def _job(world: World):  # type: ignore[no-untyped-def]
    class Job:
        offering = world.offering

    return Job()


def test_on_24_the_members_are_named_by_the_periodic_round(world: World) -> None:
    world.realm.version = "24.0.5"  # no details in its events: whose membership is only an id
    world.realm.admin_events_enabled = True
    group = linked(world)
    helpdesk = world.realm.add_user("helpdesk")
    erin = world.realm.add_user("erin")
    world.realm.admin_change("CREATE", erin, group.backend_id, helpdesk)
    events.refresh(world.offering)
    total, rows = events.changes_page(world.offering, 1, 50)
    assert total == 1 and rows[0]["member"] == f"user id {erin}" and rows[0]["by"] == "helpdesk"
    READ_KEYCLOAK_EVENTS.work(_job(world), lambda *_: None)
    assert events.changes_page(world.offering, 1, 50)[1][0]["member"] == "erin"
