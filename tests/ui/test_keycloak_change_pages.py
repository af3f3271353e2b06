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
