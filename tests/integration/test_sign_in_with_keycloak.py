"""Signing in with Keycloak against a real Keycloak: the app's side through Flask's test client, Keycloak's own
login form driven with `requests` (no direct access grants: they would skip the flow under test). Linking by
verified email, staff from the client role, logout ending the Keycloak session, and the refusals: a tampered
state, a replayed code, a user Keycloak has disabled, a user with no account here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import _config
from tests.signin import csrf_token_of, send
from webapp import create_app
from webapp.extensions import db
from webapp.models import User

APP_CLIENT, APP_SECRET = "okg-app", "okg-app-secret-for-tests"
CALLBACK = "http://testserver/auth/keycloak/callback"
AFTER_LOGOUT = "http://testserver/login"
PASSWORD = "Keycloak-pass-1"


@pytest.fixture
def sign_in(real_realm, keycloak_server, database_uri: str, tmp_path: Path) -> Iterator[tuple[Flask, object, str]]:  # type: ignore[no-untyped-def]
    client_uuid = real_realm.add_sign_in_client(APP_CLIENT, APP_SECRET, CALLBACK, AFTER_LOGOUT)
    app = create_app(
        _config(
            database_uri,
            OIDC_ISSUER=f"{keycloak_server.url}/realms/{real_realm.name}",
            OIDC_CLIENT_ID=APP_CLIENT,
            OIDC_CLIENT_SECRET=APP_SECRET,
            JOBS_URL=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        )
    )
    with app.app_context():
        db.session.add(User(username="ann", email="ann@example.org", is_staff=True))
        db.session.commit()
        yield app, real_realm, client_uuid
        db.session.remove()
        db.engine.dispose()


class Browser(requests.Session):
    """Keycloak marks its cookies Secure; Chromium sends such cookies to 127.0.0.1 over http, requests does not."""

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        response = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def to_keycloak(client: FlaskClient) -> str:
    """The app's redirect to Keycloak's authorization endpoint, with PKCE and a nonce."""
    start = send(client, "GET", "/auth/keycloak/login")
    assert start.status_code == 302, start.get_data(as_text=True)
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] and query["nonce"]
    return start.headers["Location"]


def keycloak_form(client: FlaskClient, browser: requests.Session) -> tuple[str, str]:
    """Start at the app and land on Keycloak's login form: (the form's action, the page)."""
    page = browser.get(to_keycloak(client), timeout=30)
    form = BeautifulSoup(page.text, "html.parser").select_one("form#kc-form-login")
    assert form is not None, page.text[:500]
    return str(form["action"]), page.text


def log_in_at_keycloak(client: FlaskClient, browser: requests.Session, username: str) -> requests.Response:
    action, _page = keycloak_form(client, browser)
    data = {"username": username, "password": PASSWORD, "credentialId": ""}
    return browser.post(action, data=data, allow_redirects=False, timeout=30)


def back_at_the_app(client: FlaskClient, answer: requests.Response):  # type: ignore[no-untyped-def]
    assert answer.status_code == 302, BeautifulSoup(answer.text, "html.parser").get_text(" ", strip=True)[:600]
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return send(client, "GET", f"{location.path}?{location.query}")


def session_of(app: Flask, client: FlaskClient) -> dict:
    cookie = client.get_cookie("session", domain="testserver")
    assert cookie is not None
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]


def test_sign_in_links_by_verified_email_maps_staff_and_logout_ends_the_keycloak_session(sign_in) -> None:  # type: ignore[no-untyped-def]
    app, realm, client_uuid = sign_in
    realm.add_login_user("ann.kc", PASSWORD, "ann@example.org", client_roles=(client_uuid, APP_CLIENT, []))
    client, browser = app.test_client(), Browser()
    landed = back_at_the_app(client, log_in_at_keycloak(client, browser, "ann.kc"))
    assert landed.status_code == 303 and landed.headers["Location"].endswith("/")
    user = db.session.query(User).filter_by(username="ann").one()
    assert user.oidc_subject and user.oidc_issuer.endswith(f"/realms/{realm.name}")
    assert user.is_staff is False  # no okg-staff role in Keycloak: staff is recomputed at every sign-in
    held = session_of(app, client)
    text = json.dumps(held)
    assert (
        "access_token" not in text
        and "refresh_token" not in text
        and len(client.get_cookie("session", domain="testserver").value) < 4096
    )
    home = send(client, "GET", "/")
    assert home.status_code == 200 and "ann" in home.get_data(as_text=True)
    single_sign_on = browser.get(to_keycloak(app.test_client()), allow_redirects=False, timeout=30)
    assert single_sign_on.status_code == 302 and single_sign_on.headers["Location"].startswith(CALLBACK)  # no form

    logout = send(client, "POST", "/logout", data={"csrf_token": csrf_token_of(home)})
    assert logout.status_code == 303
    ended = urlsplit(logout.headers["Location"])
    query = parse_qs(ended.query)
    assert ended.path.endswith("/protocol/openid-connect/logout")
    assert query["client_id"] == [APP_CLIENT] and query["post_logout_redirect_uri"] == [AFTER_LOGOUT]
    assert query["id_token_hint"][0].count(".") == 2
    back = browser.get(logout.headers["Location"], allow_redirects=False, timeout=30)
    assert back.status_code == 302 and back.headers["Location"].startswith(AFTER_LOGOUT)  # no confirmation page
    assert send(client, "GET", "/").status_code == 302  # logged out here
    _action, page = keycloak_form(client, browser)  # and there: Keycloak asks for the password again
    assert 'id="kc-form-login"' in page


def test_the_staff_role_and_a_second_sign_in_of_the_linked_account(sign_in) -> None:  # type: ignore[no-untyped-def]
    app, realm, client_uuid = sign_in
    realm.add_login_user("boss", PASSWORD, "ann@example.org", client_roles=(client_uuid, APP_CLIENT, ["okg-staff"]))
    client = app.test_client()
    assert back_at_the_app(client, log_in_at_keycloak(client, Browser(), "boss")).status_code == 303
    user = db.session.query(User).filter_by(username="ann").one()
    subject = user.oidc_subject
    assert user.is_staff is True
    again = app.test_client()
    assert back_at_the_app(again, log_in_at_keycloak(again, Browser(), "boss")).status_code == 303
    db.session.expire_all()
    assert db.session.query(User).filter_by(oidc_subject=subject).count() == 1


def test_a_tampered_state_and_a_replayed_code_are_refused_in_words(sign_in) -> None:  # type: ignore[no-untyped-def]
    app, realm, _client_uuid = sign_in
    realm.add_login_user("ann.kc", PASSWORD, "ann@example.org")
    client, browser = app.test_client(), Browser()
    answer = log_in_at_keycloak(client, browser, "ann.kc")
    location = urlsplit(answer.headers["Location"])
    tampered = location.query.replace("state=", "state=x", 1)
    refused = send(client, "GET", f"{location.path}?{tampered}")
    assert refused.status_code == 400
    assert "already used or does not belong to this browser" in refused.get_data(as_text=True)
    assert send(client, "GET", "/").status_code == 302  # not signed in

    fresh = app.test_client()
    answer = log_in_at_keycloak(fresh, Browser(), "ann.kc")
    assert back_at_the_app(fresh, answer).status_code == 303
    replay = app.test_client()
    replayed = back_at_the_app(replay, answer)  # the same code and state, from another browser
    assert replayed.status_code == 400 and send(replay, "GET", "/").status_code == 302


def test_a_user_keycloak_disabled_never_reaches_the_app_and_nobody_unknown_gets_in(sign_in) -> None:  # type: ignore[no-untyped-def]
    app, realm, _client_uuid = sign_in
    realm.add_login_user("off", PASSWORD, "off@example.org", enabled=False)
    client = app.test_client()
    answer = log_in_at_keycloak(client, Browser(), "off")
    assert answer.status_code == 200 and "disabled" in answer.text.lower()  # Keycloak's form says so; no code
    realm.add_login_user("stranger", PASSWORD, "stranger@example.org", email_verified=False)
    users_before = db.session.query(User).count()
    refused = back_at_the_app(client, log_in_at_keycloak(client, Browser(), "stranger"))
    assert refused.status_code == 403
    assert "No account here for stranger; ask an administrator." in refused.get_data(as_text=True)
    assert db.session.query(User).count() == users_before
    realm.add_login_user("ann-unverified", PASSWORD, "ann@example.org", email_verified=False)
    unverified = back_at_the_app(client, log_in_at_keycloak(client, Browser(), "ann-unverified"))
    assert unverified.status_code == 403  # an unverified email never links an account
    db.session.expire_all()
    assert db.session.query(User).filter_by(username="ann").one().oidc_subject is None
