"""Issue 30, items 11 and 12, in Chromium: filter and search swaps break no rule of the Content-Security-Policy,
staff see that they act as staff, and the Keycloak tree has the right roles in every state axe can find it in
(collapsed, expanded, a subtree found empty or unreadable, no groups yet, Keycloak out of reach)."""

from __future__ import annotations

import re

from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from tests.factories import PASSWORD
from webapp.crypto import encrypt
from webapp.extensions import db
from webapp.models import Offering, OfferingKeycloakGroup, OfferingManager, User
from webapp.services.accounts.core import set_password
from webapp.services.memberships.pull import pull_members

from .conftest import LiveApp
from .pages import GroupsPage, LoginPage
from .test_accessibility import AXE, WCAG_AA, Audit
from .test_plan_journeys import ROOT, linked_group

# What browser extensions, translators and password managers do to a page: write styles through the CSSOM (which
# the CSP allows) on its elements, here on every element with an id, again after each swap. A swap that then
# re-sets such a style as an attribute (htmx's settle step did) is an inline style the CSP blocks. Every violation
# is reported to the test, across boosted and full navigations.
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.columnNumber}`);
});
const markStyles = () => {
  document.querySelectorAll("[id]").forEach((element) => element.style.setProperty("--seen", "1"));
};
document.addEventListener("DOMContentLoaded", markStyles);
document.addEventListener("htmx:afterSettle", markStyles);
"""
TREE_RULES = {"aria-required-children", "listitem"}


def watch_csp(page: Page) -> list[str]:
    violations: list[str] = []
    page.expose_function("reportViolation", lambda text: violations.append(text))

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"console: {message.text.split(' Either ')[0]}")

    page.on("console", console)
    page.add_init_script(WATCH_CSP)
    return violations


def typed(page: Page, label: str, text: str) -> None:
    """Types into a search field as a person does (each key an input event, htmx waits for the pause)."""
    field = page.get_by_label(label, exact=True)
    field.fill("")
    field.press_sequentially(text, delay=30)


def test_filter_and_search_swaps_cause_no_csp_violation(page: Page, live_app: LiveApp) -> None:
    group_uuid, _ = linked_group(live_app, "alpha", ["ann", "ben"])
    linked_group(live_app, "beta", ["cid"])
    live_app.realm.add_path(f"{ROOT}/remote-only")
    with live_app.app.app_context():  # type: ignore[attr-defined]
        for group in db.session.query(OfferingKeycloakGroup):
            pull_members(None, group)
    violations = watch_csp(page)
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)

    groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
    expect(groups.count("synced")).to_have_text("2")  # the deferred comparison and its out-of-band parts are in
    caption = page.locator("#diff-caption")
    typed(page, "Search groups", "alp")
    expect(caption).to_have_text("Showing 1 of 1 rows matching “alp”")
    typed(page, "Search groups", "be")
    expect(caption).to_have_text("Showing 1 of 1 rows matching “be”")
    page.locator("#status-counts a.status-remote_only").click()  # the status filter (a boosted navigation)
    expect(page).to_have_url(re.compile(r"status=remote_only"))
    expect(groups.row("remote-only")).to_be_visible()
    typed(page, "Search groups", "remote")
    expect(caption).to_have_text("Showing 1 of 1 rows matching “remote”")
    typed(page, "Search groups", "nothing-like-this")
    expect(caption).to_have_text("Showing 0 of 0 rows matching “nothing-like-this”")
    page.locator("#status-counts a.status-synced").click()
    expect(groups.row("alpha")).to_be_visible()
    page.get_by_label("Search groups").fill("")
    expect(caption).to_have_text("Showing 2 of 2 rows")
    assert violations == [], "\n".join(violations)

    page.get_by_role("link", name="Members", exact=True).click()
    rows = page.locator("#member-list tbody tr")
    expect(rows).to_have_count(3)
    typed(page, "Search", "an")
    expect(page).to_have_url(re.compile(r"q=an"))
    expect(rows).to_have_count(1)
    page.get_by_label("Search", exact=True).fill("")
    expect(rows).to_have_count(3)
    page.get_by_label("Group", exact=True).select_option(label="beta")
    expect(rows).to_have_count(1)
    page.get_by_label("Access ends").select_option(index=1)  # nobody's access ends
    expect(rows).to_have_count(0)
    page.get_by_role("navigation", name="Member states").get_by_role("link", name=re.compile(r"^Active")).click()
    expect(page).to_have_url(re.compile(r"state=active"))
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/groups/{group_uuid}")
    typed(page, "Search members", "be")
    expect(page.locator("#local-members tbody tr")).to_have_count(1)
    assert violations == [], "\n".join(violations)


def staff_user(live: LiveApp) -> None:
    with live.app.app_context():  # type: ignore[attr-defined]
        user = User(username="staffer", email="staffer@example.org", is_staff=True)
        set_password(user, PASSWORD)
        db.session.add(user)
        db.session.commit()


def test_staff_see_a_quiet_staff_marker_and_managers_do_not(page: Page, live_app: LiveApp) -> None:
    staff_user(live_app)
    audit = Audit(page)
    marker = page.locator(".topbar").get_by_title("You are signed in as staff")

    LoginPage(page, live_app.url).log_in("staffer", PASSWORD)
    expect(marker).to_be_visible()
    expect(marker).to_have_text("Signed in as staff")  # "staff" on screen, the whole sentence for screen readers
    expect(marker.locator(".visually-hidden")).to_have_text("Signed in as ")
    account = page.get_by_role("navigation", name="Account")
    expect(account).to_contain_text("staffer")
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/groups")
    page.get_by_role("link", name="Members", exact=True).click()  # a boosted navigation swaps the header too
    expect(marker).to_be_visible()
    audit.check("staff header")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have been logged out.")).to_be_visible()

    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("manager")
    expect(marker).to_have_count(0)
    expect(page.locator(".topbar")).not_to_contain_text("staff")
    assert audit.problems == [], "\n".join(audit.problems)


def unreachable_offering(live: LiveApp) -> str:
    """A second offering of the manager's whose Keycloak cannot be reached (nothing listens on port 9)."""
    with live.app.app_context():  # type: ignore[attr-defined]
        first = db.session.query(Offering).one()
        manager = db.session.query(User).filter_by(username="manager").one()
        offering = Offering(
            organization_id=first.organization_id,
            name="Unreachable Offering",
            slug="unreachable-offering",
            keycloak_enabled=True,
            keycloak_url="http://127.0.0.1:9/",
            keycloak_realm=first.keycloak_realm,
            keycloak_auth_realm="master",
            keycloak_username="admin",
            keycloak_password_encrypted=encrypt("not used"),
            keycloak_base_group="offerings",
            keycloak_timeout=2,
        )
        db.session.add(offering)
        db.session.flush()
        db.session.add(OfferingManager(user_id=manager.id, offering_id=offering.id))
        db.session.commit()
        return offering.uuid


def rules_axe_ran(page: Page) -> set[str]:
    """The rules the suite's audit (the same WCAG tags) evaluated on the page as it is now."""
    response = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}}).response
    return {rule["id"] for outcome in ("passes", "violations", "incomplete") for rule in response[outcome]}


def tree_item(page: Page, name: str) -> Locator:
    """The treeitem of that name itself, not the items it is nested in."""
    return page.locator(f"xpath=//li[@role='treeitem'][span[@class='tree-name'][normalize-space()='{name}']]")


def test_the_keycloak_tree_has_the_right_roles_in_every_state(page: Page, live_app: LiveApp) -> None:
    audit = Audit(page)
    live_app.realm.add_path(ROOT)  # the offering's group, nothing under it yet
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    groups = GroupsPage(page, live_app.url, live_app.offering_uuid)
    tree_panel = page.locator("section.tree-panel")

    groups.open()
    expect(tree_panel).to_contain_text("No groups in Keycloak under this offering yet.")
    expect(tree_panel.get_by_role("tree")).to_have_count(0)
    audit.check("groups, no Keycloak group under the offering yet")

    live_app.realm.add_path(f"{ROOT}/alpha/child/grandchild")
    live_app.realm.add_path(f"{ROOT}/leaf")
    gone = live_app.realm.add_path(f"{ROOT}/emptied/gone")  # goes once the page is shown: "emptied" is empty
    live_app.realm.add_path(f"{ROOT}/vanishing/kid")  # "vanishing" itself goes
    alpha, vanishing = (live_app.realm.group_by_path(f"{ROOT}/{name}")["id"] for name in ("alpha", "vanishing"))
    groups.open()
    tree = page.get_by_role("tree", name="Keycloak tree")
    expect(tree.get_by_role("treeitem")).to_have_count(4)
    expect(tree_item(page, "alpha")).to_have_attribute("aria-expanded", "false")
    assert tree_item(page, "leaf").get_attribute("aria-expanded") is None  # a leaf has no expanded state
    audit.check("groups, the Keycloak tree collapsed")
    assert rules_axe_ran(page) >= TREE_RULES  # the audit evaluates both rules here

    page.get_by_label("Expand alpha").click()
    expect(tree_item(page, "child")).to_be_visible()
    expect(tree_item(page, "alpha")).to_have_attribute("aria-expanded", "true")
    audit.check("groups, a node of the tree expanded")
    page.get_by_label("Expand child").click()
    expect(tree_item(page, "grandchild")).to_be_visible()
    audit.check("groups, two levels of the tree expanded")
    assert rules_axe_ran(page) >= TREE_RULES  # the audit evaluates both rules here
    page.get_by_label("Expand alpha").click()  # folds again, without asking Keycloak
    expect(tree_item(page, "child")).to_be_hidden()
    expect(tree_item(page, "alpha")).to_have_attribute("aria-expanded", "false")
    audit.check("groups, the tree folded again")

    live_app.realm.admin("DELETE", f"/groups/{gone}")
    page.get_by_label("Expand emptied").click()
    expect(tree_item(page, "emptied").locator(".tree-note")).to_have_text("No subgroups.")
    audit.check("groups, a subtree found empty")

    live_app.realm.admin("DELETE", f"/groups/{vanishing}")
    page.get_by_label("Expand vanishing").click()
    note = tree_item(page, "vanishing").locator(".tree-note")
    expect(note).to_contain_text("not found")
    expect(page.locator("#toasts .toast-error")).to_contain_text("not found")  # said in the live region
    audit.check("groups, a subtree that cannot be read")

    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/tree/{alpha}")  # the page without JavaScript
    expect(tree_item(page, "child")).to_be_visible()
    audit.check("subgroups page")
    leaf = live_app.realm.group_by_path(f"{ROOT}/leaf")["id"]
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/tree/{leaf}")
    expect(page.get_by_text("No subgroups.")).to_be_visible()
    expect(page.get_by_role("tree")).to_have_count(0)
    audit.check("subgroups page, none")
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/tree/{vanishing}")
    expect(page.locator("section.card p.error")).to_contain_text("not found")
    audit.check("subgroups page, a group that cannot be read")

    unreachable = unreachable_offering(live_app)
    page.goto(f"{live_app.url}/offerings/{unreachable}/groups")
    expect(page.locator("#diff-notes").get_by_role("alert")).to_contain_text("Keycloak could not be read")
    expect(tree_panel).to_contain_text("Keycloak could not be read, so its groups cannot be shown.")
    page.wait_for_load_state("networkidle")
    audit.check("groups of an offering whose Keycloak cannot be reached")
    page.get_by_role("link", name="Members", exact=True).click()
    page.wait_for_load_state("networkidle")
    audit.check("members of an offering whose Keycloak cannot be reached")

    assert audit.problems == [], "\n".join(audit.problems)
