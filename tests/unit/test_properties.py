"""Hypothesis properties of the group-name template (services/naming.py) and the sync diff (services/groups/diff.py).

Everything runs in memory: models are built without a session, and sync_status gets its local groups and its
Keycloak tree from monkeypatched loaders, so no database, app or Keycloak is needed.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.api.shapes import SyncStatusOut
from webapp.keycloak import RemoteGroup
from webapp.models import NAME_LENGTH, Offering, OfferingKeycloakGroup, OfferingRole, Organization, Resource
from webapp.services.groups import diff as sync
from webapp.services.groups.remote import RemoteTree
from webapp.services.naming import TEMPLATE_VARIABLES, render_group_name, template_errors
from webapp.ui import diff_rows

PROPERTY = settings(max_examples=200, deadline=None)

# -- models in memory -------------------------------------------------------------------------------

hex_uuids = st.uuids().map(lambda value: value.hex)
# Names as the register holds them (never blank); mostly short, now and then long enough to be truncated to 255.
texts = st.one_of(st.text(min_size=1, max_size=30), st.text(min_size=120, max_size=300)).filter(str.strip)


@dataclass
class Scope:
    offering: Offering
    role: OfferingRole
    resource: Resource | None
    scope_id: str


@st.composite
def scopes(draw: st.DrawFn, template: str = "") -> Scope:
    organization = Organization(uuid=draw(hex_uuids), name=draw(texts), slug=draw(texts))
    offering = Offering(
        organization=organization,
        uuid=draw(hex_uuids),
        name=draw(texts),
        slug=draw(texts),
        keycloak_group_name_template=template,
    )
    role = OfferingRole(offering=offering, uuid=draw(hex_uuids), name=draw(texts))
    resource = draw(st.none() | st.builds(lambda uuid, name: Resource(uuid=uuid, name=name), hex_uuids, texts))
    return Scope(offering, role, resource, draw(st.one_of(st.just(""), texts)))


def slug(name: str) -> str:
    """docs/PRODUCT.md §1.1 resource_slug: lower-case alphanumeric runs joined by single hyphens."""
    return "-".join("".join(ch.lower() if ch.isalnum() else " " for ch in name).split())


def variable_values(scope: Scope) -> dict[str, str]:
    offering, resource = scope.offering, scope.resource
    return {
        "role_name": scope.role.name,
        "scope_id": scope.scope_id,
        "offering_uuid": offering.uuid,
        "offering_name": offering.name,
        "offering_slug": offering.slug,
        "organization_uuid": offering.organization.uuid,
        "organization_name": offering.organization.name,
        "organization_slug": offering.organization.slug,
        "resource_uuid": resource.uuid if resource else "",
        "resource_name": resource.name if resource else "",
        "resource_slug": slug(resource.name) if resource else "",
    }


def default_name(scope: Scope) -> str:
    resource_part = scope.scope_id or (scope.resource.uuid if scope.resource else "")
    return "_".join(part for part in (scope.offering.uuid, resource_part, scope.role.name) if part)[:NAME_LENGTH]


def render(scope: Scope, template: str) -> str:
    scope.offering.keycloak_group_name_template = template
    return render_group_name(scope.offering, scope.role, scope.resource, scope.scope_id)


# -- templates built from tokens --------------------------------------------------------------------

IDENTIFIER_CHAR = re.compile(r"[_a-z0-9]", re.IGNORECASE | re.ASCII)  # what may continue a bare $name
literals = st.text(st.characters(exclude_characters="$"), min_size=1, max_size=12)


@dataclass(frozen=True)
class Token:
    kind: str  # "literal", "variable" or "dollar" ($$)
    text: str = ""
    braced: bool = False


tokens = st.one_of(
    literals.map(lambda text: Token("literal", text)),
    st.builds(lambda name, braced: Token("variable", name, braced), st.sampled_from(TEMPLATE_VARIABLES), st.booleans()),
    st.just(Token("dollar")),
)


def template_text(parts: list[Token]) -> str:
    """The template; a bare $name followed by an identifier character is written ${name}, as a person would."""
    out = []
    for index, token in enumerate(parts):
        if token.kind == "literal":
            out.append(token.text)
        elif token.kind == "dollar":
            out.append("$$")
        else:
            following = template_text(parts[index + 1 : index + 2])
            braced = token.braced or bool(following and IDENTIFIER_CHAR.match(following[0]))
            out.append(f"${{{token.text}}}" if braced else f"${token.text}")
    return "".join(out)


def expected_name(parts: list[Token], values: dict[str, str]) -> str:
    """Substitution by hand: the substituted text without surrounding whitespace (which also drops whatever
    the template itself had around it)."""
    return "".join(
        token.text if token.kind == "literal" else "$" if token.kind == "dollar" else values[token.text]
        for token in parts
    ).strip()


@given(st.text())
@PROPERTY
def test_template_errors_never_raises_and_agrees_with_string_template(template: str) -> None:
    problems = template_errors(template)
    assert isinstance(problems, list) and all(isinstance(problem, str) for problem in problems)
    try:
        string.Template(template).substitute(dict.fromkeys(TEMPLATE_VARIABLES, "x"))
    except (KeyError, ValueError):
        assert problems, f"{template!r} cannot be substituted but was accepted"
    else:
        assert problems == [], f"{template!r} substitutes fine but was rejected: {problems}"


@given(st.lists(tokens, max_size=12), st.data())
@PROPERTY
def test_templates_of_known_variables_are_valid_and_render_as_substituted(parts: list[Token], data) -> None:
    template = template_text(parts)
    assert template_errors(template) == []
    scope = data.draw(scopes())
    name = render(scope, template)
    assert isinstance(name, str) and len(name) <= NAME_LENGTH
    values = variable_values(scope)
    full = expected_name(parts, values)
    if not full:  # an empty template, or one whose variables are all empty here: never a blank group name
        assert name == default_name(scope)
        return
    assert name == full[:NAME_LENGTH]
    if len(full) <= NAME_LENGTH:
        for token in parts:
            if token.kind == "variable":
                assert values[token.text].strip() in name  # only the ends of the whole name are stripped


unknown_names = st.from_regex(r"[_a-zA-Z][_a-zA-Z0-9]{0,15}", fullmatch=True).filter(
    lambda name: name not in TEMPLATE_VARIABLES
)


@given(st.lists(tokens, max_size=6), unknown_names, st.booleans(), st.lists(tokens, max_size=6), st.data())
@PROPERTY
def test_unknown_variables_are_reported_by_name_and_fall_back_to_the_default(
    before: list[Token], unknown: str, braced: bool, after: list[Token], data
) -> None:
    template = template_text([*before, Token("variable", unknown, braced), *after])
    # template_text braces a name that an identifier character follows, so the name reported is the one inserted.
    reported = re.search(r"Unknown variable \$(\w+)\.", " ".join(template_errors(template)))
    assert reported is not None, template
    assert reported.group(1) == unknown
    scope = data.draw(scopes())
    assert render(scope, template) == default_name(scope)


@given(scopes(), st.sampled_from(["", " ", "\t \n"]))
@PROPERTY
def test_empty_template_gives_the_default_name(scope: Scope, template: str) -> None:
    name = render(scope, template)
    assert name == default_name(scope)
    assert len(name) <= NAME_LENGTH
    assert name.startswith(scope.offering.uuid)
    parts = [scope.offering.uuid, scope.scope_id, scope.role.name]
    if all(parts) and len("_".join(parts)) <= NAME_LENGTH:
        assert name == "_".join(parts)  # the scope id wins over the resource uuid


@given(st.lists(tokens.filter(lambda token: token.kind == "variable"), min_size=1, max_size=4), st.data())
@PROPERTY
def test_a_valid_template_never_renders_a_blank_group_name(parts: list[Token], data) -> None:
    """A Keycloak group needs a name, and a blank one resolves to the offering's own group. A valid template whose
    variables are all empty here (`$scope_id` for an unscoped role, `$resource_name` without a resource,
    `$resource_slug` of a name without letters or digits) gives the default name instead."""
    scope = data.draw(scopes())
    name = render(scope, template_text(parts))
    assert name.strip() != ""
    if not expected_name(parts, variable_values(scope)):
        assert name == default_name(scope)


# -- the sync diff ----------------------------------------------------------------------------------

REMOTE_POOL = [f"kc-{index}" for index in range(10)]
NOT_IN_POOL = ["kc-gone-1", "kc-gone-2", "kc-root"]
NAMES = ["users", "admins", "alpha", "Alpha", "beta", "b", ""]  # few, so local and remote names collide


@st.composite
def remote_trees(draw: st.DrawFn) -> RemoteTree:
    """A subtree as walk_subtree returns it: unique ids, unique paths (no two siblings share a name)."""
    root = draw(st.none() | st.just(RemoteGroup("kc-root", "hpc", "/base/hpc", 0, "kc-base")))
    ids = draw(st.lists(st.sampled_from(REMOTE_POOL), unique=True))
    groups: list[RemoteGroup] = []
    for group_id in ids:
        parent = draw(st.none() | st.sampled_from(groups)) if groups else None
        parent_id = parent.id if parent else (root.id if root else None)
        siblings = {g.name for g in groups if g.parent_id == parent_id}
        name = draw(st.sampled_from([n for n in NAMES if n and n not in siblings] + [f"{group_id}-name"]))
        prefix = parent.path if parent else (root.path if root else "")
        groups.append(RemoteGroup(group_id, name, f"{prefix}/{name}", 0, parent_id))
    return RemoteTree(root, draw(st.permutations(groups)))


@st.composite
def local_registers(draw: st.DrawFn) -> list[OfferingKeycloakGroup]:
    """Local groups; non-empty backend_ids are unique, as the uq_group_backend_id index makes them."""
    linked = draw(st.lists(st.sampled_from(REMOTE_POOL + NOT_IN_POOL), unique=True))
    unlinked = draw(st.integers(0, 4))
    backend_ids = draw(st.permutations([*linked, *[""] * unlinked]))
    return [
        OfferingKeycloakGroup(id=index + 1, uuid=f"{index + 1:032x}", name=draw(st.sampled_from(NAMES)), backend_id=b)
        for index, b in enumerate(backend_ids)
    ]


def run_sync(tree: RemoteTree, groups: list[OfferingKeycloakGroup]) -> sync.SyncStatus:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync, "offering_tree", lambda offering, action="": tree)
        patch.setattr(sync, "local_groups", lambda offering: list(groups))
        return sync.sync_status(Offering())


def is_sorted(values: list[str]) -> bool:
    return values == sorted(values)


@given(remote_trees(), local_registers())
@PROPERTY
def test_sync_status_partitions_both_sides_by_keycloak_id(tree: RemoteTree, groups: list[OfferingKeycloakGroup]):
    status = run_sync(tree, groups)
    remote_ids = {group.id for group in tree.groups}

    locals_seen = Counter(id(g) for g in [*(local for local, _ in status.synced), *status.local_only, *status.broken])
    assert locals_seen == Counter(id(g) for g in groups), "every local group exactly once"
    remotes_seen = Counter(g.id for g in [*(remote for _, remote in status.synced), *status.remote_only])
    assert remotes_seen == Counter(remote_ids), "every remote group exactly once"

    for local, remote in status.synced:
        assert local.backend_id == remote.id
    assert all(group.backend_id == "" for group in status.local_only)
    assert all(group.backend_id and group.backend_id not in remote_ids for group in status.broken)

    synced = {(id(local), remote.id) for local, remote in status.synced}
    for local in groups:
        for remote in tree.groups:
            if local.name == remote.name and local.backend_id != remote.id:
                assert (id(local), remote.id) not in synced, "matched by name"
    assert status.root == tree.root


@given(remote_trees(), local_registers())
@PROPERTY
def test_sync_status_as_dict_is_sorted_and_lists_broken_links_as_local_only(
    tree: RemoteTree, groups: list[OfferingKeycloakGroup]
):
    status = run_sync(tree, groups)
    shown = SyncStatusOut.dump(status)

    assert is_sorted(shown["local_only"])
    assert is_sorted(shown["remote_only"])
    assert is_sorted([pair["local_name"] for pair in shown["synced"]])
    assert is_sorted([group["name"] for group in shown["local_only_groups"]])
    assert is_sorted([group["name"] for group in shown["remote_only_groups"]])

    assert Counter(shown["local_only"]) == Counter(g.name for g in [*status.local_only, *status.broken])
    broken_uuids = {group.uuid for group in status.broken}
    assert {g["uuid"]: g["broken_link"] for g in shown["local_only_groups"]} == {
        g.uuid: g.uuid in broken_uuids for g in [*status.local_only, *status.broken]
    }
    assert Counter(shown["remote_only"]) == Counter(group.name for group in status.remote_only)
    assert [(p["local_uuid"], p["backend_id"]) for p in shown["synced"]] == [
        (local.uuid, remote.id) for local, remote in status.synced
    ]
    assert shown["hierarchy_root"] == (tree.root.path if tree.root else None)


@given(remote_trees(), local_registers(), st.randoms(use_true_random=False))
@PROPERTY
def test_sync_status_does_not_depend_on_the_order_groups_are_loaded(tree, groups, random):
    shuffled_groups = random.sample(groups, len(groups))
    shuffled_tree = RemoteTree(tree.root, random.sample(tree.groups, len(tree.groups)))
    assert SyncStatusOut.dump(run_sync(shuffled_tree, shuffled_groups)) == SyncStatusOut.dump(run_sync(tree, groups))


def test_equal_names_with_different_ids_are_not_synced() -> None:
    remote = RemoteGroup("kc-1", "users", "/base/hpc/users", 0, "kc-root")
    unlinked = OfferingKeycloakGroup(id=1, uuid="1" * 32, name="users", backend_id="")
    elsewhere = OfferingKeycloakGroup(id=2, uuid="2" * 32, name="users", backend_id="kc-2")
    status = run_sync(RemoteTree(None, [remote]), [unlinked, elsewhere])
    assert status.synced == []
    assert status.local_only == [unlinked] and status.broken == [elsewhere] and status.remote_only == [remote]
    assert SyncStatusOut.dump(status)["local_only"] == ["users", "users"]


@given(remote_trees(), local_registers())
@PROPERTY
def test_groups_view_rows_show_every_group_once(tree: RemoteTree, groups: list[OfferingKeycloakGroup]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sync, "offering_tree", lambda offering, action="": tree)
        patch.setattr(sync, "local_groups", lambda offering: list(groups))
        # who changed it is read from the database: not what this property is about
        patch.setattr(diff_rows, "attributed_sync_status", sync.sync_status)
        page = diff_rows.build_diff_page(Offering())
        rows = list(page.rows)
        for number in range(2, page.pages + 1):
            rows += diff_rows.build_diff_page(Offering(), page=number).rows
    assert page.total == len(rows) == sum(page.counts.values())
    assert Counter(id(row.local) for row in rows if row.local) == Counter(id(g) for g in groups)
    assert Counter(row.remote.id for row in rows if row.remote) == Counter(g.id for g in tree.groups)
    assert page.counts["synced"] == sum(1 for row in rows if row.local and row.remote)
