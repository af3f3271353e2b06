"""Members one page at a time, for groups of any size: a group's local members, its Keycloak members, and the
offering's Members tab. Filters and counts come from the database; Keycloak is read one slice per view.

Keycloak cannot count a group's members nor search within them. So the Keycloak side of a group page shows
an exact count only once the last page is in sight, "about N" (the size at the last pull) before that; and a
search there lists the realm's accounts that match, each marked with what is recorded here for this group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...keycloak import NotFound, RemoteUser
from ...models import (
    MembershipState,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    OfferingRole,
    Resource,
    User,
    utcnow,
)
from ..access import visible_memberships
from ..attribution import events
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.prefetch import started
from ..connection.subtree import keycloak_id, scoped_group
from ..errors import REMOTE_GROUP_NOT_FOUND, ValidationFailed

MAX_QUERY_LENGTH = 100
STATES = tuple(state.value for state in MembershipState)


@dataclass(frozen=True)
class PageRequest:
    """Which page of which rows: 1-based `page`, `per_page` rows, a free-text `query`."""

    page: int = 1
    per_page: int = 50
    query: str = ""

    def __post_init__(self) -> None:
        if len(self.query) > MAX_QUERY_LENGTH:
            raise ValidationFailed.field("q", f"Search for at most {MAX_QUERY_LENGTH} characters.")

    @property
    def offset(self) -> int:
        return (max(self.page, 1) - 1) * self.per_page


@dataclass(frozen=True)
class MemberFilter:
    """The Members tab's filters: a group (uuid), a state, and the page with its search."""

    paging: PageRequest
    group_uuid: str = ""
    state: str = ""
    ends_within_days: int = 0  # 0: no filter; otherwise access that has not ended and ends within this many days

    def __post_init__(self) -> None:
        if self.state and self.state not in STATES:
            raise ValidationFailed.field("state", f"Choose one of: {', '.join(STATES)}.")

    def narrow(self, query: Select[Any]) -> Select[Any]:
        """The group, search and "ends within" filters (not the state: the tab counts per state)."""
        model = OfferingKeycloakMembership
        if self.group_uuid:
            query = query.where(OfferingKeycloakGroup.uuid == self.group_uuid)
        if self.paging.query.strip():
            query = query.where(matches_text(self.paging.query.strip()))
        if self.ends_within_days:
            now = utcnow()
            query = query.where(model.expires_at > now, model.expires_at <= now + timedelta(days=self.ends_within_days))
        return query


@dataclass(frozen=True)
class LocalPage:
    rows: list[OfferingKeycloakMembership]
    matching: int  # rows the filters match, over all pages
    total: int  # rows before the search and state filters
    state_counts: dict[str, int] = field(default_factory=dict)  # of the rows matching the other filters


@dataclass(frozen=True)
class RemotePage:
    """One page of the Keycloak side of a group page."""

    users: list[RemoteUser]
    recorded: dict[str, str]  # username (lower case) -> its state here, for the users of this page
    has_next: bool
    exact_total: int | None  # known when this page reaches the end (or from the realm's user count)
    about_total: int | None  # the group's size at its last pull (group.remote_counted_at), when not known exactly
    searched_realm: bool = False  # a search: the users are realm accounts matching it, not the group's members
    changes: dict[str, str] = field(default_factory=dict)  # username -> who added them in Keycloak, in words


def matches_text(query: str) -> ColumnElement[bool]:
    """Username, email or a name contains `query`, ignoring case.

    SQLite's LIKE already ignores ASCII case, and without lower() on both sides a scan of 50,000 rows takes a
    third of the time; PostgreSQL gets ILIKE."""
    model = OfferingKeycloakMembership
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    columns = (model.username, model.email, model.first_name, model.last_name)
    return or_(
        *(column.like(pattern, escape="\\") if sqlite else column.ilike(pattern, escape="\\") for column in columns)
    )


def _page_of(query: Select[Any], paging: PageRequest) -> list[OfferingKeycloakMembership]:
    return list(db.session.scalars(query.limit(paging.per_page).offset(paging.offset)))


def _count(query: Select[Any]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


def local_members(group: OfferingKeycloakGroup, paging: PageRequest) -> LocalPage:
    """A group's members recorded here, by username; three queries whatever the group's size."""
    base = select(OfferingKeycloakMembership).where(OfferingKeycloakMembership.group_id == group.id)
    matching = base.where(matches_text(paging.query.strip())) if paging.query.strip() else base
    total = _count(base)
    rows = _page_of(matching.order_by(OfferingKeycloakMembership.username), paging)
    if matching is base:
        count = total
    elif paging.page == 1 and len(rows) < paging.per_page:
        count = len(rows)  # the whole result is on this page
    else:
        count = _count(matching)
    return LocalPage(rows, count, total)


def offering_members(offering: Offering, filters: MemberFilter) -> LocalPage:
    """The Members tab: the offering's memberships matching the filters, with counts per state."""
    model = OfferingKeycloakMembership
    base = select(model).join(OfferingKeycloakGroup).where(OfferingKeycloakGroup.offering_id == offering.id)
    total = _count(base)
    narrowed = filters.narrow(base)
    narrowed_rows = narrowed.order_by(None).subquery()
    counted = db.session.execute(select(narrowed_rows.c.state, func.count()).group_by(narrowed_rows.c.state))
    by_state = {state: 0 for state in STATES} | {str(state): int(n) for state, n in counted}
    chosen = narrowed.where(model.state == filters.state) if filters.state else narrowed
    matching = by_state.get(filters.state, 0) if filters.state else sum(by_state.values())
    rows = _page_of(chosen.options(joinedload(model.group)).order_by(model.username, model.id), filters.paging)
    return LocalPage(rows, matching, total, by_state)


def matching_uuids(offering: Offering, filters: MemberFilter) -> list[str]:
    """Every membership uuid the filters match (for "remove all N matching")."""
    model = OfferingKeycloakMembership
    query = (
        select(model.uuid)
        .join(OfferingKeycloakGroup)
        .where(OfferingKeycloakGroup.offering_id == offering.id)
        .order_by(model.username, model.id)
    )
    query = filters.narrow(query)
    if filters.state:
        query = query.where(model.state == filters.state)
    return list(db.session.scalars(query))


def memberships_of(offering: Offering, uuids: list[str]) -> list[OfferingKeycloakMembership]:
    """These memberships of the offering (others' uuids are ignored), with their groups, by username."""
    model = OfferingKeycloakMembership
    query = (
        select(model)
        .join(OfferingKeycloakGroup)
        .where(OfferingKeycloakGroup.offering_id == offering.id, model.uuid.in_(uuids))
        .options(joinedload(model.group))
        .order_by(model.username, OfferingKeycloakGroup.name)
    )
    return list(db.session.scalars(query))


def recorded_states(group: OfferingKeycloakGroup, usernames: Sequence[str]) -> dict[str, str]:
    """What is recorded here for these users in this group: one query for the whole page."""
    wanted = sorted({name.lower() for name in usernames})
    if not wanted:
        return {}
    rows = db.session.execute(
        select(OfferingKeycloakMembership.username, OfferingKeycloakMembership.state).where(
            OfferingKeycloakMembership.group_id == group.id,
            func.lower(OfferingKeycloakMembership.username).in_(wanted),
        )
    )
    return {str(username).lower(): str(state) for username, state in rows}


def who_added(offering: Offering, group: OfferingKeycloakGroup, users: list[RemoteUser]) -> dict[str, str]:
    """For the Keycloak members not active here: who added them in Keycloak, in words (docs/PRODUCT.md §10),
    after reading the offering's newest admin events (at most every GROUP_PAGE_SECONDS)."""
    if not users:
        return {}
    events.refresh(offering, unless_newer_than=events.GROUP_PAGE_SECONDS)
    questions = {user.username.lower(): events.Question(group.backend_id, user.id, present=True) for user in users}
    answers = events.explain(offering, questions.values())
    return {name: events.in_words(answers.get(question), True) for name, question in questions.items()}


def start_remote_members(
    offering: Offering, group: OfferingKeycloakGroup, paging: PageRequest
) -> Callable[[], RemotePage]:
    """Start reading one page of the group's members in Keycloak (the group check and one slice), or, for a
    search, the realm's accounts that match it (a count and one slice, side by side). The returned call
    waits for Keycloak and marks the page's users with what is recorded here (one query), so a caller can do
    its own database work while Keycloak answers."""
    if not group.backend_id:
        raise ValidationFailed.field("remote_group", "This group is not linked to a Keycloak group.")
    checked = keycloak_id("remote_group", group.backend_id)
    gateway = gateway_for_offering(offering)
    needle = paging.query.strip()
    action = "Searching Keycloak users failed" if needle else "Reading the Keycloak group's members failed"

    def read() -> list[RemoteUser]:
        remote_group = scoped_group(gateway, offering, checked)
        return gateway.group_members_page(remote_group.id, paging.offset, paging.per_page + 1)

    if needle:
        count = started(lambda: gateway.count_users(needle))
        found = started(lambda: gateway.search_users(needle, first=paging.offset, max_results=paging.per_page))
    else:
        count, found = (lambda: 0), started(read)

    def finish() -> RemotePage:
        try:
            users, total = call_keycloak(action, found), call_keycloak(action, count)
        except NotFound as exc:
            raise ValidationFailed.field("remote_group", REMOTE_GROUP_NOT_FOUND) from exc
        if needle:
            has_next = paging.offset + len(users) < total
            return RemotePage(users, recorded_states(group, [u.username for u in users]), has_next, total, None, True)
        has_next = len(users) > paging.per_page
        users = users[: paging.per_page]
        exact = None if has_next or (not users and paging.offset) else paging.offset + len(users)
        about = None if exact is not None else group.remote_member_count
        recorded = recorded_states(group, [u.username for u in users])
        changes = who_added(
            offering, group, [u for u in users if recorded.get(u.username.lower()) != MembershipState.ACTIVE]
        )
        return RemotePage(users, recorded, has_next, exact, about, changes=changes)

    return finish


def groups_with_members(offering: Offering) -> list[OfferingKeycloakGroup]:
    """The offering's groups that have members recorded here, by name: the Members tab's group filter."""
    has_members = select(OfferingKeycloakMembership.group_id).distinct().scalar_subquery()
    return list(
        db.session.scalars(
            select(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == offering.id, OfferingKeycloakGroup.id.in_(has_members))
            .order_by(OfferingKeycloakGroup.name)
        )
    )


@dataclass(frozen=True)
class MembershipFilter:
    """The API's membership list filters; empty values filter nothing. `offering` is already looked up,
    `states` are valid state names."""

    group_uuid: str | None = None
    offering: Offering | None = None
    role_uuid: str | None = None
    resource_uuid: str | None = None
    username: str = ""
    email: str = ""
    text: str = ""
    first_name: str = ""
    last_name: str = ""
    states: tuple[str, ...] = ()


def membership_list(user: User, filters: MembershipFilter) -> Select[OfferingKeycloakMembership]:
    """The memberships the user sees that match (unordered)."""
    model = OfferingKeycloakMembership
    query = visible_memberships(user)
    if filters.group_uuid:
        query = query.where(OfferingKeycloakGroup.uuid == filters.group_uuid)
    if filters.offering is not None:
        query = query.where(OfferingKeycloakGroup.offering_id == filters.offering.id)
    if filters.role_uuid:
        query = query.where(
            OfferingKeycloakGroup.role_id.in_(select(OfferingRole.id).where(OfferingRole.uuid == filters.role_uuid))
        )
    if filters.resource_uuid:
        query = query.where(
            OfferingKeycloakGroup.resource_id.in_(select(Resource.id).where(Resource.uuid == filters.resource_uuid))
        )
    if filters.username:
        query = query.where(model.username == filters.username.strip().lower())
    if filters.email:
        query = query.where(model.email == filters.email.strip().lower())
    if filters.text:
        query = query.where(matches_text(filters.text))
    if filters.first_name:
        query = query.where(model.first_name.icontains(filters.first_name, autoescape=True))
    if filters.last_name:
        query = query.where(model.last_name.icontains(filters.last_name, autoescape=True))
    if filters.states:
        query = query.where(model.state.in_(filters.states))
    return query
