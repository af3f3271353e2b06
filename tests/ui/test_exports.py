"""CSV downloads in the browser-less client and through the API (`?format=csv`): every matching row, the JSON
list's columns, spreadsheet-safe cells, Keycloak failures in words."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from tests.factories import World
from webapp.downloads import cell
from webapp.extensions import db
from webapp.keycloak.fake_gateway import Fault
from webapp.models import AuditEvent, OfferingKeycloakMembership, utcnow
from webapp.services.commands import PreviewMembers
from webapp.services.plans import core as plans

MEMBERSHIPS = "/api/offering-keycloak-memberships/"


def table(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv" and response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def seeded(world: World, count: int = 3):  # type: ignore[no-untyped-def]
    """A linked group: both-ann in Keycloak and here, kc-only in Keycloak, here-only recorded here."""
    remote_id = world.realm.add_path("/base/hpc/users")
    group = world.add_group("users", backend_id=remote_id)
    for name in ("both-ann", "kc-only"):
        world.realm.add_member(remote_id, world.realm.add_user(name, f"{name}@example.org", "=HYPERLINK(1)"))
    for name in ("both-ann", "here-only", *(f"extra-{i:02d}" for i in range(count))):
        db.session.add(OfferingKeycloakMembership(group=group, username=name, state="active", email=f"{name}@x.org"))
    db.session.commit()
    return group


def test_cells_a_spreadsheet_would_run_are_quoted() -> None:
    for formula in ("=1+1", "+31 20", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert cell(formula) == f"'{formula}"
    assert [cell("plain"), cell(None), cell(True), cell({"b": 1, "a": [2]})] == [
        "plain",
        "",
        "true",
        '{"a": [2], "b": 1}',
    ]


def test_group_members_side_by_side(manager, world: World) -> None:
    group = seeded(world)
    rows = table(manager.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}/members.csv"))
    by_name = {row["username"]: row for row in rows}
    assert list(by_name) == ["both-ann", "kc-only", "extra-00", "extra-01", "extra-02", "here-only"]
    assert by_name["both-ann"] | {} == {
        "username": "both-ann",
        "state_here": "active",
        "email_here": "both-ann@x.org",
        "first_name_here": "",
        "last_name_here": "",
        "in_keycloak": "true",
        "email_in_keycloak": "both-ann@example.org",
        "first_name_in_keycloak": "'=HYPERLINK(1)",
        "last_name_in_keycloak": "",
    }
    assert (by_name["kc-only"]["state_here"], by_name["kc-only"]["in_keycloak"]) == ("", "true")
    assert (by_name["here-only"]["state_here"], by_name["here-only"]["in_keycloak"]) == ("active", "false")


def test_members_download_says_when_keycloak_fails(manager, world: World) -> None:
    group = seeded(world)
    world.realm.down = True
    refused = manager.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}/members.csv")
    assert refused.status_code == 502 and "Cannot connect to Keycloak" in refused.get_data(as_text=True)
    world.realm.down = False
    for index in range(150):  # two pages in the fake; the second one fails
        user = world.realm.add_user(f"bulk-{index:03d}", f"b{index}@example.org")
        world.realm.add_member(group.backend_id, user)
    world.realm.faults["iter_group_members"] = Fault(after_pages=1)
    cut = manager.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}/members.csv").get_data(as_text=True)
    last = cut.strip().splitlines()[-1]
    assert last.startswith("INCOMPLETE: Reading the members of users in Keycloak failed: Cannot connect")


def test_groups_diff_download_keeps_the_filters(manager, world: World) -> None:
    world.add_group("synced", backend_id=world.realm.add_path("/base/hpc/synced"))
    world.realm.add_path("/base/hpc/remote-only")
    world.add_group("local-only", scope_id="l")
    everything = table(manager.get(f"/offerings/{world.offering.uuid}/groups.csv"))
    assert sorted(row["status"] for row in everything) == ["Local only", "Remote only", "Synced"]
    remote = table(manager.get(f"/offerings/{world.offering.uuid}/groups.csv?status=remote_only"))
    assert [(row["status"], row["keycloak_path"]) for row in remote] == [("Remote only", "/base/hpc/remote-only")]
    searched = table(manager.get(f"/offerings/{world.offering.uuid}/groups.csv?q=local"))
    assert [row["local_group"] for row in searched] == ["local-only"]


def test_plan_items_download_and_the_api_agree(manager, client, world: World) -> None:
    group = seeded(world, count=0)
    plan = plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))
    page = table(manager.get(f"/offerings/{world.offering.uuid}/plans/{plan.uuid}/items.csv"))
    api = table(
        client.get(f"/api/offering-keycloak-plans/{plan.uuid}/items/?format=csv", headers=world.headers("manager"))
    )
    assert {row["username"]: row["default_action"] for row in page} == {
        "both-ann": "update_local",
        "kc-only": "add_local",
        "here-only": "flag_removed",
    }
    assert list(page[0]) == list(api[0]) and "outcome" in page[0]  # the API's PlanItem fields
    assert {row["key"] for row in api} == {row["key"] for row in page}


def test_activity_download_of_a_date_range(manager, world: World) -> None:
    now = utcnow()
    for days_ago, action in ((0, "today.thing"), (3, "earlier.thing"), (10, "old.thing")):
        db.session.add(
            AuditEvent(
                actor_name="ann", offering_id=world.offering.id, action=action, created=now - timedelta(days=days_ago)
            )
        )
    db.session.commit()
    first, last = (now - timedelta(days=4)).date().isoformat(), (now - timedelta(days=1)).date().isoformat()
    base = f"/offerings/{world.offering.uuid}"
    page = manager.get(f"{base}/activity?from={first}&to={last}").get_data(as_text=True)
    assert "earlier.thing" in page and "today.thing" not in page and "old.thing" not in page
    assert f"/activity.csv?from={first}&amp;to={last}" in page
    rows = table(manager.get(f"{base}/activity.csv?from={first}&to={last}"))
    assert [row["action"] for row in rows] == ["earlier.thing"]
    bad = manager.get(f"{base}/activity?from=yesterday")
    assert bad.status_code == 400 and "Enter a date as YYYY-MM-DD" in bad.get_data(as_text=True)
    assert 'aria-invalid="true" aria-describedby="activity-from-error"' in bad.get_data(as_text=True)


def test_api_lists_answer_every_row_as_csv(client, world: World) -> None:
    group = seeded(world, count=12)  # 14 rows: more than the default page of 10
    headers = world.headers("manager")
    rows = table(client.get(f"{MEMBERSHIPS}?format=csv&group_uuid={group.uuid}", headers=headers))
    json_fields = list(client.get(f"{MEMBERSHIPS}?group_uuid={group.uuid}", headers=headers).json[0])
    assert len(rows) == 14 and sorted(rows[0]) == sorted(json_fields)
    refused = client.get(f"{MEMBERSHIPS}?format=xml", headers=headers)
    assert refused.status_code == 400 and refused.json == {
        "format": ["Select a valid choice. xml is not one of json, csv."]
    }
    audit = table(client.get("/api/offering-keycloak-audit/?format=csv&created_from=2000-01-01", headers=headers))
    assert all(row["created"] for row in audit)
    bad_day = client.get("/api/offering-keycloak-audit/?created_to=31.12.2026", headers=headers)
    assert bad_day.status_code == 400 and "created_to" in bad_day.json
