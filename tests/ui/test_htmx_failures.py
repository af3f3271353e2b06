"""htmx failure paths: nothing ever swaps a whole page into a fragment's place (CONVENTIONS 18)."""

from __future__ import annotations

import json

from flask import Flask
from werkzeug.wrappers import Response

from tests.factories import World
from webapp.htmx import add_toast

HTMX = {"HX-Request": "true"}


def toast_of(response) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(response.headers["HX-Trigger"])["toast"]


def test_expired_session_sends_the_browser_to_the_login_page(client, world: World) -> None:
    page = f"http://testserver/offerings/{world.offering.uuid}/groups?q=alpha"
    response = client.get(f"/offerings/{world.offering.uuid}/groups", headers={**HTMX, "HX-Current-URL": page})
    assert response.status_code == 401 and response.get_data(as_text=True) == ""
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert "%2Fofferings%2F" in response.headers["HX-Redirect"]  # back to that page after signing in
    plain = client.get(f"/offerings/{world.offering.uuid}/groups")
    assert plain.status_code == 302 and plain.headers["Location"].startswith("/login")


def test_csrf_failure_in_htmx_is_a_toast_not_a_page(manager, world: World) -> None:
    response = manager.client.post(
        f"/offerings/{world.offering.uuid}/test-connection", headers={**HTMX, "X-CSRFToken": "forged"}
    )
    assert response.status_code == 400 and response.get_data(as_text=True) == ""
    assert response.headers["HX-Reswap"] == "none"
    assert toast_of(response) == {
        "message": "Your form expired or was sent from another site. Reload the page and try again.",
        "level": "error",
    }


def test_error_pages_in_htmx_are_toasts(manager, world: World) -> None:
    missing = manager.get(f"/offerings/{world.other_offering.uuid}/groups", headers=HTMX)
    assert missing.status_code == 404 and missing.get_data(as_text=True) == ""
    assert missing.headers["HX-Reswap"] == "none" and toast_of(missing)["level"] == "error"
    assert "<html" in manager.get(f"/offerings/{world.other_offering.uuid}/groups").get_data(as_text=True)


def test_add_toast_merges_into_an_existing_hx_trigger(app: Flask) -> None:
    response = Response()
    response.headers["HX-Trigger"] = json.dumps({"membersChanged": {"group": "alpha"}})
    add_toast(response, "Done.")
    assert json.loads(response.headers["HX-Trigger"]) == {
        "membersChanged": {"group": "alpha"},
        "toast": {"message": "Done.", "level": "success"},
    }
    plain = Response()
    plain.headers["HX-Trigger"] = "refreshRows, closeDialog"
    add_toast(plain, "Saved.", "error")
    assert json.loads(plain.headers["HX-Trigger"]) == {
        "refreshRows": None,
        "closeDialog": None,
        "toast": {"message": "Saved.", "level": "error"},
    }
