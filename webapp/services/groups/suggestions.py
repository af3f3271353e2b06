"""Link suggestions: which remote-only group each local-only group probably is. Never applied without a plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...keycloak import RemoteGroup
from ...models import Offering, OfferingKeycloakGroup
from ..connection.subtree import offering_root_path
from ..naming import render_group_name
from .diff import local_groups
from .remote import RemoteTree, offering_tree

REASON_WORDS = {
    "same_path": "the path this offering would create",
    "template_name": "the name the template gives",
    "same_name_ignoring_case": "same name",
}


@dataclass(frozen=True)
class Suggestion:
    group: OfferingKeycloakGroup
    remote: RemoteGroup
    reason: str

    @property
    def reason_words(self) -> str:
        return REASON_WORDS[self.reason]


def link_suggestions(
    offering: Offering, tree: RemoteTree | None = None, groups: list[OfferingKeycloakGroup] | None = None
) -> list[Suggestion]:
    """Each unlinked local group and each remote group no local group links appear at most once; the
    strongest reason wins (the path we would create, then the template's name, then the name in any case)."""
    tree = tree or offering_tree(offering, "Reading the Keycloak groups failed")
    groups = local_groups(offering) if groups is None else groups
    linked = {group.backend_id for group in groups if group.backend_id}
    remote_only = sorted((g for g in tree.groups if g.id not in linked), key=lambda g: (g.path, g.id))
    local_only = sorted((g for g in groups if not g.backend_id), key=lambda g: (g.name or "", g.uuid or ""))
    root = offering_root_path(offering)
    rules: list[tuple[str, Callable[[RemoteGroup], str], Callable[[OfferingKeycloakGroup], str]]] = [
        ("same_path", lambda remote: remote.path, lambda local: f"{root}/{local.name}"),
        (
            "template_name",
            lambda remote: remote.name,
            lambda local: render_group_name(offering, local.role, local.resource, local.scope_id) if local.role else "",
        ),
        ("same_name_ignoring_case", lambda remote: remote.name.casefold(), lambda local: local.name.casefold()),
    ]
    found: list[Suggestion] = []
    used_local: set[int] = set()
    used_remote: set[str] = set()
    for reason, remote_key, local_key in rules:
        index: dict[str, list[RemoteGroup]] = {}
        for remote in remote_only:
            index.setdefault(remote_key(remote), []).append(remote)
        for local in local_only:
            key = local_key(local)
            if id(local) in used_local or not key:
                continue
            match = next((r for r in index.get(key, []) if r.id not in used_remote), None)
            if match is not None:
                found.append(Suggestion(local, match, reason))
                used_local.add(id(local))
                used_remote.add(match.id)
    return sorted(found, key=lambda s: (s.group.name or "", s.group.uuid or ""))
