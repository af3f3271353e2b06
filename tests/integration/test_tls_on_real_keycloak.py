"""A real Keycloak over HTTPS with a throwaway CA (scripts/keycloak-dev with KEYCLOAK_TLS=1): verification on
and the CA unknown is "not trusted" in words; the CA in the offering's field works; verification off works."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World, build_world
from tests.realkeycloak import KeycloakServer, RealRealm, start_server, stop_server
from tests.security.matrix import Call, send_api
from webapp.crypto import encrypt
from webapp.extensions import db
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.fake_gateway import FakeRealm
from webapp.keycloak.registry import EXTENSION_KEY, GatewayRegistry

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.tls


@pytest.fixture(scope="module")
def tls_server() -> Iterator[KeycloakServer]:
    saved = {name: os.environ.get(name) for name in ("KEYCLOAK_TLS", "KEYCLOAK_URL")}
    os.environ["KEYCLOAK_TLS"] = "1"
    os.environ.pop("KEYCLOAK_URL", None)
    try:
        server, started = start_server(REPO_ROOT)
        assert server.url.startswith("https://") and server.ca_bundle
        yield server
        if started and not os.environ.get("OKG_KEEP_KEYCLOAK"):
            stop_server(REPO_ROOT)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def tls_world(app: Flask, tls_server: KeycloakServer) -> Iterator[tuple[World, RealRealm]]:
    realm = tls_server.create_realm()
    realm.add_path("/base/hpc/users")
    app.extensions[EXTENSION_KEY] = GatewayRegistry(lambda settings: AdminGateway(settings))
    world = build_world(FakeRealm())
    world.offering.keycloak_url = tls_server.url + "/"
    world.offering.keycloak_realm = realm.name
    world.offering.keycloak_username = tls_server.admin
    world.offering.keycloak_password_encrypted = encrypt(tls_server.admin_password)
    db.session.commit()
    yield world, realm
    realm.delete()


def connection_test(client: FlaskClient, world: World):  # type: ignore[no-untyped-def]
    body = {"offering_uuid": world.offering.uuid}
    return send_api(client, world, "manager", "POST", Call("/api/offering-keycloak-groups/test_connection/", json=body))


def test_real_keycloak_over_tls(
    client: FlaskClient, tls_server: KeycloakServer, tls_world: tuple[World, RealRealm]
) -> None:
    world, _realm = tls_world
    untrusted = connection_test(client, world)
    assert untrusted.status_code == 502 and "is not trusted" in untrusted.json["error"]

    world.offering.keycloak_ca_certificate = Path(str(tls_server.ca_bundle)).read_text()
    db.session.commit()
    trusted = connection_test(client, world)
    assert trusted.status_code == 200 and trusted.json["groups"] == ["users"]
    assert trusted.json["keycloak_version"]

    world.offering.keycloak_ca_certificate = ""
    world.offering.keycloak_verify_ssl = False
    db.session.commit()
    assert connection_test(client, world).status_code == 200
