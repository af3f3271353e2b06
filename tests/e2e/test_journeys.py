"""What a manager does, in a real browser, against a real Keycloak."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

from .conftest import LiveApp
from .pages import GroupsPage, LoginPage

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


def seed_realm(live: LiveApp) -> dict[str, str]:
    realm = live.realm
    ids = {name: realm.add_path(f"/offerings/e2e-offering/{name}") for name in ("alpha", "beta", "gamma", "delta")}
    ids["nested"] = realm.add_path("/offerings/e2e-offering/delta/nested")
    for username in ("ann", "ben"):
        realm.add_member(ids["alpha"], realm.add_user(username, f"{username}@example.org"))
    return ids


def test_manager_journey(page: Page, live_app: LiveApp) -> None:
    ids = seed_realm(live_app)
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)

    # Test the connection from the settings tab: the result appears in place.
    page.get_by_role("link", name="E2E Offering").click()
    page.get_by_role("link", name="Keycloak settings").click()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text("Connected.")
    expect(page.locator("#connection-result")).to_contain_text("5 groups under")

    # Review the diff: everything is remote only at first.
    groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
    expect(groups.count("remote_only")).to_have_text("5")

    # Import one, then bulk-import two.
    groups.import_group("alpha", role="member")
    expect(groups.count("synced")).to_have_text("1")
    groups.bulk_import(["beta", "gamma"], role="member")
    expect(groups.count("synced")).to_have_text("3")
    expect(groups.count("remote_only")).to_have_text("2")

    # Pull members: counts shown in place.
    alpha = groups.row("alpha").filter(has_text="Synced")
    alpha.get_by_role("button", name="Pull members").click()
    expect(alpha.locator(".pull-result")).to_contain_text("2 new · 0 updated · 0 removed in Keycloak · 2 in Keycloak")

    # Unlink (confirm), then link again by choosing the remote group.
    groups.row("gamma").filter(has_text="Synced").get_by_role("link", name="Unlink…").click()
    groups.dialog().get_by_role("button", name="Unlink").click()
    expect(groups.count("local_only")).to_have_text("1")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "groups-view.png"), full_page=True)  # copied to docs/ for the README
    groups.row("gamma").filter(has_text="Local only").get_by_role("link", name="Link…").click()
    groups.dialog().get_by_label("Keycloak group").select_option(label="/offerings/e2e-offering/gamma")
    groups.dialog().get_by_role("button", name="Link").click()
    expect(groups.count("synced")).to_have_text("3")

    # Delete an imported group: the dialog says Keycloak stays as it is.
    groups.row("beta").filter(has_text="Synced").get_by_role("link", name="Delete…").click()
    expect(groups.dialog()).to_contain_text("imported groups are never deleted in Keycloak")
    groups.dialog().get_by_role("button", name="Delete").click()
    expect(groups.count("synced")).to_have_text("2")
    assert live_app.realm.group_by_path("/offerings/e2e-offering/beta")["id"] == ids["beta"]

    # Lazy tree: expanding delta loads its child from Keycloak.
    page.get_by_role("link", name="Expand delta").click()
    expect(page.get_by_role("treeitem").filter(has_text="nested").first).to_be_visible()

    # Activity shows who did what.
    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_role("table")).to_contain_text("group.members_pulled")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_group_named_like_html_is_harmless(page: Page, live_app: LiveApp) -> None:
    evil = "<img src=x onerror=alert(1)>"
    live_app.realm.add_path(f"/offerings/e2e-offering/{evil}")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
    expect(groups.row(evil)).to_be_visible()
    groups.import_group(evil, role="member")
    expect(groups.row(evil).filter(has_text="Synced")).to_be_visible()
    assert page.locator("table.diff img").count() == 0
    assert dialogs == []


def test_without_javascript_everything_is_a_plain_form(chromium, live_app: LiveApp) -> None:
    seed_realm(live_app)
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        LoginPage(page, live_app.url).log_in("manager", PASSWORD)
        groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
        groups.row("alpha").get_by_role("link", name="Import…").click()  # a full page instead of a dialog
        page.get_by_label("Role").select_option(label="member")
        page.get_by_role("button", name="Import").click()
        expect(page.locator(".toast")).to_contain_text("Imported Keycloak group “alpha”.")
        expect(groups.count("synced")).to_have_text("1")
        groups.row("alpha").filter(has_text="Synced").get_by_role("button", name="Pull members").click()
        expect(page.locator(".toast")).to_contain_text("2 new")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    finally:
        context.close()


def test_narrow_window_has_no_horizontal_scroll(chromium, live_app: LiveApp) -> None:
    seed_realm(live_app)
    context = chromium.new_context(viewport={"width": 400, "height": 800})
    page = context.new_page()
    try:
        LoginPage(page, live_app.url).log_in("manager", PASSWORD)
        GroupsPage(page, live_app.url, live_app.offering_uuid).open()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        expect(page.get_by_role("link", name="Import…").first).to_be_visible()
    finally:
        context.close()
