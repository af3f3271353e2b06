"""The app wired to a real Keycloak realm (through a cuttable TCP proxy) instead of the fake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.factories import World, build_world
from tests.tcpproxy import TcpProxy
from webapp.crypto import encrypt
from webapp.extensions import db
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.fake_gateway import FakeRealm
from webapp.keycloak.registry import EXTENSION_KEY, GatewayRegistry


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.keycloak)


@pytest.fixture
def proxy(keycloak_server) -> Iterator[TcpProxy]:  # type: ignore[no-untyped-def]
    target = urlsplit(keycloak_server.url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 80)
    yield proxy
    proxy.close()


@dataclass
class RealWorld:
    world: World
    realm: object  # tests.realkeycloak.RealRealm
    proxy: TcpProxy
    gateways: list[AdminGateway]
    root_id: str


@pytest.fixture
def real(app: Flask, real_realm, proxy: TcpProxy) -> RealWorld:  # type: ignore[no-untyped-def]
    gateways: list[AdminGateway] = []

    def factory(settings):  # type: ignore[no-untyped-def]
        gateway = AdminGateway(settings, page_size=50, members_page_size=50)
        gateways.append(gateway)
        return gateway

    app.extensions[EXTENSION_KEY] = GatewayRegistry(factory)
    world = build_world(FakeRealm())  # the fake realm stays unused; the offering points at the real one
    for offering in (world.offering, world.other_offering):
        offering.keycloak_url = proxy.url + "/"
        offering.keycloak_realm = real_realm.name
        offering.keycloak_username = real_realm.server.admin
        offering.keycloak_password_encrypted = encrypt(real_realm.server.admin_password)
        offering.keycloak_timeout = 5
    db.session.commit()
    root_id = real_realm.add_path("/base/hpc")
    return RealWorld(world, real_realm, proxy, gateways, root_id)
