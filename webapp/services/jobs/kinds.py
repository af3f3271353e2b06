"""Job kinds, registered: what a kind of job needs, what its progress counts, what it does and its words.

A kind is one `JobKindSpec`, defined beside the service that does its work (memberships/jobs.py,
plans/jobs.py, groups/drift.py) and registered once (core.py registers the app's own, in the order the pages
and the API list them). Asking (`jobs.ask_job`), the worker, the pages and the API read the registration; none
of them names a kind.

This module knows the models and nothing of the services, so every service can define a kind without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ...extensions import db
from ...models import Job, Offering, OfferingKeycloakGroup, Plan, User
from ..errors import ServiceError, ValidationFailed

Report = Callable[[int, int], None]
"""The work's progress callback: `report(pages, done)` after each page; it raises to stop the work there."""

Work = Callable[[Job, Report], dict[str, Any]]
"""A kind's work, run by the worker inside the job's app context: the job's result (stored on the job)."""

Need = Literal["group", "plan", "offering"]

# What asking for a kind without what it needs is told, field by field (checked in this order).
NEEDS: dict[Need, tuple[str, str]] = {
    "group": ("group_uuid", "This kind of job needs a group."),
    "plan": ("plan_uuid", "This kind of job needs a plan."),
    "offering": ("offering_uuid", "This kind of job needs an offering."),
}
KIND_LENGTH = 20  # the job table's kind column


@dataclass(frozen=True)
class Target:
    """What a job is asked to work on: its offering, its group (or, for a preview of several, its groups), its
    plan. The offering is the group's or the plan's when not given."""

    offering: Offering | None = None
    group: OfferingKeycloakGroup | None = None
    plan: Plan | None = None
    groups: tuple[OfferingKeycloakGroup, ...] = ()


@dataclass(frozen=True)
class JobKindSpec:
    name: str  # stored as the job's kind; the API's `kind`
    label: str  # the job's title on its pages: "Pull members: users"
    words: str  # the job in a sentence: "A pull of users is running"
    work: Work
    unit: str = "members"  # what its progress counts
    needs: tuple[Need, ...] = ()  # what it cannot be asked without (its offering, group or plan)
    params: frozenset[str] = frozenset()  # the keys of `job.params` it takes
    expected: Callable[[Target], int | None] | None = None  # what its progress counts up to, known beforehand
    estimated_total: bool = True  # that count is an estimate: pages say "about"
    periodic: bool = False  # the periodic round asks for it, for every offering with Keycloak enabled
    start_label: str = ""  # offered as a button on the offering's Jobs page ("" : not started by hand there)
    cancel_refused_running: str = ""  # why a running job of this kind cannot be cancelled ("": it can)
    died: Callable[[Job], str | None] | None = None  # what a job whose worker died leaves, in words
    outcome: Callable[[dict[str, Any]], str] | None = None  # its result in words for the pages
    leads_to: Literal["", "preview", "result"] = ""  # the page its plan's outcome is shown on
    # A group manager may ask for it: it works on the groups or the plan it is given (checked visible), and
    # nothing else of the offering (docs/PRODUCT.md §13). Other kinds are the offering managers' (403).
    for_group_managers: bool = False

    def check(self, target: Target) -> None:
        """Raise ValidationFailed, keyed by the API's field, when the target lacks what this kind needs."""
        for need in (need for need in NEEDS if need in self.needs):
            if getattr(target, need) is None:
                name, message = NEEDS[need]
                raise ValidationFailed.field(name, message)

    def check_params(self, params: dict[str, Any]) -> None:
        unknown = sorted(set(params) - self.params)
        if unknown:
            raise ValueError(f"a {self.name} job takes no parameter {', '.join(unknown)}")

    def work_target(self, target: Target) -> str:
        """The part of the work key that says what it works on: its group or groups, its plan (a kind that
        needs only its offering, or nothing, is the same work for the same offering)."""
        parts = []
        if "group" in self.needs:
            groups = target.groups or ((target.group,) if target.group else ())
            parts.append(",".join(sorted({group.uuid for group in groups})))
        if "plan" in self.needs:
            parts.append(target.plan.uuid if target.plan else "")
        return "|".join(parts)


class KeycloakFailed(ServiceError):
    """A periodic job's Keycloak failed; the job fails with these words and its round skips the offering."""


_KINDS: dict[str, JobKindSpec] = {}


def register(spec: JobKindSpec) -> JobKindSpec:
    if spec.name in _KINDS:
        raise ValueError(f"a job kind named {spec.name!r} is already registered")
    if not 0 < len(spec.name) <= KIND_LENGTH:
        raise ValueError(f"a job kind's name has 1 to {KIND_LENGTH} characters: {spec.name!r}")
    unknown = set(spec.needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"a job kind needs only {', '.join(NEEDS)}, not {', '.join(sorted(unknown))}")
    _KINDS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def kinds() -> list[JobKindSpec]:
    """Every registered kind, in the order registered (the order the pages and the API list them)."""
    return list(_KINDS.values())


def names() -> tuple[str, ...]:
    return tuple(_KINDS)


def find(name: str) -> JobKindSpec | None:
    return _KINDS.get(name)


def kind_of(name: str) -> JobKindSpec:
    """The registration of a kind asked for; an unknown one is refused as the API refuses a bad choice."""
    spec = _KINDS.get(name)
    if spec is None:
        raise ValidationFailed.field("kind", f'"{name}" is not a valid choice.')
    return spec


# -- what the kinds' work shares ------------------------------------------------------------------------------


def actor_of(job: Job) -> User | None:
    return db.session.get(User, job.created_by_id) if job.created_by_id else None


def required_actor(job: Job) -> User:
    actor = actor_of(job)
    if actor is None:
        raise ValidationFailed(["The user who asked for this job no longer exists."])
    return actor
