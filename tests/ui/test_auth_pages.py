from __future__ import annotations

from tests.factories import World
from tests.html import parse, text_of
from tests.ui.conftest import Browser


def test_login_required_redirects_to_login(client, world: World) -> None:
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_wrong_password_shows_error(browser, world: World) -> None:
    response = browser.login("manager", "wrong")
    assert response.status_code == 400
    assert "Unknown username or wrong password." in response.get_data(as_text=True)


def test_login_without_csrf_is_rejected(client, world: World) -> None:
    response = client.post("/login", data={"username": "manager", "password": "x"})
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)


def test_login_lists_only_managed_offerings_and_logout_is_post(manager, world: World) -> None:
    page = manager.get("/").get_data(as_text=True)
    assert "HPC Cluster" in page and "Other Service" not in page
    assert manager.client.get("/logout").status_code == 405
    response = manager.post("/logout")
    assert response.status_code == 303
    assert manager.client.get("/").status_code == 302


def test_login_next_is_kept_but_never_offsite(browser, world: World) -> None:
    browser.get("/login")
    response = browser.client.post(
        "/login?next=//evil.example/x",
        data={"csrf_token": browser.token, "username": "manager", "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/"


def test_tokens_created_once_and_revoked(manager, world: World) -> None:
    page = manager.post("/tokens").get_data(as_text=True)
    token = text_of(parse(page).select_one("#new-token"))
    assert len(token) == 40
    assert (
        manager.client.get("/api/offering-keycloak-groups/", headers={"Authorization": f"Token {token}"}).status_code
        == 200
    )
    listing = manager.get("/tokens").get_data(as_text=True)
    assert token not in listing and token[:8] in listing
    from webapp.extensions import db
    from webapp.models import ApiToken

    mine = db.session.query(ApiToken).filter_by(prefix=token[:8]).one()
    assert manager.post(f"/tokens/{mine.uuid}/revoke").status_code == 303
    assert (
        manager.client.get("/api/offering-keycloak-groups/", headers={"Authorization": f"Token {token}"}).status_code
        == 401
    )


def test_other_managers_offering_is_404(manager, world: World) -> None:
    for suffix in ("groups", "settings", "members", "activity", "catalog"):
        assert manager.get(f"/offerings/{world.other_offering.uuid}/{suffix}").status_code == 404


def test_login_refused_for_an_address_after_repeated_failures(app, browser, world: World) -> None:
    app.config.update(LOGIN_ADDRESS_MAX_FAILURES=4, LOGIN_DELAY_SECONDS=0)
    for _ in range(4):
        assert browser.login("manager", "wrong").status_code == 400
    blocked = browser.login("manager")  # this address is refused, even with the right password
    assert blocked.status_code == 429
    assert "Too many failed sign-ins from your address" in blocked.get_data(as_text=True)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    owner = Browser(elsewhere)
    assert owner.login("manager").status_code == 303  # the owner, elsewhere, is not locked out


def test_security_headers_and_cookie_flags(manager, world: World) -> None:
    response = manager.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    cookie = manager.client.get_cookie("session", domain="testserver")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " onclick=" not in html and " style=" not in html


def test_nul_in_login_form_is_400_not_500(browser, world: World) -> None:
    response = browser.login("a\x00b", "x")
    assert response.status_code == 400 and "Null characters are not allowed." in response.get_data(as_text=True)
