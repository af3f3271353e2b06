"""Who changed it (docs/PRODUCT.md §10): an offering's membership and group changes read from Keycloak's admin
events, incrementally, and what they say about one difference (`keycloak_change`).

Reading (`refresh`): newest first, one request per page of events, until the newest event read the time before
(or the start of the retention, OKG_KEYCLOAK_EVENTS_DAYS) — at most `max_pages` pages: ON_VIEW_PAGES right before
a group page, FOR_PLAN_PAGES before a plan, IN_ROUND_PAGES in the periodic round (the job kind in jobs.py).
Only changes of the offering's linked groups are kept, and of groups made, deleted or moved in its subtree as far
as the reader knows it: a linked group or its parent, and any group of the subtree when the reader walked it (the
side-by-side diff and the periodic round do; a plan and a group page know their linked groups only). When the
pages run out before the last read is reached, what lies between is not known: the stored changes older than the
oldest one read are dropped, and `complete_from` says from when the record is whole, so an answer is never a stale
event mistaken for the last.

Actors: our own account (its service account's user id) is "this app"; a user of the managed realm gets their
username, resolved once and kept (KeycloakName); a user of another realm (a master admin) is said in words with
their ids, since our account cannot read other realms.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, cast

from flask import current_app
from sqlalchemy import Select, Table, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...keycloak import AdminEvent, KeycloakError, KeycloakGateway
from ...keycloak.errors import PermissionDenied
from ...models import (
    AuditEvent,
    KeycloakChange,
    KeycloakEventCursor,
    KeycloakName,
    Offering,
    OfferingKeycloakGroup,
    utcnow,
)
from ...models import OfferingKeycloakMembership as Membership
from ..connection.gateway import gateway_for_offering
from ..connection.prefetch import started
from ..errors import ServiceError

PAGE_SIZE = 500  # events per request, right before a page
DEEP_PAGE_SIZE = 2000  # events per request of a deeper read (a plan, the round): fewer round trips
# Pages overlap by this many events: Keycloak orders by time only, so events of one millisecond may swap places
# between two requests; the overlap (deduplicated by key) keeps one at a page's edge from being skipped.
OVERLAP = 25
ON_VIEW_PAGES = 1  # right before a group page: one request
FOR_PLAN_PAGES = 20  # right before a plan is computed (it reads every member of its groups anyway)
GROUP_PAGE_SECONDS = 10  # a group page reads them again at most this often
IN_ROUND_PAGES = 20  # the periodic round
# Usernames and client names resolved per read at most (one request each; the rest on a later read).
ON_VIEW_NAMES, IN_ROUND_NAMES = 5, 200

OK, OFF, UNREADABLE = "ok", "off", "unreadable"
BUSY = "Another request was reading the same admin events; they are read again next time."


@dataclass
class Read:
    """What one read did."""

    state: str = ""
    requests: int = 0
    seen: int = 0
    stored: int = 0
    caught_up: bool = False
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def retention_days() -> int:
    return int(current_app.config["KEYCLOAK_EVENTS_DAYS"])


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def cursor_of(offering: Offering) -> KeycloakEventCursor | None:
    return db.session.scalar(select(KeycloakEventCursor).where(KeycloakEventCursor.offering_id == offering.id))


def _linked_group_ids(offering: Offering) -> set[str]:
    model = OfferingKeycloakGroup
    return set(
        db.session.scalars(select(model.backend_id).where(model.offering_id == offering.id, model.backend_id != ""))
    )


def refresh(
    offering: Offering,
    max_pages: int = ON_VIEW_PAGES,
    check_settings: bool = False,
    unless_newer_than: float = 0,
    subtree_ids: Collection[str] = (),
) -> Read:
    """Read the offering's new membership events (see the module's words) and commit them; not when the last
    read is younger than `unless_newer_than` seconds (a page paged through with htmx reads once). Keycloak failing
    is the read's `error`, never an exception: attribution is an addition to a page, not a condition of it."""
    return start_refresh(offering, max_pages, check_settings, unless_newer_than, subtree_ids)()


def start_refresh(
    offering: Offering,
    max_pages: int = ON_VIEW_PAGES,
    check_settings: bool = False,
    unless_newer_than: float = 0,
    subtree_ids: Collection[str] = (),
    commit: bool = True,
) -> Callable[[], Read]:
    """`refresh` in two steps: Keycloak is asked now in a background thread (no database there); the returned
    call waits for it and stores what it said, so a caller (a plan) does its own reading meanwhile. With
    `commit` False it stores in a savepoint of the caller's transaction, which the caller commits (a plan: the
    changes and the plan they explain in one commit)."""
    if not offering.keycloak_enabled:
        return Read
    try:
        cursor = _cursor(offering)
    except IntegrityError:
        db.session.rollback()
        return lambda: Read(error=BUSY)
    now = utcnow()
    if unless_newer_than and cursor.read_at and (now - cursor.read_at).total_seconds() < unless_newer_than:
        return lambda: Read(state=cursor.state)
    if not check_settings and cursor.state in (OFF, UNREADABLE):
        return lambda: Read(state=cursor.state)  # asked again by the periodic round (check_settings)
    kept_from = now - timedelta(days=retention_days())
    last_ms = cursor.newest_ms if cursor.newest_ms is not None and cursor.newest_ms >= _ms(kept_from) else None
    try:
        gateway = gateway_for_offering(offering)
    except (KeycloakError, ServiceError) as exc:
        message = exc.message
        return lambda: Read(error=message)
    page_size = PAGE_SIZE if max_pages <= ON_VIEW_PAGES else DEEP_PAGE_SIZE
    ask = Asked(kept_from, last_ms, max_pages, check_settings or not cursor.state, page_size)
    fetched = started(partial(_fetch, gateway, ask))

    def finish() -> Read:
        try:
            found = fetched()
        except KeycloakError as exc:
            found = Fetched(error=exc.message)
        in_round = max_pages >= IN_ROUND_PAGES and check_settings
        return _finish(offering, gateway, ask, found, now, in_round, set(subtree_ids), commit)

    return finish


def _cursor(offering: Offering) -> KeycloakEventCursor:
    """The offering's cursor, made (and committed) the first time; two readers at once make one."""
    found = cursor_of(offering)
    if found is not None:
        return found
    try:
        db.session.add(KeycloakEventCursor(offering_id=offering.id))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    found = cursor_of(offering)
    assert found is not None
    return found


@dataclass(frozen=True)
class Asked:
    kept_from: datetime
    last_ms: int | None  # the newest event of the last read (None: read back to the retention)
    max_pages: int
    check_settings: bool
    page_size: int = PAGE_SIZE


@dataclass
class Fetched:
    """What Keycloak said (the background half of a read)."""

    state: str = ""
    events: list[AdminEvent] = field(default_factory=list)
    requests: int = 0
    seen: int = 0
    caught_up: bool = False
    newest: int | None = None
    oldest: int | None = None
    own_id: str | None = None
    error: str = ""


def _fetch(gateway: KeycloakGateway, ask: Asked) -> Fetched:
    """Keycloak's side of a read: the settings when asked, then pages newest first until the last read."""
    found = Fetched(newest=ask.last_ms)
    if ask.check_settings:
        status = gateway.admin_events_status()
        found.requests += 2
        if status.enabled is False or not status.readable:
            found.state = OFF if status.enabled is False else UNREADABLE
            return found
    since = _moment(ask.last_ms) if ask.last_ms is not None else ask.kept_from
    floor = ask.last_ms if ask.last_ms is not None else _ms(ask.kept_from) - 1
    found.own_id = gateway.own_user_id()
    kept: dict[str, AdminEvent] = {}
    try:
        for number in range(ask.max_pages):
            page = gateway.admin_events_page(since, number * (ask.page_size - OVERLAP), ask.page_size)
            found.requests += 1
            fresh = [event for event in page.events if event.time_ms > floor]
            for event in fresh:
                kept.setdefault(event.key, event)
            if fresh:
                found.newest = max(found.newest or 0, max(event.time_ms for event in fresh))
                found.oldest = min(event.time_ms for event in fresh)
            if len(fresh) < len(page.events) or page.size < ask.page_size:
                found.caught_up = True
                break
    except PermissionDenied:
        found.state = UNREADABLE
        return found
    found.state, found.events, found.seen = OK, list(kept.values()), len(kept)
    return found


def _finish(
    offering: Offering,
    gateway: KeycloakGateway,
    ask: Asked,
    found: Fetched,
    now: datetime,
    in_round: bool,
    subtree_ids: set[str],
    commit: bool = True,
) -> Read:
    """The database's side of a read: store, move the cursor, name a few actors; one commit (or a savepoint of
    the caller's transaction)."""
    read = Read(found.state, found.requests, found.seen, 0, found.caught_up, found.error)
    try:
        if commit:
            _write(offering, gateway, ask, found, now, in_round, subtree_ids, read)
            db.session.commit()
        else:
            with db.session.begin_nested():
                _write(offering, gateway, ask, found, now, in_round, subtree_ids, read)
    except IntegrityError:
        # Another request or worker stored the same events a moment before: theirs stand, ours are not needed.
        if commit:
            db.session.rollback()
        read.error = BUSY
    return read


def _write(
    offering: Offering,
    gateway: KeycloakGateway,
    ask: Asked,
    found: Fetched,
    now: datetime,
    in_round: bool,
    subtree_ids: set[str],
    read: Read,
) -> None:
    cursor = cursor_of(offering)
    if cursor is None:  # removed meanwhile (the offering's settings changed): made again
        cursor = KeycloakEventCursor(offering_id=offering.id)
        db.session.add(cursor)
    db.session.execute(
        delete(KeycloakChange).where(KeycloakChange.offering_id == offering.id, KeycloakChange.at < ask.kept_from)
    )
    if found.state:
        cursor.state = found.state
    if found.state == OK:
        read.stored = _store(offering, _in_subtree(offering, found.events, subtree_ids), found.own_id)
        cursor.newest_ms = found.newest
        if found.caught_up:
            whole = ask.last_ms is not None and cursor.complete_from
            cursor.complete_from = cursor.complete_from if whole else ask.kept_from
        else:
            # The pages ran out first: what lies between the last read and the oldest read now is not known.
            gap_end = _moment(found.oldest) if found.oldest is not None else now
            db.session.execute(
                delete(KeycloakChange).where(KeycloakChange.offering_id == offering.id, KeycloakChange.at < gap_end)
            )
            cursor.complete_from = gap_end
        try:
            _resolve_names(offering, gateway, IN_ROUND_NAMES if in_round else ON_VIEW_NAMES, members=in_round)
        except KeycloakError as exc:
            read.error = exc.message  # the names wait for the next read; what was read stands
    cursor.read_at = now


def _in_subtree(offering: Offering, events: list[AdminEvent], subtree_ids: set[str]) -> list[AdminEvent]:
    """The events the offering keeps: memberships of its linked groups; groups made, deleted or moved where
    either the group or its parent is linked or known to be in its subtree."""
    linked = _linked_group_ids(offering)
    known = linked | subtree_ids
    return [
        event
        for event in events
        if (event.group_id in known or event.parent_id in known if event.about_group else event.group_id in linked)
    ]


def _store(offering: Offering, events: list[AdminEvent], own_id: str | None) -> int:
    """The events not stored yet, in one statement (and the members' usernames 26 sends with them)."""
    if not events:
        return 0
    # Stored already: what an overlapping page or another reader stored of this read's time range (a range, not
    # a list of 5,000 keys: those cost more to send than the rows they find).
    known = set(
        db.session.scalars(
            select(KeycloakChange.event_key).where(
                KeycloakChange.offering_id == offering.id,
                KeycloakChange.at >= _moment(min(event.time_ms for event in events)),
            )
        )
    )
    rows = []
    # Oldest first, so that of two changes in the same millisecond the one Keycloak lists as newer is stored
    # later (explain takes the last by time, then by id).
    for event in reversed({event.key: event for event in events}.values()):
        if event.key in known:
            continue
        rows.append(
            {
                "offering_id": offering.id,
                "event_key": event.key[:200],
                "at": _moment(event.time_ms),
                "operation": event.operation,
                "user_id": event.user_id,
                "group_id": event.group_id,
                "parent_id": event.parent_id,
                "actor_realm_id": event.actor_realm_id,
                "actor_user_id": event.actor_user_id,
                "actor_client_id": event.actor_client_id,
                "other_realm": bool(event.realm_id and event.actor_realm_id and event.actor_realm_id != event.realm_id),
                "by_app": bool(own_id and event.actor_user_id == own_id),
            }
        )
    if rows:  # the table's own insert: one executemany, without the ORM's per-row bookkeeping
        db.session.execute(insert(cast(Table, KeycloakChange.__table__)), rows)
    _keep_names(offering, {event.user_id: event.member_username for event in events if event.member_username})
    return len(rows)


def _keep_names(offering: Offering, found: dict[str, str]) -> None:
    """Usernames Keycloak told us for free (26's details), for those not known yet: one query, one insert."""
    if not found:
        return
    known = set(
        db.session.scalars(
            select(KeycloakName.keycloak_id).where(
                KeycloakName.offering_id == offering.id,
                KeycloakName.kind == "user",
                KeycloakName.keycloak_id.in_(found),
            )
        )
    )
    rows = [
        {"offering_id": offering.id, "kind": "user", "keycloak_id": user_id, "name": name}
        for user_id, name in found.items()
        if user_id not in known
    ]
    if rows:
        db.session.execute(insert(KeycloakName), rows)


def _resolve_names(offering: Offering, gateway: KeycloakGateway, budget: int, members: bool) -> None:
    """The usernames and client names of the stored changes' actors that are not known yet (a few per read);
    with `members` (the periodic round only), the members' too, which 22 and 24 do not send."""
    change, name = KeycloakChange, KeycloakName
    wanted: list[tuple[str, str]] = []
    for kind, column, actors_only in (
        ("user", change.actor_user_id, True),
        ("client", change.actor_client_id, True),
        ("user", change.user_id, False),  # the members changed: of the managed realm always
    )[: 3 if members else 2]:
        known = select(name.keycloak_id).where(name.offering_id == offering.id, name.kind == kind)
        query = select(column).where(change.offering_id == offering.id, column != "", column.not_in(known))
        if actors_only:
            query = query.where(~change.other_realm, ~change.by_app)
        ids = db.session.scalars(query.distinct().limit(budget))
        wanted.extend((kind, keycloak_id) for keycloak_id in ids if (kind, keycloak_id) not in wanted)
    for kind, keycloak_id in wanted[:budget]:
        found = gateway.username_of(keycloak_id) if kind == "user" else gateway.client_name_of(keycloak_id)
        db.session.add(KeycloakName(offering_id=offering.id, kind=kind, keycloak_id=keycloak_id, name=found or ""))
    db.session.flush()


# -- what the record says about one difference ------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A difference to explain: user `user_id` is (`present`) or is not in the Keycloak group `group_id`."""

    group_id: str
    user_id: str
    present: bool


def explain(offering: Offering, questions: Iterable[Question]) -> dict[Question, dict[str, Any]]:
    """`keycloak_change` (docs/PRODUCT.md §10) for each question, in a constant number of statements."""
    asked = [question for question in questions if question.group_id and question.user_id]
    if not asked:
        return {}
    cursor = cursor_of(offering)
    if cursor is None or cursor.state != OK:
        reason = _not_read(offering, cursor)
        return {question: unknown(reason) for question in asked}
    found = db.session.scalars(
        select(KeycloakChange)
        .where(
            KeycloakChange.offering_id == offering.id,
            KeycloakChange.group_id.in_({q.group_id for q in asked}),
            KeycloakChange.user_id.in_({q.user_id for q in asked}),
        )
        .order_by(KeycloakChange.at, KeycloakChange.id)
    )
    latest = {(change.group_id, change.user_id): change for change in found}
    names = _names(offering, latest.values())
    answers = {}
    matched: list[KeycloakChange] = []
    for question in asked:
        change = latest.get((question.group_id, question.user_id))
        if change is None or (change.operation == "CREATE") != question.present:
            answers[question] = unknown(_no_event(cursor))
        else:
            answers[question] = described(offering, change, names)
            matched.append(change)
    audits = our_audit_events(offering, matched, names)
    for question, answer in answers.items():
        change = latest.get((question.group_id, question.user_id))
        if answer["source"] == "this_app" and change is not None:
            answer["audit_event"] = audits.get(change.id)
    return answers


def explain_groups(
    offering: Offering, made: Collection[str], gone: Collection[str], subtree_ids: Collection[str]
) -> dict[str, dict[str, Any]]:
    """`keycloak_change` for the diff's group differences, by Keycloak group id: how each group in `made` (in the
    subtree, not in the register) came to be there, and how each in `gone` (linked here, not in the subtree any
    more) left it: made / moved in, deleted / moved out. A constant number of statements."""
    asked = set(made) | set(gone)
    if not asked:
        return {}
    cursor = cursor_of(offering)
    if cursor is None or cursor.state != OK:
        reason = _not_read(offering, cursor)
        return {group_id: _of_group(unknown(reason), None) for group_id in asked}
    found = db.session.scalars(
        select(KeycloakChange)
        .where(
            KeycloakChange.offering_id == offering.id,
            KeycloakChange.user_id == "",
            KeycloakChange.group_id.in_(asked),
        )
        .order_by(KeycloakChange.at, KeycloakChange.id)
    )
    inside = set(subtree_ids)
    latest: dict[str, KeycloakChange] = {}
    for change in found:
        arrived = change.operation == "CREATE" or (change.operation == "MOVE" and change.parent_id in inside)
        if (change.group_id in made) == arrived:
            latest[change.group_id] = change  # the newest change that explains the difference's direction
    names = _names(offering, latest.values())
    answers = {}
    for group_id in asked:
        found_change = latest.get(group_id)
        if found_change is None:
            answers[group_id] = _of_group(unknown(_no_group_event(cursor)), None)
        else:
            answers[group_id] = _of_group(described(offering, found_change, names), found_change.operation)
    return answers


_GROUP_OPERATION_WORDS = {"CREATE": "created", "DELETE": "deleted", "MOVE": "moved"}


def _of_group(change: dict[str, Any], operation: str | None) -> dict[str, Any]:
    """A group difference's `keycloak_change`: what the event did instead of a membership's audit link."""
    answer = {key: value for key, value in change.items() if key != "audit_event"}
    return answer | {"operation": _GROUP_OPERATION_WORDS.get(operation) if operation else None}


def group_in_words(change: dict[str, Any] | None) -> str:
    """A group difference's `keycloak_change` in one sentence: "Created in Keycloak by helpdesk through
    admin-cli, 2026-12-07 20:47 UTC." """
    if not change:
        return ""
    if change["source"] == "unknown":
        return f"Who changed it in Keycloak is unknown: {change['reason']}"
    done = {"created": "Created in Keycloak", "deleted": "Deleted in Keycloak"}.get(
        change.get("operation") or "", "Moved in Keycloak"
    )
    when = _clock(change["at"])
    if change["source"] == "this_app":
        return f"{done} by this app, {when}."
    through = f" through {change['client']}" if change["client"] else ""
    return f"{done} by {change['by'] or 'an unknown user'}{through}, {when}."


def _no_group_event(cursor: KeycloakEventCursor) -> str:
    since = cursor.complete_from.strftime("%Y-%m-%d %H:%M UTC") if cursor.complete_from else "the last read"
    return (
        f"No admin event records it since {since}: a group made in a realm import, under a group this offering "
        "did not know yet, without admin event details (Keycloak names a subgroup only in them), or before then."
    )


# Our writes to Keycloak memberships, as our audit records them: a this_app change points at the nearest one.
OUR_WRITES = ("membership.created", "membership.deleted", "membership.activated", "membership.expired", "plan.applied")
AUDIT_WINDOW = timedelta(minutes=2)


def our_audit_events(
    offering: Offering, changes: list[KeycloakChange], names: dict[tuple[str, str], str]
) -> dict[int, str]:
    """For our own changes (by_app): the uuid of the audit event of ours that made each, by time (within
    AUDIT_WINDOW) and, where the audit names the member, by username. One query for all of them."""
    ours = [change for change in changes if change.by_app]
    if not ours:
        return {}
    first, last = min(c.at for c in ours) - AUDIT_WINDOW, max(c.at for c in ours) + AUDIT_WINDOW
    found = list(
        db.session.execute(
            select(AuditEvent.uuid, AuditEvent.created, AuditEvent.action, AuditEvent.object_repr).where(
                AuditEvent.offering_id == offering.id,
                AuditEvent.action.in_(OUR_WRITES),
                AuditEvent.created >= first,
                AuditEvent.created <= last,
            )
        )
    )
    members = _member_names(offering, {change.user_id for change in ours})
    found.sort(key=lambda row: _utc(row.created))
    times = [_utc(row.created) for row in found]
    links = {}
    for change in ours:
        username = members.get(change.user_id) or names.get(("user", change.user_id), "")
        window = found[bisect_left(times, change.at - AUDIT_WINDOW) : bisect_right(times, change.at + AUDIT_WINDOW)]
        near = list(window)
        named = [row for row in near if row.action != "plan.applied" and row.object_repr == username]
        candidates = named or [row for row in near if row.action == "plan.applied"]
        if candidates:
            links[change.id] = str(min(candidates, key=lambda row: abs(_utc(row.created) - change.at)).uuid)
    return links


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _member_names(offering: Offering, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    return {
        user_id: username
        for user_id, username in db.session.execute(
            select(Membership.keycloak_user_id, Membership.username)
            .join(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == offering.id, Membership.keycloak_user_id.in_(user_ids))
        )
    }


def in_words(change: dict[str, Any] | None, present: bool) -> str:
    """A `keycloak_change` as one sentence for the pages: "Added in Keycloak by helpdesk through admin-cli,
    2026-12-07 20:47 UTC." (`present`: the difference is someone in the Keycloak group, else someone gone)."""
    if not change:
        return ""
    if change["source"] == "unknown":
        return f"Who changed it in Keycloak is unknown: {change['reason']}"
    done = "Added in Keycloak" if present else "Removed in Keycloak"
    when = _clock(change["at"])
    if change["source"] == "this_app":
        return f"{done} by this app, {when}."
    through = f" through {change['client']}" if change["client"] else ""
    return f"{done} by {change['by'] or 'an unknown user'}{through}, {when}."


def _clock(at: str | None) -> str:
    if not at:
        return "at an unknown time"
    return datetime.fromisoformat(at.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")


def unknown(reason: str) -> dict[str, Any]:
    return {
        "source": "unknown",
        "by": None,
        "client": None,
        "at": None,
        "event_id": None,
        "reason": reason,
        "audit_event": None,
    }


def described(offering: Offering, change: KeycloakChange, names: dict[tuple[str, str], str]) -> dict[str, Any]:
    at = change.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    event_id = change.event_key if ":" not in change.event_key else None
    if change.by_app:
        return {
            "source": "this_app",
            "by": None,
            "client": offering.keycloak_client_id or None,
            "at": at,
            "event_id": event_id,
            "reason": None,
            "audit_event": None,  # our audit event that made it, where explain finds one
        }
    by: str | None
    client: str | None
    if change.other_realm:
        by = f"an administrator of another realm (realm id {change.actor_realm_id}, user id {change.actor_user_id})"
        client = None
    else:
        by = names.get(("user", change.actor_user_id)) or (
            f"a user of realm {offering.keycloak_realm} (id {change.actor_user_id})" if change.actor_user_id else None
        )
        client = names.get(("client", change.actor_client_id)) or (
            f"a client (id {change.actor_client_id})" if change.actor_client_id else None
        )
    return {
        "source": "keycloak_admin",
        "by": by,
        "client": client,
        "at": at,
        "event_id": event_id,
        "reason": None,
        "audit_event": None,
    }


def _names(offering: Offering, changes: Iterable[KeycloakChange]) -> dict[tuple[str, str], str]:
    changes = list(changes)
    ids = {change.actor_user_id for change in changes} | {change.actor_client_id for change in changes}
    ids |= {change.user_id for change in changes}
    ids.discard("")
    if not ids:
        return {}
    rows = db.session.execute(
        select(KeycloakName.kind, KeycloakName.keycloak_id, KeycloakName.name).where(
            KeycloakName.offering_id == offering.id, KeycloakName.keycloak_id.in_(ids), KeycloakName.name != ""
        )
    )
    return {(kind, keycloak_id): name for kind, keycloak_id, name in rows}


def _not_read(offering: Offering, cursor: KeycloakEventCursor | None) -> str:
    realm = offering.keycloak_realm
    if cursor is not None and cursor.state == OFF:
        return f"Admin events are off in realm {realm}: turn them on (the offering's Keycloak settings say how)."
    if cursor is not None and cursor.state == UNREADABLE:
        return (
            f"Our Keycloak account may not read the admin events of realm {realm}: it needs the view-events role "
            "of realm-management."
        )
    return "Keycloak's admin events have not been read for this offering yet."


def _no_event(cursor: KeycloakEventCursor) -> str:
    since = cursor.complete_from.strftime("%Y-%m-%d %H:%M UTC") if cursor.complete_from else "the last read"
    return (
        f"No admin event records it since {since}: a user created with their groups, a user federation or "
        "identity-provider mapper, or a change made before then."
    )


def changes_query(offering: Offering) -> Select[KeycloakChange]:
    """Activity's "Changes made in Keycloak": the offering's stored changes, newest first."""
    return (
        select(KeycloakChange)
        .where(KeycloakChange.offering_id == offering.id)
        .order_by(KeycloakChange.at.desc(), KeycloakChange.id.desc())
    )


def changes_page(offering: Offering, page: int, per_page: int) -> tuple[int, list[dict[str, Any]]]:
    """One page of them with their words (the total, the rows): a constant number of statements."""
    total = int(
        db.session.scalar(select(func.count()).select_from(changes_query(offering).order_by(None).subquery())) or 0
    )
    rows = list(db.session.scalars(changes_query(offering).offset((page - 1) * per_page).limit(per_page)))
    return total, change_rows(offering, rows)


def changes_in_chunks(offering: Offering, size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Every stored change with its words, `size` at a time (the CSV streams them)."""
    chunk: list[KeycloakChange] = []
    for row in db.session.scalars(changes_query(offering).execution_options(yield_per=size)):
        chunk.append(row)
        if len(chunk) == size:
            yield change_rows(offering, chunk)
            chunk = []
    if chunk:
        yield change_rows(offering, chunk)


def status_words(offering: Offering) -> str:
    """What the last read found, for the top of the list."""
    cursor = cursor_of(offering)
    if cursor is None or cursor.state != OK:
        return _not_read(offering, cursor)
    when = cursor.read_at.strftime("%Y-%m-%d %H:%M UTC") if cursor.read_at else "never"
    since = cursor.complete_from.strftime("%Y-%m-%d %H:%M UTC") if cursor.complete_from else "the last read"
    return f"Read from Keycloak's admin events {when}; complete since {since}, kept {retention_days()} days."


def change_rows(offering: Offering, rows: list[KeycloakChange]) -> list[dict[str, Any]]:
    """Each change with its group's name and the member's username where we know them (three statements)."""
    if not rows:
        return []
    names = _names(offering, rows)
    group = OfferingKeycloakGroup
    groups = {
        backend_id: name
        for backend_id, name in db.session.execute(
            select(group.backend_id, group.name).where(
                group.offering_id == offering.id, group.backend_id.in_({row.group_id for row in rows})
            )
        )
    }
    members = _member_names(offering, {row.user_id for row in rows if row.user_id})
    audits = our_audit_events(offering, [row for row in rows if row.user_id], names)
    answers = []
    for row in rows:
        change = described(offering, row, names) | {"audit_event": audits.get(row.id)}
        if row.user_id:
            operation = "added" if row.operation == "CREATE" else "removed"
            member = members.get(row.user_id) or names.get(("user", row.user_id)) or f"user id {row.user_id}"
            words = in_words(change, row.operation == "CREATE")
        else:
            operation = "group " + _GROUP_OPERATION_WORDS.get(row.operation, row.operation.lower())
            member = ""
            words = group_in_words(change | {"operation": _GROUP_OPERATION_WORDS.get(row.operation)})
        answers.append(
            {
                "when": row.at.strftime("%Y-%m-%d %H:%M:%S"),
                "operation": operation,
                "group": groups.get(row.group_id, f"group id {row.group_id}"),
                "member": member,
                **change,
                "words": words,
            }
        )
    return answers
