"""The connection test says what attribution the realm's admin events allow (docs/PRODUCT.md §10), in the API's
`admin_events` and on the settings page, and staff turn them on after a confirmation."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import PASSWORD, World
from tests.html import parse, text_of
from tests.signin import csrf_token_of, log_in, send
from webapp.extensions import db
from webapp.models import AuditEvent

TEST = "/api/offering-keycloak-groups/test_connection/"


def admin_events(client: FlaskClient, world: World) -> dict:  # type: ignore[type-arg]
    response = client.post(TEST, json={"offering_uuid": world.offering.uuid}, headers=world.headers("manager"))
    assert response.status_code == 200
    return response.get_json()["admin_events"]


def test_the_api_says_what_is_missing_for_attribution(client: FlaskClient, world: World) -> None:
    off = admin_events(client, world)
    assert (off["enabled"], off["readable"], off["details"]) == (False, True, False)
    assert off["words"].startswith("Admin events are off in realm demo: changes made in Keycloak cannot be attributed.")
    world.realm.admin_events_enabled = world.realm.admin_events_details = True
    on = admin_events(client, world)
    assert (on["enabled"], on["readable"], on["details"]) == (True, True, True)
    assert "can be attributed" in on["words"]
    world.realm.admin_events_details = False
    assert "without their details" in admin_events(client, world)["words"]
    world.realm.may_view_events = False
    blind = admin_events(client, world)
    assert (blind["enabled"], blind["readable"], blind["details"]) == (None, False, None)
    assert "give our Keycloak account the view-events role of realm-management" in blind["words"]


def test_staff_turn_them_on_after_confirming(client: FlaskClient, world: World) -> None:
    assert log_in(client, "staff", PASSWORD).status_code == 303
    base = f"/offerings/{world.offering.uuid}"
    token = csrf_token_of(send(client, "GET", f"{base}/settings"))
    result = parse(send(client, "POST", f"{base}/test-connection", data={"csrf_token": token}))
    notice = result.select_one("#admin-events")
    assert notice is not None and "Admin events are off in realm demo" in text_of(notice)
    assert notice.select_one(f'a[href="{base}/admin-events"]') is not None
    confirm = send(client, "GET", f"{base}/admin-events")
    assert "Turn on admin events in realm demo?" in text_of(parse(confirm))
    assert world.realm.admin_events_enabled is False  # asking changes nothing
    done = send(client, "POST", f"{base}/admin-events", data={"csrf_token": csrf_token_of(confirm)})
    assert done.status_code == 303 and done.headers["Location"] == f"{base}/settings"
    assert world.realm.admin_events_enabled is True and world.realm.admin_events_details is True
    event = db.session.query(AuditEvent).filter_by(action="keycloak.admin_events_enabled").one()
    assert event.actor_name == "staff"


def test_without_manage_events_nothing_changes_and_the_page_says_why(client: FlaskClient, world: World) -> None:
    world.realm.may_manage_events = False
    assert log_in(client, "staff", PASSWORD).status_code == 303
    base = f"/offerings/{world.offering.uuid}"
    confirm = send(client, "GET", f"{base}/admin-events")
    refused = send(client, "POST", f"{base}/admin-events", data={"csrf_token": csrf_token_of(confirm)})
    assert refused.status_code == 400
    assert "it needs the manage-events (or manage-realm) role of realm-management" in text_of(parse(refused))
    assert world.realm.admin_events_enabled is False
    assert db.session.query(AuditEvent).filter_by(action="keycloak.admin_events_enabled").count() == 0
