"""WCAG 2.2 AA in Chromium: axe-core (bundled by axe-playwright-python) finds no serious or critical violation on
any page or dialog state a manager reaches, and no page logs a console error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import Offering, OfferingKeycloakGroup, User, utcnow
from webapp.services.commands import ApplySelection, PreviewMembers
from webapp.services.memberships.pull import pull_members
from webapp.services.plans import core as plans
from webapp.services.reviews import core as reviews

from .conftest import LiveApp
from .pages import GroupsPage, LoginPage
from .test_plan_journeys import linked_group

WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")
IN_DIALOG_OR_BROWSER_UI = (  # past the dialog's last control Chromium moves to its own UI, never to the page
    "document.getElementById('dialog').contains(document.activeElement) || document.activeElement === document.body"
)
AXE = Axe()


class Audit:
    """Runs axe on the page as it is now and keeps what it found, with the console errors seen so far."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: page error {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and message.location.get("url") == self.page.url:
            return  # the page's own 4xx status (a form with errors, the not-found page): meant, not broken
        self.problems.append(f"{self.page.url}: console error {message.text} ({message.location.get('url')})")

    def check(self, state: str) -> None:
        results = AXE.run(self.page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
        for violation in results.response["violations"]:
            if violation.get("impact") in BLOCKING:
                targets = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
                self.problems.append(
                    f"{state}: {violation['id']} ({violation['impact']}) {violation['help']} at {targets}"
                )


@pytest.fixture
def audit(page: Page) -> Iterator[Audit]:
    yield Audit(page)


def plan_uuids(live: LiveApp, group_uuid: str) -> tuple[str, str]:
    """An open preview and an applied one of the group."""
    with live.app.app_context():  # type: ignore[attr-defined]
        group = db.session.query(OfferingKeycloakGroup).filter_by(uuid=group_uuid).one()
        manager = db.session.query(User).filter_by(username="manager").one()
        applied = plans.create_plan(manager, PreviewMembers(group.offering, [group]))
        plans.apply_plan(manager, applied, ApplySelection({}))
        open_plan = plans.create_plan(manager, PreviewMembers(group.offering, [group]))
        return open_plan.uuid, applied.uuid


def review_uuid(live: LiveApp) -> str:
    """An open access review of every linked group, its reviewers the defaults."""
    with live.app.app_context():  # type: ignore[attr-defined]
        manager = db.session.query(User).filter_by(username="manager").one()
        offering = db.session.query(Offering).one()
        return reviews.open_review(manager, offering, None, utcnow().date() + timedelta(days=14), None).uuid


def test_every_page_and_dialog_state_passes_axe_and_logs_no_console_error(
    page: Page, live_app: LiveApp, audit: Audit
) -> None:
    group_uuid, _remote_id = linked_group(live_app, "alpha", ["ann", "ben"])
    live_app.realm.add_path("/offerings/e2e-offering/alpha/child/grandchild")
    live_app.realm.add_path("/offerings/e2e-offering/remote-only")
    base = f"{live_app.url}/offerings/{live_app.offering_uuid}"

    page.goto(f"{live_app.url}/login")
    audit.check("login")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    audit.check("login with an error")
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    audit.check("offerings")

    visits: list[tuple[str, str]] = [
        ("overview", f"{live_app.url}/overview"),
        ("groups", f"{base}/groups"),
        ("groups filtered", f"{base}/groups?status=remote_only"),
        ("groups searched", f"{base}/groups?q=alpha"),
        ("group page", f"{base}/groups/{group_uuid}"),
        ("members", f"{base}/members"),
        ("activity", f"{base}/activity"),
        ("activity with an error", f"{base}/activity?from=yesterday"),
        ("changes made in keycloak", f"{base}/activity/keycloak"),
        ("jobs", f"{base}/jobs"),
        ("settings", f"{base}/settings"),
        ("tokens", f"{live_app.url}/tokens"),
        ("reviews tab", f"{base}/reviews"),
        ("reviews", f"{live_app.url}/reviews"),
        ("not found", f"{live_app.url}/offerings/00000000000000000000000000000000/groups"),
    ]
    for state, url in visits:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        audit.check(state)

    groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
    page.wait_for_load_state("networkidle")
    for name, child in (("alpha", "child"), ("child", "grandchild")):  # two levels of the tree
        page.get_by_label(f"Expand {name}").click()
        expect(page.get_by_role("treeitem").filter(has_text=child).first).to_be_visible()
    expanded = page.get_by_role("treeitem").filter(has_text="child").first
    expect(expanded).to_have_attribute("aria-expanded", "true")
    audit.check("groups with the tree expanded")
    page.get_by_label("Expand alpha").click()  # folds again, without asking Keycloak
    expect(page.locator(".tree-name").filter(has_text="grandchild")).to_be_hidden()
    groups.row("remote-only").get_by_role("link", name="Import…").click()
    expect(groups.dialog()).to_be_visible()
    audit.check("import dialog open")
    page.keyboard.press("Escape")
    expect(groups.dialog()).to_be_hidden()
    groups.row("alpha").get_by_role("link", name="Re-link…").click()
    expect(groups.dialog()).to_be_visible()
    audit.check("link dialog open")
    page.keyboard.press("Escape")

    page.goto(f"{base}/settings")
    page.get_by_label("Server URL").fill("not a url")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state("networkidle")
    audit.check("settings with errors")

    open_plan, applied_plan = plan_uuids(live_app, group_uuid)
    page.goto(f"{base}/plans/{applied_plan}/result")
    audit.check("plan result")
    page.goto(f"{base}/plans/{open_plan}")
    audit.check("plan")

    with live_app.app.app_context():  # type: ignore[attr-defined]
        pull_members(None, db.session.query(OfferingKeycloakGroup).filter_by(uuid=group_uuid).one())
    for state, url in (
        ("group page with members", f"{base}/groups/{group_uuid}"),
        ("group page searched", f"{base}/groups/{group_uuid}?q=an"),
        ("members with rows", f"{base}/members"),
        ("members filtered", f"{base}/members?state=active&q=a"),
        ("remove all matching", f"{base}/members/remove?all=1"),
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        audit.check(state)

    page.goto(f"{base}/reviews")
    page.get_by_label("Due on").fill("")
    page.get_by_role("button", name="Open the review").click()
    expect(page.get_by_label("Due on")).to_have_attribute("aria-invalid", "true")
    page.wait_for_load_state("networkidle")
    audit.check("new review with errors")

    review = f"{live_app.url}/reviews/{review_uuid(live_app)}"
    for state, url in (
        ("review page", review),
        ("review page filtered", f"{review}?decision=undecided&q=an"),
        ("review page matching nobody", f"{review}?q=nobody"),
        ("close the review", f"{review}/close"),
        ("reviews tab with a review", f"{base}/reviews"),
        ("reviews with one waiting", f"{live_app.url}/reviews"),
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        audit.check(state)

    assert audit.problems == [], "\n".join(audit.problems)


def test_keyboard_only_the_import_dialog_traps_focus_closes_on_escape_and_returns_focus(
    page: Page, live_app: LiveApp
) -> None:
    live_app.realm.add_path("/offerings/e2e-offering/keyboard-group")
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
    opener = groups.row("keyboard-group").get_by_role("link", name="Import…")
    opener.focus()
    expect(opener).to_be_focused()
    page.keyboard.press("Enter")
    dialog = groups.dialog()
    expect(dialog).to_be_visible()
    assert page.evaluate("document.getElementById('dialog').contains(document.activeElement)")
    for _ in range(12):  # Tab never leaves the modal dialog
        page.keyboard.press("Tab")
        inside = page.evaluate(IN_DIALOG_OR_BROWSER_UI)
        assert inside, "focus left the open dialog"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


def test_form_errors_are_tied_to_their_fields(page: Page, live_app: LiveApp) -> None:
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/settings")
    url_field = page.get_by_label("Server URL")
    url_field.fill("not a url")
    page.get_by_role("button", name="Save settings").click()
    expect(url_field).to_have_attribute("aria-invalid", "true")
    described = (url_field.get_attribute("aria-describedby") or "").split()
    errors = [page.locator(f"#{name}") for name in described if name.endswith("-error")]
    assert errors, described
    expect(errors[0]).to_contain_text("Invalid URL")


def test_an_answer_arriving_after_the_user_left_the_page_logs_nothing(page: Page, live_app: LiveApp) -> None:
    """The Groups page loads its Keycloak comparison right after the page; leaving before it arrives must not
    make htmx look for the out-of-band targets that are gone."""
    linked_group(live_app, "late", ["ann"])
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    held = []
    page.route("**/groups?parts=all*", lambda route: held.append(route))  # answered only after we left
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/groups")
    page.wait_for_function("() => document.querySelector('#diff-rows') !== null")
    page.get_by_role("link", name="Activity").click()  # a boosted navigation: the old body is swapped out
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    for route in held:
        route.continue_()
    page.wait_for_timeout(1500)
    assert errors == []


def test_after_a_pull_from_the_keyboard_focus_stays_on_the_row_acted_on(page: Page, live_app: LiveApp) -> None:
    linked_group(live_app, "focused", ["ann"])
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
    button = groups.row("focused").get_by_role("button", name="Pull")
    button.focus()
    page.keyboard.press("Enter")
    expect(groups.row("focused").get_by_role("status")).to_contain_text("1 new")  # a live region says it
    expect(button).to_be_focused()
