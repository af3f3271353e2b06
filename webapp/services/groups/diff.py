"""Local register vs Keycloak: matched by Keycloak id, never by name (docs/PRODUCT.md §3 sync_status)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...extensions import db
from ...keycloak import RemoteGroup
from ...models import Offering, OfferingKeycloakGroup
from .remote import offering_tree


@dataclass
class SyncStatus:
    local_only: list[OfferingKeycloakGroup] = field(default_factory=list)
    broken: list[OfferingKeycloakGroup] = field(default_factory=list)
    remote_only: list[RemoteGroup] = field(default_factory=list)
    synced: list[tuple[OfferingKeycloakGroup, RemoteGroup]] = field(default_factory=list)
    root: RemoteGroup | None = None

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
