"""Local register vs Keycloak: matched by Keycloak id, never by name (docs/PRODUCT.md §3 sync_status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...keycloak import RemoteGroup
from ...models import Offering, OfferingKeycloakGroup
from ..attribution import events
from .remote import offering_tree


@dataclass
class SyncStatus:
    local_only: list[OfferingKeycloakGroup] = field(default_factory=list)
    broken: list[OfferingKeycloakGroup] = field(default_factory=list)
    remote_only: list[RemoteGroup] = field(default_factory=list)
    synced: list[tuple[OfferingKeycloakGroup, RemoteGroup]] = field(default_factory=list)
    root: RemoteGroup | None = None
    # Who made each group difference in Keycloak (docs/PRODUCT.md §10), by Keycloak group id: remote-only groups
    # (made or moved in) and broken links (deleted or moved out); empty unless asked (attributed_sync_status).
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def subtree_ids(self) -> set[str]:
        """The ids of the offering's subtree as read now, with its root."""
        ids = {remote.id for _local, remote in self.synced} | {remote.id for remote in self.remote_only}
        return ids | ({self.root.id} if self.root else set())

    def change_of(self, group_id: str) -> dict[str, Any] | None:
        return self.changes.get(group_id)

    @property
    def unlinked(self) -> list[tuple[OfferingKeycloakGroup, bool]]:
        """Local groups without a (or with a dangling) Keycloak link, by name, each with whether its link is
        dangling."""
        broken_ids = {group.id for group in self.broken}
        local_only = sorted([*self.local_only, *self.broken], key=lambda g: (g.name, g.uuid))
        return [(group, group.id in broken_ids) for group in local_only]


def local_groups(offering: Offering) -> list[OfferingKeycloakGroup]:
    return list(
        db.session.scalars(
            select(OfferingKeycloakGroup)
            .where(OfferingKeycloakGroup.offering_id == offering.id)
            .options(selectinload(OfferingKeycloakGroup.role), selectinload(OfferingKeycloakGroup.resource))
        )
    )


def sync_status(offering: Offering) -> SyncStatus:
    tree = offering_tree(offering, "Reading the Keycloak groups failed")
    remote_by_id = tree.by_id
    status = SyncStatus(root=tree.root)
    linked_ids: set[str] = set()
    for group in local_groups(offering):
        remote = remote_by_id.get(group.backend_id) if group.backend_id else None
        if remote is not None:
            status.synced.append((group, remote))
            linked_ids.add(remote.id)
        elif group.backend_id:
            status.broken.append(group)  # linked to an id the offering subtree does not contain
        else:
            status.local_only.append(group)
    status.remote_only = sorted(
        (group for group in tree.groups if group.id not in linked_ids), key=lambda g: (g.name, g.path)
    )
    status.synced.sort(key=lambda pair: (pair[0].name, pair[1].path))
    return status


def attributed_sync_status(offering: Offering) -> SyncStatus:
    """sync_status with `changes`: the offering's newest admin events are read first (one request, at most every
    GROUP_PAGE_SECONDS), keeping the group changes of the subtree just walked."""
    status = sync_status(offering)
    ids = status.subtree_ids
    events.refresh(offering, events.ON_VIEW_PAGES, unless_newer_than=events.GROUP_PAGE_SECONDS, subtree_ids=ids)
    made = [remote.id for remote in status.remote_only]
    gone = [group.backend_id for group in status.broken]
    status.changes = events.explain_groups(offering, made, gone, ids)
    return status
