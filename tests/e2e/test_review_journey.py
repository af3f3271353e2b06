"""An access review, in Chromium against a real Keycloak (docs/PRODUCT.md §12): the offering's manager opens one on
the Reviews tab, decides keep / remove / unsure per member (by click and by keyboard), closes it into its plan and
applies that plan (with the removal brake's typed phrase): only the member decided "remove" leaves the Keycloak
group, and every review page passes axe."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.factories import PASSWORD

from .conftest import LiveApp
from .pages import LoginPage, PlanPage
from .test_accessibility import Audit
from .test_plan_journeys import linked_group

OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"  # as the narrow journey


def test_a_manager_reviews_access_and_only_the_member_decided_remove_leaves_keycloak(
    page: Page, live_app: LiveApp
) -> None:
    audit = Audit(page)
    _group_uuid, remote_id = linked_group(live_app, "project-a", ["alice", "bob", "carol"])
    LoginPage(page, live_app.url).log_in("manager", PASSWORD)

    # The offering's Reviews tab: no review yet, the form checks every linked group and proposes a due date.
    page.get_by_role("link", name="E2E Offering").click()
    page.get_by_role("navigation", name="Offering sections").get_by_role("link", name="Reviews").click()
    expect(page).to_have_url(f"{live_app.url}/offerings/{live_app.offering_uuid}/reviews")
    expect(page.get_by_role("heading", name="Access reviews")).to_be_visible()
    expect(page.get_by_text("No review of this offering yet.")).to_be_visible()
    expect(page.get_by_role("checkbox", name="project-a")).to_be_checked()
    expect(page.get_by_label("Due on")).not_to_have_value("")
    audit.check("reviews tab")
    page.get_by_role("button", name="Open the review").click()

    # The review page: three members, nobody decided.
    expect(page).to_have_url(re.compile(rf"{re.escape(live_app.url)}/reviews/[0-9a-f]+$"))
    review_url = page.url
    expect(page.get_by_role("heading", name="Access review of E2E Offering")).to_be_visible()
    progress = page.locator("#progress-words")
    expect(progress).to_have_text("0 of 3 decided: 0 keep, 0 remove, 0 unsure; 3 undecided.")
    rows = page.locator("table.review-items tbody tr")
    expect(rows.locator("th")).to_have_count(3)

    def decision(username: str) -> Locator:
        return page.get_by_role("group", name=f"Decision for {username} in project-a")

    decision("alice").get_by_role("radio", name="Keep").check()
    decision("bob").get_by_role("radio", name="Remove").check()
    page.get_by_label("Note for bob", exact=True).fill("left in June")
    unsure = decision("carol").get_by_role("radio", name="Unsure")
    unsure.focus()  # from the keyboard
    page.keyboard.press("Space")
    expect(unsure).to_be_checked()
    page.get_by_role("button", name="Save decisions").click()
    expect(page.locator("#toasts")).to_contain_text("Saved 3 decisions: 3 of 3 decided.")
    expect(progress).to_have_text("3 of 3 decided: 1 keep, 1 remove, 1 unsure; 0 undecided.")
    expect(decision("alice").get_by_role("radio", name="Keep")).to_be_checked()
    expect(decision("bob").get_by_role("radio", name="Remove")).to_be_checked()
    expect(decision("carol").get_by_role("radio", name="Unsure")).to_be_checked()
    expect(page.get_by_label("Note for bob", exact=True)).to_have_value("left in June")
    expect(page.locator("table.review-items tbody tr").filter(has_text="bob")).to_contain_text("manager")
    audit.check("review page decided")

    # Filtered to the removals: only bob.
    page.locator("#decision-filter").select_option(label="Remove")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"decision=remove"))
    expect(page.locator("table.review-items tbody tr th")).to_have_count(1)
    expect(page.locator("table.review-items tbody th")).to_contain_text("bob")
    audit.check("review page filtered")

    # At a phone's width the review page, decisions and all, scrolls only down, as the Groups page does
    # (test_journeys.py).
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(review_url)
    expect(decision("alice").get_by_role("radio", name="Keep")).to_be_visible()
    overflow = page.evaluate(OVERFLOW)
    assert overflow <= 0, f"the review page is {overflow}px wider than a 390px window"
    page.set_viewport_size({"width": 1280, "height": 900})

    # The Reviews tab lists it; so does the top navigation's Reviews, as waiting for the manager's decisions.
    page.goto(f"{live_app.url}/offerings/{live_app.offering_uuid}/reviews")
    listed = page.get_by_role("table", name="Reviews of this offering")
    expect(listed).to_contain_text("3 of 3")
    audit.check("reviews tab with a review")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Reviews").click()
    expect(page.get_by_role("table", name="Open reviews you review")).to_contain_text("E2E Offering")
    audit.check("my reviews")
    page.get_by_role("table", name="Open reviews you review").get_by_role("link").first.click()
    expect(progress).to_have_text("3 of 3 decided: 1 keep, 1 remove, 1 unsure; 0 undecided.")

    # Close: a confirmation that says what closing does, then the plan of the removals.
    page.get_by_role("link", name="Close the review…").click()
    expect(page).to_have_url(f"{review_url}/close")
    expect(page.get_by_role("heading", name="Close the review?")).to_be_visible()
    expect(page.locator("body")).to_contain_text("1 member decided “remove”")
    audit.check("close the review")
    page.get_by_role("button", name="Close the review").click()

    expect(page).to_have_url(re.compile(rf"/offerings/{live_app.offering_uuid}/plans/[0-9a-f]+$"))
    plan = PlanPage(page)
    expect(plan.heading()).to_contain_text("access review decided to remove")
    items = page.locator("table.plan-items tbody tr")
    expect(items.filter(has_text="bob")).to_contain_text("Decided in the access review by manager: remove.")
    expect(items.filter(has_text="alice")).to_have_count(0)
    expect(items.filter(has_text="carol")).to_have_count(0)
    assert sorted(live_app.realm.group_members(remote_id)) == ["alice", "bob", "carol"]  # type: ignore[attr-defined]
    audit.check("review plan")
    plan.apply(1)
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Remove 1 member from Keycloak?")
    phrase = dialog.get_by_label("Type remove 1 member to confirm")  # 1 of 3 is more than 10 % of the group
    phrase.fill("remove 1 member")
    dialog.get_by_role("button", name="Remove from Keycloak and apply").click()
    expect(plan.result_heading()).to_have_text("Applied: 1 remove from keycloak")
    assert sorted(live_app.realm.group_members(remote_id)) == ["alice", "carol"]  # type: ignore[attr-defined]

    # The closed review says so and links its plan; nobody can decide any more.
    page.goto(review_url)
    expect(page.locator("body")).to_contain_text("Closed ")
    expect(page.get_by_role("link", name="Its plan of the removals")).to_be_visible()
    expect(page.get_by_role("radio")).to_have_count(0)
    expect(page.get_by_role("link", name="Close the review…")).to_have_count(0)
    audit.check("review page closed")
    assert audit.problems == [], "\n".join(audit.problems)
