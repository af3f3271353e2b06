"""Creating an offering's groups in Keycloak: `{base}/{offering_slug}/{group}`, missing parents included.

Every group created here is remembered so that a request that fails later can delete exactly what it
created (no orphan Keycloak groups from failed requests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..keycloak import AlreadyExists, KeycloakError, KeycloakGateway, NotFound, RemoteGroup
from ..models import Offering
from .connection import offering_root_path
from .errors import ValidationFailed


@dataclass
class CreatedGroups:
    gateway: KeycloakGateway
    ids: list[str] = field(default_factory=list)

    def compensate(self) -> list[str]:
        """Delete what this request created, deepest first; return reasons for any that could not be deleted."""
        problems = []
        for group_id in reversed(self.ids):
            try:
                self.gateway.delete_group(group_id)
            except NotFound:
                continue
            except KeycloakError as exc:
                problems.append(f"{group_id}: {exc.message}")
        self.ids.clear()
        return problems


def _child(gateway: KeycloakGateway, parent: RemoteGroup | None, name: str, created: CreatedGroups) -> RemoteGroup:
    if not name.strip() or "/" in name:
        # Paths identify the parents we look up; a blank name or a "/" would point at another group.
        raise ValidationFailed.field("name", f"{name!r} cannot be used as a Keycloak group name.")
    path = f"{parent.path}/{name}" if parent else f"/{name}"
    try:
        return gateway.get_group_by_path(path)
    except NotFound:
        pass
    try:
        group = gateway.create_group(name, parent.id if parent else None)
    except AlreadyExists:
        return gateway.get_group_by_path(path)  # a concurrent request created it first: use theirs
    created.ids.append(group.id)
    return group


def ensure_group(offering: Offering, name: str, created: CreatedGroups) -> RemoteGroup:
    """The Keycloak group `name` under the offering's group, creating whatever is missing."""
    parent: RemoteGroup | None = None
    for part in [p for p in offering_root_path(offering).split("/") if p]:
        parent = _child(created.gateway, parent, part, created)
    return _child(created.gateway, parent, name, created)
