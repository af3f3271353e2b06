"""Pulling a Keycloak group's members into the local register (docs/PRODUCT.md §3 pull_members)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...keycloak import NotFound, RemoteUser
from ...models import MembershipState, OfferingKeycloakGroup, OfferingKeycloakMembership, User, utcnow
from .. import audit
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.prefetch import prefetched
from ..connection.subtree import keycloak_id
from ..errors import REMOTE_GROUP_NOT_FOUND, ObjectNotFound, ValidationFailed
from ..locks import lock_group
from . import lifecycle

NOT_LINKED = "Group is not linked to a remote Keycloak group. Remap it first to set a backend ID."
BATCH_SIZE = 1000
SYNCED_FIELDS = ("email", "first_name", "last_name", "keycloak_user_id")
ACTIVE, EXPIRED = MembershipState.ACTIVE, MembershipState.EXPIRED


@dataclass(frozen=True)
class PullResult:
    created: int
    updated: int
    unchanged: int
    removed_remotely: int
    total_remote: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def pull_members(
    actor: User | None, group: OfferingKeycloakGroup, progress: Callable[[int, int], None] | None = None
) -> PullResult:
    """Keycloak pages are fetched ahead in a thread while each page already fetched is written, all in one
    transaction: a failure anywhere leaves the register exactly as it was. `progress(pages, members)` is
    called after each page is written; whatever it raises (a cancel) rolls the pull back."""
    if not group.backend_id:
        raise ValidationFailed([NOT_LINKED])
    keycloak_id("backend_id", group.backend_id)
    gateway = gateway_for_offering(group.offering)
    fetched: dict[str, RemoteUser] = {}

    def pages(source: Iterator[list[RemoteUser]]) -> Iterator[list[RemoteUser]]:
        for number, page in enumerate(source, start=1):
            fresh = [user for user in page if user.username.lower() not in fetched]
            fetched.update((user.username.lower(), user) for user in fresh)
            yield fresh
            if progress is not None:
                progress(number, len(fetched))

    # The group's lock before Keycloak is read: a grant or revoke of this group that committed before us has
    # made its change in Keycloak too, and the next one waits until our rows are committed.
    if not lock_group(group.id):
        raise ObjectNotFound()
    try:
        source = prefetched(gateway.iter_group_members(group.backend_id, label=group.name))  # fetching starts now
        result = call_keycloak("Pulling members from Keycloak failed", lambda: _apply(group, pages(source)))
        audit.record(actor, group.offering, "group.members_pulled", group, result.as_dict())
        db.session.commit()
    except IntegrityError:
        # Another writer inserted some of the same rows first; every page is fetched by now, so apply them again.
        db.session.rollback()
        if not lock_group(group.id):
            raise ObjectNotFound() from None
        result = _apply(group, iter([list(fetched.values())]))
        db.session.commit()
    except NotFound as exc:
        db.session.rollback()
        raise ValidationFailed.field("backend_id", REMOTE_GROUP_NOT_FOUND) from exc
    except Exception:
        db.session.rollback()
        raise
    return result


def _apply(group: OfferingKeycloakGroup, pages: Iterator[list[RemoteUser]]) -> PullResult:
    model = OfferingKeycloakMembership
    rows = db.session.execute(
        select(model.id, model.username, model.state, *(getattr(model, name) for name in SYNCED_FIELDS)).where(
            model.group_id == group.id
        )
    ).all()
    existing = {row.username: row for row in rows}
    now = utcnow()
    seen: set[str] = set()
    created = updated = unchanged = 0
    table = cast(Table, model.__table__)  # Core statements: the rows are plain dicts, the ORM would only add overhead
    for page in pages:
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for user in page:
            username = user.username.lower()
            seen.add(username)
            details = lifecycle.FromKeycloak.of(user)
            row = existing.get(username)
            if row is not None and row.state == EXPIRED:
                continue  # ended here, yet in Keycloak: drift a plan removes (the pull never revives it)
            if (
                row is not None
                and row.state == ACTIVE
                and ((row.email, row.first_name, row.last_name, row.keycloak_user_id) == details)
            ):
                unchanged += 1
                continue
            if row is None:
                inserts.append(lifecycle.recorded_row(group.id, username, details, now))
            else:
                updates.append(lifecycle.confirmed_row(row.id, details, now, row.state))
        for start in range(0, len(inserts), BATCH_SIZE):
            db.session.execute(insert(table), inserts[start : start + BATCH_SIZE])
        for start in range(0, len(updates), BATCH_SIZE):
            db.session.execute(update(model), updates[start : start + BATCH_SIZE])
        created += len(inserts)
        updated += len(updates)

    gone = [(row.id, row.state) for username, row in existing.items() if username not in seen and row.state == ACTIVE]
    removed = lifecycle.flag_removed_rows(gone, now)
    group.remote_member_count, group.remote_counted_at = len(seen), now  # Keycloak cannot count them itself
    return PullResult(
        created=created, updated=updated, unchanged=unchanged, removed_remotely=removed, total_remote=len(seen)
    )
