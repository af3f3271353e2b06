"""Keycloak secrets are encrypted at rest and never shown, returned or logged; passwords and API tokens are
stored hashed only (docs/PRODUCT.md §1, §1.1)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url, select, text
from werkzeug.security import check_password_hash
from werkzeug.test import TestResponse

from tests.factories import PASSWORD, World
from webapp.crypto import decrypt, encrypt
from webapp.extensions import db
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.registry import EXTENSION_KEY, GatewayRegistry
from webapp.models import ApiToken, Offering, User
from webapp.services.connection.gateway import connection_settings

from .matrix import ROWS, Call, csrf_token_of, send, send_api, send_ui, settings_form, sign_in

ADMIN_PASSWORD = "admin-password"  # tests/factories.py stores it for both offerings
CLIENT_SECRET = "sekrit-client-7f3e9a"
NEW_PASSWORD = "new-admin-pw-41c8d2"
NEW_CLIENT_SECRET = "new-client-secret-b71e05"
TYPED_SECRET = "typed-but-not-saved-9d02"


def seed_secrets(w: World) -> None:
    """Both offerings hold an admin password and a service-account secret, encrypted like the app does it."""
    for offering in (w.offering, w.other_offering):
        offering.keycloak_username = "admin"
        offering.keycloak_password_encrypted = encrypt(ADMIN_PASSWORD)
        offering.keycloak_client_id = "okg-client"
        offering.keycloak_client_secret_encrypted = encrypt(CLIENT_SECRET)
    db.session.commit()


def stored_ciphertexts() -> set[str]:
    rows = db.session.execute(select(Offering.keycloak_password_encrypted, Offering.keycloak_client_secret_encrypted))
    return {value for pair in rows for value in pair if value}


def leaks_in(response: TestResponse, secrets: set[str], what: str) -> list[str]:
    found = []
    body = response.get_data(as_text=True)
    headers = "\n".join(f"{key}: {value}" for key, value in response.headers.items())
    for secret in secrets:
        if secret in body:
            found.append(f"{what}: body ({response.status_code}) contains {secret[:12]!r}")
        if secret in headers:
            found.append(f"{what}: headers contain {secret[:12]!r}")
    return found


def page_token(client: FlaskClient, url: str) -> str:
    """The CSRF token of the page the form is on, as a browser would submit it."""
    return csrf_token_of(send(client, "GET", url))


def session_of(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie("session", domain="testserver")
    if cookie is None:
        return ""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return json.dumps(serializer.loads(cookie.value), default=str)


# -- at rest ---------------------------------------------------------------------------------------


def all_stored_values() -> list[str]:
    values = []
    for table in db.metadata.sorted_tables:
        for record in db.session.execute(select(table)):
            values.extend(str(value) for value in record if value is not None)
    return values


def test_keycloak_secrets_are_encrypted_at_rest(app: Flask, world: World) -> None:
    seed_secrets(world)
    columns = db.session.execute(
        text("SELECT keycloak_password_encrypted, keycloak_client_secret_encrypted FROM offering")
    ).all()
    assert len(columns) == 2
    for password_column, secret_column in columns:
        assert ADMIN_PASSWORD not in password_column and decrypt(password_column) == ADMIN_PASSWORD
        assert CLIENT_SECRET not in secret_column and decrypt(secret_column) == CLIENT_SECRET
    assert columns[0][0] != columns[1][0], "the same secret must not give the same ciphertext twice"
    for value in all_stored_values():
        assert ADMIN_PASSWORD not in value and CLIENT_SECRET not in value
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        db.session.remove()
        raw = Path(url.database or "").read_bytes()
        assert ADMIN_PASSWORD.encode() not in raw and CLIENT_SECRET.encode() not in raw


def test_secrets_saved_through_the_settings_form_are_encrypted(client: FlaskClient, world: World) -> None:
    sign_in(client, "manager")
    url = f"/offerings/{world.offering.uuid}/settings"
    client_mode = settings_form(auth_mode="client", client_id="okg-client", client_secret=NEW_CLIENT_SECRET)
    assert send_ui(client, "POST", Call(url, form=client_mode), page_token(client, url)).status_code == 303
    column = db.session.execute(
        text("SELECT keycloak_client_secret_encrypted FROM offering WHERE id = :id"), {"id": world.offering.id}
    ).scalar_one()
    assert NEW_CLIENT_SECRET not in column and decrypt(column) == NEW_CLIENT_SECRET

    password_mode = settings_form(password=NEW_PASSWORD)
    assert send_ui(client, "POST", Call(url, form=password_mode), page_token(client, url)).status_code == 303
    column = db.session.execute(
        text("SELECT keycloak_password_encrypted FROM offering WHERE id = :id"), {"id": world.offering.id}
    ).scalar_one()
    assert NEW_PASSWORD not in column and decrypt(column) == NEW_PASSWORD
    for value in all_stored_values():  # the audit trail of both saves included
        assert NEW_PASSWORD not in value and NEW_CLIENT_SECRET not in value


# -- never rendered or returned --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["staff", "manager"])
def test_no_page_or_json_response_contains_a_secret(app: Flask, world: World, who: str) -> None:
    """Every row of the route table (every GET page and fragment, every JSON answer, every action's answer)."""
    seed_secrets(world)
    secrets = {ADMIN_PASSWORD, CLIENT_SECRET}
    found: list[str] = []
    for item in ROWS:
        seed_secrets(world)  # a settings save or similar in an earlier row may have replaced them
        secrets |= stored_ciphertexts()  # the ciphertext has no business in a page either
        client = app.test_client()
        call = item.build(world, who)
        what = f"{item.id} as {who}"
        if item.is_api:
            found += leaks_in(send_api(client, world, who, item.method, call), secrets, what)
        else:
            token = sign_in(client, who)
            found += leaks_in(send_ui(client, item.method, call, token), secrets, what)  # read before the next
            if item.method == "GET":
                found += leaks_in(send_ui(client, "GET", call, token, headers={"HX-Request": "true"}), secrets, what)
        session = session_of(app, client)
        found += [f"{item.id}: the session cookie holds a secret" for secret in secrets if secret in session]
    assert found == []


def test_settings_page_never_renders_secrets_after_saving(client: FlaskClient, world: World) -> None:
    url = f"/offerings/{world.offering.uuid}/settings"
    sign_in(client, "manager")
    client_mode = settings_form(auth_mode="client", client_id="okg-client", client_secret=NEW_CLIENT_SECRET)
    saved = send_ui(client, "POST", Call(url, form=client_mode), page_token(client, url))
    assert saved.status_code == 303
    page = send(client, "GET", url)
    secrets = {ADMIN_PASSWORD, NEW_CLIENT_SECRET} | stored_ciphertexts()
    assert leaks_in(page, secrets, "settings page after saving a client secret") == []
    assert "(stored)" in page.get_data(as_text=True)  # says a secret is set, without showing it

    password_mode = settings_form(password=NEW_PASSWORD)
    assert send_ui(client, "POST", Call(url, form=password_mode), page_token(client, url)).status_code == 303
    page = send(client, "GET", url)
    secrets = {NEW_PASSWORD, NEW_CLIENT_SECRET} | stored_ciphertexts()
    assert leaks_in(page, secrets, "settings page after saving a password") == []

    # A form sent back with an error re-renders without the secret that was typed into it.
    bad = settings_form(password=TYPED_SECRET, client_secret=TYPED_SECRET, group_name_template="$nope")
    rejected = send_ui(client, "POST", Call(url, form=bad), page_token(client, url))
    assert rejected.status_code == 400
    assert leaks_in(rejected, {TYPED_SECRET, NEW_PASSWORD} | stored_ciphertexts(), "rejected settings form") == []
    assert decrypt(db.session.get(Offering, world.offering.id).keycloak_password_encrypted) == NEW_PASSWORD


# -- never logged ----------------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything the app and its libraries log, down to DEBUG.

    Running the migrations (migrations/env.py's fileConfig) set sqlalchemy.engine to WARN and disabled every
    logger that existed then; undo both for the test, or the capture would be quietly empty.
    """
    caplog.set_level(logging.DEBUG)
    disabled = []
    for name in ["sqlalchemy", "sqlalchemy.engine", "werkzeug", "urllib3", "webapp", *logging.root.manager.loggerDict]:
        logger = logging.getLogger(name)
        if logger.disabled:
            disabled.append(logger)
            logger.disabled = False
        if logger.level != logging.NOTSET or name in ("sqlalchemy", "sqlalchemy.engine"):
            caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    for logger in disabled:
        logger.disabled = True


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or "", repr(vars(record))]
    return "\n".join(parts)


def test_secrets_never_reach_a_log_line(
    app: Flask, client: FlaskClient, world: World, debug_logs: pytest.LogCaptureFixture
) -> None:
    seed_secrets(world)
    settings_url = f"/offerings/{world.offering.uuid}/settings"
    test_url = f"/offerings/{world.offering.uuid}/test-connection"
    api_test = Call("/api/offering-keycloak-groups/test_connection/", json={"offering_uuid": world.offering.uuid})

    token = sign_in(client, "manager")  # the login form carries the user's password
    assert send_ui(client, "POST", Call(test_url, form={}), token).status_code == 200  # connection test: ok
    assert send_api(client, world, "manager", "POST", api_test).status_code == 200
    world.realm.reject_credentials = True  # Keycloak refuses our secret
    assert send_ui(client, "POST", Call(test_url, form={}), token, headers={"HX-Request": "true"}).status_code == 200
    assert send_api(client, world, "manager", "POST", api_test).status_code == 502
    world.realm.reject_credentials = False
    client_mode = settings_form(auth_mode="client", client_id="okg-client", client_secret=NEW_CLIENT_SECRET)
    assert send_ui(client, "POST", Call(settings_url, form=client_mode), token).status_code == 303
    password_mode = settings_form(password=NEW_PASSWORD)
    assert send_ui(client, "POST", Call(settings_url, form=password_mode), token).status_code == 303
    wrong = "0" * 40
    response = send(client, "POST", api_test.url, json=api_test.json, headers={"Authorization": f"Token {wrong}"})
    assert response.status_code == 401  # an API call with wrong credentials
    world.realm.down = True
    assert send_api(client, world, "staff", "POST", api_test).status_code == 502

    secrets = {ADMIN_PASSWORD, CLIENT_SECRET, NEW_PASSWORD, NEW_CLIENT_SECRET, PASSWORD, wrong, *world.tokens.values()}
    logged = logged_text(debug_logs)
    assert any(record.name.startswith("sqlalchemy") for record in debug_logs.records), "DEBUG capture is not on"
    assert [secret for secret in secrets if secret in logged] == []


class _RejectingKeycloak(BaseHTTPRequestHandler):
    """A Keycloak that refuses every token request, echoing what it was sent in its error description."""

    received: list[str] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.received.append(body)
        answer = json.dumps({"error": "invalid_grant", "error_description": f"Invalid credentials in {body}"})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def rejecting_keycloak() -> Iterator[str]:
    _RejectingKeycloak.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RejectingKeycloak)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["password", "client"])
def test_real_gateway_failure_shows_and_logs_no_secret(
    app: Flask,
    client: FlaskClient,
    world: World,
    rejecting_keycloak: str,
    debug_logs: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    """The python-keycloak gateway (not the fake) against an HTTP Keycloak that rejects the secret."""
    app.extensions[EXTENSION_KEY] = GatewayRegistry(lambda settings: AdminGateway(settings))
    seed_secrets(world)
    offering = world.offering
    offering.keycloak_url = rejecting_keycloak
    if mode == "password":
        offering.keycloak_client_id, offering.keycloak_client_secret_encrypted = "", ""
    db.session.commit()
    secret = ADMIN_PASSWORD if mode == "password" else CLIENT_SECRET

    api_test = Call("/api/offering-keycloak-groups/test_connection/", json={"offering_uuid": offering.uuid})
    api_answer = send_api(client, world, "manager", "POST", api_test)
    token = sign_in(client, "manager")
    page = send_ui(client, "POST", Call(f"/offerings/{offering.uuid}/test-connection", form={}), token)

    sent = [parse_qs(body) for body in _RejectingKeycloak.received]
    field = "password" if mode == "password" else "client_secret"
    assert any(body.get(field) == [secret] for body in sent), "the secret never reached the stub"
    assert api_answer.status_code == 502
    assert api_answer.get_json() == {
        "status": "error",
        "error": "Authentication failed: Keycloak rejected the credentials",
    }
    assert page.status_code == 200 and "Connection failed." in page.get_data(as_text=True)
    assert leaks_in(api_answer, {secret}, "API") + leaks_in(page, {secret}, "page") == []
    assert secret not in logged_text(debug_logs)


def test_connection_settings_repr_hides_secrets(world: World) -> None:
    seed_secrets(world)
    service_account = connection_settings(world.offering)
    world.offering.keycloak_client_id, world.offering.keycloak_client_secret_encrypted = "", ""
    admin = connection_settings(world.offering)
    assert service_account.client_secret == CLIENT_SECRET and admin.password == ADMIN_PASSWORD
    for settings in (service_account, admin):
        for shown in (repr(settings), str(settings), f"{settings}", f"{settings!r}", repr([settings])):
            assert CLIENT_SECRET not in shown and ADMIN_PASSWORD not in shown, shown


# -- hashed passwords and tokens -------------------------------------------------------------------


def test_passwords_are_stored_salted_and_hashed(world: World) -> None:
    hashes = []
    for user in db.session.scalars(select(User)):
        assert user.password_hash and PASSWORD not in user.password_hash
        assert check_password_hash(user.password_hash, PASSWORD)
        method, salt, digest = user.password_hash.split("$")
        assert method and salt and digest
        hashes.append(user.password_hash)
    assert len(set(hashes)) == len(hashes) == 6, "same password, so only a salt can make the hashes differ"
    assert all(PASSWORD not in value for value in all_stored_values())


def test_api_tokens_are_stored_hashed(client: FlaskClient, world: World) -> None:
    token = sign_in(client, "manager")
    page = send_ui(client, "POST", Call("/tokens", form={}), token).get_data(as_text=True)
    shown_once = page.split('id="new-token">')[1].split("<")[0]
    plain_tokens = [*world.tokens.values(), shown_once]
    stored = list(db.session.scalars(select(ApiToken)))
    assert len(stored) == len(plain_tokens)
    for item in stored:
        assert len(item.prefix) <= 8
        for plain in plain_tokens:
            assert item.token_hash != plain and plain not in item.token_hash
    stored_values = all_stored_values()
    for plain in plain_tokens:
        assert all(plain not in value for value in stored_values)
        assert send(client, "GET", "/tokens").get_data(as_text=True).count(plain) == 0
