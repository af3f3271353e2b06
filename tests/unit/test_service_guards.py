"""The services refuse bad input themselves, whatever the caller (API query models, pages, CLI) checked first."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import World
from webapp.services import lookups
from webapp.services.errors import ObjectNotFound, ValidationFailed
from webapp.services.groups import remote


@pytest.mark.parametrize("group_id", ["", None])
def test_listing_members_without_a_group_is_refused(world: World, group_id: str | None) -> None:
    with pytest.raises(ValidationFailed) as refused:
        remote.remote_group_members(world.offering, group_id)
    assert refused.value.errors == {"remote_group": ["This field is required."]}


@pytest.mark.parametrize("query", ["", "   ", None])
def test_a_blank_user_search_is_refused(world: World, query: str | None) -> None:
    with pytest.raises(ValidationFailed) as refused:
        remote.search_remote_users(world.offering, query, 0, 10)
    assert refused.value.errors == {"q": ["This field is required."]}


def test_groups_named_by_malformed_uuids_are_refused(world: World) -> None:
    group = world.add_group("alpha")
    with pytest.raises(ValidationFailed) as refused:
        lookups.groups_of(world.manager, world.offering, [group.uuid, "not-a-uuid"])
    assert refused.value.errors == {"groups": ["Must be a list of valid UUIDs."]}


def test_groups_of_another_offering_are_named_and_refused(world: World) -> None:
    mine = world.add_group("alpha")
    theirs = world.add_group("beta", offering=world.other_offering)
    with pytest.raises(ValidationFailed) as refused:
        lookups.groups_of(world.staff, world.offering, [mine.uuid, theirs.uuid])
    assert refused.value.errors == {"groups": ["Not groups of this offering: beta."]}


def test_a_group_the_user_cannot_see_is_not_found(world: World) -> None:
    theirs = world.add_group("beta", offering=world.other_offering)
    with pytest.raises(ObjectNotFound):
        lookups.groups_of(world.manager, world.offering, [theirs.uuid, uuid.uuid4().hex])
