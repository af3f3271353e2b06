"""Creating an offering's groups in Keycloak: `{base}/{offering_slug}/{group}`, missing parents included.

Every group created here is remembered so that a request that fails later can delete exactly what it
created (no orphan Keycloak groups from failed requests), and so that a local group records whether its
Keycloak group was created by this application or already existed (only the first may ever be deleted there).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...extensions import db
from ...keycloak import AlreadyExists, KeycloakError, KeycloakGateway, NotFound, RemoteGroup
from ...keycloak.ids import is_safe_path_name
from ...models import GroupOrigin, Offering, OfferingKeycloakGroup, User
from .. import audit
from ..access import require_manager
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.subtree import child_named, offering_root_path
from ..errors import ValidationFailed


@dataclass
class CreatedGroups:
    gateway: KeycloakGateway
    ids: list[str] = field(default_factory=list)

    def compensate(self) -> list[str]:
        """Delete what this request created, deepest first; return reasons for any that could not be deleted.

        A group that has children once ours are deleted is left: another request adopted it (our offering group,
        say) and made its own group under it meanwhile, and deleting ours would delete theirs."""
        problems = []
        for group_id in reversed(self.ids):
            try:
                if self.gateway.get_group(group_id).sub_group_count:
                    continue
                self.gateway.delete_group(group_id)
            except NotFound:
                continue
            except KeycloakError as exc:
                problems.append(f"{group_id}: {exc.message}")
        self.ids.clear()
        return problems


def _child(gateway: KeycloakGateway, parent: RemoteGroup | None, name: str, created: CreatedGroups) -> RemoteGroup:
    if not is_safe_path_name(name):
        # Paths identify the parents we look up; a blank name, a "/" or a dot segment would point elsewhere.
        raise ValidationFailed.field("name", f"{name!r} cannot be used as a Keycloak group name.")
    existing = child_named(gateway, parent, name)
    if existing is not None:
        return existing
    try:
        group = gateway.create_group(name, parent.id if parent else None)
    except AlreadyExists:
        # A concurrent request created it first: use theirs.
        theirs = child_named(gateway, parent, name)
        if theirs is None:
            raise NotFound(f"Keycloak says {name!r} exists but it cannot be found") from None
        return theirs
    created.ids.append(group.id)
    return group


def ensure_offering_root(offering: Offering, created: CreatedGroups) -> RemoteGroup:
    """The offering's own group (`{base}/{offering_slug}`), creating whatever is missing."""
    parent: RemoteGroup | None = None
    for part in [p for p in offering_root_path(offering).split("/") if p]:
        parent = _child(created.gateway, parent, part, created)
    assert parent is not None  # the path always has the offering slug
    return parent


def ensure_group(offering: Offering, name: str, created: CreatedGroups) -> RemoteGroup:
    """The Keycloak group `name` under the offering's group, creating whatever is missing."""
    return _child(created.gateway, ensure_offering_root(offering, created), name, created)


def link_to(group: OfferingKeycloakGroup, remote: RemoteGroup, created: CreatedGroups) -> None:
    """Link `group` to the Keycloak group `ensure_group` gave. It counts as created here only when this very
    request created it; a group that already existed (made by hand, by another tool, or left over) is adopted
    as imported, so it can never be deleted in Keycloak from here."""
    if remote.id in created.ids:
        group.created_backend_id = remote.id
    group.backend_id = remote.id
    group.origin = GroupOrigin.CREATED if group.remote_created_here else GroupOrigin.IMPORTED


@dataclass(frozen=True)
class OfferingGroup:
    group: RemoteGroup
    created: int  # how many groups (the offering group, base group parts) this call created; 0: all existed


def create_offering_group(actor: User, offering: Offering) -> OfferingGroup:
    """Create the offering's group (and the base group) in Keycloak, so that its subtree exists."""
    require_manager(actor, offering)
    gateway = gateway_for_offering(offering)
    created = CreatedGroups(gateway)
    root = call_keycloak(
        "Creating the offering's Keycloak group failed", lambda: ensure_offering_root(offering, created)
    )
    action = "offering.keycloak_group_created" if created.ids else "offering.keycloak_group_found"
    audit.record(actor, offering, action, None, {"path": root.path, "created": len(created.ids)})
    db.session.commit()
    return OfferingGroup(root, len(created.ids))
