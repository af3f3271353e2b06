"""Access reviews (docs/PRODUCT.md §12): an offering's managers open a review of some of its groups; the members
in Keycloak of each group at that moment are its items; reviewers decide keep / remove / unsure per member;
closing the review makes a `review` plan of the "remove" decisions (plans/review.py), applied as every plan is.

Who may do what:
- open, close: staff and the offering's managers (require_manager);
- see: staff, the offering's managers, and the review's reviewers;
- decide: the review's reviewers and staff. A reviewer who manages the offering (or is staff) decides every
  item; a reviewer who only manages some of its groups (a PI) sees and decides the items of those groups.
Nobody is removed because nobody answered: undecided and "unsure" members stay, and the evidence says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, func, insert, or_, select, update

from ...extensions import db
from ...models import (
    AccessReview,
    AccessReviewer,
    AccessReviewItem,
    GroupManager,
    Offering,
    OfferingKeycloakGroup,
    OfferingManager,
    Plan,
    PlanState,
    ReviewDecision,
    ReviewState,
    User,
    utcnow,
)
from .. import audit
from ..access import delegated_group_ids, managed_offering_ids, manages, require_manager
from ..commands import PreviewReview
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..errors import Conflict, NotAllowed, ObjectNotFound, ValidationFailed
from ..uuids import parse_uuid

DECISIONS = tuple(decision.value for decision in ReviewDecision)
MAX_DUE_DAYS = 366
MAX_REPEAT_MONTHS = 36
MAX_NOTE = 2000
MAX_REVIEWERS = 100
MAX_DECISIONS = 5000  # per request: a page of 5,000 members is decided in one
INSERT_BATCH = 1000
CLOSED = "This review is closed: its decisions can no longer change."
NOT_A_REVIEWER = "Only the review's reviewers (and staff) may decide; you are not one of its reviewers."


@dataclass(frozen=True)
class Counts:
    total: int = 0
    keep: int = 0
    remove: int = 0
    unsure: int = 0
    undecided: int = 0

    def as_dict(self) -> dict[str, int]:
        return vars(self).copy()

    @property
    def decided(self) -> int:
        return self.total - self.undecided


@dataclass(frozen=True)
class Scope:
    """What one user may see and decide of a review: every item (`group_ids` None) or those of some groups."""

    group_ids: frozenset[int] | None
    may_decide: bool
    may_close: bool


# -- who ------------------------------------------------------------------------------------------------------


def visible_reviews(user: User) -> Select[AccessReview]:
    """The reviews the user may see, newest first."""
    query = select(AccessReview).order_by(AccessReview.created.desc(), AccessReview.id.desc())
    if user.is_staff:
        return query
    reviewing = select(AccessReviewer.review_id).where(AccessReviewer.username == user.username.lower())
    return query.where(or_(AccessReview.offering_id.in_(managed_offering_ids(user)), AccessReview.id.in_(reviewing)))


def review_for(user: User, value: object, offering: Offering | None = None) -> AccessReview:
    """The review of this uuid the user may see (of `offering`, when given); ObjectNotFound otherwise."""
    uuid = parse_uuid(value) if isinstance(value, str) else None
    query = visible_reviews(user).where(AccessReview.uuid == uuid)
    if offering is not None:
        query = query.where(AccessReview.offering_id == offering.id)
    review = db.session.scalar(query) if uuid else None
    if review is None:
        raise ObjectNotFound()
    return review


def is_reviewer(user: User, review: AccessReview) -> bool:
    return any(reviewer.username == user.username.lower() for reviewer in review.reviewers)


def scope_of(user: User, review: AccessReview) -> Scope:
    managing = manages(user, review.offering)
    reviewer = is_reviewer(user, review)
    if managing:
        return Scope(None, reviewer or user.is_staff, True)
    delegated = set(db.session.scalars(delegated_group_ids(user)))
    return Scope(frozenset(delegated), reviewer, False)


# -- open -----------------------------------------------------------------------------------------------------


def open_review(
    actor: User | None,
    offering: Offering,
    groups: list[OfferingKeycloakGroup] | None,
    due: date,
    reviewers: list[str] | None,
    repeat_months: int | None = None,
) -> AccessReview:
    """Open a review of these groups (None: every linked group of the offering): Keycloak's members of each are
    read first, then the review and its items are stored in one transaction. ValidationFailed / RemoteFailure,
    nothing stored. `actor` None: the periodic round opening a repeat."""
    if actor is not None:
        require_manager(actor, offering)
    groups = _reviewed_groups(offering, groups)
    today = utcnow().date()
    if due < today:
        raise ValidationFailed.field("due", "The due date is in the past.")
    if due > today + timedelta(days=MAX_DUE_DAYS):
        raise ValidationFailed.field("due", f"The due date is more than {MAX_DUE_DAYS} days away.")
    if repeat_months is not None and not 1 <= repeat_months <= MAX_REPEAT_MONTHS:
        raise ValidationFailed.field("repeat_months", f"Repeat every 1 to {MAX_REPEAT_MONTHS} months, or never.")
    chosen = _reviewers(offering, groups, reviewers)
    db.session.commit()  # no transaction of ours stays open while Keycloak is read
    members = _members_now(offering, groups)
    review = AccessReview(
        offering=offering,
        due=due,
        created_by_name=actor.username if actor else "system",
        group_uuids=[group.uuid for group in groups],
        repeat_months=repeat_months,
    )
    review.reviewers = [AccessReviewer(username=username) for username in chosen]
    db.session.add(review)
    db.session.flush()
    rows = ({"review_id": review.id, **row} for row in members)
    _insert_items(rows)
    audit.record(
        actor,
        offering,
        "review.opened",
        review,
        {
            "review": review.uuid,
            "groups": [group.name for group in groups],
            "due": due.isoformat(),
            "reviewers": chosen,
        },
    )
    db.session.commit()
    return review


def _reviewed_groups(offering: Offering, groups: list[OfferingKeycloakGroup] | None) -> list[OfferingKeycloakGroup]:
    if groups is None:
        groups = list(
            db.session.scalars(
                select(OfferingKeycloakGroup)
                .where(OfferingKeycloakGroup.offering_id == offering.id, OfferingKeycloakGroup.backend_id != "")
                .order_by(OfferingKeycloakGroup.name, OfferingKeycloakGroup.uuid)
            )
        )
        if not groups:
            raise ValidationFailed.field("group_uuids", "The offering has no linked groups to review.")
    unlinked = [group.name for group in groups if not group.backend_id]
    if unlinked:
        raise ValidationFailed.field(
            "group_uuids", f"Not linked to a Keycloak group, so there is nobody to review: {', '.join(unlinked)}."
        )
    if not groups:
        raise ValidationFailed.field("group_uuids", "Choose at least one group.")
    return groups


def default_reviewers(offering: Offering, groups: Iterable[OfferingKeycloakGroup]) -> list[str]:
    """The offering's managers (directly or through its organization) and the groups' managers."""
    managers = db.session.scalars(
        select(User.username)
        .join(OfferingManager, OfferingManager.user_id == User.id)
        .where(
            or_(
                OfferingManager.offering_id == offering.id,
                OfferingManager.organization_id == offering.organization_id,
            )
        )
    )
    delegated = db.session.scalars(
        select(GroupManager.username).where(GroupManager.group_id.in_([group.id for group in groups]))
    )
    return sorted({name.lower() for name in [*managers, *delegated]})


def _reviewers(offering: Offering, groups: list[OfferingKeycloakGroup], asked: list[str] | None) -> list[str]:
    """The reviewers asked for (each an account that manages the offering or one of the groups, or staff),
    else the default ones; ValidationFailed in words."""
    if asked is None:
        chosen = default_reviewers(offering, groups)
        if not chosen:
            raise ValidationFailed.field("reviewers", "The offering has no managers to review it: name the reviewers.")
        return chosen
    wanted = sorted({name.strip().lower() for name in asked if name.strip()})
    if not wanted:
        raise ValidationFailed.field("reviewers", "Name at least one reviewer.")
    if len(wanted) > MAX_REVIEWERS:
        raise ValidationFailed.field("reviewers", f"At most {MAX_REVIEWERS} reviewers.")
    accounts = {
        user.username.lower(): user for user in db.session.scalars(select(User).where(User.username.in_(wanted)))
    }
    unknown = [name for name in wanted if name not in accounts]
    if unknown:
        raise ValidationFailed.field("reviewers", f"No account has these usernames: {', '.join(unknown)}.")
    may = set(default_reviewers(offering, groups))
    outsiders = [name for name in wanted if name not in may and not accounts[name].is_staff]
    if outsiders:
        raise ValidationFailed.field(
            "reviewers",
            f"Reviewers manage the offering or one of the reviewed groups; these do not: {', '.join(outsiders)}.",
        )
    return wanted


def _members_now(offering: Offering, groups: list[OfferingKeycloakGroup]) -> list[dict[str, Any]]:
    """The members in Keycloak of each group, in the groups' and then Keycloak's order, as item rows."""
    gateway = gateway_for_offering(offering)

    def read() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for group in groups:
            seen: set[str] = set()
            for page in gateway.iter_group_members(group.backend_id, label=group.name):
                for user in page:
                    if user.id in seen:
                        continue
                    seen.add(user.id)
                    rows.append(
                        {
                            "position": len(rows),
                            "key": f"{group.uuid}:{user.id}",
                            "group_id": group.id,
                            "group_uuid": group.uuid,
                            "group_name": group.name,
                            "remote_user_id": user.id,
                            "username": user.username.lower(),
                            "email": user.email.lower(),
                            "first_name": user.first_name,
                            "last_name": user.last_name,
                            "note": "",
                            "decided_by": "",
                        }
                    )
        return rows

    return call_keycloak("Reading the members to review failed", read)


def _insert_items(rows: Iterator[dict[str, Any]]) -> None:
    table = cast(Table, AccessReviewItem.__table__)
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == INSERT_BATCH:
            db.session.execute(insert(table), batch)
            batch = []
    if batch:
        db.session.execute(insert(table), batch)


# -- read -----------------------------------------------------------------------------------------------------


def items_query(review: AccessReview, scope: Scope, decision: str = "", query: str = "") -> Select[AccessReviewItem]:
    """The review's items the scope reaches, in order; `decision` one of DECISIONS or "undecided"."""
    found = select(AccessReviewItem).where(AccessReviewItem.review_id == review.id)
    if scope.group_ids is not None:
        found = found.where(AccessReviewItem.group_id.in_(scope.group_ids))
    if decision == "undecided":
        found = found.where(AccessReviewItem.decision.is_(None))
    elif decision:
        if decision not in DECISIONS:
            raise ValidationFailed.field("decision", f"Choose one of {', '.join(DECISIONS)} or undecided.")
        found = found.where(AccessReviewItem.decision == ReviewDecision(decision))
    needle = query.strip().lower()
    if len(needle) > 100:
        raise ValidationFailed.field("q", "Search for at most 100 characters.")
    if needle:
        found = found.where(
            AccessReviewItem.username.icontains(needle, autoescape=True)
            | AccessReviewItem.email.icontains(needle, autoescape=True)
            | AccessReviewItem.first_name.icontains(needle, autoescape=True)
            | AccessReviewItem.last_name.icontains(needle, autoescape=True)
            | AccessReviewItem.group_name.icontains(needle, autoescape=True)
        )
    return found.order_by(AccessReviewItem.position)


def counts(review: AccessReview, scope: Scope | None = None) -> Counts:
    """How many items each decision has (of the scope's items, when given): one statement."""
    query = select(AccessReviewItem.decision, func.count()).where(AccessReviewItem.review_id == review.id)
    if scope is not None and scope.group_ids is not None:
        query = query.where(AccessReviewItem.group_id.in_(scope.group_ids))
    found = {
        decision.value if decision else "undecided": int(n)
        for decision, n in db.session.execute(query.group_by(AccessReviewItem.decision))
    }
    return _tallied(found)


def _tallied(found: Mapping[str, int]) -> Counts:
    """Counts from the items per decision value ("undecided" for none)."""
    return Counts(
        total=sum(found.values()),
        keep=found.get("keep", 0),
        remove=found.get("remove", 0),
        unsure=found.get("unsure", 0),
        undecided=found.get("undecided", 0),
    )


def counts_of(reviews: list[AccessReview]) -> dict[int, Counts]:
    """Counts of many reviews (a list page) in one statement."""
    if not reviews:
        return {}
    rows = db.session.execute(
        select(AccessReviewItem.review_id, AccessReviewItem.decision, func.count())
        .where(AccessReviewItem.review_id.in_([review.id for review in reviews]))
        .group_by(AccessReviewItem.review_id, AccessReviewItem.decision)
    )
    tallies: dict[int, dict[str, int]] = {review.id: {} for review in reviews}
    for review_id, decision, n in rows:
        tallies[review_id][decision.value if decision else "undecided"] = int(n)
    return {review_id: _tallied(found) for review_id, found in tallies.items()}


def is_overdue(review: AccessReview) -> bool:
    return review.state == ReviewState.OPEN and review.due < utcnow().date()


# -- decide ---------------------------------------------------------------------------------------------------


def decide(
    actor: User,
    review: AccessReview,
    decisions: Mapping[str, str],
    note: str | None = None,
    notes: Mapping[str, str] | None = None,
) -> Counts:
    """Record each decision (key -> keep / remove / unsure) with `note` (None: each item keeps its note), or each
    with its own note from `notes` (a review page's rows), by `actor`, now, in one transaction. NotAllowed (403) for
    a non-reviewer, Conflict (409) once closed, ValidationFailed for an unknown key or decision; nothing is
    written unless every decision is good."""
    scope = scope_of(actor, review)
    if not scope.may_decide:
        raise NotAllowed(NOT_A_REVIEWER)
    if not decisions:
        raise ValidationFailed.field("decisions", "Decide on at least one member.")
    if len(decisions) > MAX_DECISIONS:
        raise ValidationFailed.field("decisions", f"At most {MAX_DECISIONS} decisions at once.")
    wrong = sorted({value for value in decisions.values() if value not in DECISIONS})
    if wrong:
        raise ValidationFailed.field("decisions", f"Decide keep, remove or unsure, not {', '.join(map(str, wrong))}.")
    noted = {key: (notes.get(key, "") if notes is not None else note) for key in decisions}
    if any(text is not None and len(text) > MAX_NOTE for text in noted.values()):
        raise ValidationFailed.field("note", f"A note has at most {MAX_NOTE} characters.")
    locked = _locked(review)
    if locked.state != ReviewState.OPEN:
        db.session.rollback()
        raise Conflict(CLOSED)
    keys = list(decisions)
    reachable = select(AccessReviewItem.key).where(
        AccessReviewItem.review_id == review.id, AccessReviewItem.key.in_(keys)
    )
    if scope.group_ids is not None:
        reachable = reachable.where(AccessReviewItem.group_id.in_(scope.group_ids))
    known = set(db.session.scalars(reachable))
    unknown = [key for key in keys if key not in known]
    if unknown:
        db.session.rollback()
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise ValidationFailed.field("decisions", f"Not items of this review: {shown}.")
    now = utcnow()
    same: dict[tuple[str, str | None], list[str]] = {}  # one statement per decision and note
    for key, decided in decisions.items():
        text = noted[key]
        same.setdefault((decided, text.strip() if text is not None else None), []).append(key)
    for (value, text), chosen in same.items():
        for start in range(0, len(chosen), INSERT_BATCH):
            values: dict[str, Any] = {
                "decision": ReviewDecision(value),
                "decided_by": actor.username,
                "decided_at": now,
            }
            if text is not None:
                values["note"] = text
            db.session.execute(
                update(AccessReviewItem)
                .where(
                    AccessReviewItem.review_id == review.id,
                    AccessReviewItem.key.in_(chosen[start : start + INSERT_BATCH]),
                )
                .values(values)
            )
    tally = {value: sum(1 for decided in decisions.values() if decided == value) for value in DECISIONS}
    audit.record(actor, review.offering, "review.decided", review, {"review": review.uuid, "decisions": tally})
    db.session.commit()
    return counts(review, scope)


def _locked(review: AccessReview) -> AccessReview:
    """The review's row again, locked until the transaction ends (PostgreSQL; SQLite writes one at a time):
    a decision and a close never pass each other."""
    found = db.session.scalar(
        select(AccessReview)
        .where(AccessReview.id == review.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise ObjectNotFound()
    return found


# -- close ----------------------------------------------------------------------------------------------------


def close(actor: User, review: AccessReview) -> Plan | None:
    """Close the review: a `review` plan of its "remove" decisions (None when nobody is to be removed), computed
    from Keycloak now. RemoteFailure leaves the review open; Conflict when it is closed already."""
    require_manager(actor, review.offering)
    if review.state != ReviewState.OPEN:
        raise Conflict("This review is closed already.")
    tally = counts(review)
    plan = None
    if tally.remove:
        from ..plans import core as plans  # the plans package registers the review kind, which reads reviews

        groups = list(
            db.session.scalars(
                select(OfferingKeycloakGroup)
                .where(
                    OfferingKeycloakGroup.offering_id == review.offering_id,
                    OfferingKeycloakGroup.uuid.in_(review.group_uuids),
                    OfferingKeycloakGroup.backend_id != "",
                )
                .order_by(OfferingKeycloakGroup.name, OfferingKeycloakGroup.uuid)
            )
        )
        if not groups:
            raise ValidationFailed(["The review's groups no longer exist or are no longer linked."])
        plan = plans.create_plan(actor, PreviewReview(review.offering, review, groups))
    locked = _locked(review)
    if locked.state != ReviewState.OPEN:
        db.session.rollback()
        raise Conflict("This review is closed already.")
    locked.state = ReviewState.CLOSED
    locked.closed_at = utcnow()
    locked.closed_by_name = actor.username
    locked.plan_id = plan.id if plan else None
    audit.record(
        actor,
        review.offering,
        "review.closed",
        review,
        {"review": review.uuid, "counts": tally.as_dict(), "plan": plan.uuid if plan else None},
    )
    db.session.commit()
    return plan


# -- evidence -------------------------------------------------------------------------------------------------


def outcome_of(item: AccessReviewItem) -> str | None:
    """A removal decision's outcome: what the review plan's apply recorded, or not_selected when the plan
    finished without it (the manager left it out)."""
    if item.outcome or item.decision != ReviewDecision.REMOVE:
        return item.outcome
    review = item.review
    plan = review.plan if review is not None else None
    if plan is not None and plan.state in (PlanState.APPLIED, PlanState.PARTIALLY_APPLIED, PlanState.FAILED):
        return "not_selected"
    return None


def record_outcomes(review_uuid: str, outcomes: Iterable[tuple[str, bool, str]]) -> None:
    """Keep each removal's outcome with the review: (item key, applied, message), in the caller's transaction
    (the review plan's apply, batch by batch)."""
    review_id = db.session.scalar(select(AccessReview.id).where(AccessReview.uuid == review_uuid))
    if review_id is None:
        return
    applied: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    for key, ok, message in outcomes:
        (applied if ok else failed).append((key, message))
    keys = [key for key, _ in applied]
    for start in range(0, len(keys), INSERT_BATCH):
        db.session.execute(
            update(AccessReviewItem)
            .where(
                AccessReviewItem.review_id == review_id, AccessReviewItem.key.in_(keys[start : start + INSERT_BATCH])
            )
            .values(outcome="applied", outcome_message="")
        )
    for key, message in failed:
        db.session.execute(
            update(AccessReviewItem)
            .where(AccessReviewItem.review_id == review_id, AccessReviewItem.key == key)
            .values(outcome="failed", outcome_message=message)
        )


def review_list(user: User, offering: Offering | None, state: str = "") -> Select[AccessReview]:
    """The reviews the user may see, of one offering and in one state when given, newest first."""
    query = visible_reviews(user)
    if offering is not None:
        query = query.where(AccessReview.offering_id == offering.id)
    if state:
        query = query.where(AccessReview.state == ReviewState(state))
    return query


@dataclass(frozen=True)
class ItemsPage:
    items: list[AccessReviewItem]
    total: int  # the items the filters keep
    counts: Counts  # of every item the scope reaches


def items_page(review: AccessReview, scope: Scope, decision: str, query: str, page: int, per_page: int) -> ItemsPage:
    """One page of the items the scope reaches, with the filters: three statements at any size."""
    found = items_query(review, scope, decision, query)
    total = int(db.session.scalar(select(func.count()).select_from(found.order_by(None).subquery())) or 0)
    rows = list(db.session.scalars(found.offset((max(page, 1) - 1) * per_page).limit(per_page)))
    return ItemsPage(rows, total, counts(review, scope))


def page_keys(review: AccessReview, scope: Scope, keys: Iterable[str]) -> list[str]:
    """Of these keys, the undecided ones the scope reaches ("keep all on this page" leaves decided rows as
    they are)."""
    wanted = list(dict.fromkeys(keys))[:MAX_DECISIONS]
    query = select(AccessReviewItem.key).where(
        AccessReviewItem.review_id == review.id, AccessReviewItem.key.in_(wanted), AccessReviewItem.decision.is_(None)
    )
    if scope.group_ids is not None:
        query = query.where(AccessReviewItem.group_id.in_(scope.group_ids))
    return list(db.session.scalars(query))


def waiting_for(user: User) -> list[AccessReview]:
    """Open reviews the user reviews, soonest due first (/overview and the Reviews list say so)."""
    return list(
        db.session.scalars(
            select(AccessReview)
            .join(AccessReviewer)
            .where(AccessReviewer.username == user.username.lower(), AccessReview.state == ReviewState.OPEN)
            .order_by(AccessReview.due, AccessReview.id)
            .limit(50)
        )
    )


def open_reviews_of(offering_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per offering: (open reviews, of which overdue), for /overview."""
    if not offering_ids:
        return {}
    today = utcnow().date()
    rows = db.session.execute(
        select(AccessReview.offering_id, AccessReview.due).where(
            AccessReview.offering_id.in_(offering_ids), AccessReview.state == ReviewState.OPEN
        )
    )
    found: dict[int, tuple[int, int]] = {}
    for offering_id, due_on in rows:
        open_count, overdue = found.get(offering_id, (0, 0))
        found[offering_id] = (open_count + 1, overdue + (1 if due_on < today else 0))
    return found


def linked_groups(offering: Offering) -> list[OfferingKeycloakGroup]:
    """The groups a new review offers (every linked group of the offering), by name."""
    return list(
        db.session.scalars(
            select(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == offering.id, OfferingKeycloakGroup.backend_id != "")
            .order_by(OfferingKeycloakGroup.name, OfferingKeycloakGroup.uuid)
        )
    )


def recent_reviews(user: User, offering: Offering | None, limit: int = 100) -> list[AccessReview]:
    """The newest reviews the user may see (of one offering, when given)."""
    return list(db.session.scalars(review_list(user, offering).limit(limit)))


def status_of(review: AccessReview) -> tuple[str, str]:
    """The badge of a review: its style (the diff's badge classes) and its word."""
    if review.state == ReviewState.CLOSED:
        return "synced", "Closed"
    return ("broken", "Overdue") if is_overdue(review) else ("remote_only", "Open")
