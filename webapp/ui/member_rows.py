"""View model of a group page's two member panels: the rows of a page, the words of the headings, the pagers."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import MembershipState, Offering, OfferingKeycloakGroup
from ..services.memberships.pages import LocalPage, PageRequest, RemotePage
from ..services.plans.core import clock
from .paging import Pager, pager

LOCAL_PANEL = "local-members"
KEYCLOAK_PANEL = "keycloak-members"

RECORDED_WORDS: dict[str, str] = {
    MembershipState.ACTIVE: "recorded here",
    MembershipState.PENDING: "recorded here (pending)",
    MembershipState.REMOVED_REMOTELY: "recorded here as removed",
}


@dataclass(frozen=True)
class RemoteRow:
    username: str
    email: str
    name: str
    recorded: str  # a state here, "" when not recorded
    words: str
    change: str = ""  # who added them in Keycloak, in words (for those not active here)


@dataclass(frozen=True)
class KeycloakPanel:
    heading: str
    note: str
    rows: list[RemoteRow]
    pager: Pager
    empty: str


@dataclass(frozen=True)
class LocalPanel:
    heading: str
    page: LocalPage
    pager: Pager
    empty: str


def _matching(count: int, query: str) -> str:
    return f"{count:,} match{'es' if count == 1 else ''} “{query}”"


def local_panel(
    offering: Offering, group: OfferingKeycloakGroup, found: LocalPage, paging: PageRequest, keycloak_page: int
) -> LocalPanel:
    query = paging.query
    heading = f"Local members · {found.total:,}"
    if query:
        heading += f" · {_matching(found.matching, query)}"
    links = pager(
        "ui.group_detail",
        {"offering_uuid": offering.uuid, "group_uuid": group.uuid},
        {"q": query, "kpage": keycloak_page if keycloak_page > 1 else None},
        paging.page,
        total=found.matching,
        per_page_=paging.per_page,
        target=LOCAL_PANEL,
    )
    empty = f"No local member matches “{query}”." if query else "No local members."
    if not found.rows and paging.page > 1 and found.matching:
        empty = "No members on this page: it is past the last one."
    return LocalPanel(heading, found, links, empty)


def remote_size(found: RemotePage | None) -> str:
    """ "50,004", "about 50,004" or "" (not known): for headings and the preview button."""
    if found is None or found.searched_realm:
        return ""
    if found.exact_total is not None:
        return f"{found.exact_total:,}"
    return f"about {found.about_total:,}" if found.about_total else ""


def keycloak_panel(
    offering: Offering, group: OfferingKeycloakGroup, found: RemotePage, paging: PageRequest, local_page: int
) -> KeycloakPanel:
    query = paging.query
    if found.searched_realm:
        heading = f"Keycloak accounts · {_matching(found.exact_total or 0, query)}"
        note = (
            "Keycloak cannot search inside a group, so these are the realm's accounts that match, each with what "
            "is recorded here for this group (as of its last pull). Preview sync compares the whole group."
        )
    else:
        size = remote_size(found)
        heading = f"In Keycloak · {size}" if size else "In Keycloak"
        note = ""
        if size.startswith("about") and group.remote_counted_at:
            when = clock(group.remote_counted_at)
            note = f"Keycloak does not count a group's members: “about” is its size at the last pull, {when}."
        elif not size:
            note = (
                "Keycloak does not count a group's members and this group was never pulled: Pull members counts them."
            )
    rows = [
        RemoteRow(
            user.username,
            user.email,
            f"{user.first_name} {user.last_name}".strip(),
            found.recorded.get(user.username.lower(), ""),
            RECORDED_WORDS.get(found.recorded.get(user.username.lower(), ""), "not recorded here"),
            found.changes.get(user.username.lower(), ""),
        )
        for user in found.users
    ]
    links = pager(
        "ui.group_detail",
        {"offering_uuid": offering.uuid, "group_uuid": group.uuid},
        {"q": query, "page": local_page if local_page > 1 else None},
        paging.page,
        total=found.exact_total if found.searched_realm else None,
        per_page_=paging.per_page,
        has_next=found.has_next,
        page_arg="kpage",
        target=KEYCLOAK_PANEL,
    )
    if query:
        empty = f"No Keycloak account matches “{query}”."
    elif paging.page > 1:
        empty = "No members on this page: it is past the last one."
    else:
        empty = "No members in Keycloak."
    return KeycloakPanel(heading, note, rows, links, empty)
