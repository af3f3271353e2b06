"""Attacks an ordinary offering manager (or a stranger, or a server pretending to be Keycloak) could try.

Each test performs the attack end to end, through the same forms and endpoints a person or script uses, and
checks that nothing was sent where it must not go, nothing was changed and the answer is a clear 4xx/502.
The numbers are the items of the security issue.
"""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import FakeKeycloak, _config
from tests.factories import PASSWORD, World
from tests.impostor import Received, impostor, json_answer, offering_root_answers, token_answer
from tests.security.matrix import Call, send_api, send_ui, settings_form, sign_in
from tests.signin import csrf_token_of, send
from webapp import create_app
from webapp.crypto import decrypt, encrypt
from webapp.extensions import db
from webapp.keycloak import ConnectionSettings, errors
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.destinations import is_allowed, parse_prefixes
from webapp.keycloak.fake_gateway import FakeGateway
from webapp.keycloak.limits import Limits
from webapp.keycloak.registry import EXTENSION_KEY, GatewayRegistry
from webapp.models import AuditEvent, LoginAttempt, Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, utcnow

GROUPS = "/api/offering-keycloak-groups"
ADMIN_PASSWORD = "admin-password"  # what tests/factories.py stores for the world's offering
TOKEN_PATH = "/realms/master/protocol/openid-connect/token"
NOT_KEYCLOAK = "did not answer like Keycloak"


def real_gateways(app: Flask, **kwargs: Any) -> None:
    """Talk HTTP with python-keycloak (as in production) instead of the in-memory fake."""
    app.extensions[EXTENSION_KEY] = GatewayRegistry(lambda settings: AdminGateway(settings, **kwargs))


def point_at(offering: Offering, url: str) -> None:
    offering.keycloak_url = url
    db.session.commit()


def settings_url(world: World) -> str:
    return f"/offerings/{world.offering.uuid}/settings"


def manager_token(client: FlaskClient, world: World) -> str:
    """The settings page's CSRF token, signing the manager in first when needed."""
    if send(client, "GET", settings_url(world)).status_code != 200:
        sign_in(client, "manager")
    return csrf_token_of(send(client, "GET", settings_url(world)))


def save_settings(client: FlaskClient, world: World, **changes: str) -> Any:
    token = manager_token(client, world)
    return send_ui(client, "POST", Call(settings_url(world), form=settings_form(**changes)), token)


def api_test_connection(client: FlaskClient, world: World) -> Any:
    body = {"offering_uuid": world.offering.uuid}
    return send_api(client, world, "manager", "POST", Call(f"{GROUPS}/test_connection/", json=body))


def list_remote_groups(client: FlaskClient, world: World) -> Any:
    return send_api(
        client, world, "manager", "GET", Call(f"{GROUPS}/remote_groups/?offering_uuid={world.offering.uuid}")
    )


def import_remote(client: FlaskClient, world: World, remote_group_id: str) -> Any:
    body = {
        "offering_uuid": world.offering.uuid,
        "role_uuid": world.member_role.uuid,
        "remote_group_id": remote_group_id,
    }
    return send_api(client, world, "manager", "POST", Call(f"{GROUPS}/import_remote/", json=body))


def stored_password(world: World) -> str:
    offering = db.session.get(Offering, world.offering.id)
    assert offering is not None
    db.session.refresh(offering)
    return decrypt(offering.keycloak_password_encrypted)


# -- 1. stored secrets never travel to a new destination ------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"url": "IMPOSTOR"}, {"realm": "other"}, {"auth_realm": "other"}, {"username": "someone-else"}],
    ids=["url", "realm", "auth_realm", "username"],
)
def test_changing_the_destination_drops_the_stored_password(
    app: Flask, client: FlaskClient, world: World, change: dict[str, str]
) -> None:
    real_gateways(app)
    with impostor({TOKEN_PATH: token_answer, "/realms/other/": token_answer}) as fake_kc:
        point_at(world.offering, fake_kc.url if "url" not in change else world.offering.keycloak_url)
        form = {key: (fake_kc.url if value == "IMPOSTOR" else value) for key, value in change.items()}
        if {"realm", "auth_realm"} & change.keys():
            sign_in(client, "staff")  # only staff may move an offering to another realm (test_boundary.py)
        assert save_settings(client, world, **{"url": fake_kc.url} | form).status_code == 303
        assert stored_password(world) == ""
        # The attack: press "Test connection" with the stored password left "unchanged".
        token = manager_token(client, world)
        page = send_ui(client, "POST", Call(f"/offerings/{world.offering.uuid}/test-connection", form={}), token)
        api = api_test_connection(client, world)
        assert not fake_kc.got(ADMIN_PASSWORD)
        assert fake_kc.received == []  # with no password there is nothing to send at all
    assert "Connection failed" in page.get_data(as_text=True)
    assert api.status_code == 400 and "give an admin username and password" in str(api.json)


def test_a_new_password_entered_with_the_change_is_kept(client: FlaskClient, world: World) -> None:
    assert save_settings(client, world, url="http://sso.example.org/", password="new-one-2f9").status_code == 303
    assert stored_password(world) == "new-one-2f9"


def test_unchanged_destination_keeps_the_password_and_the_form_says_when_it_does_not(
    client: FlaskClient, world: World
) -> None:
    assert save_settings(client, world, timeout="20", base_group="base").status_code == 303
    assert stored_password(world) == ADMIN_PASSWORD
    page = send(client, "GET", settings_url(world)).get_data(as_text=True)
    assert "Changing the server, realm, account or base group" in page and "clears the stored password" in page


def test_switching_the_client_id_drops_the_stored_client_secret(client: FlaskClient, world: World) -> None:
    offering = world.offering
    offering.keycloak_client_id, offering.keycloak_username = "okg-client", ""
    offering.keycloak_client_secret_encrypted, offering.keycloak_password_encrypted = encrypt("s3cret-client"), ""
    db.session.commit()
    same = {"auth_mode": "client", "client_id": "okg-client", "username": ""}
    assert save_settings(client, world, **same).status_code == 303
    db.session.refresh(offering)
    assert decrypt(offering.keycloak_client_secret_encrypted) == "s3cret-client"
    assert save_settings(client, world, **(same | {"client_id": "attacker-client"})).status_code == 303
    db.session.refresh(offering)
    assert offering.keycloak_client_secret_encrypted == ""


# -- 2. operators pin where Keycloak may be ---------------------------------------------------------------


def test_allowed_urls_refuse_other_servers_on_save(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["KEYCLOAK_ALLOWED_URLS"] = "http://fake-keycloak/,https://sso.example.org/"
    refused = save_settings(client, world, url="https://evil.example.org/")
    assert refused.status_code == 400
    assert "not one of the Keycloak servers allowed here" in refused.get_data(as_text=True)
    db.session.refresh(world.offering)
    assert world.offering.keycloak_url == "http://fake-keycloak"
    assert save_settings(client, world, url="https://sso.example.org/kc/", password="pw-1234").status_code == 303


def test_allowed_urls_are_enforced_again_at_call_time(app: Flask, client: FlaskClient, world: World) -> None:
    with impostor({TOKEN_PATH: token_answer}) as fake_kc:
        app.config["KEYCLOAK_ALLOWED_URLS"] = "https://sso.example.org/"
        real_gateways(app, allowed_urls=parse_prefixes("https://sso.example.org/"))
        point_at(world.offering, fake_kc.url)  # got into the database some other way
        api = api_test_connection(client, world)
        # The gateway itself refuses too, before any request (defence in depth).
        gateway = AdminGateway(
            ConnectionSettings(fake_kc.url, "demo", username="admin", password="pw"),
            allowed_urls=parse_prefixes("https://sso.example.org/"),
        )
        with pytest.raises(errors.DestinationNotAllowed):
            gateway.check_connection()
        assert fake_kc.received == []
    assert api.status_code == 400 and "not one of the Keycloak servers allowed here" in str(api.json)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080@evil.example.org/",  # userinfo: the host is evil.example.org
        "http://127.0.0.1:80.evil.example.org/",  # not a port
        "http://127.0.0.1:8080\\@evil.example.org/",
        "http://127.0.0.1:8080/?next=//evil",
        "ftp://127.0.0.1:21/",
        "http://127.0.0.1.evil.example.org:8080/",
    ],
)
def test_prefix_checks_cannot_be_tricked(url: str) -> None:
    assert not is_allowed(url, parse_prefixes("http://127.0.0.1:,https://sso.example.org/"))


def test_prefix_checks_accept_what_they_should() -> None:
    prefixes = parse_prefixes("http://127.0.0.1:,https://SSO.example.org/")
    assert is_allowed("http://127.0.0.1:18080/", prefixes)
    assert is_allowed("https://sso.example.org/auth/", prefixes)
    assert is_allowed("https://evil.example.org/", ())  # unset: any well-formed URL


# -- 3. never follow redirects; an answer that is not Keycloak's gives one generic reason ---------------


def redirect_to(target: str) -> Any:
    return lambda _request: (302, {"Location": target}, "")


def html(_request: Received) -> tuple[int, dict[str, str], str]:
    return 200, {"Content-Type": "text/html"}, "<html><body>Sign in to Evil Corp: secret-remote-body</body></html>"


@pytest.mark.parametrize(
    "scenario", ["token redirect", "token html", "token non-dict json", "admin redirect", "admin html"]
)
def test_answers_that_are_not_keycloak(app: Flask, client: FlaskClient, world: World, scenario: str) -> None:
    real_gateways(app)
    with impostor() as catcher, impostor() as fake_kc:
        admin = "/admin/realms/demo/"
        fake_kc.answers = {
            "token redirect": {TOKEN_PATH: redirect_to(catcher.url + "steal")},
            "token html": {TOKEN_PATH: html},
            "token non-dict json": {TOKEN_PATH: lambda _r: json_answer(["not", "a", "token"])},
            "admin redirect": {TOKEN_PATH: token_answer, admin: redirect_to(catcher.url + "steal")},
            "admin html": {TOKEN_PATH: token_answer, admin: html},
        }[scenario]
        point_at(world.offering, fake_kc.url)
        api = list_remote_groups(client, world)
        token = sign_in(client, "manager")
        page = send_ui(client, "POST", Call(f"/offerings/{world.offering.uuid}/test-connection", form={}), token)
        assert catcher.received == []  # neither the password nor the token went to the redirect's target
    assert api.status_code == 502
    assert api.json == {"detail": f"Listing Keycloak groups failed: The server at {fake_kc.url} {NOT_KEYCLOAK}"}
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and NOT_KEYCLOAK in body and "secret-remote-body" not in body


# -- 4. certificates are verified by default ---------------------------------------------------------------


def test_certificates_are_verified_by_default(world: World) -> None:
    assert ConnectionSettings("https://kc.example.org/", "demo").verify_ssl is True
    offering = Offering(name="new", slug="new", organization=world.organization)
    db.session.add(offering)
    db.session.commit()
    assert offering.keycloak_verify_ssl is True
    gateway = AdminGateway(ConnectionSettings("https://kc.example.org/", "demo", username="a", password="b"))
    assert gateway._connection.verify is True


# -- 5. the offering scope fails closed --------------------------------------------------------------------

MISSING = "This offering has no group in Keycloak yet: expected /elsewhere/hpc"


@pytest.fixture
def without_offering_group(world: World) -> str:
    """The manager points the base group somewhere that does not exist; returns a realm group outside."""
    world.offering.keycloak_base_group = "elsewhere"
    db.session.commit()
    return world.realm.add_path("/payroll/admins")


def test_without_offering_group_remote_lists_are_empty(client: FlaskClient, world: World, without_offering_group: str):
    listing = list_remote_groups(client, world)
    status = send_api(
        client, world, "manager", "GET", Call(f"{GROUPS}/sync_status/?offering_uuid={world.offering.uuid}")
    )
    assert listing.status_code == 200 and listing.json == []
    assert status.json["remote_only"] == []


@pytest.mark.parametrize("where", ["import", "link", "members"])
def test_without_offering_group_nothing_of_the_realm_can_be_used(
    client: FlaskClient, world: World, without_offering_group: str, where: str
) -> None:
    outside = without_offering_group
    group = world.add_group("local", scope_id="x")
    call = {
        "import": Call(
            f"{GROUPS}/import_remote/",
            json={
                "offering_uuid": world.offering.uuid,
                "role_uuid": world.member_role.uuid,
                "remote_group_id": outside,
            },
        ),
        "link": Call(f"{GROUPS}/{group.uuid}/set_backend_id/", json={"backend_id": outside}),
        "members": Call(f"{GROUPS}/remote_group_members/?offering_uuid={world.offering.uuid}&group_id={outside}"),
    }[where]
    response = send_api(client, world, "manager", "GET" if where == "members" else "POST", call)
    assert response.status_code == 400 and response.json == [MISSING]
    db.session.refresh(group)
    assert group.backend_id == "" and db.session.scalar(select(func.count(OfferingKeycloakGroup.id))) == 1


def test_groups_page_offers_to_create_the_offering_group(
    client: FlaskClient, world: World, without_offering_group: str
) -> None:
    token = sign_in(client, "manager")
    page = client.get(f"/offerings/{world.offering.uuid}/groups").get_data(as_text=True)
    assert "expected <code>/elsewhere/hpc</code>" in page and "Create /elsewhere/hpc in Keycloak" in page
    created = send_ui(
        client, "POST", Call(f"/offerings/{world.offering.uuid}/groups/create-offering-group", form={}), token
    )
    assert created.status_code == 303
    assert FakeGateway(world.realm).get_group_by_path("/elsewhere/hpc").path == "/elsewhere/hpc"
    child = world.realm.add_path("/elsewhere/hpc/team")
    imported = import_remote(client, world, child)
    assert imported.status_code == 201


def test_membership_create_still_builds_the_hierarchy(client: FlaskClient, world: World) -> None:
    world.offering.keycloak_base_group = "fresh-base"
    db.session.commit()
    response = send_api(
        client,
        world,
        "manager",
        "POST",
        Call(
            "/api/offering-keycloak-memberships/",
            json={"offering": world.offering.uuid, "role": world.member_role.uuid, "username": "newbie"},
        ),
    )
    assert response.status_code == 201
    assert FakeGateway(world.realm).get_group_by_path("/fresh-base/hpc").path == "/fresh-base/hpc"


def test_subtree_is_decided_by_ancestry_not_by_path(client: FlaskClient, world: World) -> None:
    # A top-level group *named* "base/hpc/payroll" has the path /base/hpc/payroll, yet is outside.
    impostor_id = world.realm.add_group("base/hpc/payroll")
    assert world.realm.path_of(impostor_id) == "/base/hpc/payroll"
    response = send_api(
        client,
        world,
        "manager",
        "POST",
        Call(
            f"{GROUPS}/import_remote/",
            json={
                "offering_uuid": world.offering.uuid,
                "role_uuid": world.member_role.uuid,
                "remote_group_id": impostor_id,
            },
        ),
    )
    assert response.status_code == 400
    assert response.json == {"remote_group_id": ["Remote group not found in Keycloak."]}


def test_a_top_level_group_named_like_the_offering_path_is_not_the_offering_group(
    client: FlaskClient, world: World
) -> None:
    # Keycloak may resolve /base/hpc to a top-level group named "base/hpc": the parent chain decides.
    world.realm.groups.clear()
    world.realm.top_level.clear()
    fake_root = world.realm.add_group("base/hpc")
    world.realm.add_group("inside-fake", parent_id=fake_root)
    listing = list_remote_groups(client, world)
    assert listing.status_code == 200 and listing.json == []


# -- 6. Keycloak ids cannot escape their URL segment ------------------------------------------------------

BAD_IDS = ["..", ".", "../users", "a/b", "%2e%2e", "x y", "é", "a" * 256]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_ids_outside_keycloaks_alphabet_are_400_before_any_call(
    client: FlaskClient, world: World, fake_keycloak: FakeKeycloak, bad: str
) -> None:
    group = world.add_group("local", scope_id="x")
    members = send_api(
        client,
        world,
        "manager",
        "GET",
        Call(f"{GROUPS}/remote_group_members/?offering_uuid={world.offering.uuid}&group_id={bad.replace('%', '%25')}"),
    )
    imported = import_remote(client, world, bad)
    linked = send_api(
        client, world, "manager", "POST", Call(f"{GROUPS}/{group.uuid}/set_backend_id/", json={"backend_id": bad})
    )
    assert members.json == {"group_id": ["Not a Keycloak id."]}
    assert imported.json == {"remote_group_id": ["Not a Keycloak id."]} or len(bad) > 255  # too long: said first
    assert linked.json == {"backend_id": ["Not a Keycloak id."]} or len(bad) > 255
    assert {members.status_code, imported.status_code, linked.status_code} == {400}
    db.session.refresh(group)
    assert group.backend_id == ""


def test_tree_route_refuses_dot_ids(client: FlaskClient, world: World) -> None:
    sign_in(client, "manager")
    response = client.get(f"/offerings/{world.offering.uuid}/tree/%2E%2E", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Not a Keycloak id." in response.get_data(as_text=True)


def test_gateway_refuses_dot_ids_so_a_user_is_never_deleted(world: World) -> None:
    """`DELETE users/{uid}/groups/..` would be sent as `DELETE users/{uid}/`: the user would be deleted."""
    with impostor({TOKEN_PATH: token_answer}) as fake_kc:
        gateway = AdminGateway(ConnectionSettings(fake_kc.url, "demo", username="admin", password="pw"))
        for call in (
            lambda: gateway.remove_user_from_group("0d5c1f0e-user", ".."),
            lambda: gateway.add_user_to_group("..", "group-1"),
            lambda: gateway.get_group(".."),
            lambda: list(gateway.iter_group_members("../../users")),
            lambda: gateway.delete_group("."),
            lambda: gateway.get_group_by_path("/base/../admin"),
        ):
            with pytest.raises(errors.InvalidId):
                call()
        assert [item for item in fake_kc.received if item.method == "DELETE"] == []
    fake = FakeGateway(world.realm)
    with pytest.raises(errors.InvalidId):
        fake.remove_user_from_group("x", "..")


def test_a_stored_bad_backend_id_never_reaches_a_url(client: FlaskClient, world: World) -> None:
    group = world.add_group("legacy", backend_id="..", scope_id="legacy")
    member = OfferingKeycloakMembership(group=group, username="alice", state="active", keycloak_user_id="u-1")
    db.session.add(member)
    db.session.commit()
    pulled = send_api(client, world, "manager", "POST", Call(f"{GROUPS}/{group.uuid}/pull_members/"))
    removed = send_api(client, world, "manager", "DELETE", Call(f"/api/offering-keycloak-memberships/{member.uuid}/"))
    assert pulled.status_code == 400 and pulled.json == {"backend_id": ["Not a Keycloak id."]}
    assert removed.status_code == 400 and removed.json == {"backend_id": ["Not a Keycloak id."]}


def test_ids_a_server_sends_back_are_checked(app: Flask, client: FlaskClient, world: World) -> None:
    real_gateways(app)
    admin = "/admin/realms/demo/"
    with impostor(
        {
            TOKEN_PATH: token_answer,
            **offering_root_answers(admin),
            f"{admin}groups/root-2/children": lambda _r: json_answer(
                [{"id": "..", "name": "evil", "path": "/base/hpc/evil", "subGroupCount": 1}]
            ),
        }
    ) as fake_kc:
        point_at(world.offering, fake_kc.url)
        response = list_remote_groups(client, world)
        assert not any("groups/../" in path or path.endswith("/demo/") for path in fake_kc.paths())
    assert response.status_code == 502 and NOT_KEYCLOAK in response.json["detail"]


# -- 7. remote walks are bounded ----------------------------------------------------------------------------


def test_a_group_that_is_its_own_ancestor_ends_the_walk(client: FlaskClient, world: World) -> None:
    child = world.realm.add_group("loop", parent_id=world.offering_root_id)
    world.realm.groups[child].children.append(world.offering_root_id)  # hpc is now its own grandchild
    listing = list_remote_groups(client, world)
    assert listing.status_code == 200 and [item["name"] for item in listing.json] == ["loop"]


def test_caps_on_groups_and_members(world: World) -> None:
    for index in range(4):
        world.realm.add_group(f"g{index}", parent_id=world.offering_root_id)
        world.realm.add_member(world.offering_root_id, world.realm.add_user(f"user{index}"))
    gateway = FakeGateway(world.realm, Limits(max_groups=3, max_members=3))
    with pytest.raises(errors.LimitExceeded, match="more than 3 groups under /base/hpc"):
        gateway.walk_subtree(world.offering_root_id, label="/base/hpc")
    with pytest.raises(errors.LimitExceeded, match="more than 3 members in /base/hpc"):
        list(gateway.iter_group_members(world.offering_root_id, label="/base/hpc"))
    with pytest.raises(errors.LimitExceeded, match="did not finish within 0 s"):
        FakeGateway(world.realm, Limits(deadline_seconds=0)).walk_subtree(world.offering_root_id)


def test_a_server_that_never_stops_sending_groups_is_a_clear_502(app: Flask, client: FlaskClient, world: World):
    real_gateways(app, page_size=50, limits=Limits(max_groups=120))
    admin = "/admin/realms/demo/"
    served = iter(range(10**9))

    def endless(_request: Received) -> tuple[int, dict[str, str], str]:
        return json_answer([{"id": f"g{next(served)}", "name": "more", "subGroupCount": 0} for _ in range(50)])

    with impostor(
        {
            TOKEN_PATH: token_answer,
            **offering_root_answers(admin),
            f"{admin}groups/root-2/children": endless,
        }
    ) as fake_kc:
        point_at(world.offering, fake_kc.url)
        response = list_remote_groups(client, world)
        pages = len([path for path in fake_kc.paths() if "/children" in path])
    assert response.status_code == 502
    assert response.json == {
        "detail": "Listing Keycloak groups failed: Keycloak returned more than 120 groups under /base/hpc"
    }
    assert pages == 3


def test_the_gateway_registry_is_bounded() -> None:
    made: list[ConnectionSettings] = []

    def factory(settings: ConnectionSettings) -> Any:
        made.append(settings)
        return object()

    registry = GatewayRegistry(factory, size=2)
    first, second, third = (ConnectionSettings(f"http://kc{n}/", "r") for n in range(3))
    registry.get(first)
    registry.get(second)
    registry.get(first)  # used again: now second is the least recently used
    registry.get(third)
    assert len(registry) == 2
    registry.get(first)
    assert made == [first, second, third]  # first was kept
    registry.get(second)
    assert made == [first, second, third, second]  # second had been dropped


# -- 8. request bodies are bounded --------------------------------------------------------------------------


def test_big_bodies_are_413_before_anything_parses_them(client: FlaskClient, world: World) -> None:
    big = "x" * (1024 * 1024 + 1)
    api = client.post(
        f"{GROUPS}/import_remote/", data=big, content_type="application/json", headers=world.headers("manager")
    )
    assert api.status_code == 413 and api.json == {
        "detail": "The request body is larger than this server accepts (1048576 bytes)."
    }
    token = sign_in(client, "manager")
    page = client.post("/login", data={"csrf_token": token, "username": big})
    assert page.status_code == 413 and "larger than this server accepts" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OfferingKeycloakGroup.id))) == 0


# -- 9. throttling that a stranger cannot turn into a lockout (the throttle itself: tests/security/test_accounts.py)


def login_from(app: Flask, address: str, username: str, password: str) -> int:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = sign_in(client, "anonymous")
    return send(
        client, "POST", "/login", data={"csrf_token": token, "username": username, "password": password}
    ).status_code


def test_client_address_comes_from_the_trusted_proxy_only(database_uri: str, fake_keycloak: FakeKeycloak) -> None:
    for proxies, expected in ((0, "127.0.0.1"), (1, "203.0.113.50")):
        app = create_app(
            _config(
                database_uri, TRUSTED_PROXIES=proxies, KEYCLOAK_GATEWAY_REGISTRY=GatewayRegistry(fake_keycloak.factory)
            )
        )
        with app.app_context():
            client = app.test_client()
            token = sign_in(client, "anonymous")
            client.post(
                "/login",
                data={"csrf_token": token, "username": "ghost", "password": "x"},
                headers={"X-Forwarded-For": "203.0.113.50"},
            )
            assert db.session.scalars(select(LoginAttempt.address)).all()[-1] == expected
            db.session.remove()


# -- 10. next= after login stays on this site --------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example.org/",
        "/\\evil.example.org",
        "https://evil.example.org/",
        "/\t/evil.example.org",
        "/%0a/x\n",
        "javascript:alert(1)",
        "\\\\evil",
    ],
)
def test_next_never_leaves_the_site(client: FlaskClient, world: World, target: str) -> None:
    token = sign_in(client, "anonymous")
    response = client.post(
        "/login", query_string={"next": target}, data={"csrf_token": token, "username": "manager", "password": PASSWORD}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_next_keeps_a_local_path(client: FlaskClient, world: World) -> None:
    token = sign_in(client, "anonymous")
    target = f"/offerings/{world.offering.uuid}/groups?status=synced"
    response = client.post(
        "/login", query_string={"next": target}, data={"csrf_token": token, "username": "manager", "password": PASSWORD}
    )
    assert response.headers["Location"] == target


# -- 11. no well-known keys ---------------------------------------------------------------------------------


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKG_SECRET_KEY", raising=False)
    monkeypatch.delenv("OKG_ENCRYPTION_KEY", raising=False)


def test_missing_keys_are_generated_into_the_instance_folder(
    tmp_path: Path, database_uri: str, no_key_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    config = {"SQLALCHEMY_DATABASE_URI": database_uri, "TESTING": True}
    with caplog.at_level("WARNING"):
        first = create_app(config, instance_path=str(tmp_path))
        second = create_app(config, instance_path=str(tmp_path))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["SECRET_KEY"] != first.config["ENCRYPTION_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 40 and "dev-only" not in first.config["SECRET_KEY"]
    for name in ("secret_key", "encryption_key"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    generated = [r for r in caplog.records if "Generated a random" in r.getMessage()]
    assert len(generated) == 2  # once per key, on the first start only
    other = create_app(config, instance_path=str(tmp_path / "elsewhere"))
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_several_encryption_keys_and_rotate_secrets(app: Flask, world: World) -> None:
    old_ciphertext = world.offering.keycloak_password_encrypted  # encrypted with the test key
    app.config["ENCRYPTION_KEY"] = f"brand-new-key,{app.config['ENCRYPTION_KEY']}"
    assert decrypt(old_ciphertext) == ADMIN_PASSWORD  # old key still decrypts
    result = app.test_cli_runner().invoke(args=["rotate-secrets"])
    assert result.exit_code == 0 and "Re-encrypted" in result.output
    db.session.refresh(world.offering)
    app.config["ENCRYPTION_KEY"] = "brand-new-key"  # the old key is gone
    assert decrypt(world.offering.keycloak_password_encrypted) == ADMIN_PASSWORD


# -- 12. sessions can be revoked ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["password", "everywhere"])
def test_other_sessions_end_when_asked(app: Flask, world: World, how: str) -> None:
    mine, stolen = app.test_client(), app.test_client()
    token = sign_in(mine, "manager")
    sign_in(stolen, "manager")
    assert send(stolen, "GET", "/").status_code == 200
    if how == "password":
        form = {"current_password": PASSWORD, "new_password": "a-brand-new-pw", "confirm_password": "a-brand-new-pw"}
        response = send(mine, "POST", "/account/password", data={"csrf_token": token, **form})
    else:
        response = send(mine, "POST", "/account/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 303
    assert send(stolen, "GET", "/").status_code == 302  # to the login page
    assert send(mine, "GET", "/").status_code == 200  # this session goes on


def test_wrong_current_password_changes_nothing(client: FlaskClient, world: World) -> None:
    token = sign_in(client, "manager")
    form = {"current_password": "nope", "new_password": "a-brand-new-pw", "confirm_password": "a-brand-new-pw"}
    response = send(client, "POST", "/account/password", data={"csrf_token": token, **form})
    assert response.status_code == 400 and "not your current password" in response.get_data(as_text=True)
    assert login_from(client.application, "192.0.2.30", "manager", PASSWORD) == 303


def test_session_lifetime_is_a_setting(client: FlaskClient, world: World) -> None:
    sign_in(client, "manager")
    cookie = client.get_cookie("session", domain="testserver")
    assert cookie is not None and cookie.expires is not None
    remaining = cookie.expires - utcnow()
    assert timedelta(hours=11, minutes=59) < remaining <= timedelta(hours=12)


# -- 13. trusted hosts and HSTS -----------------------------------------------------------------------------


def test_host_header_cannot_poison_urls(database_uri: str, fake_keycloak: FakeKeycloak) -> None:
    app = create_app(
        _config(
            database_uri,
            SERVER_NAME=None,
            TRUSTED_HOSTS="okg.example.org",
            KEYCLOAK_GATEWAY_REGISTRY=GatewayRegistry(fake_keycloak.factory),
        )
    )
    with app.app_context():
        client = app.test_client()
        assert client.get("/login", headers={"Host": "evil.example.org"}).status_code == 400
        assert client.get("/login", headers={"Host": "okg.example.org"}).status_code == 200
        db.session.remove()


def test_hsts_only_when_cookies_are_https_only(database_uri: str, fake_keycloak: FakeKeycloak) -> None:
    for secure in (False, True):
        app = create_app(
            _config(
                database_uri,
                SESSION_COOKIE_SECURE=secure,
                KEYCLOAK_GATEWAY_REGISTRY=GatewayRegistry(fake_keycloak.factory),
            )
        )
        header = app.test_client().get("/login").headers.get("Strict-Transport-Security")
        assert (header == "max-age=31536000; includeSubDomains") if secure else header is None


# -- 14. the audit trail records old -> new, never secret values ----------------------------------------------


def test_settings_changes_are_audited_old_to_new(client: FlaskClient, world: World) -> None:
    assert save_settings(client, world, url="http://kc2.example.org/", timeout="30").status_code == 303
    assert save_settings(client, world, url="http://kc2.example.org/", password="fresh-pw-77").status_code == 303
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "offering.keycloak_settings_changed").order_by(AuditEvent.id)
    ).all()
    first, second = events[-2].details, events[-1].details
    assert first["changes"]["keycloak_url"] == ["http://fake-keycloak", "http://kc2.example.org/"]
    assert first["changes"]["keycloak_timeout"] == [10.0, 30.0]
    assert first["secrets"] == {"password": "cleared"}
    assert second["secrets"] == {"password": "changed"} and second["changes"]["keycloak_timeout"] == [30.0, 10.0]
    text = str([event.details for event in events])
    assert ADMIN_PASSWORD not in text and "fresh-pw-77" not in text


def test_an_organization_group_as_base_is_said_in_words(client: FlaskClient, world: World) -> None:
    """Keycloak 26.6+ answers 400 for organization groups on the realm groups API (the fake does the same)."""
    base = FakeGateway(world.realm).get_group_by_path("/base")
    world.realm.organization_groups.add(base.id)
    listing = list_remote_groups(client, world)
    assert listing.status_code == 400
    assert listing.json == [
        "Keycloak will not serve /base through the realm's groups: it is an organization group (Keycloak 26.6+). "
        "Choose a base group outside the organizations."
    ]
