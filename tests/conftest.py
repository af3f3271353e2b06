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
# pytest-xdist's worker ("gw0", "gw1", ...): each worker gets a database and a queue of its own, since every test
# empties them.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _per_worker_database(uri: str) -> str:
    """okg_test -> okg_test_gw0 under xdist (created on first use, next to the one named)."""
    if not uri or not WORKER:
        return uri
    url = make_url(uri)
    return url.set(database=f"{url.database}_{WORKER}").render_as_string(hide_password=False)


def _per_worker_queue(url: str) -> str:
    """redis://host:port/N -> .../N+k for worker gwk (Huey's keys carry only the queue's name)."""
    if not url.startswith("redis://") or not WORKER:
        return url
    base, _, number = url.rpartition("/")
    return f"{base}/{int(number or 0) + int(WORKER.removeprefix('gw'))}"


# A PostgreSQL database for the whole run (`make test-postgres`); unset means a SQLite copy per test.
NAMED_DATABASE_URI = os.environ.get("OKG_TEST_DATABASE_URI", "")
TEST_DATABASE_URI = _per_worker_database(NAMED_DATABASE_URI)
# A Redis for the job queue (`make test-jobs-redis`); unset means a SQLite queue file per process.
TEST_JOBS_URL = _per_worker_queue(os.environ.get("OKG_TEST_JOBS_URL", ""))


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
    if not config.pluginmanager.has_plugin("okg-legacy-node-ids"):
        config.pluginmanager.register(_LegacyNodeIds(), "okg-legacy-node-ids")
    if not TEST_DATABASE_URI:
        return
    url = make_url(TEST_DATABASE_URI)
    if url.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"OKG_TEST_DATABASE_URI must be a postgresql URL, not {url.get_backend_name()!r}")
    if "test" not in (url.database or ""):
        raise pytest.UsageError(
            f"OKG_TEST_DATABASE_URI names database {url.database!r}; the run wipes it, so the name must contain 'test'"
        )


# -- which runs of .ci/run repeat a test -------------------------------------------------------------------
# `make test` runs every test. Each other run of .ci/run changes one thing and repeats only the tests whose outcome
# that one thing can change (README, "Tests"), selected by a marker:
#   db        the database is PostgreSQL (make test-postgres)
#   jobs      the job queue is on Redis (make test-jobs-redis)
#   keycloak  a real Keycloak; those in tests/contract and tests/integration run on 22 and 24 (test-keycloak-matrix)
#   python    the newest Python (make test-newest-python)
# `db` and `python` mark every test but those listed here, so a new test file is repeated unless it is added below.
# Entries are node id prefixes: a file, or file::test.
NOT_DB = (
    "tests/contract/",  # the gateway and a Keycloak: nothing is stored
    "tests/e2e/",  # what the browser does; the same pages' queries run in tests/ui
    "tests/security/test_csrf.py",  # Flask-WTF refuses before any handler runs; handlers: the matrix's manager cells
    "tests/security/test_tls.py",  # certificate checks of the gateway
    "tests/integration/test_tls_on_real_keycloak.py",
    "tests/unit/test_properties.py",  # in memory by design
    "tests/unit/test_packaging.py",
    "tests/unit/test_prefetch.py",
)
NOT_PYTHON = (
    "tests/e2e/",  # the browser journeys (the newest-Python run has no browser)
    "tests/security/test_csrf.py",  # decided by Flask-WTF the same way on every version; handlers: the matrix
)
# The authorization matrix's cells for these personas repeat in the db and python runs: past the refusals each row's
# handler runs its queries as the manager, and "other" meets the visibility filters. Anonymous, nobody and staff are
# refused (or let through) by the same code before any query that differs.
MATRIX_CELLS = "tests/security/test_authorization_matrix.py::test_access["
MATRIX_REPEATED = ("-manager]", "-other]")
MATRIX_NOT_REPEATED = "tests/security/test_authorization_matrix.py::test_head_answers_like_get"
JOBS = (
    "tests/integration/test_jobs_on_a_worker.py",  # worker processes on the queue
    "tests/ui/test_job_pages.py",  # enqueue, live progress, cancel
    "tests/ui/test_overview.py",  # drift-check jobs write their live state to the queue
    "tests/unit/test_job_queue.py",  # the periodic tick's once-per-minute key, the queue down
    "tests/unit/test_cli.py",  # flask worker --once, sync-pending
)


class _LegacyNodeIds:
    """pytest-xdist's --dist loadgroup appends "@<group>" to `item._nodeid`, which pytest 9.2 no longer reads (the
    node id comes from `item._id`): without this, tests of one xdist_group were spread over the workers."""

    @pytest.hookimpl(trylast=True)  # after xdist's own hook
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            legacy, structured = getattr(item, "_nodeid", None), getattr(item, "_id", None)
            if isinstance(legacy, str) and legacy != item.nodeid and hasattr(type(structured), "parse"):
                item._id = type(structured).parse(legacy)  # type: ignore[union-attr]


def _repeated_in_variants(nodeid: str, exceptions: tuple[str, ...]) -> bool:
    if nodeid.startswith(exceptions) or nodeid.startswith(MATRIX_NOT_REPEATED):
        return False
    if nodeid.startswith(MATRIX_CELLS):
        return nodeid.endswith(MATRIX_REPEATED)
    return True


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _repeated_in_variants(item.nodeid, NOT_DB):
            item.add_marker(pytest.mark.db)
        if _repeated_in_variants(item.nodeid, NOT_PYTHON):
            item.add_marker(pytest.mark.python)
        if item.nodeid.startswith(JOBS):
            item.add_marker(pytest.mark.jobs)


def pytest_report_header(config: pytest.Config) -> str:
    if TEST_DATABASE_URI:
        return f"database: {make_url(TEST_DATABASE_URI).render_as_string(hide_password=True)} (emptied per test)"
    return "database: SQLite, a copy of the migrated template per test"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Engine]:
    """OKG_TEST_DATABASE_URI's schema reset once and the real migrations applied; yields an engine for cleanup."""
    if TEST_DATABASE_URI != NAMED_DATABASE_URI:  # this xdist worker's own database, beside the one named
        name = make_url(TEST_DATABASE_URI).database
        named = create_engine(NAMED_DATABASE_URI, isolation_level="AUTOCOMMIT")
        with named.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        named.dispose()
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
