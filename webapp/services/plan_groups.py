"""Import and links plans: which remote groups would be imported (or why not), which links would be made.

Both are computed from the offering's subtree and the local register, and applied through the same
services as a single import or link (groups.import_remote, groups.set_backend_id), one item at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from ..models import Offering, OfferingKeycloakGroup, OfferingRole, Resource, User
from .commands import ChangeLink, ImportGroup, ImportParams
from .diff import local_groups
from .errors import ValidationFailed
from .groups import import_remote, set_backend_id
from .remote import RemoteTree, offering_tree
from .scoping import check_scope
from .subtree import keycloak_id
from .suggestions import Suggestion, link_suggestions

IMPORT, LINK = "import", "link"
Item = dict[str, Any]


def check_import(params: ImportParams) -> ImportParams:
    if not params.remote_group_ids:
        raise ValidationFailed.field("remote_group_ids", "Choose at least one remote group.")
    for remote_id in params.remote_group_ids:
        keycloak_id("remote_group_ids", remote_id)
    if params.scope_id:
        check_scope(params.role, params.resource, params.scope_id)
    elif params.role.scope_type:
        check_scope(params.role, params.resource, "")  # says which of resource / scope id is missing
    return params


def _scope_words(role: OfferingRole, resource: Resource | None, scope_id: str) -> str:
    return f"role {role.name}, resource {resource.name if resource else '—'} and scope {scope_id or '—'}"


def import_fingerprint(tree: RemoteTree, locals_: list[OfferingKeycloakGroup]) -> dict[str, Any]:
    remote = sorted(f"{g.id}\t{g.name}\t{g.path}\t{g.parent_id}" for g in tree.groups)
    local = sorted(f"{g.id}\t{g.backend_id}\t{g.role_id}\t{g.resource_id}\t{g.scope_id}" for g in locals_)
    return {"remote": _digest(remote), "groups": len(remote), "local": _digest(local), "rows": len(local)}


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def import_items(offering: Offering, params: ImportParams, fingerprint: dict[str, Any]) -> Iterator[Item]:
    tree = offering_tree(offering, "Reading the Keycloak groups failed")
    locals_ = local_groups(offering)
    fingerprint["offering"] = import_fingerprint(tree, locals_)
    by_backend = {group.backend_id: group for group in locals_ if group.backend_id}
    taken = {(g.role_id, g.resource_id, g.scope_id): g for g in locals_}
    by_id = tree.by_id
    resource_id = params.resource.id if params.resource else None
    for remote_id in dict.fromkeys(params.remote_group_ids):
        remote = by_id.get(remote_id)
        item: Item = {"key": remote_id, "remote_group_id": remote_id, "where": "local", "unchanged": False}
        item |= {"actions": [], "default_action": None, "destructive": False, "changes": {}}
        if remote is None:
            yield item | {"note": "Not in Keycloak under this offering's group (gone, or outside the offering)."}
            continue
        scope_id = params.scope_id or remote.name
        item |= {"group_name": remote.name, "remote_path": remote.path, "scope_id": scope_id}
        linked = by_backend.get(remote.id)
        clash = taken.get((params.role.id, resource_id, scope_id))
        if linked is not None:
            yield item | {"note": f"Already linked to local group '{linked.name}'."}
        elif clash is not None:
            words = _scope_words(params.role, params.resource, scope_id)
            yield item | {"note": f"A local group for {words} already exists: '{clash.name}'."}
        else:
            taken[(params.role.id, resource_id, scope_id)] = OfferingKeycloakGroup(name=remote.name)
            words = _scope_words(params.role, params.resource, scope_id)
            yield item | {"actions": [IMPORT], "default_action": IMPORT, "note": f"Import with {words}."}


def current_fingerprint(offering: Offering) -> dict[str, Any]:
    """What import and links plans are computed from, read again (for the stale check)."""
    tree = offering_tree(offering, "Reading the Keycloak groups failed")
    return {"offering": import_fingerprint(tree, local_groups(offering))}


def link_items(offering: Offering, group_uuids: list[str] | None, fingerprint: dict[str, Any]) -> Iterator[Item]:
    tree = offering_tree(offering, "Reading the Keycloak groups failed")
    fingerprint["offering"] = import_fingerprint(tree, local_groups(offering))
    wanted = set(group_uuids) if group_uuids else None
    for suggestion in link_suggestions(offering, tree):
        if wanted is not None and suggestion.group.uuid not in wanted:
            continue
        yield _link_item(suggestion)


def _link_item(suggestion: Suggestion) -> Item:
    group, remote = suggestion.group, suggestion.remote
    return {
        "key": group.uuid,
        "group_id": group.id,
        "group_uuid": group.uuid,
        "group_name": group.name,
        "remote_group_id": remote.id,
        "remote_path": remote.path,
        "actions": [LINK],
        "default_action": LINK,
        "destructive": False,
        "where": "local",
        "unchanged": False,
        "changes": {"backend_id": [group.backend_id, remote.id]},
        "note": f"Suggested: {remote.path} — {suggestion.reason_words}.",
    }


def apply_import(actor: User, offering: Offering, params: ImportParams, item: Any) -> str:
    """Import one remote group; returns a message, raises ServiceError when it failed."""
    group = import_remote(
        actor, ImportGroup(offering, params.role, params.resource, item.scope_id, item.remote_group_id)
    )
    return f"Imported as '{group.name}'."


def apply_link(actor: User, group: OfferingKeycloakGroup | None, item: Any) -> str:
    if group is None:
        raise ValidationFailed(["The local group no longer exists."])
    set_backend_id(actor, group, ChangeLink(backend_id=item.remote_group_id))
    return f"Linked to {item.remote_path}."
