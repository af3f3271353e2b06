"""An offering's place in the realm: its group `{base}/{offering_slug}` and the subtree below it.

The subtree fails closed: when the offering group does not exist, no group is the offering's (remote lists
are empty, imports and links are refused in words). Whether a group is inside is decided by ancestry, by
walking parent ids: a top-level group *named* `gpu-cloud/x` has the path `/hpc/gpu-cloud/x` too, so paths
are for people only.
"""

from __future__ import annotations

from ...keycloak import KeycloakGateway, NotFound, RemoteGroup, RequestRejected
from ...keycloak.ids import is_keycloak_id, is_safe_path_name
from ...models import Offering
from ..errors import ValidationFailed

NOT_A_KEYCLOAK_ID = "Not a Keycloak id."
ORGANIZATION_GROUP = (
    "Keycloak will not serve {path} through the realm's groups: it is an organization group (Keycloak 26.6+). "
    "Choose a base group outside the organizations."
)
MAX_DEPTH = 100  # deeper than any real hierarchy; a parent chain longer than this is a loop


def root_path(base_group: str, slug: str) -> str:
    """Where an offering with this base group and slug keeps its group (`{base}/{offering_slug}`)."""
    base = (base_group or "").strip("/")
    return f"/{base}/{slug}" if base else f"/{slug}"


def offering_root_path(offering: Offering) -> str:
    return root_path(offering.keycloak_base_group, offering.slug)


def missing_root(offering: Offering) -> ValidationFailed:
    return ValidationFailed([f"This offering has no group in Keycloak yet: expected {offering_root_path(offering)}"])


def keycloak_id(field: str, value: object) -> str:
    """A caller's id, checked before it goes anywhere near a URL (see webapp/keycloak/ids.py)."""
    if not is_keycloak_id(value):
        raise ValidationFailed.field(field, NOT_A_KEYCLOAK_ID)
    assert isinstance(value, str)
    return value


def child_named(gateway: KeycloakGateway, parent: RemoteGroup | None, name: str) -> RemoteGroup | None:
    """The group called `name` directly under `parent` (top level when None), or None.

    Asked by path first (one request); the answer counts only when its parent is the one we expect, since
    Keycloak may resolve `/a/b` to a top-level group named "a/b". Otherwise the parent's children are read.
    """
    if not is_safe_path_name(name):
        return None
    path = f"{parent.path}/{name}" if parent else f"/{name}"
    try:
        found = gateway.get_group_by_path(path)
    except NotFound:
        found = None
    except RequestRejected as exc:  # Keycloak 26.6+ answers 400 for organization groups
        raise ValidationFailed([ORGANIZATION_GROUP.format(path=path)]) from exc
    expected_parent = parent.id if parent else None
    if found is not None and found.name == name and found.parent_id == expected_parent:
        return found
    if found is None:
        return None
    siblings = gateway.iter_children(parent.id) if parent else gateway.list_top_level_groups(search=name)
    return next((group for group in siblings if group.name == name and group.parent_id == expected_parent), None)


def find_offering_root(gateway: KeycloakGateway, offering: Offering) -> RemoteGroup | None:
    group: RemoteGroup | None = None
    for part in [p for p in offering_root_path(offering).split("/") if p]:
        group = child_named(gateway, group, part)
        if group is None:
            return None
    return group


def walk_offering(gateway: KeycloakGateway, offering: Offering) -> tuple[RemoteGroup | None, list[RemoteGroup]]:
    """The offering's group and every group under it; (None, []) when its group does not exist (fail closed:
    never the realm's groups)."""
    root = find_offering_root(gateway, offering)
    if root is None:
        return None, []
    return root, gateway.walk_subtree(root.id, label=root.path)


def require_root(gateway: KeycloakGateway, offering: Offering) -> RemoteGroup:
    root = find_offering_root(gateway, offering)
    if root is None:
        raise missing_root(offering)
    return root


def is_inside(gateway: KeycloakGateway, root: RemoteGroup, group: RemoteGroup) -> bool:
    """True when `root` is an ancestor of `group` (by parent ids; a loop in the chain ends the walk).

    Keycloak 22 sends no parent ids: there the subtree itself is read (one request on 22) and searched.
    """
    if group.parent_id is None:
        return group.id != root.id and any(item.id == group.id for item in gateway.walk_subtree(root.id))
    seen = {group.id}
    current = group
    for _ in range(MAX_DEPTH):
        if current.parent_id is None or current.parent_id in seen:
            return False
        if current.parent_id == root.id:
            return True
        seen.add(current.parent_id)
        current = gateway.get_group(current.parent_id)
    return False


def scoped_group(gateway: KeycloakGateway, offering: Offering, group_id: str) -> RemoteGroup:
    """A Keycloak group this offering may use: strictly inside its subtree.

    Offerings often share a realm; without this check a manager could import, link or fill another
    offering's groups by id. A group outside the subtree is reported exactly like a missing one; when the
    offering group itself is missing, the refusal says which path is expected.
    """
    root = require_root(gateway, offering)
    group = gateway.get_group(group_id)
    if not is_inside(gateway, root, group):
        raise NotFound("Group is outside the offering's subtree")
    return group
