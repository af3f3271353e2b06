"""Member drift where a manager looks (issue 30, item 1): a linked group's member state, from its last members
comparison, apart from its link state, on the Groups page and /overview."""

from __future__ import annotations

from tests.factories import World
from tests.html import parse, text_of

from .conftest import Browser
from .test_review_pages import linked


def test_member_drift_is_shown_apart_from_the_link_state(manager: Browser, world: World) -> None:
    """Issue 30, item 1: a linked group whose members differ says so on the Groups page and /overview."""
    group = linked(world, "project-a", ["erin", "frank"])  # both only in Keycloak: two member differences
    base = f"/offerings/{world.offering.uuid}"
    before = parse(manager.get(f"{base}/groups"))
    state = before.select_one(f"#row-{group.uuid} .member-state")
    assert state is not None and text_of(state) == "Members not compared yet: preview a sync"
    assert manager.post(f"{base}/plans", {"kind": "members", "group_uuids": group.uuid}).status_code == 303
    after = parse(manager.get(f"{base}/groups"))
    state = after.select_one(f"#row-{group.uuid} .member-state")
    assert state is not None and text_of(state) == "2 member differences · checked just now"
    overview = parse(manager.get("/overview"))
    cell = overview.select_one("#member-drift tbody tr td")
    assert cell is not None and text_of(cell).startswith("2 in 1 of 1 linked groups · oldest check just now")
