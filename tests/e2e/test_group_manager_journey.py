"""A project's PI manages their own group, in Chromium against a real Keycloak (docs/PRODUCT.md §13): the
offering's manager makes them a group manager on the group page; the PI signs in, finds My groups, grants a
student access and removes them again, and every page they reach passes axe."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import User
from webapp.services.accounts.core import set_password

from .conftest import LiveApp
from .pages import LoginPage
from .test_accessibility import Audit
from .test_plan_journeys import linked_group


def add_account(live: LiveApp, username: str) -> None:
    with live.app.app_context():  # type: ignore[attr-defined]
        user = User(username=username, email=f"{username}@example.org")
        set_password(user, PASSWORD)
        db.session.add(user)
        db.session.commit()


def test_a_pi_manages_the_members_of_their_group_and_nothing_else(page: Page, live_app: LiveApp) -> None:
    audit = Audit(page)
    own_uuid, own_id = linked_group(live_app, "project-a", [])
    linked_group(live_app, "project-b", ["bea"])
    live_app.realm.add_user("student", "student@example.org")
    add_account(live_app, "pi")
    group_url = f"{live_app.url}/offerings/{live_app.offering_uuid}/groups/{own_uuid}"

    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    page.goto(group_url)
    managers = page.get_by_role("region", name="Group managers")
    expect(managers).to_contain_text("Nobody but the offering's managers manages this group.")
    page.locator("#delegate-username").fill("pi")
    page.get_by_role("button", name="Add group manager").click()
    expect(page.locator("#toasts")).to_contain_text("pi now manages the members")
    expect(managers.get_by_role("cell", name="pi", exact=True)).to_be_visible()
    audit.check("group page with a group manager")
    page.get_by_role("button", name="Log out").click()

    page.goto(f"{live_app.url}/login")
    page.get_by_label("Username").fill("pi")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="My groups").first.click()
    expect(page.get_by_role("heading", name="My groups")).to_be_visible()
    expect(page.get_by_role("link", name="project-b")).to_have_count(0)
    audit.check("my groups")
    page.get_by_role("link", name="project-a").click()
    expect(page.get_by_role("heading", name="project-a")).to_be_visible()
    expect(page.get_by_role("navigation", name="Offering sections")).to_have_count(0)
    expect(page.get_by_role("region", name="Group managers")).to_have_count(0)
    audit.check("group page as its group manager")

    page.locator("#grant-username").fill("student")
    page.get_by_role("button", name="Grant access").click()
    expect(page.locator("body")).to_contain_text("student is now a member (added in Keycloak).")
    assert live_app.realm.group_members(own_id) == ["student"]
    page.get_by_role("link", name="Remove student").click()
    expect(page.get_by_role("heading", name="Remove student from “project-a”?")).to_be_visible()
    audit.check("remove a member")
    page.get_by_role("button", name="Remove student").click()
    expect(page.locator("body")).to_contain_text("Removed student from “project-a”.")
    assert live_app.realm.group_members(own_id) == []

    settings = page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/settings")
    assert settings is not None and settings.status == 403
    assert audit.problems == [], "\n".join(audit.problems)
