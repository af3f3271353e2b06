"""Local register vs Keycloak: matched by Keycloak id, never by name (docs/PRODUCT.md §3 sync_status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..keycloak import RemoteGroup
from ..models import Offering, OfferingKeycloakGroup
from .remote import offering_tree


@dataclass
class SyncStatus:
    local_only: list[OfferingKeycloakGroup] = field(default_factory=list)
    broken: list[OfferingKeycloakGroup] = field(default_factory=list)
    remote_only: list[RemoteGroup] = field(default_factory=list)
    synced: list[tuple[OfferingKeycloakGroup, RemoteGroup]] = field(default_factory=list)
    root: RemoteGroup | None = None

    def as_dict(self) -> dict[str, Any]:
        """The API shape: Waldur's three keys, plus details the UI uses."""
        local_only = sorted([*self.local_only, *self.broken], key=lambda g: (g.name, g.uuid))
        broken_ids = {group.id for group in self.broken}
        return {
            "local_only": [group.name for group in local_only],
            "remote_only": [group.name for group in self.remote_only],
            "synced": [
                {
                    "local_name": local.name,
                    "remote_name": remote.name,
                    "backend_id": remote.id,
                    "local_uuid": local.uuid,
                    "remote_path": remote.path,
                }
                for local, remote in self.synced
            ],
            "local_only_groups": [
                {
                    "uuid": group.uuid,
                    "name": group.name,
                    "backend_id": group.backend_id,
                    "broken_link": group.id in broken_ids,
                }
                for group in local_only
            ],
            "remote_only_groups": [
                {"id": group.id, "name": group.name, "path": group.path} for group in self.remote_only
            ],
            "hierarchy_root": self.root.path if self.root else None,
        }


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
