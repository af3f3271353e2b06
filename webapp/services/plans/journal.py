"""What an apply has done, committed as it goes, so that nothing it does in Keycloak goes unrecorded.

An apply never keeps a write transaction open across a Keycloak call: on SQLite that would lock every
other request out (logins included) until the apply ends, and a killed worker would take the whole record
with it. It commits instead, each time in a short transaction of its own:

1. at its start, with its local writes: each chosen item's action with the outcome "not made" (so an apply
   that dies leaves no chosen item looking done), the unchosen items as not selected, and a
   `plan.apply_started` audit event;
2. before each batch of Keycloak calls, the ids of the items it is about to send (`sending` on the plan);
3. after the batch, each item's outcome, the local row that follows it, and how many are done.

So when the process dies, the plan says what was done, what was not, and which few items were in flight.
Whoever finds the apply dead asks about those (`settled` outcomes), then `finish` ends the plan from the
recorded outcomes, with words saying how far it got.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update

from ...extensions import db
from ...models import Plan, PlanItem, PlanState, User, utcnow
from .. import audit
from .kinds import Chosen, Follow, Item, Outcome

APPLIED, FAILED, NOT_SELECTED = "applied", "failed", "not_selected"
BATCH_ITEMS = 25  # Keycloak calls per recorded batch: a killed worker leaves at most this many to be checked
BATCH_SECONDS = 1.0  # and a batch is recorded at least this often while Keycloak answers slowly
WRITE_BATCH = 1000
NOT_MADE = "Not made: the apply stopped before this change."
SETTLED = "Made: checked after the apply stopped in the middle of it."
UNKNOWN = (
    "Unknown: this change was being sent to Keycloak when the apply stopped, and Keycloak could not be asked "
    "whether it was made. Preview again to see."
)

Progress = Callable[[int, int], None]  # (0, items done so far); may raise Interrupted to stop between batches


class Interrupted(Exception):
    """Raised by an apply's progress callback to stop it between batches (nothing is in flight then)."""

    stopped = "The apply was stopped"


class Lost(Exception):
    """The plan is no longer `applying`: someone took this apply for dead and finished it meanwhile."""


def _rowcount(result: Any) -> int:
    return int(getattr(cast(CursorResult[Any], result), "rowcount", 0) or 0)


def beat_of(plan: Plan) -> float:
    """When the plan's apply last recorded something (epoch seconds)."""
    beat = (plan.result or {}).get("beat")
    if isinstance(beat, int | float):
        return float(beat)
    return plan.apply_started.timestamp() if plan.apply_started else 0.0


@dataclass
class Journal:
    plan: Plan
    run: str  # who runs the apply (a job's uuid, or one request's token): a dead job settles only its own
    total: int
    progress: Progress | None = None
    done: int = 0
    started: bool = False  # the start (1.) is committed: from now on the plan ends from its record
    sending: list[int] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        progress = {"done": self.done, "total": self.total}
        return {"run": self.run, "progress": progress, "sending": self.sending, "beat": time.time()}

    def _touch(self) -> None:
        """The journal onto the plan row, as the first statement of each of its transactions (on SQLite that
        opens the transaction, so that the savepoints of local writes nest inside it). Lost when the plan is
        no longer being applied."""
        written = db.session.execute(
            update(Plan)
            .where(Plan.id == self.plan.id, Plan.state == PlanState.APPLYING)
            .values(result=self.state(), modified=utcnow()),
            execution_options={"synchronize_session": False},
        )
        if not _rowcount(written):
            raise Lost()

    def begin(self, actor: User, rows: Sequence[Item], chosen: list[Chosen], local: list[Outcome]) -> None:
        """Step 1, in the caller's open transaction; the caller commits it together with its local writes."""
        action_of = {row.id: action for row, action in chosen}
        known = {outcome.item_id: outcome for outcome in local}
        updates: list[dict[str, Any]] = []
        for row in rows:
            if not row.actions:
                continue  # skipped items offer nothing: no outcome
            action = action_of.get(row.id)
            if action is None:
                updates.append({"id": row.id, "chosen_action": None, "outcome": NOT_SELECTED, "message": ""})
            elif row.id in known:
                outcome = known[row.id]
                updates.append(_row(outcome) | {"chosen_action": action})
            else:
                updates.append({"id": row.id, "chosen_action": action, "outcome": FAILED, "message": NOT_MADE})
        self.done = len(known)
        self._touch()
        for start in range(0, len(updates), WRITE_BATCH):
            db.session.execute(update(PlanItem), updates[start : start + WRITE_BATCH])
        keycloak = len(chosen) - len(known)
        details = {"plan": self.plan.uuid, "kind": self.plan.kind, "selected": len(chosen), "to_send": keycloak}
        audit.record(actor, self.plan.offering, "plan.apply_started", self.plan, details)
        self.started = True

    def report(self) -> None:
        if self.progress is not None:
            self.progress(0, self.done)

    def send(self, work: Sequence[tuple[int, Callable[[], Outcome]]], follow: Follow | None = None) -> None:
        """Steps 2 and 3: the calls in batches, each batch announced before and recorded after."""
        position = 0
        while position < len(work):
            batch = work[position : position + BATCH_ITEMS]
            self.sending = [item_id for item_id, _call in batch]
            self._touch()
            db.session.commit()
            made: list[Outcome] = []
            began = time.monotonic()
            try:
                for _item_id, call in batch:
                    made.append(call())
                    if time.monotonic() - began >= BATCH_SECONDS:
                        break
            finally:
                self.record(made, follow)
            position += len(made)
            self.report()

    def record(self, made: list[Outcome], follow: Follow | None) -> None:
        """Step 3: what this batch did, and the local rows that follow it, in one short transaction."""
        recorded = {outcome.item_id for outcome in made}
        self.sending = [item_id for item_id in self.sending if item_id not in recorded]
        self.done += len(made)
        try:
            self._touch()
        except Lost:
            # Finished meanwhile by someone who took us for dead: what we did is still the truth, record it.
            db.session.rollback()
            db.session.execute(update(Plan).where(Plan.id == self.plan.id).values(modified=utcnow()))
            write_outcomes(follow(made) if follow else made)
            retally(self.plan)
            db.session.commit()
            raise
        write_outcomes(follow(made) if follow and made else made)
        db.session.commit()


def _row(outcome: Outcome) -> dict[str, Any]:
    return {
        "id": outcome.item_id,
        "outcome": APPLIED if outcome.ok else FAILED,
        "message": outcome.message[:2000],
    }


def write_outcomes(outcomes: list[Outcome]) -> None:
    rows = [_row(outcome) for outcome in outcomes]
    for start in range(0, len(rows), WRITE_BATCH):
        db.session.execute(update(PlanItem), rows[start : start + WRITE_BATCH])


@dataclass(frozen=True)
class Tally:
    counts: dict[str, int]
    by_action: dict[str, int]
    selected: int
    partial: bool
    total_items: int

    @property
    def state(self) -> PlanState:
        if self.counts[APPLIED] == 0:
            return PlanState.FAILED
        return PlanState.PARTIALLY_APPLIED if self.partial else PlanState.APPLIED


def tally(plan: Plan) -> Tally:
    """The plan's counts from its recorded outcomes (one grouped query)."""
    counts = {APPLIED: 0, FAILED: 0, NOT_SELECTED: 0}
    by_action: Counter[str] = Counter()
    deselected_defaults = 0
    grouped = db.session.execute(
        select(PlanItem.outcome, PlanItem.chosen_action, PlanItem.default_action, func.count())
        .where(PlanItem.plan_id == plan.id, PlanItem.outcome.is_not(None))
        .group_by(PlanItem.outcome, PlanItem.chosen_action, PlanItem.default_action)
    )
    for outcome, action, default, count in grouped:
        counts[str(outcome)] = counts.get(str(outcome), 0) + int(count)
        if outcome == APPLIED and action:
            by_action[str(action)] += int(count)
        if outcome == NOT_SELECTED and default is not None:
            deselected_defaults += int(count)
    total = db.session.scalar(
        select(func.count()).select_from(PlanItem).where(PlanItem.plan_id == plan.id, PlanItem.unchanged.is_(False))
    )
    partial = counts[FAILED] > 0 or deselected_defaults > 0
    return Tally(counts, dict(by_action), counts[APPLIED] + counts[FAILED], partial, int(total or 0))


def _result(found: Tally, progress: dict[str, int], error: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "counts": found.counts,
        "selected": found.selected,
        "partial": found.partial,
        "by_action": found.by_action,
        "progress": progress,
    }
    return result | ({"error": error} if error else {})


def retally(plan: Plan) -> None:
    """Counts of a finished plan recomputed after late outcomes, in the caller's transaction."""
    current = db.session.scalar(select(Plan.result).where(Plan.id == plan.id)) or {}
    found = tally(plan)
    result = _result(found, current.get("progress") or {}, str(current.get("error") or ""))
    db.session.execute(update(Plan).where(Plan.id == plan.id).values(result=result, state=found.state))


def finish(
    actor: User | None,
    plan: Plan,
    progress: dict[str, int],
    error: str = "",
    settled: list[Outcome] | None = None,
    follow: Follow | None = None,
) -> bool:
    """End an applying plan from its recorded outcomes (plus `settled` ones, written first), with one
    `plan.applied` audit event; commits. False when it was no longer applying (someone else ended it)."""
    opened = db.session.execute(
        update(Plan).where(Plan.id == plan.id, Plan.state == PlanState.APPLYING).values(modified=utcnow()),
        execution_options={"synchronize_session": False},
    )
    if not _rowcount(opened):
        db.session.rollback()
        return False
    if settled:
        write_outcomes(follow(settled) if follow else settled)
    found = tally(plan)
    db.session.execute(
        update(Plan)
        .where(Plan.id == plan.id)
        .values(state=found.state, finished=utcnow(), result=_result(found, progress, error)),
        execution_options={"synchronize_session": False},
    )
    details: dict[str, Any] = {
        "plan": plan.uuid,
        "kind": plan.kind,
        "selected": found.selected,
        "total_items": found.total_items,
        "counts": found.counts,
        "by_action": found.by_action,
        "partial": found.partial,
    }
    if error:
        details["stopped"] = error
    audit.record(actor, plan.offering, "plan.applied", plan, details)
    db.session.commit()
    db.session.expire(plan)
    return True


def stop_words(stopped: str, done: int, total: int, unknown: int = 0) -> str:
    """How far an apply got, for the job and the plan: "The worker stopped after 120 of 400 changes; …"."""
    if done >= total:
        return f"{stopped} after all {total:,} changes; they are recorded on the plan's result page."
    words = f"{stopped} after {done:,} of {total:,} changes; those are recorded on the plan's result page"
    if unknown:
        words += (
            f". {unknown:,} more were being sent to Keycloak when it stopped and could not be checked there "
            "(preview again to see what Keycloak has)"
        )
    return words + ("; the rest were not made." if done + unknown < total else ".")
