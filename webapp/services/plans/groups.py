"""Import and links plans: which remote groups would be imported (or why not), which links would be made.

Both are computed from the offering's subtree and the local register, and applied through the same
services as a single import or link (groups.import_remote, groups.set_backend_id), one item at a time.
Both are stale when that subtree or the offering's local groups changed. Registered as two plan kinds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...models import Offering, OfferingKeycloakGroup, OfferingRole, Plan, Resource, User
from ..commands import ChangeLink, ImportGroup, ImportParams, PreviewImport, PreviewLinks
from ..connection.subtree import keycloak_id
from ..errors import Conflict, Refused, RemoteFailure, ValidationFailed
from ..groups.diff import local_groups
from ..groups.register import import_remote, set_backend_id
from ..groups.remote import RemoteTree, offering_tree
from ..groups.suggestions import Suggestion, link_suggestions
from ..scoping import check_scope
from .journal import NOT_MADE, SETTLED
from .kinds import (
    ActionWords,
    Built,
    Chosen,
    Item,
    KindWords,
    Outcome,
    Progress,
    Report,
    Settled,
    Stale,
    Work,
    configured_ttl,
)

IMPORT, LINK = "import", "link"


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
        item = Item(key=remote_id, remote_group_id=remote_id)
        if remote is None:
            yield replace(item, note="Not in Keycloak under this offering's group (gone, or outside the offering).")
            continue
        scope_id = params.scope_id or remote.name
        item = replace(item, group_name=remote.name, remote_path=remote.path, scope_id=scope_id)
        linked = by_backend.get(remote.id)
        clash = taken.get((params.role.id, resource_id, scope_id))
        if linked is not None:
            yield replace(item, note=f"Already linked to local group '{linked.name}'.")
        elif clash is not None:
            words = _scope_words(params.role, params.resource, scope_id)
            yield replace(item, note=f"A local group for {words} already exists: '{clash.name}'.")
        else:
            taken[(params.role.id, resource_id, scope_id)] = OfferingKeycloakGroup(name=remote.name)
            words = _scope_words(params.role, params.resource, scope_id)
            yield replace(item, actions=(IMPORT,), default_action=IMPORT, note=f"Import with {words}.")


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
    return Item(
        key=group.uuid,
        group_id=group.id,
        group_uuid=group.uuid,
        group_name=group.name,
        remote_group_id=remote.id,
        remote_path=remote.path,
        actions=(LINK,),
        default_action=LINK,
        changes={"backend_id": [group.backend_id, remote.id]},
        note=f"Suggested: {remote.path} — {suggestion.reason_words}.",
    )


def apply_import(actor: User, offering: Offering, params: ImportParams, item: Item) -> str:
    """Import one remote group; returns a message, raises ServiceError when it failed."""
    group = import_remote(
        actor, ImportGroup(offering, params.role, params.resource, item.scope_id, item.remote_group_id)
    )
    return f"Imported as '{group.name}'."


def apply_link(actor: User, group: OfferingKeycloakGroup | None, item: Item) -> str:
    if group is None:
        raise ValidationFailed(["The local group no longer exists."])
    set_backend_id(actor, group, ChangeLink(backend_id=item.remote_group_id))
    return f"Linked to {item.remote_path}."


def group_plan_reasons(plan: Plan) -> list[str]:
    """Why an import or links plan is stale: the offering's groups, remote or local, changed."""
    now = current_fingerprint(plan.offering)["offering"]
    before = plan.fingerprint.get("offering", {})
    if now["remote"] != before.get("remote"):
        return [f"the groups under the offering's group changed ({before.get('groups')} → {now['groups']} groups)"]
    if now["local"] != before.get("local"):
        return ["the local groups changed"]
    return []


class _GroupKind:
    """Import and links plans write only here, one item per transaction (each reads Keycloak first)."""

    removes: frozenset[str] = frozenset()

    def ttl(self) -> timedelta:
        return configured_ttl()

    def prepare(self, actor: User, plan: Plan, chosen: list[Chosen], report: Report) -> Work:
        reasons = group_plan_reasons(plan)
        if reasons:
            raise Stale(reasons)
        apply_one = self.applier(actor, plan)

        def call(item: Item, action: str) -> Outcome:
            try:
                message = apply_one(item)
            except (ValidationFailed, RemoteFailure, Refused, Conflict) as exc:
                db.session.rollback()
                return Outcome(item.id, action, False, exc.message)
            return Outcome(item.id, action, True, message)

        return Work([], [(item.id, partial(call, item, action)) for item, action in chosen])

    def applier(self, actor: User, plan: Plan) -> Callable[[Item], str]:
        """How one item of `plan` is applied: its message, or a ServiceError when it failed."""
        raise NotImplementedError

    def settle(self, plan: Plan, items: list[Item]) -> Settled:
        """These items commit their own transaction: the register says whether they were made."""
        return Settled([_settle_locally(plan, item) for item in items])


def _settle_locally(plan: Plan, item: Item) -> Outcome:
    action = str(item.chosen_action)
    group = db.session.scalar(
        select(OfferingKeycloakGroup).where(
            OfferingKeycloakGroup.offering_id == plan.offering_id,
            OfferingKeycloakGroup.backend_id == item.remote_group_id,
        )
    )
    made = group is not None and (action != LINK or group.id == item.group_id)
    return Outcome(item.id, action, made, SETTLED if made else NOT_MADE)


class ImportKind(_GroupKind):
    """Import plans (docs/PLAN-APPLY.md §4): one item per selected remote group."""

    name = "import"
    for_group_managers = False
    attributed = False
    preview = PreviewImport
    words = KindWords(
        heading="import {n} Keycloak group{s}",
        what="Keycloak groups",
        subject="Group",
        actions={IMPORT: ActionWords("+", "Import", "import {group}", "+{n} to import", "Import")},
    )

    def build(self, preview: PreviewImport, fingerprint: dict[str, Any], progress: Progress | None) -> Built:
        params = check_import(preview.params)
        built = {
            "role_uuid": params.role.uuid,
            "resource_uuid": params.resource.uuid if params.resource else None,
            "scope_id": params.scope_id,
            "remote_group_ids": list(dict.fromkeys(params.remote_group_ids)),
        }
        return Built(built, import_items(preview.offering, params, fingerprint))

    def again(self, plan: Plan) -> PreviewImport:
        offering, params = plan.offering, plan.params
        role_uuid = params["role_uuid"]
        role = db.session.scalar(
            select(OfferingRole).where(OfferingRole.offering_id == offering.id, OfferingRole.uuid == role_uuid)
        )
        resource = params.get("resource_uuid") and db.session.scalar(
            select(Resource).where(Resource.offering_id == offering.id, Resource.uuid == params["resource_uuid"])
        )
        if role is None:
            raise ValidationFailed(["The role of this preview no longer exists."])
        return PreviewImport(
            offering, ImportParams(role, resource or None, params.get("scope_id", ""), params["remote_group_ids"])
        )

    def applier(self, actor: User, plan: Plan) -> Callable[[Item], str]:
        params = self.again(plan).params
        return lambda item: apply_import(actor, plan.offering, params, item)


class LinksKind(_GroupKind):
    """Links plans (docs/PLAN-APPLY.md §5): one item per suggested link of an unlinked local group."""

    name = "links"
    for_group_managers = False
    attributed = False
    preview = PreviewLinks
    words = KindWords(
        heading="link {n} local group{s}",
        what="groups",
        subject="Group",
        actions={LINK: ActionWords("~", "Link", "link {group}", "~{n} to link", "Link")},
    )

    def build(self, preview: PreviewLinks, fingerprint: dict[str, Any], progress: Progress | None) -> Built:
        params = {"group_uuids": preview.group_uuids}
        return Built(params, link_items(preview.offering, preview.group_uuids, fingerprint))

    def again(self, plan: Plan) -> PreviewLinks:
        return PreviewLinks(plan.offering, plan.params.get("group_uuids"))

    def applier(self, actor: User, plan: Plan) -> Callable[[Item], str]:
        query = select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.offering_id == plan.offering_id)
        groups = {group.id: group for group in db.session.scalars(query)}
        return lambda item: apply_link(actor, groups.get(item.group_id or 0), item)
