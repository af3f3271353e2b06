"""Access that ends when a real Keycloak says so: a user signed in through Keycloak's own login form (driven with
`requests`, as in test_sign_in_with_keycloak.py) is disabled there, or loses the staff role there, and the app
notices at the next request after OKG_OIDC_RECHECK_SECONDS, for the browser session and for an API token alike.
The app asks with a service account of the sign-in realm holding exactly the roles the README names
(view-users, view-clients). Keycloak is reached through a proxy the test can cut, to take it down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import _config
from tests.html import parse, text_of
from tests.integration.test_sign_in_with_keycloak import (
    AFTER_LOGOUT,
    APP_CLIENT,
    APP_SECRET,
    CALLBACK,
    PASSWORD,
    Browser,
    back_at_the_app,
    log_in_at_keycloak,
)
from tests.signin import send
from tests.tcpproxy import TcpProxy
from webapp import create_app
from webapp.extensions import db
from webapp.models import Offering, Organization, User
from webapp.services.accounts.core import create_token

CHECKER, CHECKER_SECRET = "okg-account-checker", "okg-account-checker-secret"
GROUPS = "/api/offering-keycloak-groups/"
WAIT = 20.0  # seconds a change may take to show; each poll is a request, a few tenths of a second apart


def until(condition: Callable[[], Any], what: str) -> Any:
    """Poll `condition` until it is truthy (no fixed sleeps: the recheck interval is one second)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {WAIT:g} s: {what}")


@pytest.fixture
def checked(real_realm, proxy: TcpProxy, database_uri: str, tmp_path: Path) -> Iterator[tuple[Flask, Any, str]]:  # type: ignore[no-untyped-def]
    client_uuid = real_realm.add_sign_in_client(APP_CLIENT, APP_SECRET, CALLBACK, AFTER_LOGOUT)
    real_realm.add_service_client(CHECKER, CHECKER_SECRET, ("view-users", "view-clients"))
    app = create_app(
        _config(
            database_uri,
            OIDC_ISSUER=f"{proxy.url}/realms/{real_realm.name}",
            OIDC_CLIENT_ID=APP_CLIENT,
            OIDC_CLIENT_SECRET=APP_SECRET,
            OIDC_ADMIN_CLIENT_ID=CHECKER,
            OIDC_ADMIN_CLIENT_SECRET=CHECKER_SECRET,
            OIDC_RECHECK_SECONDS=1,
            OIDC_TIMEOUT_SECONDS=5,
            JOBS_URL=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        )
    )
    with app.app_context():
        db.session.add(User(username="ann", email="ann@example.org"))
        db.session.add(Offering(organization=Organization(name="Org", slug="org"), name="Staff Only Service", slug="s"))
        db.session.commit()
        yield app, real_realm, client_uuid
        db.session.remove()
        db.engine.dispose()


def signed_in(app: Flask, realm: Any, client_uuid: str, roles: list[str]) -> tuple[FlaskClient, str, str]:
    """ann.kc signs in through Keycloak's form (linked to ann by her verified email); (browser, API token, id)."""
    user_id = realm.add_login_user("ann.kc", PASSWORD, "ann@example.org", client_roles=(client_uuid, APP_CLIENT, roles))
    client = app.test_client()
    assert back_at_the_app(client, log_in_at_keycloak(client, Browser(), "ann.kc")).status_code == 303
    ann = db.session.query(User).filter_by(username="ann").one()
    assert ann.oidc_subject == user_id
    return client, create_token(ann)[1], user_id


def api(app: Flask, token: str) -> int:
    return send(app.test_client(), "GET", GROUPS, headers={"Authorization": f"Token {token}"}).status_code


def test_disabling_the_user_in_keycloak_ends_the_session_and_the_api_token(checked) -> None:  # type: ignore[no-untyped-def]
    app, realm, client_uuid = checked
    client, token, user_id = signed_in(app, realm, client_uuid, [])
    time.sleep(1.1)  # past one interval: the next requests ask Keycloak, which still says yes
    assert send(client, "GET", "/").status_code == 200 and api(app, token) == 200

    realm.admin("PUT", f"/users/{user_id}", json={"enabled": False}, ok=(204,))
    home = until(lambda: (r := send(client, "GET", "/")).status_code == 302 and r, "the session is refused")
    login_page = text_of(parse(send(client, "GET", home.headers["Location"]).get_data(as_text=True)))
    assert "Keycloak says the account ann is disabled. You were signed out." in login_page
    refused = send(app.test_client(), "GET", GROUPS, headers={"Authorization": f"Token {token}"})
    assert refused.status_code == 401
    assert refused.get_json() == {"detail": "Keycloak says the account ann is disabled. Its API tokens cannot be used."}
    assert send(client, "GET", "/").status_code == 302


def test_removing_the_staff_role_in_keycloak_ends_staff(checked) -> None:  # type: ignore[no-untyped-def]
    app, realm, client_uuid = checked
    client, token, user_id = signed_in(app, realm, client_uuid, ["okg-staff"])
    assert "Staff Only Service" in send(client, "GET", "/").get_data(as_text=True)  # staff sees every offering
    role = realm.admin("GET", f"/clients/{client_uuid}/roles/okg-staff").json()
    realm.admin("DELETE", f"/users/{user_id}/role-mappings/clients/{client_uuid}", json=[role], ok=(204,))

    def not_staff() -> bool:
        page = send(client, "GET", "/")
        return page.status_code == 200 and "Staff Only Service" not in page.get_data(as_text=True)

    until(not_staff, "staff ends")
    db.session.expire_all()
    assert db.session.query(User).filter_by(username="ann").one().is_staff is False
    assert api(app, token) == 200  # still a user here, only no longer staff


def test_keycloak_down_is_refused_in_words_once_the_last_answer_is_too_old(checked, proxy: TcpProxy) -> None:  # type: ignore[no-untyped-def]
    app, realm, client_uuid = checked
    _client, token, _user_id = signed_in(app, realm, client_uuid, [])
    proxy.cut()
    try:

        def refused_in_words() -> str:
            answer = send(app.test_client(), "GET", GROUPS, headers={"Authorization": f"Token {token}"})
            return str(answer.get_json()["detail"]) if answer.status_code == 401 else ""

        detail = until(refused_in_words, "the token is refused while Keycloak is down")
        assert detail.startswith("Keycloak cannot be asked whether the account ann may still be used")
        assert "Try again when Keycloak is back" in detail
    finally:
        proxy.restore()
    until(lambda: api(app, token) == 200, "the token works again once Keycloak answers")
