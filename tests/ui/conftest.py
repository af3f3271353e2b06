"""Browser-less UI tests through the Flask client, with CSRF protection on."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.factories import PASSWORD, World
from tests.signin import log_in, page_csrf_token, send


class Browser:
    """A logged-in test client that knows the page's CSRF token, like a real browser form would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kwargs):  # type: ignore[no-untyped-def]
        response = send(self.client, "GET", url, **kwargs)
        self.token = page_csrf_token(response) or self.token
        return response

    def post(self, url: str, data: dict | None = None, **kwargs):  # type: ignore[no-untyped-def]
        if not self.token:
            self.get("/login")
        return send(self.client, "POST", url, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def login(self, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        response = log_in(self.client, username, password)
        self.token = ""
        return response


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def manager(browser: Browser, world: World) -> Browser:
    response = browser.login("manager")
    assert response.status_code == 303
    browser.get("/")
    return browser
