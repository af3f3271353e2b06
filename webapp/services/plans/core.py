"""Plan → apply (docs/PLAN-APPLY.md): compute a stored preview, let the manager choose per item, apply exactly that.

A plan records what it was computed from (its fingerprint). Applying reads Keycloak and the register again
and refuses, writing nothing, when anything differs; then each chosen item succeeds or fails alone, and what
was done is committed as it goes (journal.py), never holding a transaction across a Keycloak call. One
apply runs per offering at a time (its slot is the plan's `applying` state, taken under the offering row's
lock and released at once), and an applied plan answers its result again instead of applying twice.

What plans keep is bounded: a new preview of the same thing (kind and parameters) discards the open one it
replaces, and the items of ended plans are deleted PLAN_RETENTION_DAYS after they ended; the plan row keeps
its summary and result for the audit trail.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Select, Table, and_, delete, func, insert, or_, select, update

from ...extensions import db
from ...models import Offering, OfferingKeycloakGroup, Plan, PlanItem, PlanState, User, new_uuid, utcnow
from .. import audit, locks
from ..access import delegated_group_ids, manages, reached_offering_ids, require_manager, visible_offerings
from ..attribution import events
from ..commands import ApplySelection, Preview
from ..errors import Conflict, Gone, ObjectNotFound, Refused, ServiceError, ValidationFailed
from ..uuids import parse_uuid
from .expiry import ExpiryKind
from .groups import ImportKind, LinksKind
from .journal import APPLIED, FAILED, NOT_SELECTED, Interrupted, Journal, Lost, beat_of, finish, stop_words
from .journal import Progress as ApplyProgress
from .kinds import (
    ITEM_COLUMNS,
    Chosen,
    Item,
    PlanKind,
    Progress,
    Settled,
    Stale,
    kind_for_preview,
    kind_of,
    kinds,
    lock_offering,
    register,
)
from .members import MembersKind, keycloak_question
from .review import ReviewKind

PLAN_FINISHED = (PlanState.APPLIED, PlanState.PARTIALLY_APPLIED, PlanState.FAILED)
# Plans that can never be applied again: their items go after the retention period.
ENDED = (*PLAN_FINISHED, PlanState.STALE, PlanState.EXPIRED, PlanState.DISCARDED)
SWEEP_BATCH = 20  # plans whose items one transaction of the retention sweep deletes (each may hold 50,000)
RESULT_ITEMS = 200
BATCH_SIZE = 1000

# The built-in kinds (docs/PLAN-APPLY.md §3 to §5); a new kind is its module and one more entry here.
KINDS = [register(kind) for kind in (MembersKind(), ImportKind(), LinksKind(), ExpiryKind(), ReviewKind())]


def clock(value: datetime) -> str:
    return value.strftime("%H:%M UTC")


# -- create -------------------------------------------------------------------------------------------------


def create_plan(actor: User | None, preview: Preview | Any, progress: Progress | None = None) -> Plan:
    """Compute and store a plan of the kind registered for this preview; nothing else changes. Raises
    ValidationFailed / RemoteFailure.
    `progress(pages, members)` is called after each page of Keycloak members (a job's progress and cancel).
    `actor` None: the system's own plan (an expiry above the removal brake)."""
    offering = preview.offering
    fingerprint: dict[str, Any] = {}
    kind = kind_for_preview(preview)
    if actor is not None and not kind.for_group_managers:
        require_manager(actor, offering)
    # Keycloak's newest admin events are read while the plan reads the members (a change made a moment ago is
    # attributed in it), and stored in the plan's own commit.
    attributed = events.start_refresh(offering, events.FOR_PLAN_PAGES, commit=False) if kind.attributed else None
    built = kind.build(preview, fingerprint, progress)
    now = utcnow()
    plan = Plan(
        offering=offering,
        kind=kind.name,
        state=PlanState.OPEN,
        created_by_id=actor.id if actor else None,
        created_by_name=actor.username if actor else "system",
        expires=now + kind.ttl(),
        params=built.params,
    )
    try:
        db.session.add(plan)
        db.session.flush()
        summary, removals = _store_items(plan, kind, built.items)  # the members are read as they are stored
        if attributed is not None:
            attributed()
        plan.fingerprint = fingerprint
        plan.summary = summary
        plan.brake = brake_for(plan, removals)
        audit.record(actor, offering, "plan.created", plan, {"plan": plan.uuid, "kind": plan.kind, "summary": summary})
        _supersede(actor, plan)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return plan


def _same_preview(params: dict[str, Any]) -> str:
    """The parameters of a preview, order-free: two previews of the same groups compare equal."""
    return json.dumps(
        {key: sorted(map(str, value)) if isinstance(value, list) else value for key, value in params.items()},
        sort_keys=True,
    )


def _supersede(actor: User | None, plan: Plan) -> None:
    """Discard the open plans this new one replaces (same offering, kind and parameters), with a note in
    words and an audit event; applying one of them afterwards is refused with that note. The offering's plan
    lock is taken first, so that two previews made at once end with one open plan."""
    locks.hold(plan.offering_id, "plans")
    wanted = _same_preview(plan.params)
    now = utcnow()
    for older in db.session.scalars(
        select(Plan).where(
            Plan.offering_id == plan.offering_id,
            Plan.kind == plan.kind,
            Plan.state == PlanState.OPEN,
            Plan.id != plan.id,
        )
    ):
        if _same_preview(older.params) != wanted:
            continue
        older.state = PlanState.DISCARDED
        older.finished = now
        older.result = {
            **older.result,
            "superseded_by": plan.uuid,
            "error": f"A newer preview of the same {kind_of(older).words.what} replaced this one at {clock(now)} "
            f"({plan.created_by_name} asked for it). Open the newer preview to apply.",
        }
        audit.record(
            actor, older.offering, "plan.superseded", older, {"plan": older.uuid, "by": plan.uuid, "kind": older.kind}
        )


def _summary_key(item: Item) -> str:
    if item.unchanged:
        return "unchanged"
    if item.default_action:
        return item.default_action
    return "optional" if item.actions else "skipped"


def _store_items(plan: Plan, kind: PlanKind, items: Iterable[Item]) -> tuple[dict[str, int], Counter[int]]:
    table = cast(Table, PlanItem.__table__)
    summary: Counter[str] = Counter()
    removals: Counter[int] = Counter()  # the most a manager could remove from each group
    batch: list[dict[str, Any]] = []
    for position, item in enumerate(items, start=1):
        summary[_summary_key(item)] += 1
        if kind.removes.intersection(item.actions):
            removals[item.group_id or 0] += 1
        batch.append(item.stored(plan.id, position))
        if len(batch) >= BATCH_SIZE:
            db.session.execute(insert(table), batch)
            batch = []
    if batch:
        db.session.execute(insert(table), batch)
    return dict(summary), removals


def removal_phrase(total: int) -> str:
    return f"remove {total} member{'' if total == 1 else 's'}"


def removal_brake(total: int) -> dict[str, str] | None:
    """The typed phrase removing `total` members from Keycloak at once needs, or None: more than
    PLAN_REMOVAL_BRAKE at once is one slip away from emptying a group (a plan and the Members tab alike)."""
    limit = int(current_app.config["PLAN_REMOVAL_BRAKE"])
    if total <= limit:
        return None
    return {
        "phrase": removal_phrase(total),
        "reason": f"This removes {total} members from Keycloak, more than {limit} at once.",
    }


def check_phrase(brake: dict[str, str] | None, typed: str) -> None:
    """A 400 on "confirm" unless `typed` is the brake's phrase (nothing to type without a brake)."""
    if brake is not None and typed.strip() != brake["phrase"]:
        raise ValidationFailed({"confirm": [f"Type '{brake['phrase']}' to confirm. {brake['reason']}"]})


def brake_for(plan: Plan, removals: Counter[int]) -> dict[str, str] | None:
    """The typed phrase a selection with these removals (per group id) needs, or None when it needs none:
    more than PLAN_REMOVAL_BRAKE at once, or more than 10 % of a group's members in Keycloak."""
    total = sum(removals.values())
    if not total:
        return None
    counted = removal_brake(total)
    if counted is not None:
        return counted
    for entry in plan.fingerprint.values():
        removed = removals.get(entry.get("group_id", -1), 0)
        if removed and removed * 10 > entry.get("members", 0):
            return {
                "phrase": removal_phrase(total),
                "reason": f"This removes {removed} of the {entry['members']} members of {entry['name']} in Keycloak, "
                "more than 10 %.",
            }
    return None


# -- read ---------------------------------------------------------------------------------------------------


def expire_open_plans() -> int:
    """Mark every open plan past its expiry as expired (the periodic sweep; reads call it too)."""
    result = db.session.execute(
        update(Plan).where(Plan.state == PlanState.OPEN, Plan.expires < utcnow()).values(state=PlanState.EXPIRED),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def remove_old_items() -> int:
    """The retention sweep: delete the items of plans that ended more than PLAN_RETENTION_DAYS ago (expired,
    discarded, stale, applied or not). The plan row stays, with its counts and outcome summary, and records
    when its items went; one audit event per offering says how many. Returns how many plans lost items."""
    days = int(current_app.config["PLAN_RETENTION_DAYS"])
    cutoff = utcnow() - timedelta(days=days)
    ended = func.coalesce(Plan.finished, Plan.expires)
    swept = 0
    while True:
        batch = db.session.execute(
            select(Plan.id, Plan.offering_id)
            .where(Plan.state.in_(ENDED), Plan.items_removed.is_(None), ended < cutoff)
            .order_by(Plan.id)
            .limit(SWEEP_BATCH)
        ).all()
        if not batch:
            return swept
        ids = [row.id for row in batch]
        per_offering = Counter(row.offering_id for row in batch)
        items = dict(
            db.session.execute(
                select(Plan.offering_id, func.count(PlanItem.id))
                .join(Plan, Plan.id == PlanItem.plan_id)
                .where(PlanItem.plan_id.in_(ids))
                .group_by(Plan.offering_id)
            ).all()
        )
        db.session.execute(delete(PlanItem).where(PlanItem.plan_id.in_(ids)))
        db.session.execute(
            update(Plan).where(Plan.id.in_(ids)).values(items_removed=utcnow()),
            execution_options={"synchronize_session": False},
        )
        for offering_id, count in per_offering.items():
            details = {"plans": count, "items": int(items.get(offering_id, 0)), "retention_days": days}
            audit.record(None, db.session.get(Offering, offering_id), "plan.items_removed", None, details)
        db.session.commit()
        swept += len(ids)


def items_removed_words(plan: Plan) -> str:
    """ "The items of this preview were removed on 2026-01-31, 30 days after it ended; …" or ""."""
    if plan.items_removed is None:
        return ""
    ended = plan.finished or plan.expires
    days = max(0, (plan.items_removed - ended).days)
    return (
        f"The items of this preview were removed on {plan.items_removed:%Y-%m-%d}, {days} day"
        f"{'' if days == 1 else 's'} after it ended (plans keep their items for a limited time); its counts "
        "and outcome are kept."
    )


def _delegable_kinds() -> list[str]:
    return [kind.name for kind in kinds() if kind.for_group_managers]


def visible_plans(user: User) -> Select[Plan]:
    """The plans of the offerings the user manages; and a group manager's own plans of the kinds open to them
    (plan_page checks that their groups are still theirs)."""
    managed = Plan.offering_id.in_(visible_offerings(user).with_only_columns(Offering.id))
    if user.is_staff:
        return select(Plan).where(managed)
    own = and_(
        Plan.created_by_id == user.id,
        Plan.kind.in_(_delegable_kinds()),
        Plan.offering_id.in_(reached_offering_ids(user)),
    )
    return select(Plan).where(or_(managed, own))


def _still_delegated(user: User, plan: Plan) -> bool:
    """A group manager's plan is theirs while every group it names is delegated to them."""
    if manages(user, plan.offering):
        return True
    wanted = set(plan.params.get("group_uuids") or [])
    delegated = set(
        db.session.scalars(
            select(OfferingKeycloakGroup.uuid).where(OfferingKeycloakGroup.id.in_(delegated_group_ids(user)))
        )
    )
    return bool(wanted) and wanted <= delegated


def plan_page(user: User, value: str) -> Plan:
    plan_uuid = parse_uuid(value)
    plan = plan_uuid and db.session.scalar(visible_plans(user).where(Plan.uuid == plan_uuid))
    if not plan or not _still_delegated(user, plan):
        raise ObjectNotFound()
    if plan.state == PlanState.OPEN and plan.expires < utcnow():
        plan.state = PlanState.EXPIRED
        db.session.commit()
    if _stuck(plan):
        stop_apply(plan, "The apply timed out")
    return plan


@dataclass(frozen=True)
class Attribution:
    """An item's `keycloak_change` (docs/PRODUCT.md §10) and the same in words; None/"" where it does not apply."""

    change: dict[str, Any] | None = None
    words: str = ""


def keycloak_changes(plan: Plan, items: list[PlanItem]) -> dict[int, Attribution]:
    """For a page of a plan's items, by item id: who changed in Keycloak what each item's difference is about,
    or why that is unknown (a constant number of statements per page)."""
    kind = kind_of(plan)
    questions = {item.id: keycloak_question(item) for item in items} if kind.attributed else {}
    answers = events.explain(plan.offering, [question for question in questions.values() if question is not None])
    found = {}
    for item_id, question in questions.items():
        if question is not None:
            change = answers.get(question)
            found[item_id] = Attribution(change, events.in_words(change, question.present))
    return found


def items_query(plan: Plan, action: str = "", q: str = "", show_unchanged: bool = False) -> Select[PlanItem]:
    """A plan's items in order; `action` filters by default action (or outcome after apply, or "unchanged").
    Gone when the retention sweep removed them (an empty list would read as "no changes")."""
    if plan.items_removed is not None:
        raise Gone(items_removed_words(plan))
    query = select(PlanItem).where(PlanItem.plan_id == plan.id)
    if action == "unchanged":
        query = query.where(PlanItem.unchanged.is_(True))
    elif action in ("skipped", "optional"):
        query = query.where(PlanItem.unchanged.is_(False), PlanItem.default_action.is_(None))
        query = query.where(PlanItem.note != "") if action == "skipped" else query
    elif action in (APPLIED, FAILED, NOT_SELECTED):
        query = query.where(PlanItem.outcome == action)
    elif action:
        query = query.where(PlanItem.default_action == action)
    elif not show_unchanged:
        query = query.where(PlanItem.unchanged.is_(False))
    needle = q.strip()
    if needle:
        query = query.where(
            PlanItem.username.icontains(needle, autoescape=True)
            | PlanItem.email.icontains(needle, autoescape=True)
            | PlanItem.first_name.icontains(needle, autoescape=True)
            | PlanItem.last_name.icontains(needle, autoescape=True)
            | PlanItem.group_name.icontains(needle, autoescape=True)
            | PlanItem.remote_path.icontains(needle, autoescape=True)
        )
    return query.order_by(PlanItem.position)


def items_total(plan: Plan, action: str = "", q: str = "", show_unchanged: bool = False) -> int:
    """How many items `items_query` with the same filters holds."""
    query = items_query(plan, action, q, show_unchanged)
    return int(db.session.scalar(query.with_only_columns(func.count()).order_by(None)) or 0)


def items_slice(
    plan: Plan, offset: int, limit: int, action: str = "", q: str = "", show_unchanged: bool = False
) -> list[PlanItem]:
    """One page of `items_query` with the same filters."""
    return list(db.session.scalars(items_query(plan, action, q, show_unchanged).limit(limit).offset(offset)))


def iter_items(plan: Plan) -> Iterator[PlanItem]:
    """Every item of the plan, in order, read as they are used."""
    yield from db.session.scalars(items_query(plan))


def preview_of(plan: Plan) -> Preview | Any:
    """The same preview again (for "Preview again"): the plan's parameters, looked up anew."""
    return kind_of(plan).again(plan)


# -- discard ------------------------------------------------------------------------------------------------


def discard_plan(actor: User, plan: Plan) -> None:
    if plan.state == PlanState.APPLYING:
        raise Conflict("This preview is being applied; it cannot be discarded now.")
    if plan.state in PLAN_FINISHED:
        raise Refused("This preview was applied; there is nothing to discard.")
    if plan.state != PlanState.DISCARDED:
        plan.state = PlanState.DISCARDED
        plan.finished = utcnow()
        audit.record(actor, plan.offering, "plan.discarded", plan, {"plan": plan.uuid, "kind": plan.kind})
        db.session.commit()


# -- apply --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    counts: dict[str, int]
    items: list[Item]


def read_items(*where: Any, limit: int | None = None) -> list[Item]:
    """The items these conditions select, in the plan's order."""
    query = select(*ITEM_COLUMNS).where(*where).order_by(PlanItem.position).limit(limit)
    return [Item.of(row) for row in db.session.execute(query)]


def recorded_result(plan: Plan) -> ApplyResult:
    items = read_items(PlanItem.plan_id == plan.id, PlanItem.outcome.is_not(None), limit=RESULT_ITEMS)
    counts = plan.result.get("counts") or {APPLIED: 0, FAILED: 0, NOT_SELECTED: 0}
    return ApplyResult(plan, counts, items)


def _choosable(plan: Plan) -> list[Item]:
    return read_items(PlanItem.plan_id == plan.id, PlanItem.unchanged.is_(False))


def resolve_selection(plan: Plan, rows: list[Item], selection: ApplySelection) -> list[Chosen]:
    """(item, action) for every chosen item; a 400 on "selection" for unknown keys or actions not offered."""
    by_key = {row.key: row for row in rows}
    problems: list[str] = []
    unknown = [key for key in selection.choices if key not in by_key]
    if unknown:
        offered_nothing = set(
            db.session.scalars(select(PlanItem.key).where(PlanItem.plan_id == plan.id, PlanItem.key.in_(unknown[:500])))
        )
        really_unknown = [key for key in unknown if key not in offered_nothing]
        if really_unknown:
            problems.append(f"No item with key {', '.join(repr(k) for k in really_unknown[:5])} in this preview.")
        for key in unknown:
            if key in offered_nothing and selection.choices[key] is not None:
                problems.append(f"Item {key!r} offers no action.")
                break
    chosen: list[Chosen] = []
    for row in rows:
        action = selection.choices.get(row.key, row.default_action)
        if action is None:
            continue
        if not isinstance(action, str) or action not in (row.actions or []):
            offered = ", ".join(row.actions or []) or "nothing"
            problems.append(f"Item {row.key!r} does not offer {action!r}; it offers: {offered}.")
            continue
        chosen.append((row, action))
    if problems:
        raise ValidationFailed({"selection": problems[:10]})
    return chosen


def selection_brake(plan: Plan, selection: ApplySelection) -> dict[str, str] | None:
    """The phrase this selection needs before it may be applied, or None."""
    return _brake_of(plan, resolve_selection(plan, _choosable(plan), selection))


def _brake_of(plan: Plan, chosen: list[Chosen]) -> dict[str, str] | None:
    removes = kind_of(plan).removes
    return brake_for(plan, Counter(item.group_id or 0 for item, action in chosen if action in removes))


def check_brake(plan: Plan, chosen: list[Chosen], confirm: str) -> None:
    check_phrase(_brake_of(plan, chosen), confirm)


def apply_plan(
    actor: User,
    plan: Plan,
    selection: ApplySelection,
    progress: ApplyProgress | None = None,
    run: str | None = None,
) -> ApplyResult:
    """Apply the chosen items, recording as it goes (journal.py). `progress(0, done)` is called after each
    recorded batch (a job's heartbeat; it may raise Interrupted to stop there); `run` names who applies."""
    if plan.state in PLAN_FINISHED:
        return recorded_result(plan)  # a second apply writes nothing
    rows, chosen = _checked(plan, selection)
    journal = Journal(plan, run or new_uuid(), len(chosen), progress)
    if not _claim(actor, plan, journal.run):
        return recorded_result(plan)  # applied meanwhile by a concurrent request (a double click)
    try:
        _execute(actor, plan, rows, chosen, journal)
    except Stale as stale:
        db.session.rollback()  # nothing was written: the checks come before the first write
        message = f"Keycloak changed since this preview: {'; '.join(stale.reasons)}. Preview again."
        _finish(plan, PlanState.STALE, {"error": message})
        raise Conflict(message) from stale
    except Lost:
        db.session.rollback()  # taken for dead and ended by someone else; what we did is recorded
        return recorded_result(plan)
    except Exception as exc:
        db.session.rollback()
        words = exc.message if isinstance(exc, ServiceError) else "an unexpected error"
        if not journal.started and isinstance(exc, ServiceError | Interrupted):
            _release(plan)  # before anything was written (Keycloak down at the check, a stop): still applicable
        elif not journal.started:
            _finish(plan, PlanState.FAILED, {"error": f"The apply stopped: {words}."})
        else:
            stopped = exc.stopped if isinstance(exc, Interrupted) else f"The apply stopped ({words})"
            stop_apply(plan, stopped, journal.run)
        raise
    finish(actor, plan, {"done": journal.done, "total": journal.total})
    return recorded_result(plan)


def changes_count(plan: Plan) -> int:
    """How many items of the plan change something (its summary without the unchanged)."""
    return sum(count for key, count in (plan.summary or {}).items() if key != "unchanged")


def check_apply(plan: Plan, selection: ApplySelection) -> int:
    """Refuse what apply_plan would refuse before it writes anything; the number of items it would apply."""
    if plan.state in PLAN_FINISHED:
        raise Refused(f"This preview was already applied ({plan.state}).")
    return len(_checked(plan, selection)[1])


def _checked(plan: Plan, selection: ApplySelection) -> tuple[list[Item], list[Chosen]]:
    _check_open(plan)
    rows = _choosable(plan)
    chosen = resolve_selection(plan, rows, selection)
    if not chosen:
        raise ValidationFailed({"selection": ["Nothing is selected: choose at least one change to apply."]})
    check_brake(plan, chosen, selection.confirm)
    return rows, chosen


def _check_open(plan: Plan) -> None:
    if plan.state == PlanState.OPEN and plan.expires < utcnow():
        plan.state = PlanState.EXPIRED
        db.session.commit()
    words = STATE_WORDS.get(plan.state)
    if words is not None:
        raise words.refusal(state_words(plan))


@dataclass(frozen=True)
class StateWords:
    """What a plan in this state says: why applying it is refused (the API's answer), and on its page."""

    refusal: type[ServiceError]
    words: str  # with {who}, {since} and {expires} of the plan
    page: str  # the plan page's words, when they differ
    recorded: bool  # the words recorded on the plan when it went so (stale, superseded) come first


STATE_WORDS = {
    PlanState.APPLYING: StateWords(
        Conflict,
        "An apply by {who} is running for this offering since {since}: wait for it.",
        "This preview is being applied.",
        False,
    ),
    PlanState.EXPIRED: StateWords(Refused, "This preview expired at {expires}. Preview again.", "", False),
    PlanState.STALE: StateWords(Conflict, "Keycloak changed since this preview. Preview again.", "", True),
    PlanState.DISCARDED: StateWords(
        Refused, "This preview was discarded. Preview again.", "This preview was discarded.", True
    ),
}


def state_words(plan: Plan, page: bool = False) -> str:
    """Why `plan` cannot be applied, in words ("" when it can): the refusal, or with `page` what its page says
    (where the words recorded on the plan always come first)."""
    recorded = str((plan.result or {}).get("error") or "")
    words = STATE_WORDS.get(plan.state)
    if recorded and (page or (words is not None and words.recorded)):
        return recorded
    if words is None:
        return ""
    started = clock(plan.apply_started) if plan.apply_started else "just now"
    return (words.page if page and words.page else words.words).format(
        who=plan.applied_by_name or "someone", since=started, expires=clock(plan.expires)
    )


def _claim(actor: User, plan: Plan, run: str) -> bool:
    """Take the offering's apply slot: the plan's `applying` state, set under the offering's lock so that two
    applies cannot both see the slot free, and committed at once (the lock is not held while applying).
    False when the plan was applied meanwhile."""
    _stop_stuck_applies(plan.offering_id)  # before taking the lock: settling them may ask Keycloak
    lock_offering(plan)
    db.session.refresh(plan)
    if plan.state in PLAN_FINISHED:
        db.session.rollback()
        return False
    if plan.state != PlanState.OPEN:
        db.session.rollback()
        _check_open(plan)
    other = db.session.scalar(
        select(Plan).where(Plan.offering_id == plan.offering_id, Plan.state == PlanState.APPLYING).limit(1)
    )
    if other is not None:
        words = state_words(other)
        db.session.rollback()
        raise Conflict(words)
    plan.state = PlanState.APPLYING
    plan.applied_by_name = actor.username
    plan.apply_started = utcnow()
    plan.result = {"run": run, "beat": time.time()}
    db.session.commit()
    return True


def _stuck(plan: Plan) -> bool:
    """An apply that recorded nothing for PLAN_APPLY_TIMEOUT_SECONDS: its process died (or hangs)."""
    timeout = float(current_app.config["PLAN_APPLY_TIMEOUT_SECONDS"])
    return plan.state == PlanState.APPLYING and beat_of(plan) + timeout < time.time()


def _stop_stuck_applies(offering_id: int) -> None:
    for stuck in list(
        db.session.scalars(select(Plan).where(Plan.offering_id == offering_id, Plan.state == PlanState.APPLYING))
    ):
        if _stuck(stuck):
            stop_apply(stuck, "The apply timed out")


def _release(plan: Plan) -> None:
    db.session.rollback()
    plan.state = PlanState.OPEN
    plan.apply_started = None
    plan.result = {}
    db.session.commit()


def _finish(plan: Plan, state: PlanState, result: dict[str, Any]) -> None:
    plan.state = state
    plan.finished = utcnow()
    plan.result = {**plan.result, **result}
    db.session.commit()


def _execute(actor: User, plan: Plan, items: list[Item], chosen: list[Chosen], journal: Journal) -> None:
    """Check the plan is still true (Stale, nothing written, when not), then carry out each chosen item and
    record it as it goes."""
    work = kind_of(plan).prepare(actor, plan, chosen, journal.report)
    journal.begin(actor, items, chosen, work.written)
    db.session.commit()
    journal.report()
    journal.send(work.calls, follow=work.follow)


# -- an apply that stopped in the middle --------------------------------------------------------------------


def stop_apply(plan: Plan, stopped: str, run: str | None = None) -> str:
    """End an apply that stopped between or in the middle of its batches (a killed worker, a dead request,
    a stop asked for, an error): the items it was sending are checked where they write, the plan ends failed
    or partly applied from its record, and the words say how far it got. `run`: only that apply's.
    Commits (callers have nothing pending); no transaction is open while Keycloak is asked."""
    db.session.commit()
    db.session.refresh(plan)
    if plan.state == PlanState.OPEN or (run is not None and (plan.result or {}).get("run") != run):
        return f"{stopped} before the apply started; nothing was changed."
    if plan.state != PlanState.APPLYING:
        return f"{stopped} after the apply ended; its outcome is on the plan's result page."
    journal = plan.result or {}
    if "progress" not in journal:  # stopped while Keycloak was read again, before its first write
        words = f"{stopped} before the apply's first change; nothing was changed. Preview again."
        finish(None, plan, {"done": 0, "total": 0}, words)
        return words
    progress = dict(journal.get("progress") or {})
    sending = [int(item_id) for item_id in journal.get("sending") or []]
    settled = _settle(plan, sending)
    done = int(progress.get("done", 0)) + sum(1 for outcome in settled.outcomes if outcome.ok)
    total = int(progress.get("total", done))
    words = stop_words(stopped, done, total, settled.unknown)
    finish(None, plan, {"done": done, "total": total}, words, settled.outcomes, settled.follow)
    return words


def _settle(plan: Plan, ids: list[int]) -> Settled:
    """The outcome of each item an apply was sending when it stopped, found where the item writes; no
    transaction is open while Keycloak is asked. Also how many could not be found out."""
    if not ids:
        return Settled([])
    return kind_of(plan).settle(plan, read_items(PlanItem.plan_id == plan.id, PlanItem.id.in_(ids)))


def plan_list(user: User, offering: Offering | None = None, state: str = "") -> Select[Plan]:
    """The plans the user sees, newest first; only `offering`'s and only in `state` when given."""
    query = visible_plans(user).order_by(Plan.created.desc(), Plan.id.desc())
    if offering is not None:
        query = query.where(Plan.offering_id == offering.id)
    if state:
        query = query.where(Plan.state == state)
    return query
