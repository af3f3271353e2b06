"""Runs every contract test twice: against the in-memory fake and against a real Keycloak realm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.fake_gateway import FakeGateway, FakeRealm
from webapp.keycloak.types import ConnectionSettings

SMALL_PAGE = 10  # small pages so that paging loops are exercised with few objects


@dataclass
class Subject:
    """A gateway plus a seeder for the realm behind it (FakeRealm or tests.realkeycloak.RealRealm)."""

    kind: str
    gateway: Any
    seed: Any
    twin: Callable[[], Any]  # another gateway on the same realm, as another instance of the app has


def admin_settings(realm: Any, **overrides: Any) -> ConnectionSettings:
    server = realm.server
    values = {
        "server_url": server.url + "/",
        "realm": realm.name,
        "auth_realm": "master",
        "username": server.admin,
        "password": server.admin_password,
        "timeout": 30.0,
    }
    return ConnectionSettings(**(values | overrides))


def service_account_settings(realm: Any, **overrides: Any) -> ConnectionSettings:
    values = {
        "server_url": realm.server.url + "/",
        "realm": realm.name,
        "client_id": realm.client_id,
        "client_secret": realm.client_secret,
        "timeout": 30.0,
    }
    return ConnectionSettings(**(values | overrides))


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.keycloak)])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "fake":
        realm = FakeRealm()
        return Subject("fake", FakeGateway(realm), realm, lambda: FakeGateway(realm))
    real = request.getfixturevalue("real_realm")

    def gateway() -> AdminGateway:
        return AdminGateway(admin_settings(real), page_size=SMALL_PAGE, members_page_size=SMALL_PAGE * 5)

    return Subject("real", gateway(), real, gateway)
