"""Admin events on the fake and on a real Keycloak (docs/PRODUCT.md §10): what `admin_events_status` says for an
administrator and for a realm service account without view-events, and `enable_admin_events` turning them on with
their details while the realm's other events settings stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from webapp.keycloak import AdminEventsStatus
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.errors import PermissionDenied
from webapp.keycloak.fake_gateway import FakeGateway, FakeRealm

from .conftest import Subject, service_account_settings


@pytest.fixture
def restored(subject: Subject) -> Iterator[Subject]:
    """The realm's events settings as they were (the real realm is shared by the tests of this process)."""
    if subject.kind == "fake":
        yield subject
        return
    before = subject.seed.admin("GET", "/events/config").json()
    try:
        yield subject
    finally:
        subject.seed.admin("PUT", "/events/config", json=before)


def test_an_administrator_reads_them_and_turns_them_on(restored: Subject) -> None:
    gateway = restored.gateway
    assert gateway.admin_events_status() == AdminEventsStatus(enabled=False, details=False, readable=True)
    if restored.kind == "real":
        restored.seed.admin("PUT", "/events/config", json={"eventsExpiration": 3600} | _config(restored))
    gateway.enable_admin_events()
    assert gateway.admin_events_status() == AdminEventsStatus(enabled=True, details=True, readable=True)
    if restored.kind == "real":
        assert restored.seed.admin("GET", "/events/config").json().get("eventsExpiration") == 3600  # kept


def _config(subject: Subject) -> dict:  # type: ignore[type-arg]
    return subject.seed.admin("GET", "/events/config").json()


@pytest.mark.keycloak
def test_a_service_account_without_view_events_cannot_tell(real_realm) -> None:  # type: ignore[no-untyped-def]
    gateway = AdminGateway(service_account_settings(real_realm))
    assert gateway.admin_events_status() == AdminEventsStatus(enabled=None, details=None, readable=False)
    with pytest.raises(PermissionDenied):
        gateway.enable_admin_events()


def test_the_fake_says_the_same_without_the_roles() -> None:
    realm = FakeRealm()
    realm.may_view_events = realm.may_manage_events = False
    gateway = FakeGateway(realm)
    assert gateway.admin_events_status() == AdminEventsStatus(enabled=None, details=None, readable=False)
    with pytest.raises(PermissionDenied):
        gateway.enable_admin_events()


def test_membership_events_are_read_newest_first_with_who_made_them(restored: Subject) -> None:
    """On every version (22 and 24 take dateFrom as a day only, 26 has event ids): our own add and removal come
    back as events of that user and group, made by our own account."""
    gateway, seed = restored.gateway, restored.seed
    if restored.kind == "real":
        seed.admin("PUT", "/events/config", json=_config(restored) | {"adminEventsEnabled": True})
    else:
        seed.admin_events_enabled = True
    group_id = seed.add_path("/attribution/contract")
    user_id = seed.add_user("eventful", "eventful@example.org")
    since = datetime.now(UTC) - timedelta(minutes=1)
    gateway.add_user_to_group(user_id, group_id)
    gateway.remove_user_from_group(user_id, group_id)
    page = gateway.admin_events_page(since, 0, 100)
    ours = [event for event in page.events if event.group_id == group_id and event.user_id == user_id]
    assert sorted(event.operation for event in ours) == ["CREATE", "DELETE"]
    assert ours[0].time_ms >= ours[1].time_ms >= int(since.timestamp() * 1000)  # newest first
    if ours[0].time_ms > ours[1].time_ms:  # in the same millisecond, 22 and 24 list them in either order
        assert [event.operation for event in ours] == ["DELETE", "CREATE"]
    assert len({event.key for event in ours}) == 2
    own = gateway.own_user_id()
    assert own is not None and {event.actor_user_id for event in ours} == {own}
    assert page.size >= len(ours)
