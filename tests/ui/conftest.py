"""Browser-less UI tests through the Flask client, with CSRF protection on."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.factories import PASSWORD, World

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """A logged-in test client that knows the page's CSRF token, like a real browser form would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kwargs):  # type: ignore[no-untyped-def]
        response = self.client.get(url, **kwargs)
        match = CSRF_META.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1)
        return response

    def post(self, url: str, data: dict | None = None, **kwargs):  # type: ignore[no-untyped-def]
        if not self.token:
            self.get("/login")
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def login(self, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        self.get("/login")
        return self.post("/login", {"username": username, "password": password})


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def manager(browser: Browser, world: World) -> Browser:
    response = browser.login("manager")
    assert response.status_code == 303
    browser.get("/")
    return browser
