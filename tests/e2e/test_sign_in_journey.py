"""Sign in with Keycloak in Chromium: the app's button, Keycloak's own login page, back signed in; Log out ends the
Keycloak session too, so the next sign-in asks for the password again."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from .conftest import SIGN_IN_CLIENT, LiveApp

KEYCLOAK_PASSWORD = "Keycloak-e2e-1"


def test_sign_in_with_keycloak_and_log_out_of_both(page: Page, live_app: LiveApp) -> None:
    live_app.realm.add_login_user(  # type: ignore[attr-defined]
        "mia", KEYCLOAK_PASSWORD, "manager@example.org", client_roles=(live_app.sign_in_client, SIGN_IN_CLIENT, [])
    )
    page.goto(f"{live_app.url}/login")
    page.get_by_role("link", name="Sign in with Keycloak").click()
    page.locator("#username").fill("mia")
    page.locator("#password").fill(KEYCLOAK_PASSWORD)
    page.locator("#kc-login").click()
    expect(page.get_by_role("heading", name="Offerings")).to_be_visible()  # signed in as the linked manager
    expect(page.get_by_role("link", name="E2E Offering")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()  # back here, through Keycloak's logout
    page.get_by_role("link", name="Sign in with Keycloak").click()
    expect(page.locator("#kc-login")).to_be_visible()  # Keycloak asks again: its session ended too
