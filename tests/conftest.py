"""Shared fixtures: an app on a migrated throwaway database, the fake Keycloak, and a seeded world."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Engine

from webapp import create_app
from webapp.extensions import db
from webapp.keycloak.fake_gateway import FakeGateway, FakeRealm
from webapp.keycloak.registry import GatewayRegistry

from . import timing
from .factories import World, WorldRows, build_world, load_world, seed_world

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key"
TEST_ENCRYPTION_KEY = "test-encryption-key"
# A PostgreSQL database for the whole run (`make test-postgres`); unset means a SQLite copy per test.
TEST_DATABASE_URI = os.environ.get("OKG_TEST_DATABASE_URI", "")
# A Redis for the job queue (`make test-jobs-redis`); unset means a SQLite queue file per test.
TEST_JOBS_URL = os.environ.get("OKG_TEST_JOBS_URL", "")


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


def pytest_configure(config: pytest.Config) -> None:
    """OKG_TEST_DATABASE_URI must name a PostgreSQL database meant for tests: the run wipes its schema."""
    if timing.TIMES_FILE and not config.pluginmanager.is_registered(timing):
        config.pluginmanager.register(timing, "okg-test-times")
    if not TEST_DATABASE_URI:
        return
    url = make_url(TEST_DATABASE_URI)
    if url.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"OKG_TEST_DATABASE_URI must be a postgresql URL, not {url.get_backend_name()!r}")
    if "test" not in (url.database or ""):
        raise pytest.UsageError(
            f"OKG_TEST_DATABASE_URI names database {url.database!r}; the run wipes it, so the name must contain 'test'"
        )


def _keep_legacy_node_id(item: pytest.Item) -> None:
    """pytest-xdist's --dist loadgroup appends "@<group>" to `item._nodeid`, which pytest 9.2 no longer reads (the
    node id comes from `item._id`): without this, tests of one xdist_group were spread over the workers."""
    legacy, structured = getattr(item, "_nodeid", None), getattr(item, "_id", None)
    if isinstance(legacy, str) and legacy != item.nodeid and hasattr(type(structured), "parse"):
        item._id = type(structured).parse(legacy)  # type: ignore[union-attr]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        _keep_legacy_node_id(item)


def pytest_report_header(config: pytest.Config) -> str:
    if TEST_DATABASE_URI:
        return f"database: {make_url(TEST_DATABASE_URI).render_as_string(hide_password=True)} (emptied per test)"
    return "database: SQLite, a copy of the migrated template per test"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Engine]:
    """OKG_TEST_DATABASE_URI's schema reset once and the real migrations applied; yields an engine for cleanup."""
    engine = create_engine(TEST_DATABASE_URI)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    app = create_app(_config(TEST_DATABASE_URI))
    with app.app_context():
        upgrade(directory=str(REPO_ROOT / "migrations"))
        db.engine.dispose()
    yield engine
    engine.dispose()


# Every table but alembic_version, with the tables each one references (self-references left out).
_TABLES_AND_PARENTS = text(
    """
    SELECT quote_ident(c.relname),
           coalesce(array_agg(DISTINCT quote_ident(p.relname)) FILTER (WHERE p.oid <> c.oid), '{}')
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f'
    LEFT JOIN pg_class p ON p.oid = f.confrelid
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version'
    GROUP BY c.oid, c.relname
    """
)
_RESTART_SEQUENCES = text(
    "SELECT setval(s.oid::regclass, 1, false) FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace "
    "WHERE s.relkind = 'S' AND n.nspname = 'public'"
)


def _children_first(parents: dict[str, set[str]]) -> list[str] | None:
    """Tables ordered so that each comes before the tables it references; None if the references form a cycle."""
    pending = {table: set(refs) & parents.keys() for table, refs in parents.items()}
    order: list[str] = []
    while pending:
        referenced = set().union(*pending.values())
        leaves = sorted(table for table in pending if table not in referenced)
        if not leaves:
            return None
        order += leaves
        for table in leaves:
            del pending[table]
    return order


def empty_postgres_tables(engine: Engine) -> None:
    """Every migrated table but alembic_version emptied and every sequence restarted: a test starts from scratch.

    Equivalent to TRUNCATE ... RESTART IDENTITY CASCADE, but DELETE on a handful of rows takes ~3 ms where
    TRUNCATE of every table takes ~100 ms (it creates new files for each table and index).
    """
    with engine.begin() as connection:
        # A connection left inside a transaction by an earlier test would block us: fail, do not hang.
        connection.execute(text("SET LOCAL lock_timeout = '15s'"))
        parents = {table: set(refs) for table, refs in connection.execute(_TABLES_AND_PARENTS)}
        order = _children_first(parents)
        if order is None:
            connection.execute(text(f"TRUNCATE {', '.join(sorted(parents))} RESTART IDENTITY CASCADE"))
            return
        for table in order:
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(_RESTART_SEQUENCES)


@pytest.fixture(scope="session")
def world_template(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, WorldRows]:
    """The migrated template with the world's rows written once; a test that asks for `world` gets a copy."""
    path = tmp_path_factory.mktemp("world-template") / "world.sqlite"
    shutil.copy(migrated_template, path)
    app = create_app(_config(f"sqlite:///{path}", JOBS_URL=f"sqlite:///{path.with_name('jobs.sqlite')}"))
    with app.app_context():
        rows = seed_world()
        db.session.remove()
        db.engine.dispose()
    return path, rows


@pytest.fixture
def database_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database a test's app runs on: empty PostgreSQL tables, or a fresh copy of the migrated SQLite file
    (with the world's rows already in it when the test asks for `world`)."""
    if TEST_DATABASE_URI:
        empty_postgres_tables(request.getfixturevalue("postgres_database"))
        return TEST_DATABASE_URI
    database = tmp_path / "test.sqlite"
    if "world" in request.fixturenames:
        shutil.copy(request.getfixturevalue("world_template")[0], database)
    else:
        shutil.copy(request.getfixturevalue("migrated_template"), database)
    return f"sqlite:///{database}"


@pytest.fixture
def fake_keycloak() -> FakeKeycloak:
    return FakeKeycloak()


# The file the shared app's engine opens: the running test's own copy of the migrated template (SQLite only).
_SQLITE_FILE = [""]


def _open_the_running_tests_copy(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    cargs[0] = _SQLITE_FILE[0]


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """One app per test process: create_app() costs ~0.1-0.25 s (Werkzeug compiles every route), per test that
    was a fifth of the suite. The `app` fixture points it at each test's own database, Keycloak and queue."""
    folder = tmp_path_factory.mktemp("shared-app")
    app = create_app(
        _config(
            TEST_DATABASE_URI or f"sqlite:///{folder / 'unused.sqlite'}",
            KEYCLOAK_GATEWAY_REGISTRY=GatewayRegistry(FakeKeycloak().factory),
            JOBS_URL=TEST_JOBS_URL or f"sqlite:///{folder / 'jobs.sqlite'}",
        )
    )
    if not TEST_DATABASE_URI:
        with app.app_context():
            event.listen(db.engine, "do_connect", _open_the_running_tests_copy)
    return app


@pytest.fixture
def app(shared_app: Flask, database_uri: str, fake_keycloak: FakeKeycloak) -> Iterator[Flask]:
    """The process's app as a fresh one would be: this test's database copy, fake Keycloak and empty job queue.

    What a test changes on it (config keys, extensions, the queue's attributes) is put back afterwards, and its
    engine's connections are closed, so no state reaches the next test.
    """
    app = shared_app
    config, extensions = dict(app.config), dict(app.extensions)
    queue = app.extensions["okg_jobs"]
    queue_state = dict(vars(queue))
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri  # what a worker process or a test reads
    _SQLITE_FILE[0] = "" if TEST_DATABASE_URI else str(make_url(database_uri).database)
    registry = GatewayRegistry(fake_keycloak.factory)
    app.config["KEYCLOAK_GATEWAY_REGISTRY"] = registry
    registry.init_app(app)
    queue.huey.flush()  # each test starts with an empty queue (tasks, schedule, live progress, tick keys)
    queue.stopping = threading.Event()
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)
        vars(queue).clear()
        vars(queue).update(queue_state)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def world(request: pytest.FixtureRequest, app: Flask, fake_keycloak: FakeKeycloak) -> World:
    """The seeded world of tests/factories.py: read from this test's copy of the world template (SQLite), or
    written into the emptied PostgreSQL tables."""
    realm = fake_keycloak.realm("demo")
    if TEST_DATABASE_URI:
        return build_world(realm)
    return load_world(realm, request.getfixturevalue("world_template")[1])


# -- real Keycloak ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def keycloak_server():  # type: ignore[no-untyped-def]
    """A real Keycloak 26 started once per run by scripts/keycloak-dev (or KEYCLOAK_URL if given)."""
    from .realkeycloak import start_server, stop_server

    server, started = start_server(REPO_ROOT)
    yield server
    if started and not os.environ.get("OKG_KEEP_KEYCLOAK"):
        stop_server(REPO_ROOT)


@pytest.fixture(scope="session")
def realm_pool(keycloak_server):  # type: ignore[no-untyped-def]
    """This process's realm, made once and emptied after each test (tests/realkeycloak.py, RealmPool)."""
    from .realkeycloak import RealmPool

    pool = RealmPool(keycloak_server)
    yield pool
    pool.close()


@pytest.fixture
def real_realm(realm_pool):  # type: ignore[no-untyped-def]
    """A realm with only the service-account client, no groups and no users; emptied (or deleted) after the test."""
    realm = realm_pool.take()
    yield realm
    realm_pool.give_back(realm)
