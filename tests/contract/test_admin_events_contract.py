"""Admin events on the fake and on a real Keycloak (docs/PRODUCT.md §10): what `admin_events_status` says for an
administrator and for a realm service account without view-events, and `enable_admin_events` turning them on with
their details while the realm's other events settings stay."""

from __future__ import annotations

from collections.abc import Iterator

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
