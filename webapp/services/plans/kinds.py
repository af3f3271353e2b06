"""Plan kinds (docs/PLAN-APPLY.md §1): what makes one kind of plan differ from another, and their registry.

core.py does what is the same for every kind: it stores the items, resolves the selection, holds the brake,
takes the offering's apply slot, keeps the journal and ends the plan. A kind says the rest: how its items are
computed from a preview, what the plan is computed again from, what makes it stale and how each chosen item
is carried out, its words on the pages, and how long its plan stays open. A kind registers itself with
`register()` when its module is imported; core.py imports the modules of the built-in kinds (members.py, groups.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import update

from ...extensions import db
from ...models import Offering, Plan, PlanItem, User


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a plan: built so by its kind, stored as a PlanItem row, read back so by the apply
    (`id` and the fields after it are known once stored)."""

    key: str  # unique in its plan: what a selection names
    actions: tuple[str, ...] = ()  # empty: unchanged, or nothing is possible
    default_action: str | None = None  # None: applied only when chosen
    destructive: bool = False
    where: str = "local"  # where the default (or only) action writes: "local" or "keycloak"
    unchanged: bool = False
    group_id: int | None = None
    group_uuid: str = ""
    group_name: str = ""
    membership_id: int | None = None
    username: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    remote_user_id: str = ""
    remote_group_id: str = ""
    remote_path: str = ""
    scope_id: str = ""
    changes: Mapping[str, list[str]] = field(default_factory=dict)
    note: str = ""
    id: int = 0
    chosen_action: str | None = None
    outcome: str | None = None
    message: str = ""

    @classmethod
    def of(cls, row: Any) -> Item:
        """The item of a row of the ITEM_COLUMNS (they are in NAMES' order; an apply reads thousands)."""
        values = dict(zip(NAMES, row, strict=True))
        values["actions"] = tuple(values["actions"] or ())
        values["changes"] = values["changes"] or {}
        return cls(**values)

    def stored(self, plan_id: int, position: int) -> dict[str, Any]:
        """The values of its new PlanItem row."""
        values = {name: getattr(self, name) for name in NAMES if name != "id"}
        values |= {"actions": list(self.actions), "changes": dict(self.changes)}
        return values | {"plan_id": plan_id, "position": position}


NAMES = tuple(item_field.name for item_field in fields(Item))
ITEM_COLUMNS = tuple(getattr(PlanItem, name) for name in NAMES)


@dataclass
class Outcome:
    item_id: int
    action: str
    ok: bool
    message: str = ""


Chosen = tuple[Item, str]  # an item and the action chosen for it
Follow = Callable[[list[Outcome]], list[Outcome]]  # what the register does after a batch of calls
Report = Callable[[], None]  # a job's heartbeat while the apply reads Keycloak again
Progress = Callable[[int, int], None]  # (pages, members) a preview has read so far; may raise to stop it


class Stale(Exception):
    """The plan no longer describes Keycloak or the register: nothing is written, the plan goes stale."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Built:
    """A new plan's parameters (what it is computed again from) and its items, in the order they are shown."""

    params: dict[str, Any]
    items: Iterable[Item]


@dataclass(frozen=True)
class Work:
    """What an apply does once the plan is found true: the outcomes of what the kind has already written in
    the open transaction (committed with the start of the apply), then one call per remaining item, each
    returning that item's outcome and never raising; `follow` lets the register follow each batch."""

    written: list[Outcome]
    calls: Sequence[tuple[int, Callable[[], Outcome]]]
    follow: Follow | None = None


@dataclass(frozen=True)
class Settled:
    """Outcomes of the items an apply was sending when it stopped, found where they write; `unknown` says how
    many could not be found out."""

    outcomes: list[Outcome]
    unknown: int = 0
    follow: Follow | None = None


@dataclass(frozen=True)
class ActionWords:
    symbol: str  # always shown with the word beside it
    word: str  # "Add here"
    phrase: str  # "add {user} to {group} here": the control's label is "Include: <phrase>"
    summary: str = ""  # "+{n} to add": in the plan's summary line, for an action that is a default
    chip: str = ""  # "Add": the filter chip of the items with this default


@dataclass(frozen=True)
class KindWords:
    heading: str  # "pull members into {n} group{s}": the plan page's "Preview: …"
    what: str  # "groups": "a newer preview of the same groups replaced this one"
    subject: str  # the column naming what an item is about: "User" or "Group"
    actions: Mapping[str, ActionWords]  # every action of the kind, in the order the pages list them


class PlanKind(Protocol):
    @property
    def name(self) -> str:
        """The plans' `kind`, in the database and in the API."""
        ...

    @property
    def preview(self) -> type:
        """The type of preview (services/commands.py) its plans are computed from."""
        ...

    @property
    def words(self) -> KindWords: ...

    @property
    def for_group_managers(self) -> bool:
        """Whether a group manager may preview and apply it: it touches only the members of the groups its
        preview names (checked visible), never the offering's register."""
        ...

    @property
    def attributed(self) -> bool:
        """Whether its items are membership differences that Keycloak's admin events may explain (its items
        carry `keycloak_change`; the offering's events are read right before it is computed)."""
        ...

    @property
    def removes(self) -> frozenset[str]:
        """Its actions that take someone out of Keycloak: the removal brake counts them."""
        ...

    def ttl(self) -> timedelta:
        """How long a new plan stays open."""
        ...

    def build(self, preview: Any, fingerprint: dict[str, Any], progress: Progress | None) -> Built:
        """Check the preview (ServiceError when it cannot be made) and compute the items; `fingerprint` is
        filled with what they were computed from as they are read (it may fill while the items are read)."""
        ...

    def again(self, plan: Plan) -> Any:
        """The preview of `plan` again: its parameters, looked up anew (ServiceError when they are gone)."""
        ...

    def prepare(self, actor: User, plan: Plan, chosen: list[Chosen], report: Report) -> Work:
        """Raise Stale, having written nothing, when the plan no longer describes what it was computed from;
        otherwise write what is written here in the open transaction and say what is left to do. No
        transaction of ours may stay open while Keycloak is read (commit first)."""
        ...

    def settle(self, plan: Plan, items: list[Item]) -> Settled:
        """Whether each item an apply was sending when it stopped was made (asked where it writes)."""
        ...


def configured_ttl() -> timedelta:
    return timedelta(seconds=int(current_app.config["PLAN_TTL_SECONDS"]))


def lock_offering(plan: Plan) -> None:
    """A no-op UPDATE of the offering row: it locks that row (PostgreSQL) or the database (SQLite) until commit,
    and on SQLite it opens the transaction, so that later savepoints nest inside it instead of committing.
    Held only for short, database-only work: never across a Keycloak call."""
    db.session.execute(update(Offering).where(Offering.id == plan.offering_id).values(modified=Offering.modified))


# -- the registry -------------------------------------------------------------------------------------------

_BY_NAME: dict[str, PlanKind] = {}
_BY_PREVIEW: dict[type, PlanKind] = {}


def register(kind: PlanKind) -> PlanKind:
    known = _BY_NAME.get(kind.name) or _BY_PREVIEW.get(kind.preview)
    if known is not None and known is not kind:
        raise ValueError(f"A plan kind {known.name!r} is registered already for this name or preview.")
    _BY_NAME[kind.name] = kind
    _BY_PREVIEW[kind.preview] = kind
    return kind


def unregister(kind: PlanKind) -> None:
    """For kinds that come and go (a test's)."""
    _BY_NAME.pop(kind.name, None)
    _BY_PREVIEW.pop(kind.preview, None)


def kind_for(name: str) -> PlanKind:
    """The kind of plans named `name` (a stored plan's kind); KeyError when no such kind is registered."""
    return _BY_NAME[name]


def kind_of(plan: Plan) -> PlanKind:
    return _BY_NAME[plan.kind]


def kind_for_preview(preview: object) -> PlanKind:
    return _BY_PREVIEW[type(preview)]


def kinds() -> Sequence[PlanKind]:
    return list(_BY_NAME.values())
