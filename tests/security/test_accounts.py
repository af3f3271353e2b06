"""Attacks on accounts, sign-in and tokens, each performed end to end through the forms and endpoints a person
or script uses (some against a loopback server pretending to be Keycloak, tests/impostor.py). The numbers are
the items of the security issue: 5 throttling without sleeping, 6 access that ends when Keycloak says so,
7 username squatting, 10 secrets compared as bytes, 12 the discovery document's issuer, 14 the sign-in error
page's words. The real-Keycloak side of 6 is tests/integration/test_access_ends_with_keycloak.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.factories import PASSWORD, World
from tests.html import parse, text_of
from tests.impostor import impostor, json_answer
from tests.security.matrix import sign_in
from tests.signin import csrf_token_of, send
from tests.ui.test_sign_in_refusals import CLIENT, FakeProvider, come_back, good_claims, make_app
from webapp.extensions import db
from webapp.models import ApiToken, AuditEvent, LoginAttempt, Offering, Organization, User, utcnow
from webapp.services.accounts import checks as account_checks
from webapp.services.accounts import core as accounts
from webapp.services.accounts import devices, throttle
from webapp.services.accounts.core import create_token

GROUPS = "/api/offering-keycloak-groups/"


@dataclass
class Clock:
    """The time the throttle and the account checks see; tests move it instead of waiting."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    current = Clock()
    monkeypatch.setattr(throttle, "utcnow", current)
    monkeypatch.setattr(account_checks, "utcnow", current)
    return current


@pytest.fixture
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every time.sleep during the test, recorded and skipped: a request that sleeps holds a worker thread."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    checked: list[str] = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: checked.append(p) or real(h, p))
    return checked


def attempt_from(app: Flask, address: str, username: str, password: str, client: FlaskClient | None = None):  # type: ignore[no-untyped-def]
    """One sign-in through the login form from `address` (a fresh browser unless `client` is given)."""
    client = client or app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token_of(send(client, "GET", "/login"))
    return send(client, "POST", "/login", data={"csrf_token": token, "username": username, "password": password})


def log_out(client: FlaskClient) -> None:
    assert (
        send(client, "POST", "/logout", data={"csrf_token": csrf_token_of(send(client, "GET", "/"))}).status_code == 303
    )


def words(response: TestResponse) -> str:
    return text_of(parse(response.get_data(as_text=True)))


def retry_after(response: TestResponse) -> int:
    assert response.status_code == 429, words(response)[:300]
    return int(response.headers["Retry-After"])


# -- 5. throttling without sleeping threads ----------------------------------------------------------------


def test_one_guess_from_each_of_200_addresses_is_slowed_but_the_owner_with_a_known_browser_is_not(
    app: Flask, world: World, clock: Clock, no_sleeping: list[float], password_checks: list[str]
) -> None:
    app.config.update(LOGIN_USERNAME_SLOW_AFTER=5, LOGIN_DELAY_SECONDS=60)
    owner = app.test_client()
    assert attempt_from(app, "198.51.100.7", "manager", PASSWORD, owner).status_code == 303  # a known browser now
    cookie = owner.get_cookie(devices.COOKIE, domain="testserver", path="/login")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    log_out(owner)
    password_checks.clear()

    answers = [attempt_from(app, f"203.0.{n // 250}.{n % 250 + 1}", "manager", f"guess-{n}") for n in range(200)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429] * 195  # one guess each, from 200 addresses
    assert len(password_checks) == 5  # the slowed 195 were refused before any password was looked at
    slowed = answers[-1]
    assert 1 <= retry_after(slowed) <= 60
    assert "Too many failed sign-ins for this username. Try again in" in words(slowed)
    assert 'name="password"' in slowed.get_data(as_text=True)  # the form again, with the reason beside it

    landed = attempt_from(app, "192.0.2.200", "manager", PASSWORD, owner)  # the owner, from a new address
    assert landed.status_code == 303
    assert send(owner, "GET", "/").status_code == 200
    assert attempt_from(app, "192.0.2.201", "manager", PASSWORD).status_code == 429  # an unknown browser waits
    assert no_sleeping == []


def test_an_address_is_slowed_then_refused_and_the_wait_grows(
    app: Flask, world: World, clock: Clock, no_sleeping: list[float], password_checks: list[str]
) -> None:
    app.config.update(LOGIN_ADDRESS_SLOW_AFTER=3, LOGIN_ADDRESS_MAX_FAILURES=6, LOGIN_USERNAME_SLOW_AFTER=100)
    guesser = "203.0.113.5"
    for n in range(3):
        assert attempt_from(app, guesser, f"user{n}", "wrong").status_code == 400
    waits = []
    for n in range(3, 6):
        waits.append(retry_after(attempt_from(app, guesser, f"user{n}", "wrong")))  # slowed: must wait
        clock.advance(waits[-1])
        assert attempt_from(app, guesser, f"user{n}", "wrong").status_code == 400  # after the wait it is heard
    assert waits == [1, 2, 4]  # doubling
    refused = attempt_from(app, guesser, "manager", PASSWORD)  # 6 failures: refused outright, even the right one
    assert 800 < retry_after(refused) <= 900 and "from your address" in words(refused)
    assert attempt_from(app, "198.51.100.1", "manager", PASSWORD).status_code == 303  # another address is not
    clock.advance(900)
    assert attempt_from(app, guesser, "manager", PASSWORD).status_code == 303  # the window has passed
    assert len(password_checks) == 6 + 1 + 1 and no_sleeping == []


def test_a_known_browser_has_a_budget_of_its_own_that_strangers_cannot_use(
    app: Flask, world: World, clock: Clock, no_sleeping: list[float]
) -> None:
    app.config.update(LOGIN_ADDRESS_SLOW_AFTER=2, LOGIN_USERNAME_SLOW_AFTER=3, LOGIN_DELAY_SECONDS=60)
    owner, mallory = app.test_client(), app.test_client()
    assert attempt_from(app, "198.51.100.7", "manager", PASSWORD, owner).status_code == 303
    assert attempt_from(app, "198.51.100.9", "nobody", PASSWORD, mallory).status_code == 303  # her own account
    log_out(owner)
    log_out(mallory)
    # Mallory's own known-device cookie names "nobody": on "manager" it is an unknown browser like any other.
    for n in range(3):
        assert attempt_from(app, f"203.0.113.{n}", "manager", "wrong", mallory).status_code == 400
    assert "for this username" in words(attempt_from(app, "203.0.113.9", "manager", "wrong", mallory))
    # A cookie signed with another key, or one naming "manager" copied from nowhere, is no known device either.
    forged = URLSafeTimedSerializer("not-our-key", salt=devices.SALT).dumps([["manager", "f" * 32]])
    stranger = app.test_client()
    stranger.set_cookie(devices.COOKIE, forged, domain="testserver", path="/login")
    assert attempt_from(app, "203.0.113.50", "manager", "wrong", stranger).status_code == 429
    # The owner's browser: two of its own failures, then it waits too, in its own words.
    assert attempt_from(app, "192.0.2.1", "manager", "typo", owner).status_code == 400
    assert attempt_from(app, "192.0.2.1", "manager", "typo", owner).status_code == 400
    held = attempt_from(app, "192.0.2.1", "manager", PASSWORD, owner)
    assert retry_after(held) <= 60 and "from this browser" in words(held)
    clock.advance(60)
    assert attempt_from(app, "192.0.2.1", "manager", PASSWORD, owner).status_code == 303
    assert no_sleeping == []


def test_the_throttle_no_longer_sleeps_at_all() -> None:
    source = Path(throttle.__file__).read_text() + Path(accounts.__file__).read_text()
    assert "time.sleep" not in source and "import time" not in source and not hasattr(throttle, "pause")


def test_unknown_usernames_cost_the_same_as_known_ones(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: checked.append(h.split("$")[0]) or real(h, p))
    attempt_from(app, "192.0.2.1", "manager", "wrong")
    attempt_from(app, "192.0.2.2", "no-such-user", "wrong")
    assert len(checked) == 2 and checked[0] == checked[1]  # one hash check each, with the same method


def test_counting_is_atomic_under_concurrency(app: Flask, world: World, no_sleeping: list[float]) -> None:
    app.config.update(LOGIN_ADDRESS_MAX_FAILURES=5)
    tokens = []
    for _ in range(20):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "203.0.113.99"
        tokens.append((client, sign_in(client, "anonymous")))
    start = threading.Barrier(20)

    def attempt(pair: tuple[FlaskClient, str]) -> int:
        client, token = pair
        start.wait()
        with app.app_context():
            return client.post("/login", data={"csrf_token": token, "username": "manager", "password": "x"}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, tokens))
    assert statuses.count(429) >= 15 and statuses.count(400) <= 5, statuses


def test_old_failure_rows_are_pruned_and_refused_attempts_leave_none(app: Flask, world: World, clock: Clock) -> None:
    old = clock.now - timedelta(seconds=app.config["LOGIN_FAILURE_WINDOW_SECONDS"] + 60)
    db.session.add_all([LoginAttempt(address="192.0.2.9", username=f"u{n}", created=old) for n in range(50)])
    db.session.commit()
    attempt_from(app, "192.0.2.10", "manager", "wrong")
    assert db.session.scalar(select(func.count(LoginAttempt.id))) == 1
    app.config.update(LOGIN_ADDRESS_MAX_FAILURES=1)
    assert attempt_from(app, "192.0.2.10", "manager", "wrong").status_code == 429
    assert db.session.scalar(select(func.count(LoginAttempt.id))) == 1


def test_a_slowed_boosted_login_form_is_swapped_in_with_its_reason(app: Flask, world: World, clock: Clock) -> None:
    app.config.update(LOGIN_ADDRESS_MAX_FAILURES=1)
    attempt_from(app, "192.0.2.20", "manager", "wrong")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.20"
    token = csrf_token_of(send(client, "GET", "/login"))
    boosted = send(
        client,
        "POST",
        "/login",
        data={"csrf_token": token, "username": "manager", "password": PASSWORD},
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )
    assert retry_after(boosted) > 0 and "Too many failed sign-ins from your address" in words(boosted)
    script = (Path(__file__).resolve().parents[2] / "static" / "js" / "app.js").read_text()
    assert '{ code: "429", swap: true }' in script  # htmx shows that page instead of dropping it


# -- 6. access that ends when Keycloak says so (a server pretending to be the sign-in realm) ----------------


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with impostor() as server:
        yield FakeProvider(server)


@dataclass
class SignInRealm:
    """The sign-in realm's Admin API as the impostor plays it: one account, sub-ann, and our client's roles."""

    provider: FakeProvider
    exists: bool = True
    enabled: bool = True
    roles: list[str] = field(default_factory=list)
    down: bool = False

    def __post_init__(self) -> None:
        admin = "/admin/realms/fake"
        self.provider.server.answers.update(
            {
                f"{admin}/clients": lambda _r: self._answer([{"id": "login-client-uuid", "clientId": CLIENT}]),
                f"{admin}/users/sub-ann": lambda _r: self._answer({"id": "sub-ann", "enabled": self.enabled}),
                f"{admin}/users/sub-ann/role-mappings/clients/login-client-uuid/composite": lambda _r: self._answer(
                    [{"id": f"r-{name}", "name": name} for name in self.roles]
                ),
            }
        )

    def _answer(self, data: Any) -> tuple[int, dict[str, str], str]:
        if self.down:
            return 503, {}, "unavailable"
        if not self.exists and isinstance(data, dict):
            return json_answer({"error": "User not found"}, 404)
        return json_answer(data)

    def asked(self) -> int:
        return sum(1 for item in self.provider.server.received if item.path.startswith("/admin/realms/fake/users/"))


@pytest.fixture
def realm(provider: FakeProvider) -> SignInRealm:
    return SignInRealm(provider)


@pytest.fixture
def checked_app(database_uri: str, tmp_path: Path, provider: FakeProvider, clock: Clock) -> Iterator[Flask]:
    app = make_app(
        database_uri,
        tmp_path,
        provider.issuer,
        OIDC_ADMIN_CLIENT_ID="okg-checker",
        OIDC_ADMIN_CLIENT_SECRET="checker-secret",
        OIDC_RECHECK_SECONDS=300,
    )
    with app.app_context():
        db.session.add(User(username="ann", email="ann@example.org"))
        organization = Organization(name="Org", slug="org")
        db.session.add(Offering(organization=organization, name="Staff Only Service", slug="svc"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def signed_in_ann(app: Flask, provider: FakeProvider, roles: list[str] | None = None) -> tuple[FlaskClient, str]:
    provider.claims = lambda issuer, nonce: (
        good_claims(issuer, nonce) | {"resource_access": {CLIENT: {"roles": roles or []}}}
    )
    client = app.test_client()
    assert come_back(client, provider).status_code == 303
    ann = db.session.scalar(select(User).where(User.username == "ann"))
    assert ann is not None and ann.oidc_subject == "sub-ann"
    return client, create_token(ann)[1]


def api(client: FlaskClient, token: str) -> TestResponse:
    return send(client, "GET", GROUPS, headers={"Authorization": f"Token {token}"})


def test_a_disabled_keycloak_account_loses_its_session_and_its_tokens_within_the_interval(
    checked_app: Flask,
    provider: FakeProvider,
    realm: SignInRealm,
    clock: Clock,
) -> None:
    client, token = signed_in_ann(checked_app, provider)
    assert send(client, "GET", "/").status_code == 200 and api(client, token).status_code == 200
    assert realm.asked() == 0  # the sign-in itself was Keycloak's answer
    realm.enabled = False  # a Keycloak admin disables ann
    clock.advance(299)
    assert send(client, "GET", "/").status_code == 200 and realm.asked() == 0  # the answer is still fresh
    clock.advance(2)
    home = send(client, "GET", "/")
    assert home.status_code == 302 and "/login" in home.headers["Location"]
    login_page = words(send(client, "GET", home.headers["Location"]))
    assert "Keycloak says the account ann is disabled. You were signed out." in login_page
    refused = api(checked_app.test_client(), token)
    assert refused.status_code == 401
    assert refused.get_json() == {"detail": "Keycloak says the account ann is disabled. Its API tokens cannot be used."}
    assert realm.asked() == 1  # one question, its answer kept on the account for every instance
    assert send(client, "GET", "/").status_code == 302  # the session is over, not only this request
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_repr == "ann")).all()
    assert "user.access_ended_by_keycloak" in events


def test_a_deleted_keycloak_account_is_refused_too(
    checked_app: Flask,
    provider: FakeProvider,
    realm: SignInRealm,
    clock: Clock,
) -> None:
    _client, token = signed_in_ann(checked_app, provider)
    realm.exists = False
    clock.advance(301)
    refused = api(checked_app.test_client(), token)
    assert refused.status_code == 401 and "The Keycloak account of ann is gone." in refused.get_json()["detail"]


def test_a_removed_staff_role_ends_staff_but_not_the_session(
    checked_app: Flask,
    provider: FakeProvider,
    realm: SignInRealm,
    clock: Clock,
) -> None:
    realm.roles = ["okg-staff", "other-role"]
    client, token = signed_in_ann(checked_app, provider, roles=["okg-staff"])
    assert "Staff Only Service" in send(client, "GET", "/").get_data(as_text=True)  # staff sees every offering
    realm.roles = ["other-role"]  # the staff role is taken away in Keycloak
    clock.advance(301)
    page = send(client, "GET", "/")
    assert page.status_code == 200 and "Staff Only Service" not in page.get_data(as_text=True)
    ann = db.session.scalar(select(User).where(User.username == "ann"))
    assert ann is not None and ann.is_staff is False
    assert api(client, token).status_code == 200  # still a user, only no longer staff


def test_keycloak_down_keeps_the_last_answer_one_more_interval_then_refuses_in_words(
    checked_app: Flask,
    provider: FakeProvider,
    realm: SignInRealm,
    clock: Clock,
) -> None:
    client, token = signed_in_ann(checked_app, provider)
    realm.down = True
    clock.advance(301)
    assert send(client, "GET", "/").status_code == 200  # the last answer (enabled) stands
    asked = realm.asked()
    assert asked == 1
    clock.advance(10)
    assert api(client, token).status_code == 200 and realm.asked() == asked  # not asked on every request
    clock.advance(280)  # 591 s after the last answer: asked again, still down, still within one more interval
    assert send(client, "GET", "/").status_code == 200 and realm.asked() == asked + 1
    clock.advance(10)  # 601 s: the last answer is too old
    refused = api(checked_app.test_client(), token)
    assert refused.status_code == 401
    detail = refused.get_json()["detail"]
    assert detail.startswith("Keycloak cannot be asked whether the account ann may still be used")
    assert "Keycloak answered with HTTP 503" in detail and "Try again when Keycloak is back" in detail
    home = send(client, "GET", "/")
    assert home.status_code == 302
    assert "Keycloak cannot be asked" in words(send(client, "GET", home.headers["Location"]))
    realm.down = False  # back: the token works again, with a fresh answer
    assert api(checked_app.test_client(), token).status_code == 200


def test_without_an_admin_account_nobody_is_asked(
    database_uri: str,
    tmp_path: Path,
    provider: FakeProvider,
    realm: SignInRealm,
    clock: Clock,
) -> None:
    app = make_app(database_uri, tmp_path, provider.issuer)
    with app.app_context():
        db.session.add(User(username="ann", email="ann@example.org"))
        db.session.commit()
        client, token = signed_in_ann(app, provider)
        realm.enabled = False
        clock.advance(3600)
        assert send(client, "GET", "/").status_code == 200 and api(client, token).status_code == 200
        assert realm.asked() == 0  # documented: without OKG_OIDC_ADMIN_CLIENT_ID the sign-in is all there is
        db.session.remove()
        db.engine.dispose()


# -- 6. tokens: expiry, listing, revoked with the sessions --------------------------------------------------


def test_tokens_expire_and_the_page_lists_created_last_used_and_expires(client: FlaskClient, world: World) -> None:
    token = sign_in(client, "manager")
    page = send(client, "POST", "/tokens", data={"csrf_token": token, "expires_days": "30"})
    assert page.status_code == 200
    plain = text_of(parse(page.get_data(as_text=True)).select_one("#new-token"))
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == plain[:8]))
    assert row is not None and row.expires is not None
    expires = row.expires
    assert timedelta(days=29, hours=23) < expires - utcnow() <= timedelta(days=30)
    assert api(client, plain).status_code == 200
    listing = parse(send(client, "GET", "/tokens").get_data(as_text=True))
    headings = [text_of(th) for th in listing.select("thead th")]
    assert headings[:4] == ["Token", "Created", "Last used", "Expires"]
    mine = next(tr for tr in listing.select("tbody tr") if plain[:8] in text_of(tr))
    cells = [text_of(td) for td in mine.select("td")]
    assert cells[2] != "never" and cells[3] == f"{expires:%Y-%m-%d %H:%M}"

    row.expires = utcnow() - timedelta(minutes=1)
    db.session.commit()
    refused = api(client, plain)
    assert refused.status_code == 401 and refused.get_json()["detail"].startswith("This token expired on ")
    assert "expired" in text_of(parse(send(client, "GET", "/tokens").get_data(as_text=True)).select_one("tbody"))
    bad = send(client, "POST", "/tokens", data={"csrf_token": token, "expires_days": "100000"})
    assert bad.status_code == 400 and db.session.scalar(select(func.count(ApiToken.id))) == 7  # 6 of the world's


def test_create_token_on_the_command_line_can_expire(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-token", "manager", "--expires-days", "7"])
    assert result.exit_code == 0, result.output
    plain = result.output.split()[0]
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == accounts.hash_token(plain)))
    assert row is not None and row.expires is not None
    refused = runner.invoke(args=["create-token", "manager", "--expires-days", "0"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output


@pytest.mark.parametrize("how", ["password", "everywhere"])
def test_signing_out_everywhere_and_a_new_password_revoke_the_api_tokens(
    client: FlaskClient, world: World, how: str
) -> None:
    csrf = sign_in(client, "manager")
    stolen = world.tokens["manager"]  # what a thief copied from the manager's scripts
    assert api(client, stolen).status_code == 200
    account = words(send(client, "GET", "/account"))
    assert "revokes your API token: scripts using it stop working" in account  # said before it happens
    assert "and revoke your API token" in account
    if how == "password":
        form = {"current_password": PASSWORD, "new_password": "a-brand-new-pw", "confirm_password": "a-brand-new-pw"}
        done = send(client, "POST", "/account/password", data={"csrf_token": csrf, **form})
    else:
        done = send(client, "POST", "/account/sign-out-everywhere", data={"csrf_token": csrf})
    assert done.status_code == 303
    refused = api(client.application.test_client(), stolen)
    assert refused.status_code == 401 and refused.get_json() == {"detail": "Invalid token."}
    assert "Your 1 API token was revoked" in words(send(client, "GET", "/account"))
    assert api(client.application.test_client(), world.tokens["staff"]).status_code == 200  # others' tokens stay


def test_a_password_reset_by_load_data_revokes_the_api_tokens_and_ends_the_sessions(
    client: FlaskClient, world: World, tmp_path: Path
) -> None:
    sign_in(client, "manager")
    stolen = world.tokens["manager"]
    assert api(client, stolen).status_code == 200
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"users": [{"username": "manager", "password": "reset-by-staff-1"}]}))
    result = client.application.test_cli_runner().invoke(args=["load-data", str(data)])
    assert result.exit_code == 0, result.output
    refused = api(client.application.test_client(), stolen)
    assert refused.status_code == 401 and refused.get_json() == {"detail": "Invalid token."}
    assert send(client, "GET", "/account").status_code in (302, 303)  # the old session is over: sign in again
    assert api(client.application.test_client(), world.tokens["staff"]).status_code == 200
    tokens = db.session.scalar(select(func.count()).select_from(ApiToken))
    result = client.application.test_cli_runner().invoke(args=["load-data", str(data)])  # the same file again
    assert result.exit_code == 0 and db.session.scalar(select(func.count()).select_from(ApiToken)) == tokens


# -- 7. username squatting -------------------------------------------------------------------------------


@pytest.fixture
def creating_app(database_uri: str, tmp_path: Path, provider: FakeProvider) -> Iterator[Flask]:
    app = make_app(database_uri, tmp_path, provider.issuer, OIDC_CREATE_USERS=True, OIDC_LINK_BY_USERNAME=True)
    data = {
        "users": [{"username": "alice", "email": "alice@corp.example", "password": "alice-pw-1"}],
        "organizations": [
            {"uuid": "11111111111111111111111111111111", "name": "Org", "slug": "org", "managers": ["alice"]}
        ],
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["load-data", str(path)])
        assert result.exit_code == 0, result.output
        yield app
        db.session.remove()
        db.engine.dispose()


def sign_in_as(app: Flask, provider: FakeProvider, username: str, email: str, sub: str):  # type: ignore[no-untyped-def]
    provider.claims = lambda issuer, nonce: (
        good_claims(issuer, nonce)
        | {
            "sub": sub,
            "preferred_username": username,
            "email": email,
            "email_verified": True,
        }
    )
    return come_back(app.test_client(), provider)


@pytest.mark.parametrize(
    "username",
    ["\uff41\uff4c\uff49\uff43\uff45", "alice\u200b", "\u0430lice", "alicé", "al\u00adice", "ALİCE"],
    ids=["fullwidth", "zero-width-space", "cyrillic-a", "accent", "soft-hyphen", "dotted-capital-i"],
)
def test_no_account_is_created_under_a_name_that_looks_like_one_load_data_gave_someone_else(
    creating_app: Flask,
    provider: FakeProvider,
    username: str,
) -> None:
    before = db.session.scalar(select(func.count(User.id)))
    refused = sign_in_as(creating_app, provider, username, "mallory@evil.example", "sub-mallory")
    assert refused.status_code == 403, words(refused)
    shown = words(refused)
    assert "No account here for" in shown and ("looks the same" in shown or "several scripts" in shown), shown
    assert db.session.scalar(select(func.count(User.id))) == before
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None and alice.oidc_subject is None


def test_linking_by_username_never_takes_an_account_whose_email_is_someone_elses(
    creating_app: Flask,
    provider: FakeProvider,
) -> None:
    refused = sign_in_as(creating_app, provider, "alice", "mallory@evil.example", "sub-mallory")
    assert refused.status_code == 403
    assert "belongs to someone with another email" in words(refused)
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None and alice.oidc_subject is None


def test_a_new_name_and_alice_herself_still_get_in_so_the_refusals_mean_something(
    creating_app: Flask,
    provider: FakeProvider,
) -> None:
    zoe = sign_in_as(creating_app, provider, "zoë", "zoe@corp.example", "sub-zoe")
    assert zoe.status_code == 303, words(zoe)
    assert db.session.scalar(select(User).where(User.username == "zoë")) is not None
    assert sign_in_as(creating_app, provider, "alice", "alice@corp.example", "sub-alice").status_code == 303
    alice = db.session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None and alice.oidc_subject == "sub-alice"


# -- 10. secrets compared as bytes: non-ASCII is a "no", never a 500 ------------------------------------------


@pytest.mark.parametrize("sent", ["Bearer ünïcödé", "Bearer €uro", "Bearer \udcff"], ids=["latin1", "utf8", "lone"])
def test_a_non_ascii_metrics_token_is_401(app: Flask, world: World, sent: str) -> None:
    app.config["METRICS_TOKEN"] = "the-metrics-token"
    client = app.test_client()
    environ = {"HTTP_AUTHORIZATION": sent}  # as a server hands it over (latin-1, or with undecodable bytes)
    assert send(client, "GET", "/metrics", environ_overrides=environ).status_code == 401
    assert send(client, "GET", "/metrics", headers={"Authorization": "Bearer the-metrics-token"}).status_code == 200


def test_non_ascii_everywhere_a_secret_is_compared_is_a_plain_no(client: FlaskClient, world: World) -> None:
    for header in ("Token ünïcödé", "Token \udcff"):
        refused = send(client, "GET", GROUPS, environ_overrides={"HTTP_AUTHORIZATION": header})
        assert refused.status_code == 401 and refused.get_json() == {"detail": "Invalid token."}
    token = csrf_token_of(send(client, "GET", "/login"))
    form = {"username": "manager", "password": PASSWORD}
    assert send(client, "POST", "/login", data={"csrf_token": "ünï" + token, **form}).status_code == 400
    client.set_cookie(devices.COOKIE, "ünïcödé.ä.ö", domain="testserver", path="/login")
    assert send(client, "POST", "/login", data={"csrf_token": token, **form}).status_code == 303


def test_every_secret_comparison_goes_through_the_one_helper() -> None:
    root = Path(__file__).resolve().parents[2] / "webapp"
    users = [path.name for path in root.rglob("*.py") if "compare_digest" in path.read_text()]
    assert users == ["secret_compare.py"]


# -- 12. the discovery document's issuer must be the one configured (mix-up) ---------------------------------


def mixed_up(provider: FakeProvider) -> None:
    """The server at the configured address says another issuer is speaking, and signs as that one."""
    other = provider.issuer.replace("/realms/fake", "/realms/other")
    real = provider.discovery
    provider.discovery = lambda: real() | {"issuer": other}  # type: ignore[method-assign]
    provider.claims = lambda _issuer, nonce: good_claims(other, nonce)


def test_a_discovery_document_naming_another_issuer_stops_the_sign_in(
    database_uri: str,
    tmp_path: Path,
    provider: FakeProvider,
) -> None:
    app = make_app(database_uri, tmp_path, provider.issuer)
    with app.app_context():
        db.session.add(User(username="ann", email="ann@example.org"))
        db.session.commit()
        mixed_up(provider)
        client = app.test_client()
        start = send(client, "GET", "/auth/keycloak/login")
        assert start.status_code == 502
        page = words(start)
        assert "names '" in page and "/realms/other' as its issuer, not " in page and "OKG_OIDC_ISSUER" in page
        assert not any("/auth" in item.path for item in provider.server.received)  # the browser was not sent there
        db.session.remove()
        db.engine.dispose()


def test_a_mix_up_between_the_start_and_the_callback_is_refused_and_nothing_is_stored(
    database_uri: str,
    tmp_path: Path,
    provider: FakeProvider,
) -> None:
    app = make_app(database_uri, tmp_path, provider.issuer)
    with app.app_context():
        db.session.add(User(username="ann", email="ann@example.org"))
        db.session.commit()
        client = app.test_client()
        start = send(client, "GET", "/auth/keycloak/login")
        assert start.status_code == 302
        query = parse_qs(urlsplit(start.headers["Location"]).query)
        state, nonce = query["state"][0], query["nonce"][0]
        app.extensions["okg_oidc"].server_metadata.clear()  # another instance, or a restart, reads discovery anew
        mixed_up(provider)
        provider.nonce = nonce
        back = send(client, "GET", "/auth/keycloak/callback", query_string={"code": "c", "state": state})
        assert back.status_code == 502 and "as its issuer, not" in words(back)
        assert send(client, "GET", "/").status_code == 302
        assert db.session.scalar(select(User).where(User.username == "ann")).oidc_subject is None  # type: ignore[union-attr]
        assert not any(item.path.endswith("/token") for item in provider.server.received)  # no code was sent
        db.session.remove()
        db.engine.dispose()


# -- 14. the sign-in error page speaks our words, never the link's ------------------------------------------


PHISHING = "Your account is locked. Call +1 555 0100 and give your password to unlock it."


@pytest.mark.parametrize(
    ("error", "ours"),
    [
        ("access_denied", "Keycloak did not let you sign in (access denied). Nothing was changed."),
        ("temporarily_unavailable", "Keycloak cannot sign you in just now. Try again later."),
        ("Your_account_is_locked_call_555_0100", "Keycloak refused the sign-in. Nothing was changed; start again."),
    ],
)
def test_an_error_link_shows_our_words_never_its_description(
    database_uri: str,
    tmp_path: Path,
    provider: FakeProvider,
    error: str,
    ours: str,
) -> None:
    app = make_app(database_uri, tmp_path, provider.issuer)
    with app.app_context():
        client = app.test_client()
        page = come_back(client, provider, error=error, error_description=PHISHING)
        shown = words(page)
        assert page.status_code == 400 and ours in shown
        assert "555" not in shown and "password" not in shown and "locked" not in shown
        db.session.remove()
        db.engine.dispose()
