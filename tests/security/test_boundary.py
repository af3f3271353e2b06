"""An offering only ever touches its own subtree: attacks on its place in the realm, on what "created here" means,
on the allowed-URL list and on the CA files left behind.

Each test performs the attack end to end through the forms and endpoints a manager (or staff, or an operator's
`load-data`) uses, and checks that the answer is a 4xx in words and that nothing changed, here or in Keycloak.
The numbers are the items of the security issue; tests/integration/test_boundary_on_real_keycloak.py repeats
the Keycloak ones on a real Keycloak.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from tests.conftest import REPO_ROOT, _config
from tests.factories import World
from tests.html import parse
from tests.impostor import impostor, token_answer
from tests.security.matrix import Call, send_api, send_ui, settings_form, sign_in
from tests.signin import csrf_token_of, send
from tests.throwaway_ca import make_ca
from webapp import create_app
from webapp.crypto import decrypt
from webapp.extensions import db
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.destinations import NOT_ALLOWED, is_allowed, parse_prefixes
from webapp.keycloak.registry import EXTENSION_KEY, GatewayRegistry
from webapp.keycloak.trust import ca_file
from webapp.models import AuditEvent, MembershipState, Offering, OfferingKeycloakGroup, OfferingKeycloakMembership
from webapp.services.connection import ca_files
from webapp.services.connection.settings import STAFF_ONLY
from webapp.services.groups.register import MOVED_AWAY, NOT_CREATED_HERE
from webapp.services.loader import LoadError, load_data
from webapp.services.memberships.periodic import sync_pending
from webapp.services.naming import render_group_name

GROUPS = "/api/offering-keycloak-groups"
MEMBERSHIPS = "/api/offering-keycloak-memberships/"
ADMIN_PASSWORD = "admin-password"  # what tests/factories.py stores for the world's offerings
TOKEN_PATH = "/realms/master/protocol/openid-connect/token"
OVERLAP = "would be inside, equal to or above"


def browser(app: Flask, who: str) -> tuple[FlaskClient, str]:
    """A fresh browser signed in as `who`, with a CSRF token."""
    client = app.test_client()
    return client, sign_in(client, who)


def settings_url(world: World) -> str:
    return f"/offerings/{world.offering.uuid}/settings"


def post_settings(app: Flask, world: World, who: str, form: dict[str, str]) -> Any:
    client, token = browser(app, who)
    return send_ui(client, "POST", Call(settings_url(world), form=form), token)


def reload(offering: Offering) -> Offering:
    db.session.expire_all()
    fresh = db.session.get(Offering, offering.id)
    assert fresh is not None
    return fresh


def placement(offering: Offering) -> tuple[str, str, str, float, str]:
    offering = reload(offering)
    return (
        offering.keycloak_base_group,
        offering.keycloak_realm,
        offering.keycloak_auth_realm,
        offering.keycloak_timeout,
        decrypt(offering.keycloak_password_encrypted),
    )


def grant(client: FlaskClient, world: World, username: str, who: str = "manager", **extra: Any) -> Any:
    offering = world.other_offering if who == "other" else world.offering
    role = world.other_role if who == "other" else world.member_role
    body = {"offering": offering.uuid, "role": role.uuid, "username": username} | extra
    return send_api(client, world, who, "POST", Call(MEMBERSHIPS, json=body))


def realm_snapshot(world: World) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every Keycloak group of the fake realm: path, id and members."""
    realm = world.realm
    return sorted((realm.path_of(gid), gid, tuple(group.members)) for gid, group in realm.groups.items())


def delete_remote(client: FlaskClient, world: World, group: OfferingKeycloakGroup) -> Any:
    url = f"{GROUPS}/{group.uuid}/?delete_remote=true"
    return send_api(client, world, "manager", "DELETE", Call(url))


def only_group() -> OfferingKeycloakGroup:
    db.session.expire_all()
    return db.session.scalars(select(OfferingKeycloakGroup)).one()


# -- 1. the offering's place in the realm: staff-only, and apart from every other offering ----------------------


@pytest.mark.parametrize(
    "change", [{"base_group": "unrelated"}, {"realm": "other"}, {"auth_realm": "other"}], ids=lambda c: next(iter(c))
)
def test_a_manager_cannot_move_the_offering_in_the_realm(
    app: Flask, client: FlaskClient, world: World, change: dict[str, str]
) -> None:
    """The attack: point the base group at `unrelated` (or another realm), keep the stored secret, and let the
    next grant create `/unrelated/hpc/<group>` with people in it."""
    unrelated = world.realm.add_path("/unrelated")
    before = placement(world.offering)
    refused = post_settings(app, world, "manager", settings_form(timeout="30", **change))
    field = next(iter(change))
    assert refused.status_code == 400
    assert STAFF_ONLY[field] in parse(refused).get_text()
    assert placement(world.offering) == before  # nothing saved: not even the timeout posted with it
    granted = grant(client, world, "newbie")
    assert granted.status_code == 201
    assert world.realm.path_of(only_group().backend_id).startswith("/base/hpc/")
    assert world.realm.groups[unrelated].children == []


def test_managers_see_the_placement_read_only_and_may_post_it_back(app: Flask, world: World) -> None:
    manager, _ = browser(app, "manager")
    staff, _ = browser(app, "staff")
    for who, client in (("manager", manager), ("staff", staff)):
        page = parse(send(client, "GET", settings_url(world)))
        for name in ("realm", "auth_realm", "base_group"):
            field = page.select_one(f'input[name="{name}"]')
            assert field is not None and (field.has_attr("readonly") == (who == "manager")), (who, name)
    assert "only staff can change them" in send(manager, "GET", settings_url(world)).get_data(as_text=True)
    # Posting them back unchanged (as the read-only fields do), or leaving them out, saves the rest.
    assert post_settings(app, world, "manager", settings_form(timeout="30", base_group="/base/")).status_code == 303
    form = {key: value for key, value in settings_form(timeout="40").items() if key not in STAFF_ONLY}
    assert post_settings(app, world, "manager", form).status_code == 303
    assert placement(world.offering) == ("base", "demo", "master", 40.0, ADMIN_PASSWORD)


def test_staff_may_move_it_and_the_stored_secret_is_cleared(app: Flask, world: World) -> None:
    assert post_settings(app, world, "staff", settings_form(base_group="moved")).status_code == 303
    assert placement(world.offering) == ("moved", "demo", "master", 10.0, "")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "offering.keycloak_settings_changed"))
    assert [event.details["secrets"] for event in events] == [{"password": "cleared"}]


@pytest.mark.parametrize(
    ("case", "other", "base_group"),
    [
        ("inside", {}, "base/other-svc"),  # /base/other-svc/hpc is inside /base/other-svc
        ("equal", {"slug": "hpc", "keycloak_base_group": "shared"}, "shared"),  # two organizations' "hpc"
        ("above", {"keycloak_base_group": "top/hpc"}, "top"),  # /top/hpc holds /top/hpc/other-svc
        ("case", {}, "BASE/Other-Svc"),
        ("other port", {"keycloak_url": "https://FAKE-keycloak:8443/kc/"}, "base/other-svc"),
    ],
)
def test_staff_cannot_overlap_another_offering(
    app: Flask, world: World, case: str, other: dict[str, str], base_group: str
) -> None:
    for column, value in other.items():
        setattr(world.other_offering, column, value)
    db.session.commit()
    before = placement(world.offering)
    refused = post_settings(app, world, "staff", settings_form(base_group=base_group, timeout="30"))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400, case
    assert OVERLAP in body and "&#39;Other Service&#39;" in body  # staff are told which offering
    assert placement(world.offering) == before


def test_offerings_that_keep_apart_are_fine(app: Flask, world: World) -> None:
    world.other_offering.keycloak_realm = "elsewhere"  # same path, another realm
    db.session.commit()
    assert post_settings(app, world, "staff", settings_form(base_group="base/other-svc")).status_code == 303
    assert post_settings(app, world, "staff", settings_form(base_group="base/other-svc-2")).status_code == 303


def test_a_manager_is_refused_an_overlap_without_learning_of_the_other(app: Flask, world: World) -> None:
    """Managers cannot move the base group, but they can change the server: onto one where another offering's
    group (here /base) is above theirs."""
    other = world.other_offering
    other.keycloak_url, other.slug, other.keycloak_base_group = "http://kc-two/", "base", ""
    db.session.commit()
    refused = post_settings(app, world, "manager", settings_form(url="http://kc-two/", password="new-pw-1"))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and OVERLAP in body and "another offering" in body
    assert "Other Service" not in body and "other-svc" not in body
    assert reload(world.offering).keycloak_url == "http://fake-keycloak"


def test_an_overlap_that_appears_later_stops_every_keycloak_call(app: Flask, client: FlaskClient, world: World) -> None:
    """A conflicting offering configured after this one was saved (directly in the database here; `load-data`
    refuses it, see below): neither offering may read or write Keycloak until staff part them."""
    world.other_offering.keycloak_base_group = "base/hpc"  # /base/hpc/other-svc: inside the world offering's
    db.session.commit()
    before, calls = realm_snapshot(world), world.realm.calls
    for who, response in (
        ("manager", grant(client, world, "newbie")),
        ("other", grant(client, world, "newbie", who="other")),
        (
            "manager",
            send_api(
                client, world, "manager", "GET", Call(f"{GROUPS}/remote_groups/?offering_uuid={world.offering.uuid}")
            ),
        ),
    ):
        assert response.status_code == 400, who
        assert OVERLAP in response.json[0] and "Other Service" not in response.json[0]
    assert world.realm.calls == calls and realm_snapshot(world) == before  # Keycloak was not even asked
    assert db.session.scalar(select(func.count(OfferingKeycloakGroup.id))) == 0
    staff, _ = browser(app, "staff")
    assert "Other Service" in send(staff, "GET", settings_url(world)).get_data(as_text=True)
    manager, _ = browser(app, "manager")
    assert "Other Service" not in send(manager, "GET", settings_url(world)).get_data(as_text=True)


def test_load_data_refuses_an_overlapping_offering(world: World) -> None:
    offerings_before = db.session.scalar(select(func.count(Offering.id)))
    entry = {
        "uuid": "0" * 31 + "9",
        "organization": world.organization.uuid,
        "name": "Grabber",
        "slug": "base",  # its group /base would hold both offerings of the world
        "keycloak": {"enabled": True, "url": "http://fake-keycloak/", "realm": "demo", "base_group": ""},
    }
    with pytest.raises(LoadError) as refused:
        load_data({"offerings": [entry]})
    assert "offerings[0].keycloak.base_group" in str(refused.value) and "HPC Cluster" in str(refused.value)
    assert db.session.scalar(select(func.count(Offering.id))) == offerings_before


@pytest.fixture
def two_cas(tmp_path: Path) -> tuple[str, str]:
    return make_ca(tmp_path / "a").ca_pem, make_ca(tmp_path / "b").ca_pem


@pytest.mark.parametrize("case", ["verification off", "a CA added", "the CA replaced", "the CA removed"])
def test_weaker_trust_clears_the_stored_secret(app: Flask, world: World, two_cas: tuple[str, str], case: str) -> None:
    """Whoever can make another server pass for Keycloak must not get the stored password sent to it."""
    first, second = two_cas
    if case in ("the CA replaced", "the CA removed"):
        world.offering.keycloak_ca_certificate = first.strip()
        db.session.commit()
    form = {
        "verification off": settings_form(verify_ssl=""),
        "a CA added": settings_form(ca_certificate=first),
        "the CA replaced": settings_form(ca_certificate=second),
        "the CA removed": settings_form(ca_certificate=""),
    }[case]
    if case == "verification off":
        del form["verify_ssl"]
    assert post_settings(app, world, "manager", form).status_code == 303
    assert reload(world.offering).keycloak_password_encrypted == ""


def test_the_same_trust_posted_back_keeps_the_secret(app: Flask, world: World, two_cas: tuple[str, str]) -> None:
    world.offering.keycloak_ca_certificate = two_cas[0].strip()
    db.session.commit()
    assert post_settings(app, world, "manager", settings_form(ca_certificate=two_cas[0])).status_code == 303
    assert decrypt(reload(world.offering).keycloak_password_encrypted) == ADMIN_PASSWORD


# -- 2. "created here" means created here ---------------------------------------------------------------------


def seeded_group_name(world: World) -> str:
    return render_group_name(world.offering, world.member_role, None, "")


def precious(world: World, path: str) -> str:
    """A pre-existing Keycloak group with a subgroup and a member: what a wrong remote delete would destroy."""
    group_id = world.realm.add_path(path)
    world.realm.add_group("precious-sub", parent_id=group_id)
    world.realm.add_member(group_id, world.realm.add_user("keeper", "keeper@example.org"))
    return group_id


def test_a_group_adopted_by_a_grant_is_never_deleted_in_keycloak(client: FlaskClient, world: World) -> None:
    existing = precious(world, f"/base/hpc/{seeded_group_name(world)}")
    assert grant(client, world, "newbie").status_code == 201
    group = only_group()
    assert (group.backend_id, group.origin) == (existing, "imported")
    before = realm_snapshot(world)
    refused = delete_remote(client, world, group)
    assert refused.status_code == 400 and refused.json == {"delete_remote": [NOT_CREATED_HERE]}
    assert realm_snapshot(world) == before and only_group().id == group.id
    assert only_group().created_backend_id == ""


def test_a_relinked_created_group_is_never_deleted_in_keycloak(client: FlaskClient, world: World) -> None:
    assert grant(client, world, "newbie").status_code == 201
    made = only_group()
    made_id = made.backend_id
    assert made.origin == "created"
    other = precious(world, "/base/hpc/precious")
    link = Call(f"{GROUPS}/{made.uuid}/set_backend_id/", json={"backend_id": other})
    assert send_api(client, world, "manager", "POST", link).status_code == 200
    assert only_group().origin == "imported"
    before = realm_snapshot(world)
    refused = delete_remote(client, world, made)
    assert refused.status_code == 400 and refused.json == {"delete_remote": [NOT_CREATED_HERE]}
    assert realm_snapshot(world) == before
    # Linked back to the very group it created, the remote delete removes exactly that one.
    back = Call(f"{GROUPS}/{made.uuid}/set_backend_id/", json={"backend_id": made_id})
    assert send_api(client, world, "manager", "POST", back).status_code == 200
    assert (only_group().origin, only_group().created_backend_id) == ("created", made_id)
    assert delete_remote(client, world, made).status_code == 204
    assert made_id not in world.realm.groups and other in world.realm.groups


def test_the_pending_sync_adopting_a_group_does_not_make_it_ours(client: FlaskClient, world: World) -> None:
    existing = precious(world, "/base/hpc/adopt-me")
    group = world.add_group("adopt-me")  # unlinked, as after an unlink; a pending member waits for an account
    db.session.add(OfferingKeycloakMembership(group=group, username="late", state=MembershipState.PENDING))
    db.session.commit()
    world.realm.add_user("late", "late@example.org")
    assert sync_pending().activated == 1
    group = only_group()
    assert (group.backend_id, group.origin) == (existing, "imported")
    before = realm_snapshot(world)
    assert delete_remote(client, world, group).status_code == 400
    assert realm_snapshot(world) == before and only_group().created_backend_id == ""


def test_a_created_group_moved_out_of_the_subtree_is_not_deleted(client: FlaskClient, world: World) -> None:
    assert grant(client, world, "newbie").status_code == 201
    made = only_group()
    realm = world.realm  # someone moves it in Keycloak to the top level, above other groups
    realm.groups[world.offering_root_id].children.remove(made.backend_id)
    realm.groups[made.backend_id].parent_id = None
    realm.top_level.append(made.backend_id)
    realm.add_group("under-it", parent_id=made.backend_id)
    before = realm_snapshot(world)
    refused = delete_remote(client, world, made)
    assert refused.status_code == 400 and refused.json == {"delete_remote": [MOVED_AWAY]}
    assert realm_snapshot(world) == before


def test_creating_an_existing_offering_group_says_so(app: Flask, world: World) -> None:
    client, token = browser(app, "manager")
    url = f"/offerings/{world.offering.uuid}/groups/create-offering-group"
    assert send_ui(client, "POST", Call(url, form={}), token).status_code == 303
    page = send(client, "GET", f"/offerings/{world.offering.uuid}/groups").get_data(as_text=True)
    assert "/base/hpc already exists in Keycloak; nothing was created." in page
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("offering.keycloak_group%")))
    assert list(actions) == ["offering.keycloak_group_found"]


def test_the_delete_dialog_does_not_offer_what_would_be_refused(app: Flask, client: FlaskClient, world: World) -> None:
    precious(world, f"/base/hpc/{seeded_group_name(world)}")
    assert grant(client, world, "newbie").status_code == 201
    group = only_group()
    manager, token = browser(app, "manager")
    url = f"/offerings/{world.offering.uuid}/groups/{group.uuid}/delete"
    dialog = parse(send(manager, "GET", url))
    assert dialog.select_one('input[name="delete_remote"]') is None
    assert "never deleted in Keycloak" in dialog.get_text()
    before = realm_snapshot(world)
    token = csrf_token_of(send(manager, "GET", url))
    forced = send_ui(manager, "POST", Call(url, form={"delete_remote": "y"}), token)
    assert forced.status_code == 400 and "never deleted in Keycloak" in forced.get_data(as_text=True)
    assert realm_snapshot(world) == before and only_group().id == group.id


def test_a_group_created_here_still_offers_the_remote_delete(app: Flask, client: FlaskClient, world: World) -> None:
    assert grant(client, world, "newbie").status_code == 201
    group = only_group()
    manager, _ = browser(app, "manager")
    dialog = parse(send(manager, "GET", f"/offerings/{world.offering.uuid}/groups/{group.uuid}/delete"))
    assert dialog.select_one('input[name="delete_remote"]') is not None


def test_the_upgrade_takes_the_remote_delete_from_groups_recorded_before(tmp_path: Path) -> None:
    """Before revision 0009 adopted and re-linked groups were recorded as created too: none keeps the right."""
    database = f"sqlite:///{tmp_path / 'upgrade.sqlite'}"
    app = create_app(_config(database))
    migrations = str(REPO_ROOT / "migrations")
    with app.app_context():
        upgrade(directory=migrations, revision="0008")
        engine = create_engine(database)
        with engine.begin() as connection:
            now = "2026-01-01 00:00:00"
            connection.execute(
                text(
                    "INSERT INTO organization (id, uuid, name, slug, created, modified) "
                    "VALUES (1, :u, 'o', 'o', :t, :t)"
                ),
                {"u": "a" * 32, "t": now},
            )
            connection.execute(
                text(
                    "INSERT INTO offering (id, uuid, organization_id, name, slug, keycloak_enabled, keycloak_url, "
                    "keycloak_realm, keycloak_auth_realm, keycloak_username, keycloak_password_encrypted, "
                    "keycloak_client_id, keycloak_client_secret_encrypted, keycloak_verify_ssl, keycloak_timeout, "
                    "keycloak_base_group, keycloak_group_name_template, keycloak_username_label, created, modified) "
                    "VALUES (1, :u, 1, 'x', 'x', 1, '', '', 'master', '', '', '', '', 1, 10, '', '', 'Username', "
                    ":t, :t)"
                ),
                {"u": "b" * 32, "t": now},
            )
            connection.execute(
                text(
                    "INSERT INTO offering_role (id, uuid, offering_id, name, scope_type, scope_type_label, created, "
                    "modified) VALUES (1, :u, 1, 'member', '', '', :t, :t)"
                ),
                {"u": "c" * 32, "t": now},
            )
            connection.execute(
                text(
                    "INSERT INTO offering_keycloak_group (uuid, offering_id, role_id, scope_id, name, backend_id, "
                    "origin, created, modified) VALUES (:u, 1, 1, '', 'g', 'kc-id-1', 'created', :t, :t)"
                ),
                {"u": "d" * 32, "t": now},
            )
        upgrade(directory=migrations)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT origin, backend_id, created_backend_id FROM offering_keycloak_group")
            )
            assert rows.all() == [("created", "kc-id-1", "")]
        engine.dispose()
        db.engine.dispose()


# -- 13. allowed URLs are compared by origin and path boundary ------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "url", "allowed"),
    [
        ("https://sso.example.org", "https://sso.example.org.evil.com/", False),
        ("https://sso.example.org/", "https://sso.example.org.evil.com/", False),
        ("https://sso.example.org", "https://sso.example.org/", True),
        ("https://sso.example.org", "https://SSO.example.org:443/auth/", True),
        ("https://sso.example.org", "https://sso.example.org:8443/", False),
        ("https://sso.example.org", "http://sso.example.org/", False),
        ("https://sso.example.org/kc", "https://sso.example.org/kc/", True),
        ("https://sso.example.org/kc", "https://sso.example.org/kc", True),
        ("https://sso.example.org/kc/", "https://sso.example.org/kc", True),
        ("https://sso.example.org/kc", "https://sso.example.org/kcx/", False),
        ("https://sso.example.org/kc", "https://sso.example.org/kc/../admin/", False),
        ("https://sso.example.org/kc", "https://sso.example.org/kc/%2E%2E/admin/", False),
        ("http://127.0.0.1:80", "http://127.0.0.1:8080/", False),
        ("http://127.0.0.1:", "http://127.0.0.1:8080/", True),  # `host:` is that host on any port
        ("http://127.0.0.1:", "http://127.0.0.10:8080/", False),
        ("http://[::1]:8080", "http://[0:0::1]:8080/", True),
        ("not a url", "http://anything/", False),  # an unreadable entry admits nothing, never everything
    ],
)
def test_allowed_urls_are_compared_by_origin_and_path(entry: str, url: str, allowed: bool) -> None:
    assert is_allowed(url, parse_prefixes(entry)) is allowed


@pytest.mark.parametrize("trick", ["longer port", "longer path"])
def test_a_server_that_merely_starts_like_an_allowed_one_gets_nothing(
    app: Flask, client: FlaskClient, world: World, trick: str
) -> None:
    with impostor({TOKEN_PATH: token_answer}) as fake_kc:
        port = fake_kc.url.rstrip("/").rsplit(":", 1)[1]
        entry, url = {
            # Allowed 127.0.0.1:4567, the impostor listens on 127.0.0.1:45678.
            "longer port": (f"http://127.0.0.1:{port[:-1]}", fake_kc.url),
            "longer path": (f"http://127.0.0.1:{port}/kc", f"{fake_kc.url}kcevil/"),
        }[trick]
        app.config["KEYCLOAK_ALLOWED_URLS"] = entry
        app.extensions[EXTENSION_KEY] = GatewayRegistry(
            lambda settings: AdminGateway(settings, allowed_urls=parse_prefixes(entry))
        )
        saved = post_settings(app, world, "manager", settings_form(url=url))
        world.offering.keycloak_url = url  # got into the database some other way: refused again at call time
        db.session.commit()
        body = {"offering_uuid": world.offering.uuid}
        tested = send_api(client, world, "manager", "POST", Call(f"{GROUPS}/test_connection/", json=body))
        assert fake_kc.received == []  # not even the token request: the password never left
    assert saved.status_code == 400 and NOT_ALLOWED in saved.get_data(as_text=True)
    assert tested.status_code == 400 and tested.json == [NOT_ALLOWED]


# -- 14. CA files go with their certificate ---------------------------------------------------------------------


@pytest.fixture
def instance(app: Flask, tmp_path: Path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    app.instance_path = str(folder)
    return folder


def connect(client: FlaskClient, world: World) -> None:
    """Anything that talks to Keycloak writes the offering's CA file; the connection test is the simplest."""
    body = {"offering_uuid": world.offering.uuid}
    assert send_api(client, world, "manager", "POST", Call(f"{GROUPS}/test_connection/", json=body)).status_code == 200


def ca_names(folder: Path) -> set[str]:
    return {path.name for path in folder.glob("keycloak-ca-*.pem")}


def test_a_replaced_certificate_takes_its_file_with_it(
    app: Flask, client: FlaskClient, world: World, instance: Path, two_cas: tuple[str, str]
) -> None:
    first, second = two_cas
    world.realm.add_path("/base/hpc")
    for pem in (first, second):
        saved = post_settings(app, world, "manager", settings_form(ca_certificate=pem, password=ADMIN_PASSWORD))
        assert saved.status_code == 303
        connect(client, world)
        assert ca_names(instance) == {ca_file(instance, pem.strip()).name}  # the previous one is gone
    assert post_settings(app, world, "manager", settings_form(password=ADMIN_PASSWORD)).status_code == 303
    assert ca_names(instance) == set()


def test_a_certificate_another_offering_still_holds_keeps_its_file(
    app: Flask, client: FlaskClient, world: World, instance: Path, two_cas: tuple[str, str]
) -> None:
    first, second = two_cas
    for offering in (world.offering, world.other_offering):
        offering.keycloak_ca_certificate = first.strip()
    db.session.commit()
    connect(client, world)
    assert post_settings(app, world, "manager", settings_form(ca_certificate=second)).status_code == 303
    assert ca_names(instance) == {ca_file(instance, first.strip()).name}


def test_load_data_replacing_a_certificate_removes_its_file(
    client: FlaskClient, world: World, instance: Path, two_cas: tuple[str, str]
) -> None:
    first, second = two_cas
    world.offering.keycloak_ca_certificate = first.strip()
    db.session.commit()
    connect(client, world)
    entry = {
        "uuid": world.offering.uuid,
        "organization": world.organization.uuid,
        "name": world.offering.name,
        "slug": world.offering.slug,
        "keycloak": {
            "enabled": True,
            "url": "http://fake-keycloak",
            "realm": "demo",
            "username": "admin",
            "base_group": "base",
            "ca_certificate": second.strip(),
        },
    }
    load_data({"offerings": [entry]})
    assert ca_names(instance) == set()


def test_files_of_offerings_that_went_are_swept(
    app: Flask, client: FlaskClient, world: World, instance: Path, two_cas: tuple[str, str]
) -> None:
    gone = Offering(name="Gone", slug="gone", organization=world.organization, keycloak_ca_certificate=two_cas[0])
    db.session.add(gone)
    db.session.commit()
    stale = ca_file(instance, two_cas[0])
    stale.write_text(two_cas[0])
    db.session.delete(gone)
    db.session.commit()
    fresh = ca_file(instance, two_cas[1])  # unreferenced, but just written: another process may need it now
    fresh.write_text(two_cas[1])
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    app.extensions["okg_jobs"]._tick()  # the periodic round's tick sweeps each host's folder
    assert ca_names(instance) == {fresh.name}
    os.utime(fresh, (hour_ago, hour_ago))
    assert ca_files.prune() == [fresh.name]
