"""Read-only views of the realm: the offering subtree, group members, user search, connection test."""

from __future__ import annotations

from dataclasses import dataclass

from ...keycloak import NotFound, RemoteGroup, RemoteUser
from ...models import Offering
from ..attribution import admin_events
from ..attribution.admin_events import AdminEventsCheck
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.subtree import keycloak_id, offering_root_path, scoped_group, walk_offering
from ..errors import REMOTE_GROUP_NOT_FOUND, REQUIRED, ValidationFailed


@dataclass(frozen=True)
class RemoteTree:
    """The groups an offering works with: its subtree, or nothing at all when its group does not exist."""

    root: RemoteGroup | None
    groups: list[RemoteGroup]

    @property
    def by_id(self) -> dict[str, RemoteGroup]:
        return {group.id: group for group in self.groups}


def offering_tree(offering: Offering, action: str = "Listing Keycloak groups failed") -> RemoteTree:
    gateway = gateway_for_offering(offering)

    return call_keycloak(action, lambda: RemoteTree(*walk_offering(gateway, offering)))


def remote_groups(offering: Offering, search: str = "") -> list[RemoteGroup]:
    groups = offering_tree(offering).groups
    needle = search.strip().lower()
    if needle:
        groups = [group for group in groups if needle in group.name.lower()]
    return groups


def remote_children(offering: Offering, group_id: str) -> list[RemoteGroup]:
    """Direct children of one group, for the lazily expanded tree in the UI."""
    keycloak_id("remote_group", group_id)
    gateway = gateway_for_offering(offering)
    try:
        return call_keycloak(
            "Listing Keycloak subgroups failed",
            lambda: list(gateway.iter_children(scoped_group(gateway, offering, group_id).id)),
        )
    except NotFound as exc:
        raise ValidationFailed.field("remote_group", REMOTE_GROUP_NOT_FOUND) from exc


@dataclass(frozen=True)
class ConnectionCheck:
    groups: list[str]  # names of the offering subtree's groups
    missing_root: str | None  # the offering group's path when it does not exist yet
    root_path: str  # where the groups were looked for
    server_version: str | None  # "24.0.5", or None when the server does not say
    admin_events: AdminEventsCheck  # what attribution the realm's admin events allow (docs/PRODUCT.md §10)

    @property
    def summary(self) -> str:
        """ "Keycloak 24.0.5 · 12 groups under /hpc/gpu-cloud" """
        server = f"Keycloak {self.server_version}" if self.server_version else "Keycloak"
        count = len(self.groups)
        return f"{server} · {count} group{'' if count == 1 else 's'} under {self.root_path}"


def test_connection(offering: Offering) -> ConnectionCheck:
    """Signs in and reads the offering subtree; raises RemoteFailure."""
    # Looking for the offering group signs in and reads the realm: a separate probe would only repeat a failure.
    tree = offering_tree(offering, "Connection test failed")
    gateway = gateway_for_offering(offering)
    version = call_keycloak("Connection test failed", gateway.server_version)
    return ConnectionCheck(
        groups=[group.name for group in tree.groups],
        missing_root=None if tree.root else offering_root_path(offering),
        root_path=offering_root_path(offering),
        server_version=version,
        admin_events=admin_events.check(offering),
    )


def remote_group_members(offering: Offering, group_id: str | None) -> list[RemoteUser]:
    if not group_id:
        raise ValidationFailed.field("remote_group", REQUIRED)
    checked = keycloak_id("remote_group", group_id)
    gateway = gateway_for_offering(offering)

    def load() -> list[RemoteUser]:
        group = scoped_group(gateway, offering, checked)
        return [user for page in gateway.iter_group_members(group.id, label=group.path) for user in page]

    try:
        return call_keycloak("Listing Keycloak group members failed", load)
    except NotFound as exc:
        raise ValidationFailed.field("remote_group", REMOTE_GROUP_NOT_FOUND) from exc


def search_remote_users(offering: Offering, query: str | None, first: int, limit: int) -> tuple[int, list[RemoteUser]]:
    """(total matches, one page of matches) for a Keycloak user search over username/email/names."""
    needle = (query or "").strip()
    if not needle:
        raise ValidationFailed.field("q", REQUIRED)
    gateway = gateway_for_offering(offering)

    def load() -> tuple[int, list[RemoteUser]]:
        return gateway.count_users(needle), gateway.search_users(needle, first=first, max_results=limit)

    return call_keycloak("Searching Keycloak users failed", load)


def remote_group(offering: Offering, group_id: str) -> RemoteGroup:
    """One group by id, for dialogs that show what is about to be imported or linked."""
    keycloak_id("remote_group", group_id)
    gateway = gateway_for_offering(offering)
    try:
        return call_keycloak("Reading the Keycloak group failed", lambda: scoped_group(gateway, offering, group_id))
    except NotFound as exc:
        raise ValidationFailed.field("remote_group", REMOTE_GROUP_NOT_FOUND) from exc
