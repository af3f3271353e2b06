"""Shared fixtures: an app on a migrated throwaway database, the fake Keycloak, and a seeded world."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from webapp import create_app
from webapp.extensions import db
from webapp.keycloak.fake_gateway import FakeGateway, FakeRealm
from webapp.keycloak.registry import GatewayRegistry

from .factories import World, build_world

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key"
TEST_ENCRYPTION_KEY = "test-encryption-key"


@dataclass
class FakeKeycloak:
    """Fake realms by name; the gateway registry hands out FakeGateways bound to them."""

    realms: dict[str, FakeRealm] = field(default_factory=dict)
    gateways: list[FakeGateway] = field(default_factory=list)

    def realm(self, name: str = "demo") -> FakeRealm:
        return self.realms.setdefault(name, FakeRealm())

    def factory(self, settings: Any) -> FakeGateway:
        gateway = FakeGateway(self.realm(settings.realm))
        self.gateways.append(gateway)
        return gateway


def _config(database_uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "SERVER_NAME": "testserver",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashing for tests only
        **extra,
    }


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the real migrations once; every test gets a copy of the result."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    app = create_app(_config(f"sqlite:///{path}"))
    with app.app_context():
        upgrade(directory=str(REPO_ROOT / "migrations"))
        db.engine.dispose()
    return path


@pytest.fixture
def fake_keycloak() -> FakeKeycloak:
    return FakeKeycloak()


@pytest.fixture
def app(migrated_template: Path, tmp_path: Path, fake_keycloak: FakeKeycloak) -> Iterator[Flask]:
    database = tmp_path / "test.sqlite"
    shutil.copy(migrated_template, database)
    app = create_app(
        _config(
            os.environ.get("OKG_TEST_DATABASE_URI") or f"sqlite:///{database}",
            KEYCLOAK_GATEWAY_REGISTRY=GatewayRegistry(fake_keycloak.factory),
        )
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def world(app: Flask, fake_keycloak: FakeKeycloak) -> World:
    return build_world(fake_keycloak.realm("demo"))


# -- real Keycloak ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def keycloak_server():  # type: ignore[no-untyped-def]
    """A real Keycloak 26 started once per run by scripts/keycloak-dev (or KEYCLOAK_URL if given)."""
    from .realkeycloak import start_server, stop_server

    server, started = start_server(REPO_ROOT)
    yield server
    if started and not os.environ.get("OKG_KEEP_KEYCLOAK"):
        stop_server(REPO_ROOT)


@pytest.fixture
def real_realm(keycloak_server):  # type: ignore[no-untyped-def]
    """A throwaway realm with a service-account client; deleted after the test."""
    realm = keycloak_server.create_realm()
    yield realm
    realm.delete()
