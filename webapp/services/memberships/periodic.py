"""Background catch-up work: retry pending memberships, and flag members removed in Keycloak (docs/PRODUCT.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from ...extensions import db
from ...keycloak import KeycloakGateway, NotFound
from ...models import MembershipState, Offering, OfferingKeycloakGroup, OfferingKeycloakMembership, utcnow
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..errors import Conflict, RemoteFailure, ServiceError
from ..groups.hierarchy import CreatedGroups, ensure_group, link_to
from ..locks import lock_group, lock_membership
from . import lifecycle


@dataclass
class RunSummary:
    offerings: int = 0
    activated: int = 0
    still_pending: int = 0
    flagged_removed: int = 0
    restored: int = 0
    errors: list[str] = field(default_factory=list)
    keycloak_failed: str = ""  # the first "Keycloak did not answer" error in words, when one happened


def _offerings_with(states: list[MembershipState], only: Offering | None = None) -> list[Offering]:
    query = select(Offering).where(Offering.id == only.id) if only is not None else select(Offering)
    return list(
        db.session.scalars(
            query.where(
                Offering.id.in_(
                    select(OfferingKeycloakGroup.offering_id)
                    .join(OfferingKeycloakMembership)
                    .where(OfferingKeycloakMembership.state.in_(states))
                )
            ).order_by(Offering.id)
        )
    )


def _rows(offering: Offering, states: list[MembershipState]) -> list[OfferingKeycloakMembership]:
    """The offering's rows in these states, but not the ones whose time is up: the expiry removes those."""
    model = OfferingKeycloakMembership
    return list(
        db.session.scalars(
            select(model)
            .join(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == offering.id, model.state.in_(states))
            .where(or_(model.expires_at.is_(None), model.expires_at > utcnow()))
            .order_by(model.id)
        )
    )


def sync_pending(only: Offering | None = None) -> RunSummary:
    """Retry every pending membership (of one offering, or of all); a bad offering does not stop the others."""
    summary = RunSummary()
    for offering in _offerings_with([MembershipState.PENDING], only):
        summary.offerings += 1
        rows = _rows(offering, [MembershipState.PENDING])
        try:
            gateway = gateway_for_offering(offering)
        except ServiceError as exc:
            _record_error(rows, exc.message)
            summary.errors.append(f"{offering.name}: {exc.message}")
            summary.keycloak_failed = summary.keycloak_failed or exc.message
            continue
        for index, row in enumerate(rows):
            try:
                if not _lock_pending(row):
                    continue  # deleted or changed meanwhile (by a request holding the same row lock)
            except Conflict as exc:  # its group is busy for long (a big pull): the next round tries again
                summary.errors.append(f"{offering.name}/{row.username}: {exc.message}")
                continue
            try:
                activated = _activate(gateway, offering, row)
            except RemoteFailure as exc:
                db.session.rollback()
                # Keycloak is down for this offering: the other rows would each cost the timeout again.
                _record_error(rows[index:], exc.message)
                summary.errors.append(f"{offering.name}: {exc.message} (skipped its other pending rows this round)")
                summary.keycloak_failed = summary.keycloak_failed or exc.message
                break
            except NotFound as exc:
                row.error_message = exc.message
                summary.errors.append(f"{offering.name}/{row.group.name}/{row.username}: {row.error_message}")
                db.session.commit()
                continue
            if activated:
                summary.activated += 1
            else:
                row.error_message = ""
                summary.still_pending += 1
            db.session.commit()  # one row at a time: the row lock is held only while its Keycloak call runs
    return summary


def _lock_pending(row: OfferingKeycloakMembership) -> bool:
    if not lock_group(row.group_id) or not lock_membership(row.id, MembershipState.PENDING):
        db.session.rollback()
        return False
    db.session.refresh(row)
    return True


def _activate(gateway: KeycloakGateway, offering: Offering, row: OfferingKeycloakMembership) -> bool:
    """Add a pending member whose Keycloak account now exists; False while it does not exist yet."""
    user = call_keycloak("Looking up the Keycloak user failed", lambda: gateway.find_user_by_username(row.username))
    if user is None:
        return False
    group = row.group
    if not group.backend_id:
        created = CreatedGroups(gateway)
        remote = call_keycloak(
            "Creating the Keycloak group failed", lambda: ensure_group(offering, group.name, created)
        )
        link_to(group, remote, created)
    call_keycloak(
        "Adding the user to the Keycloak group failed", lambda: gateway.add_user_to_group(user.id, group.backend_id)
    )
    lifecycle.activate(offering, row, user)
    return True


def reconcile(only: Offering | None = None) -> RunSummary:
    """Flag active members that left the Keycloak group; clear the flag when they are back."""
    summary = RunSummary()
    states = [MembershipState.ACTIVE, MembershipState.REMOVED_REMOTELY]
    for offering in _offerings_with(states, only):
        summary.offerings += 1
        try:
            gateway = gateway_for_offering(offering)
            for group_id in dict.fromkeys(row.group_id for row in _rows(offering, states)):
                try:
                    _reconcile_group(gateway, group_id, states, summary)
                except Conflict as exc:  # busy for long (a big pull, which brings the rows up to date itself)
                    summary.errors.append(f"{offering.name}: {exc.message}")
                    continue
                db.session.commit()  # group by group: a group's lock is held only while its members are read
        except (ServiceError, NotFound) as exc:
            db.session.rollback()
            summary.errors.append(f"{offering.name}: {exc.message}")
            if isinstance(exc, ServiceError):
                summary.keycloak_failed = summary.keycloak_failed or exc.message
    return summary


def _reconcile_group(
    gateway: KeycloakGateway, group_id: int, states: list[MembershipState], summary: RunSummary
) -> None:
    """Under the group's lock, with its rows read after the lock: a revoke may have deleted one just before."""
    if not lock_group(group_id):
        return
    group = db.session.get(OfferingKeycloakGroup, group_id, populate_existing=True)
    if group is None or not group.backend_id:
        return
    rows = list(
        db.session.scalars(
            select(OfferingKeycloakMembership)
            .where(OfferingKeycloakMembership.group_id == group_id, OfferingKeycloakMembership.state.in_(states))
            .order_by(OfferingKeycloakMembership.id)
            .execution_options(populate_existing=True)
        )
    )
    present = call_keycloak(
        "Reading Keycloak group members failed",
        lambda: {user.username for page in gateway.iter_group_members(group.backend_id) for user in page},
    )
    now = utcnow()
    for row in rows:
        done = lifecycle.reconciled(row, row.username in present, now)
        if done is lifecycle.Transition.FLAG_REMOVED:
            summary.flagged_removed += 1
        elif done is lifecycle.Transition.RESTORE:
            summary.restored += 1


def _record_error(rows: list[OfferingKeycloakMembership], message: str) -> None:
    now = utcnow()
    for row in rows:
        row.error_message = message
        row.last_checked = now
    db.session.commit()
