"""A big group in Chromium against a real Keycloak: paged members on both sides, search as you type, and the
place kept in the URL (reload, Back); the Members tab's filters and "remove all N matching" (with the removal
brake's typed phrase)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingRole

from .conftest import LiveApp
from .pages import LoginPage

ROOT = "/offerings/e2e-offering"
MEMBERS = 35


def crowd(live: LiveApp) -> str:
    """A Keycloak group of 35 (c000…c034) linked locally, nobody recorded yet; returns the local uuid."""
    live.realm.add_path(f"{ROOT}/crowd")  # type: ignore[attr-defined]
    users = [
        {"username": f"c{i:03d}", "email": f"c{i:03d}@example.org", "first_name": f"Crowd{i}"} for i in range(MEMBERS)
    ]
    live.realm.add_users_bulk(users, [f"{ROOT}/crowd"])  # type: ignore[attr-defined]
    remote_id = live.realm.group_by_path(f"{ROOT}/crowd")["id"]  # type: ignore[attr-defined]
    with live.app.app_context():  # type: ignore[attr-defined]
        live.app.config["MEMBERS_PAGE_SIZE"] = 10  # type: ignore[attr-defined]
        role = db.session.query(OfferingRole).one()
        group = OfferingKeycloakGroup(
            offering_id=role.offering_id, role_id=role.id, scope_id="crowd", name="crowd", backend_id=remote_id
        )
        db.session.add(group)
        db.session.commit()
        return group.uuid


def first_cells(page: Page, panel: str) -> list[str]:
    return page.locator(f"#{panel} tbody tr td:first-child").all_inner_texts()


def test_a_big_group_page_is_paged_searched_and_keeps_its_place(page: Page, live_app: LiveApp) -> None:
    group_uuid = crowd(live_app)
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    url = f"{live_app.url}/offerings/{live_app.offering_uuid}/groups/{group_uuid}"
    page.goto(url)
    expect(page.locator("#local-members h3")).to_have_text("Local members · 0")
    expect(page.locator("#keycloak-members h3")).to_have_text("In Keycloak")  # never pulled: not counted
    expect(page.locator("#keycloak-members tbody tr")).to_have_count(10)
    expect(page.locator("#keycloak-members")).to_contain_text("not recorded here")

    page.get_by_role("button", name="Pull members").click()
    expect(page.locator("#local-members h3")).to_have_text(f"Local members · {MEMBERS}")
    expect(page.locator("#keycloak-members h3")).to_have_text(f"In Keycloak · about {MEMBERS}")
    expect(page.get_by_role("button", name=f"Preview sync of about {MEMBERS} members in crowd")).to_be_visible()

    # The Keycloak side's last page: the count becomes exact.
    keycloak_pages = page.get_by_role("navigation", name="Pages of Keycloak members")
    keycloak_pages.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"kpage=2"))
    expect(page.locator("#keycloak-members tbody tr td").first).to_have_text("c010")
    for number, first in ((3, "c020"), (4, "c030")):  # each click waits until the page before it is shown
        page.get_by_role("navigation", name="Pages of Keycloak members").get_by_role("link", name="Next →").click()
        expect(page).to_have_url(re.compile(rf"kpage={number}"))
        expect(page.locator("#keycloak-members tbody tr td").first).to_have_text(first)
    expect(page.locator("#keycloak-members h3")).to_have_text(f"In Keycloak · {MEMBERS}")
    assert first_cells(page, "keycloak-members") == ["c030", "c031", "c032", "c033", "c034"]

    # Back walks the pages again; a reload keeps the place.
    page.go_back()
    expect(page).to_have_url(re.compile(r"kpage=3"))
    expect(page.locator("#keycloak-members tbody tr td").first).to_have_text("c020")
    page.reload()
    expect(page.locator("#keycloak-members tbody tr td").first).to_have_text("c020")

    # Search as you type: both panels follow, and the URL says what was searched.
    page.goto(url)
    page.get_by_label("Search members").fill("c01")
    expect(page).to_have_url(re.compile(r"q=c01"))
    expect(page.locator("#local-members h3")).to_have_text(f"Local members · {MEMBERS} · 10 match “c01”")
    expect(page.locator("#keycloak-members h3")).to_have_text("Keycloak accounts · 10 match “c01”")
    assert first_cells(page, "local-members")[:2] == ["c010", "c011"]
    expect(page.locator("#keycloak-members")).to_contain_text("recorded here")
    page.reload()
    expect(page.get_by_label("Search members")).to_have_value("c01")
    expect(page.locator("#local-members tbody tr")).to_have_count(10)


def test_members_tab_filters_and_removes_all_matching(page: Page, live_app: LiveApp) -> None:
    group_uuid = crowd(live_app)
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/groups/{group_uuid}")
    page.get_by_role("button", name="Pull members").click()
    expect(page.locator("#local-members h3")).to_have_text(f"Local members · {MEMBERS}")

    page.get_by_role("link", name="Members", exact=True).click()
    states = page.get_by_role("navigation", name="Member states")
    expect(states).to_contain_text(f"All · {MEMBERS}")
    expect(states).to_contain_text(f"Active · {MEMBERS}")
    expect(page.locator("#member-list tbody tr")).to_have_count(10)
    page.get_by_label("Search").fill("c02")
    expect(page).to_have_url(re.compile(r"q=c02"))
    expect(states).to_contain_text("All · 10")
    page.get_by_role("link", name="Remove all 10 matching…").click()
    expect(page.get_by_role("heading", name="Remove all 10 matching members?")).to_be_visible()
    phrase = page.get_by_label("Type “remove 10 members” to confirm")  # more than the removal brake (5)
    phrase.fill("remove 10")
    page.get_by_role("button", name="Remove 10 members").click()
    expect(page.get_by_text("Type 'remove 10 members' to confirm.")).to_be_visible()
    expect(phrase).to_have_value("remove 10")
    phrase.fill("remove 10 members")
    page.get_by_role("button", name="Remove 10 members").click()
    expect(page.get_by_text("Removed 10 members.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Member states")).to_contain_text(f"All · {MEMBERS - 10}")
    remote_id = live_app.realm.group_by_path(f"{ROOT}/crowd")["id"]  # type: ignore[attr-defined]
    left = live_app.realm.admin("GET", f"/groups/{remote_id}/members", params={"max": 100}).json()  # type: ignore[attr-defined]
    assert sorted(user["username"] for user in left) == [f"c{i:03d}" for i in range(MEMBERS) if not 20 <= i < 30]
