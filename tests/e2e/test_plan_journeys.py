"""Review before every change, in Chromium against a real Keycloak: preview → deselect → apply → result,
a preview gone stale, the removal brake, the whole flow without JavaScript, and names made of HTML."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership, OfferingRole
from webapp.services.memberships.pull import pull_members

from .conftest import LiveApp
from .pages import GroupsPage, LoginPage, PlanPage
from .test_journeys import SCREENSHOTS

ROOT = "/offerings/e2e-offering"


def linked_group(live: LiveApp, name: str, members: list[str]) -> tuple[str, str]:
    """A Keycloak group with members, imported locally; returns (local uuid, Keycloak id)."""
    remote_id = live.realm.add_path(f"{ROOT}/{name}")
    for username in members:
        live.realm.add_member(remote_id, live.realm.add_user(username, f"{username}@example.org", username.title()))
    with live.app.app_context():  # type: ignore[attr-defined]
        role = db.session.query(OfferingRole).one()
        group = OfferingKeycloakGroup(
            offering_id=role.offering_id, role_id=role.id, scope_id=name, name=name, backend_id=remote_id
        )
        db.session.add(group)
        db.session.commit()
        return group.uuid, remote_id


def registered(live: LiveApp) -> dict[str, str]:
    with live.app.app_context():  # type: ignore[attr-defined]
        return {m.username: m.state for m in db.session.query(OfferingKeycloakMembership)}


def open_preview(page: Page, live: LiveApp, name: str) -> PlanPage:
    groups = GroupsPage(page, live.url, live.offering_uuid).open()
    groups.row(name).filter(has_text="Synced").get_by_role("button", name=f"Preview sync of {name}").click()
    plan = PlanPage(page)
    expect(plan.heading()).to_have_text("Preview: pull members into 1 group")
    return plan


def test_preview_deselect_apply_result(page: Page, live_app: LiveApp) -> None:
    linked_group(live_app, "alpha", ["ann", "ben", "cid"])
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    plan = open_preview(page, live_app, "alpha")
    expect(plan.summary()).to_have_text("+3 to add")
    assert registered(live_app) == {}  # the preview wrote nothing
    expect(page.get_by_role("group", name="Include: add ben to alpha here")).to_be_visible()
    plan.choose("ben", "Leave as is")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "plan-page.png"), full_page=True)  # copied to docs/ for the README
    expect(page.locator("#apply-why")).to_have_text("")  # recounted in place
    plan.apply(2)
    expect(plan.result_heading()).to_have_text("Partly applied: 2 add here")
    expect(plan.result_heading()).to_be_focused()
    expect(page.get_by_role("table")).to_contain_text("Not selected")
    assert registered(live_app) == {"ann": "active", "cid": "active"}
    page.get_by_role("link", name="View in Activity").click()
    expect(page.get_by_role("table")).to_contain_text("plan.applied")


def test_a_stale_preview_changes_nothing(page: Page, live_app: LiveApp) -> None:
    _uuid, remote_id = linked_group(live_app, "beta", ["dan"])
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    plan = open_preview(page, live_app, "beta")
    live_app.realm.add_member(remote_id, live_app.realm.add_user("eve", "eve@example.org"))  # type: ignore[attr-defined]
    plan.apply(1)
    expect(page.get_by_role("alert")).to_contain_text(
        "Keycloak changed since this preview: beta: 2 members in Keycloak, 1 at preview. Preview again."
    )
    assert registered(live_app) == {}
    page.get_by_role("alert").get_by_role("button", name="Preview again").click()
    expect(PlanPage(page).summary()).to_have_text("+2 to add")


def test_removing_members_from_keycloak_needs_the_typed_phrase(page: Page, live_app: LiveApp) -> None:
    _uuid, remote_id = linked_group(live_app, "gamma", ["fay", "gus"])
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    plan = open_preview(page, live_app, "gamma")
    plan.choose("fay", "Remove from Keycloak")
    plan.choose("gus", "Remove from Keycloak")
    plan.apply(2)
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Remove 2 members from Keycloak?")
    dialog.get_by_label("Type remove 2 members to confirm").fill("remove 2 members")
    dialog.get_by_role("button", name="Remove from Keycloak and apply").click()
    expect(plan.result_heading()).to_have_text("Applied: 2 remove from keycloak")
    assert live_app.realm.group_members(remote_id) == []  # type: ignore[attr-defined]
    assert registered(live_app) == {}


def test_without_javascript_import_preview_apply_and_result(chromium, live_app: LiveApp) -> None:
    live_app.realm.add_path(f"{ROOT}/delta")  # type: ignore[attr-defined]
    linked_group(live_app, "epsilon", ["hal"])
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        LoginPage(page, live_app.url).log_in("manager", PASSWORD)
        groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
        groups.bulk_import(["delta"], role="member")
        expect(groups.row("delta").filter(has_text="Synced")).to_be_visible()
        plan = open_preview(page, live_app, "epsilon")
        plan.apply(1)
        expect(plan.result_heading()).to_have_text("Applied: 1 add here")
        assert registered(live_app) == {"hal": "active"}
    finally:
        context.close()


def test_names_made_of_html_stay_text_in_plan_and_result(page: Page, live_app: LiveApp) -> None:
    evil = "<img src=x onerror=alert(1)>"
    live_app.realm.add_path(f"{ROOT}/{evil}")  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)
    groups = GroupsPage(page, live_app.url, live_app.offering_uuid).open()
    groups.row(evil).get_by_role("checkbox").check()
    page.locator(".bulk-panel").get_by_label("Role").select_option(label="member")
    page.get_by_role("button", name="Preview import of selected").click()
    expect(page.locator("table.plan-items")).to_contain_text(evil)
    assert page.locator("table.plan-items img").count() == 0
    PlanPage(page).apply(1)
    expect(page.get_by_role("table")).to_contain_text(evil)
    assert page.locator("table img").count() == 0 and dialogs == []


def test_a_background_pull_shows_live_progress_until_it_ends(page: Page, live_app: LiveApp) -> None:
    from tests.workers import Worker

    group_uuid, _remote_id = linked_group(live_app, "zeta", ["ivy", "jon"])
    worker = Worker(live_app.app)  # type: ignore[arg-type]
    try:
        LoginPage(page, live_app.url).log_in("manager", PASSWORD)
        page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/groups/{group_uuid}")
        page.get_by_role("button", name="Pull in the background").click()
        expect(page.locator("#job-heading")).to_have_text("Pull members: zeta")
        status = page.locator("#job-status")
        expect(status).to_contain_text("Succeeded", timeout=30_000)  # polled in place, no reload
        expect(status).to_contain_text("2 new · 0 updated · 0 removed in Keycloak · 2 in Keycloak")
        assert registered(live_app) == {"ivy": "active", "jon": "active"}
        page.get_by_role("link", name="Jobs", exact=True).click()
        expect(page.get_by_role("table")).to_contain_text("Pull members: zeta")
    finally:
        worker.stop()


def test_a_large_preview_and_its_apply_run_as_jobs_followed_live(page: Page, live_app: LiveApp) -> None:
    from tests.workers import Worker

    group_uuid, remote_id = linked_group(live_app, "omega", ["kim", "lou"])
    with live_app.app.app_context():  # type: ignore[attr-defined]  # kim and lou recorded as Keycloak has them
        pull_members(None, db.session.query(OfferingKeycloakGroup).filter_by(uuid=group_uuid).one())
    live_app.app.config["BACKGROUND_THRESHOLD"] = 2  # type: ignore[attr-defined]  # two members: "large" here
    for username in ("max", "ned"):
        live_app.realm.add_member(remote_id, live_app.realm.add_user(username, f"{username}@example.org"))
    worker = Worker(live_app.app)  # type: ignore[arg-type]
    try:
        LoginPage(page, live_app.url).log_in("manager", PASSWORD)
        open_preview_button = GroupsPage(page, live_app.url, live_app.offering_uuid).open().row("omega")
        open_preview_button.get_by_role("button", name="Preview sync of omega").click()
        expect(page.locator("#job-heading")).to_have_text("Preview members: omega")
        status = page.locator("#job-status")
        expect(status).to_contain_text("Succeeded", timeout=30_000)  # polled in place
        status.get_by_role("link", name="Open the preview").click()
        plan = PlanPage(page)
        expect(plan.summary()).to_have_text("+2 to add · =2 unchanged")
        plan.apply(2)
        expect(page.locator("#job-heading")).to_have_text("Apply a preview: E2E Offering")
        expect(status).to_contain_text("Succeeded 2 of 2 items", timeout=30_000)
        status.get_by_role("link", name="See the result").click()
        expect(plan.result_heading()).to_be_visible()
        assert registered(live_app) == {"kim": "active", "lou": "active", "max": "active", "ned": "active"}
    finally:
        worker.stop()
