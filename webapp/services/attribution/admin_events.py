"""What the realm's admin events allow for attribution (docs/PRODUCT.md §10, docs/KEYCLOAK.md), said in words for
the connection test, and turning them on from the settings page (staff only, after a confirmation)."""

from __future__ import annotations

from dataclasses import dataclass

from ...extensions import db
from ...keycloak import AdminEventsStatus
from ...keycloak.errors import PermissionDenied
from ...models import Offering, User
from .. import audit
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..errors import NotAllowed, Refused, RemoteFailure

STAFF_ONLY = "Only staff may change the realm's events settings."


@dataclass(frozen=True)
class AdminEventsCheck:
    status: AdminEventsStatus
    words: str  # what attribution is possible, and what is missing for it
    complete: bool  # on, with details, and readable: every change can be attributed

    def as_dict(self) -> dict[str, bool | None]:
        return {"enabled": self.status.enabled, "readable": self.status.readable, "details": self.status.details}


def explain(status: AdminEventsStatus, realm: str) -> AdminEventsCheck:
    if status.enabled is None:
        words = (
            f"Whether realm {realm} records admin events cannot be read: give our Keycloak account the view-events "
            "role of realm-management."
        )
    elif not status.enabled:
        words = (
            f"Admin events are off in realm {realm}: changes made in Keycloak cannot be attributed. Turn them on "
            "(Realm settings → Events → Admin events settings, with Include representation), or below."
        )
    elif not status.readable:
        words = (
            f"Admin events are on in realm {realm}, but our Keycloak account cannot read them: give it the "
            "view-events role of realm-management."
        )
    elif not status.details:
        words = (
            f"Admin events are on and readable in realm {realm}, without their details (Include representation "
            "is off): who and when can be told, not always what."
        )
    else:
        words = (
            f"Admin events are on, with details, and readable in realm {realm}: changes made in Keycloak can be "
            "attributed."
        )
    complete = bool(status.enabled and status.readable and status.details)
    return AdminEventsCheck(status, words, complete)


def check(offering: Offering) -> AdminEventsCheck:
    gateway = gateway_for_offering(offering)
    status = call_keycloak("Reading the realm's admin events settings failed", gateway.admin_events_status)
    return explain(status, offering.keycloak_realm)


def enable(actor: User, offering: Offering) -> AdminEventsCheck:
    """Turn on the realm's admin events with details (staff only: it changes the whole realm's settings)."""
    if not actor.is_staff:
        raise NotAllowed(STAFF_ONLY)
    gateway = gateway_for_offering(offering)
    try:
        call_keycloak("Turning on admin events failed", gateway.enable_admin_events)
    except RemoteFailure as exc:
        if isinstance(exc.__cause__, PermissionDenied):
            raise Refused(
                f"Our Keycloak account may not change the events settings of realm {offering.keycloak_realm}: it "
                "needs the manage-events (or manage-realm) role of realm-management. Nothing was changed."
            ) from exc
        raise
    audit.record(actor, offering, "keycloak.admin_events_enabled", offering, {"realm": offering.keycloak_realm})
    db.session.commit()
    return check(offering)
