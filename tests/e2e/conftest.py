"""Playwright journeys: a live app on a real Keycloak realm, driven in Chromium."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from tests.conftest import TEST_DATABASE_URI, TEST_ENCRYPTION_KEY, TEST_SECRET, empty_postgres_tables
from tests.factories import PASSWORD
from webapp import create_app
from webapp.crypto import encrypt
from webapp.extensions import db
from webapp.models import Offering, OfferingManager, OfferingRole, Organization, Resource, User
from webapp.services.accounts.core import set_password

SIGN_IN_CLIENT, SIGN_IN_SECRET = "okg-app", "okg-app-e2e-secret"
SYSTEM_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.keycloak)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    executable = next((path for path in SYSTEM_CHROMIUM if Path(path).exists()), None)
    with sync_playwright() as playwright:
        # A system Chromium when there is one (these machines cannot download Playwright's own build);
        # otherwise the browser that `playwright install chromium` fetched.
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class LiveApp:
    url: str
    app: object
    realm: object
    offering_uuid: str
    role_uuid: str
    sign_in_client: str = ""  # the realm's login client (its Keycloak id), redirecting to this app


@pytest.fixture
def live_app(request: pytest.FixtureRequest, tmp_path: Path, real_realm) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    if TEST_DATABASE_URI:  # the run's PostgreSQL database, emptied
        empty_postgres_tables(request.getfixturevalue("postgres_database"))
        database_uri = TEST_DATABASE_URI
    else:
        database = tmp_path / "e2e.sqlite"
        shutil.copy(request.getfixturevalue("migrated_template"), database)
        database_uri = f"sqlite:///{database}"
    app = create_app(
        {
            "SECRET_KEY": TEST_SECRET,
            "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.sqlite'}",
            # Sign in with Keycloak: the realm's login client is added once the server's port is known.
            "OIDC_ISSUER": f"{real_realm.server.url}/realms/{real_realm.name}",
            "OIDC_CLIENT_ID": SIGN_IN_CLIENT,
            "OIDC_CLIENT_SECRET": SIGN_IN_SECRET,
        }
    )
    with app.app_context():
        organization = Organization(name="E2E Org", slug="e2e")
        offering = Offering(
            organization=organization,
            name="E2E Offering",
            slug="e2e-offering",
            keycloak_enabled=True,
            keycloak_url=real_realm.server.url + "/",
            keycloak_realm=real_realm.name,
            keycloak_auth_realm="master",
            keycloak_username=real_realm.server.admin,
            keycloak_password_encrypted=encrypt(real_realm.server.admin_password),
            keycloak_base_group="offerings",
            keycloak_timeout=20,
        )
        role = OfferingRole(offering=offering, name="member")
        resource = Resource(offering=offering, name="Alpha allocation")
        manager = User(username="manager", email="manager@example.org")
        set_password(manager, PASSWORD)
        db.session.add_all([organization, offering, role, resource, manager])
        db.session.flush()
        db.session.add(OfferingManager(user_id=manager.id, offering_id=offering.id))
        db.session.commit()
        offering_uuid, role_uuid = offering.uuid, role.uuid
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    sign_in_client = real_realm.add_sign_in_client(
        SIGN_IN_CLIENT, SIGN_IN_SECRET, f"{url}/auth/keycloak/callback", f"{url}/login"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveApp(url, app, real_realm, offering_uuid, role_uuid, sign_in_client)
    finally:
        server.shutdown()
        thread.join()
        with app.app_context():
            db.engine.dispose()  # close the server's pooled connections (they would outlive the test)


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
