"""Page objects: what a manager sees and clicks, by role and label."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class LoginPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def log_in(self, username: str, password: str) -> None:
        self.page.goto(f"{self.base_url}/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        expect(self.page.get_by_role("heading", name="Offerings")).to_be_visible()


class GroupsPage:
    def __init__(self, page: Page, base_url: str, offering_uuid: str) -> None:
        self.page = page
        self.url = f"{base_url}/offerings/{offering_uuid}/groups"

    def open(self) -> GroupsPage:
        self.page.goto(self.url)
        expect(self.page.get_by_role("table")).to_be_visible()
        return self

    def count(self, status: str) -> Locator:
        return self.page.locator(f'[data-count="{status}"]')

    def row(self, text: str) -> Locator:
        return self.page.locator("table.diff tbody tr").filter(has_text=text)

    def dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    def import_group(self, remote_name: str, role: str) -> None:
        self.row(remote_name).get_by_role("link", name="Import…").click()
        dialog = self.dialog()
        expect(dialog).to_be_visible()
        dialog.get_by_label("Role").select_option(label=role)
        dialog.get_by_role("button", name="Import").click()
        expect(self.page.locator(".toast").filter(has_text="Imported")).to_be_visible()

    def bulk_import(self, remote_names: list[str], role: str) -> None:
        for name in remote_names:
            self.row(name).get_by_role("checkbox").check()
        self.page.locator(".bulk-panel").get_by_label("Role").select_option(label=role)
        self.page.get_by_role("button", name="Preview import of selected").click()
        plan = PlanPage(self.page)
        expect(plan.summary()).to_have_text(f"+{len(remote_names)} to import")
        plan.apply(len(remote_names))
        expect(plan.result_heading()).to_have_text(f"Applied: {len(remote_names)} import")
        self.page.get_by_role("link", name="Back to groups").click()
        expect(self.page.get_by_role("table")).to_be_visible()


class PlanPage:
    """The preview of a plan and, after Apply, its result page."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def heading(self) -> Locator:
        return self.page.locator("#plan-heading")

    def summary(self) -> Locator:
        return self.page.locator("#plan-summary")

    def include(self, label: str) -> Locator:
        return self.page.get_by_label(f"Include: {label}")

    def choose(self, username: str, action: str) -> None:
        row = self.page.locator("table.plan-items tbody tr").filter(has_text=username)
        row.get_by_label(action).check()

    def apply_button(self) -> Locator:
        return self.page.locator("#apply-button")

    def apply(self, count: int) -> None:
        button = self.apply_button()
        expect(button).to_have_text(f"Apply {count} change{'' if count == 1 else 's'}")
        button.click()

    def result_heading(self) -> Locator:
        return self.page.locator("#result-heading")
