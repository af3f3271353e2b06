"""View model for the side-by-side Groups view: one aligned row per local/remote pair."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..keycloak import RemoteGroup
from ..models import Offering, OfferingKeycloakGroup, utcnow
from ..services.attribution.events import group_in_words
from ..services.connection.subtree import offering_root_path
from ..services.groups.diff import SyncStatus, attributed_sync_status, local_groups
from ..services.groups.remote import RemoteTree
from ..services.groups.suggestions import Suggestion, link_suggestions
from .helpers import attempt


def ago(moment: datetime) -> str:
    """ "just now", "3 min ago", "2 h ago", "4 days ago" """
    seconds = (utcnow() - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'' if days == 1 else 's'} ago"


STATUS_LABELS = {
    "synced": "Synced",
    "local_only": "Local only",
    "remote_only": "Remote only",
    "broken": "Broken link",
}
PAGE_SIZE = 100


@dataclass(frozen=True)
class DiffRow:
    status: str
    local: OfferingKeycloakGroup | None
    remote: RemoteGroup | None
    suggestion: Suggestion | None = None
    change: str = ""  # who made the difference in Keycloak, in words (remote-only and broken rows)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def member_state(self) -> tuple[str, str]:
        """A linked row's member state, apart from its link state: (badge style, words), from the group's last
        members comparison (its last preview); ("", "") for rows that are not linked."""
        if self.status != "synced" or self.local is None:
            return "", ""
        count, checked = self.local.member_differences, self.local.differences_checked_at
        if count is None or checked is None:
            return "pending", "Members not compared yet: preview a sync"
        when = ago(checked)
        if count == 0:
            return "synced", f"Members match · checked {when}"
        return "remote_only", f"{count:,} member difference{'' if count == 1 else 's'} · checked {when}"

    @property
    def sort_key(self) -> tuple[str, str]:
        return ((self.remote.path if self.remote else "") or (self.local.name if self.local else ""), self.status)

    @property
    def depth(self) -> int:
        return max(0, self.remote.path.count("/") - 1) if self.remote else 0

    @property
    def row_id(self) -> str:
        return f"row-{self.local.uuid}" if self.local else f"row-r-{self.remote.id if self.remote else ''}"

    def matches(self, needle: str) -> bool:
        haystack = " ".join([self.local.name if self.local else "", self.remote.path if self.remote else ""]).lower()
        return needle in haystack


@dataclass
class DiffPage:
    rows: list[DiffRow]
    counts: dict[str, int]
    total: int
    page: int
    pages: int
    status_filter: str
    query: str
    root_path: str | None = None
    missing_root: str | None = None  # the offering group's expected path when it does not exist
    error: str = ""
    tree_roots: list[RemoteGroup] = field(default_factory=list)
    suggested: int = 0  # local-only groups with a link suggestion

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def build_diff_page(offering: Offering, status_filter: str = "", query: str = "", page: int = 1) -> DiffPage:
    error = ""
    root_path = None
    missing_root = None
    tree_roots: list[RemoteGroup] = []
    suggested: dict[int, Suggestion] = {}
    compared = attempt(lambda: attributed_sync_status(offering))
    status = compared.value
    if status is None:
        error = compared.error
        rows = [DiffRow("local_only", local, None) for local in local_groups(offering)]
    else:
        rows, suggested, all_remote = compared_rows(offering, status)
        root_path = status.root.path if status.root else None
        missing_root = None if status.root else offering_root_path(offering)
        parent = status.root.id if status.root else None
        tree_roots = sorted((g for g in all_remote if g.parent_id == parent), key=lambda g: g.name.lower())

    counts = {key: 0 for key in STATUS_LABELS}
    for row in rows:
        counts[row.status] += 1
    rows = matching(rows, status_filter, query)
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    return DiffPage(
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        counts=counts,
        total=len(rows),
        page=page,
        pages=pages,
        status_filter=status_filter if status_filter in STATUS_LABELS else "",
        query=query,
        root_path=root_path,
        missing_root=missing_root,
        error=error,
        tree_roots=tree_roots,
        suggested=len(suggested),
    )


def compared_rows(
    offering: Offering, status: SyncStatus
) -> tuple[list[DiffRow], dict[int, Suggestion], list[RemoteGroup]]:
    """One row per pair, local-only rows with their link suggestion; and the suggestions and remote groups."""
    rows = [DiffRow("synced", local, remote) for local, remote in status.synced]
    all_remote = [remote for _, remote in status.synced] + status.remote_only
    locals_ = [local for local, _ in status.synced] + status.local_only + status.broken
    found = link_suggestions(offering, RemoteTree(status.root, all_remote), locals_)
    suggested = {id(s.group): s for s in found}
    rows += [DiffRow("local_only", local, None, suggested.get(id(local))) for local in status.local_only]
    words = {group_id: group_in_words(change) for group_id, change in status.changes.items()}
    rows += [DiffRow("broken", local, None, change=words.get(local.backend_id, "")) for local in status.broken]
    rows += [DiffRow("remote_only", None, remote, change=words.get(remote.id, "")) for remote in status.remote_only]
    return rows, suggested, all_remote


def matching(rows: list[DiffRow], status_filter: str, query: str) -> list[DiffRow]:
    """The rows the filters keep (status and a substring of name or path), in path order."""
    if status_filter in STATUS_LABELS:
        rows = [row for row in rows if row.status == status_filter]
    needle = query.strip().lower()
    if needle:
        rows = [row for row in rows if row.matches(needle)]
    return sorted(rows, key=lambda row: row.sort_key)


DIFF_COLUMNS = [
    "status",
    "local_group",
    "local_uuid",
    "role",
    "resource",
    "scope_id",
    "backend_id",
    "keycloak_path",
    "keycloak_id",
    "suggested_link",
    "changed_in_keycloak",
]


def diff_export(offering: Offering, status_filter: str, query: str) -> list[list[object]]:
    """The comparison as the Groups view shows it with these filters, every page, one list per CSV row.
    Raises RemoteFailure when Keycloak cannot be read (the download then says so instead of a partial file)."""
    rows, _suggested, _remote = compared_rows(offering, attributed_sync_status(offering))
    return [_csv_row(row) for row in matching(rows, status_filter, query)]


def _csv_row(row: DiffRow) -> list[object]:
    local, remote = row.local, row.remote
    return [
        row.status_label,
        local.name if local else "",
        local.uuid if local else "",
        local.role.name if local else "",
        local.resource.name if local and local.resource else "",
        local.scope_id if local else "",
        local.backend_id if local else "",
        remote.path if remote else "",
        remote.id if remote else "",
        row.suggestion.remote.path if row.suggestion else "",
        row.change,
    ]
