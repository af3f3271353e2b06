"""Who changed it on the pages (docs/PRODUCT.md §10): the plan page's rows, the group page's Keycloak members and
Activity's "Changes made in Keycloak" (with its CSV) say who made a membership change in Keycloak."""

from __future__ import annotations

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, Plan

from .conftest import Browser


def drifted(world: World) -> OfferingKeycloakGroup:
    """erin added in Keycloak by helpdesk (a realm-local admin) through admin-cli; nothing recorded here."""
    world.realm.admin_events_enabled = True
    group = world.add_group("project-a", backend_id=world.realm.add_path("/base/hpc/project-a"), scope_id="project-a")
    helpdesk = world.realm.add_user("helpdesk", "helpdesk@example.org")
    erin = world.realm.add_user("erin", "erin@example.org")
    world.realm.admin_change("CREATE", erin, group.backend_id, helpdesk, client="admin-cli")
    return group


def test_the_group_page_says_who_added_someone_in_keycloak(manager: Browser, world: World) -> None:
    group = drifted(world)
    page = parse(manager.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}"))
    said = page.select_one("#keycloak-members .keycloak-change")
    assert said is not None and text_of(said).startswith("Added in Keycloak by helpdesk through admin-cli, ")


def test_the_plan_page_says_it_on_the_row(manager: Browser, world: World) -> None:
    group = drifted(world)
    base = f"/offerings/{world.offering.uuid}"
    made = manager.post(f"{base}/plans", {"kind": "members", "group_uuids": group.uuid})
    assert made.status_code == 303, made.get_data(as_text=True)[:300]
    plan = db.session.query(Plan).one()
    page = parse(manager.get(f"{base}/plans/{plan.uuid}"))
    said = page.select_one("tbody .keycloak-change")
    assert said is not None and text_of(said).startswith("Added in Keycloak by helpdesk through admin-cli, ")


def test_activity_lists_the_changes_made_in_keycloak_with_a_csv(manager: Browser, world: World) -> None:
    group = drifted(world)
    manager.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}")  # the page read the events
    base = f"/offerings/{world.offering.uuid}/activity"
    activity = parse(manager.get(base))
    link = next(a for a in activity.select("a") if text_of(a) == "Changes made in Keycloak")
    page = parse(manager.get(link["href"]))
    rows = [[text_of(cell) for cell in tr.select("td")] for tr in page.select("tbody tr")]
    assert [row[1:] for row in rows] == [
        ["added", "project-a", "erin", "helpdesk", "admin-cli"]  # erin's username, resolved once
    ]
    assert "Read from Keycloak's admin events" in text_of(page)
    csv = manager.get(f"{base}/keycloak.csv").get_data(as_text=True).splitlines()
    assert csv[0] == "when,operation,group,member,source,by,client,at,event_id,words"
    assert ",added,project-a," in csv[1] and ",keycloak_admin,helpdesk,admin-cli," in csv[1]
    assert len(csv) == 2


def test_the_groups_page_says_who_made_a_remote_group_and_who_deleted_a_linked_one(
    manager: Browser, world: World
) -> None:
    world.realm.admin_events_enabled = world.realm.admin_events_details = True
    root = world.realm.add_path("/base/hpc")
    helpdesk = world.realm.add_user("helpdesk", "helpdesk@example.org")
    world.realm.admin_group_change("CREATE", helpdesk, name="by-hand", parent_id=root)
    doomed = world.add_group("doomed", backend_id=world.realm.add_path("/base/hpc/doomed"), scope_id="doomed")
    world.realm.admin_group_change("DELETE", helpdesk, group_id=doomed.backend_id)

    base = f"/offerings/{world.offering.uuid}"
    page = parse(manager.get(f"{base}/groups"))
    made = page.select_one(f"#row-r-{world.realm.add_path('/base/hpc/by-hand')} .keycloak-change")
    assert made is not None and text_of(made).startswith("Created in Keycloak by helpdesk through admin-cli, ")
    deleted = page.select_one(f"#row-{doomed.uuid} .keycloak-change")
    assert deleted is not None and text_of(deleted).startswith("Deleted in Keycloak by helpdesk through admin-cli, ")
    csv = manager.get(f"{base}/groups.csv").get_data(as_text=True).splitlines()
    assert csv[0].endswith(",suggested_link,changed_in_keycloak")
    assert any(line.startswith("Remote only,") and "Created in Keycloak by helpdesk" in line for line in csv)
