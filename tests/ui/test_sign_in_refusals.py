"""Signing in with Keycloak against a server pretending to be one (tests/impostor.py, its ID tokens signed with a
key of our own): the ID token checks (audience, issuer, expiry), a refused consent, Keycloak unreachable, and
local logins switched off. The real flow runs in tests/integration/test_sign_in_with_keycloak.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import _config
from tests.html import parse, text_of
from tests.impostor import Impostor, Received, impostor, json_answer
from tests.signin import csrf_token_of, send
from webapp import create_app
from webapp.extensions import db
from webapp.models import User

CLIENT = "okg-app"
KEY = RSAKey.generate_key(2048, parameters={"kid": "impostor-key"})
Claims = Callable[[str, str], dict[str, Any]]  # (issuer, nonce) -> the ID token's claims


def good_claims(issuer: str, nonce: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": "sub-ann",
        "aud": CLIENT,
        "azp": CLIENT,
        "exp": now + 300,
        "iat": now,
        "nonce": nonce,
        "typ": "ID",
        "preferred_username": "ann.kc",
        "email": "ann@example.org",
        "email_verified": True,
    }


class FakeProvider:
    def __init__(self, server: Impostor) -> None:
        self.server = server
        self.issuer = f"{server.url}realms/fake"
        self.claims: Claims = good_claims
        self.nonce = ""
        base = "/realms/fake"
        server.answers.update(
            {
                f"{base}/.well-known/openid-configuration": lambda _r: json_answer(self.discovery()),
                f"{base}/protocol/openid-connect/certs": lambda _r: json_answer({"keys": [KEY.as_dict(private=False)]}),
                f"{base}/protocol/openid-connect/token": self.token,
            }
        )

    def discovery(self) -> dict[str, Any]:
        endpoint = f"{self.issuer}/protocol/openid-connect"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{endpoint}/auth",
            "token_endpoint": f"{endpoint}/token",
            "jwks_uri": f"{endpoint}/certs",
            "end_session_endpoint": f"{endpoint}/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def token(self, _request: Received) -> tuple[int, dict[str, str], str]:
        id_token = jwt.encode({"alg": "RS256", "kid": "impostor-key"}, self.claims(self.issuer, self.nonce), KEY)
        return json_answer({"access_token": "a", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with impostor() as server:
        yield FakeProvider(server)


def make_app(database_uri: str, tmp_path: Path, issuer: str, **extra: Any) -> Flask:
    config = _config(
        database_uri,
        OIDC_ISSUER=issuer,
        OIDC_CLIENT_ID=CLIENT,
        OIDC_CLIENT_SECRET="secret",
        OIDC_TIMEOUT_SECONDS=3,
        JOBS_URL=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        **extra,
    )
    return create_app(config)


@pytest.fixture
def oidc_app(database_uri: str, tmp_path: Path, provider: FakeProvider) -> Iterator[Flask]:
    app = make_app(database_uri, tmp_path, provider.issuer)
    with app.app_context():
        db.session.add(User(username="ann", email="ann@example.org"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def come_back(client: FlaskClient, provider: FakeProvider, **extra: str):  # type: ignore[no-untyped-def]
    """Start signing in, then come back as Keycloak would (a code and the state), or with `extra` instead."""
    start = send(client, "GET", "/auth/keycloak/login")
    assert start.status_code == 302
    query = {key: values[0] for key, values in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    provider.nonce = query["nonce"]
    back = {"code": "the-code", "state": query["state"], **extra}
    return send(client, "GET", "/auth/keycloak/callback", query_string=back)


def signed_in(client: FlaskClient) -> bool:
    return send(client, "GET", "/").status_code == 200


def test_a_good_id_token_signs_in_so_the_refusals_below_mean_something(oidc_app: Flask, provider) -> None:  # type: ignore[no-untyped-def]
    client = oidc_app.test_client()
    assert come_back(client, provider).status_code == 303 and signed_in(client)
    assert db.session.query(User).filter_by(username="ann").one().oidc_subject == "sub-ann"


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "another-app"},  # azp is still ours: Authlib alone would accept it
        {"aud": ["another-app", "account"]},
        {"iss": "http://elsewhere.example.org/realms/fake"},
        {"exp": int(time.time()) - 3600},
        {"nonce": "not-the-one-we-sent"},
    ],
    ids=["foreign-audience", "foreign-audiences", "wrong-issuer", "expired", "wrong-nonce"],
)
def test_an_id_token_that_is_not_for_us_is_refused(oidc_app: Flask, provider, change: dict) -> None:  # type: ignore[no-untyped-def]
    provider.claims = lambda issuer, nonce: good_claims(issuer, nonce) | change
    client = oidc_app.test_client()
    refused = come_back(client, provider)
    assert refused.status_code == 400
    assert "could not be trusted" in refused.get_data(as_text=True), text_of(parse(refused.get_data(as_text=True)))
    assert not signed_in(client)
    assert db.session.query(User).filter_by(username="ann").one().oidc_subject is None


def test_refused_consent_and_a_missing_account_are_pages_in_words(oidc_app: Flask, provider) -> None:  # type: ignore[no-untyped-def]
    client = oidc_app.test_client()
    denied = come_back(client, provider, error="access_denied", error_description="User denied consent")
    assert denied.status_code == 400 and "did not let you sign in" in denied.get_data(as_text=True)
    provider.claims = lambda issuer, nonce: good_claims(issuer, nonce) | {"sub": "sub-bob", "email": "bob@x.org"}
    missing = come_back(client, provider)
    assert missing.status_code == 403
    assert "No account here for ann.kc; ask an administrator." in missing.get_data(as_text=True)


def test_with_keycloak_down_the_button_says_so_and_passwords_still_work(database_uri: str, tmp_path: Path) -> None:
    app = make_app(database_uri, tmp_path, "http://127.0.0.1:9/realms/nowhere")  # nothing listens on port 9
    with app.app_context():
        client = app.test_client()
        page = send(client, "GET", "/login").get_data(as_text=True)
        assert "Sign in with Keycloak" in page and 'name="password"' in page
        down = send(client, "GET", "/auth/keycloak/login")
        assert down.status_code == 502 and "Keycloak cannot be reached to sign in" in down.get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()


def test_local_logins_can_be_switched_off(database_uri: str, tmp_path: Path, provider) -> None:  # type: ignore[no-untyped-def]
    app = make_app(database_uri, tmp_path, provider.issuer, LOCAL_LOGIN=False)
    with app.app_context():
        client = app.test_client()
        page = send(client, "GET", "/login")
        assert 'name="password"' not in page.get_data(as_text=True)
        assert "Sign in with Keycloak" in page.get_data(as_text=True)
        token = csrf_token_of(page)
        refused = send(client, "POST", "/login", data={"csrf_token": token, "username": "x", "password": "y"})
        assert refused.status_code == 403 and "Signing in with a password is off here" in refused.get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()


def test_the_session_keeps_no_tokens_but_the_id_token_for_the_logout_hint(oidc_app: Flask, provider) -> None:  # type: ignore[no-untyped-def]
    client = oidc_app.test_client()
    come_back(client, provider)
    cookie = client.get_cookie("session", domain="testserver")
    assert cookie is not None
    held = oidc_app.session_interface.get_signing_serializer(oidc_app).loads(cookie.value)  # type: ignore[attr-defined]
    assert set(held) <= {"_user_id", "_fresh", "_id", "_permanent", "keycloak_id_token", "csrf_token"}, json.dumps(held)
