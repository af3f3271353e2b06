"""The gateway contract: the same assertions hold for the fake and for a real Keycloak 26."""

from __future__ import annotations

import uuid

import pytest

from webapp.keycloak import errors

from .conftest import SMALL_PAGE, Subject


def test_groups_at_several_depths(subject: Subject) -> None:
    leaf = subject.seed.add_path("/okg-root/level1/level2/level3")
    subject.seed.add_path("/okg-root/level1/sibling")
    root = subject.gateway.get_group_by_path("/okg-root")
    assert root.sub_group_count == 1 and root.path == "/okg-root"
    found = {group.path: group for group in subject.gateway.walk_subtree(root.id)}
    assert set(found) == {
        "/okg-root/level1",
        "/okg-root/level1/level2",
        "/okg-root/level1/level2/level3",
        "/okg-root/level1/sibling",
    }
    assert found["/okg-root/level1"].sub_group_count == 2
    assert found["/okg-root/level1/level2/level3"].id == leaf
    assert found["/okg-root/level1/level2"].parent_id == found["/okg-root/level1"].id
    assert subject.gateway.get_group(leaf).path == "/okg-root/level1/level2/level3"
    assert subject.gateway.get_group_by_path("okg-root/level1/level2/level3/").id == leaf


def test_more_than_one_page_of_top_level_groups(subject: Subject) -> None:
    names = {f"top-{index:02d}" for index in range(SMALL_PAGE * 2 + 5)}
    for name in names:
        subject.seed.add_group(name)
    assert {group.name for group in subject.gateway.list_top_level_groups()} == names


def test_children_are_paged(subject: Subject) -> None:
    parent = subject.seed.add_group("parent")
    for index in range(SMALL_PAGE * 2 + 3):
        subject.seed.add_group(f"child-{index:02d}", parent)
    children = list(subject.gateway.iter_children(parent))
    assert len(children) == SMALL_PAGE * 2 + 3
    assert all(child.parent_id == parent for child in children)
    assert subject.gateway.get_group(parent).sub_group_count == SMALL_PAGE * 2 + 3


def test_members_paged_past_100(subject: Subject) -> None:
    subject.seed.add_path("/crowd")
    users = [{"username": f"member{index:03d}", "email": f"m{index}@example.org"} for index in range(120)]
    subject.seed.add_users_bulk(users, ["/crowd"])
    group = subject.gateway.get_group_by_path("/crowd")
    pages = list(subject.gateway.iter_group_members(group.id))
    usernames = [user.username for page in pages for user in page]
    assert len(usernames) == 120 and len(set(usernames)) == 120
    assert all(user.email.endswith("@example.org") for page in pages for user in page)


def test_user_search_and_count(subject: Subject) -> None:
    subject.seed.add_user("alice", "alice@example.org", "Alice", "Smith")
    subject.seed.add_user("alfred", "fred@example.org", "Alfred", "Jones")
    subject.seed.add_user("zoe", "zoe@example.org", "Zoe", "Alvarez")
    assert {user.username for user in subject.gateway.search_users("al")} == {"alice", "alfred", "zoe"}
    assert [user.username for user in subject.gateway.search_users("ali")] == ["alice"]
    assert subject.gateway.count_users("al") == 3
    assert len(subject.gateway.search_users("al", first=0, max_results=2)) == 2
    alice = subject.gateway.search_users("alice@example.org")[0]
    assert (alice.first_name, alice.last_name) == ("Alice", "Smith")


def test_exact_username_match(subject: Subject) -> None:
    subject.seed.add_user("bobby")
    bob_id = subject.seed.add_user("bob")
    assert subject.gateway.find_user_by_username("bob").id == bob_id
    assert subject.gateway.find_user_by_username("BOB").id == bob_id
    assert subject.gateway.find_user_by_username("bo") is None
    assert subject.gateway.find_user_by_username("nobody") is None


def test_not_found_mapping(subject: Subject) -> None:
    with pytest.raises(errors.NotFound):
        subject.gateway.get_group(str(uuid.uuid4()))
    with pytest.raises(errors.NotFound):
        subject.gateway.get_group_by_path("/does/not/exist")
    with pytest.raises(errors.NotFound):
        list(subject.gateway.iter_children(str(uuid.uuid4())))
    with pytest.raises(errors.NotFound):
        subject.gateway.delete_group(str(uuid.uuid4()))


def test_already_exists_mapping(subject: Subject) -> None:
    top = subject.gateway.create_group("dupe")
    with pytest.raises(errors.AlreadyExists):
        subject.gateway.create_group("dupe")
    subject.gateway.create_group("child", top.id)
    with pytest.raises(errors.AlreadyExists):
        subject.gateway.create_group("child", top.id)


def test_create_and_delete_subtree(subject: Subject) -> None:
    top = subject.gateway.create_group("made-by-us")
    child = subject.gateway.create_group("kid", top.id)
    assert child.path == "/made-by-us/kid" and child.parent_id == top.id
    assert subject.gateway.get_group(top.id).sub_group_count == 1
    subject.gateway.delete_group(top.id)
    for group_id in (top.id, child.id):
        with pytest.raises(errors.NotFound):
            subject.gateway.get_group(group_id)


def test_membership_add_remove_idempotent(subject: Subject) -> None:
    group = subject.gateway.create_group("team")
    user_id = subject.seed.add_user("carol")
    subject.gateway.add_user_to_group(user_id, group.id)
    subject.gateway.add_user_to_group(user_id, group.id)
    members = [user.username for page in subject.gateway.iter_group_members(group.id) for user in page]
    assert members == ["carol"]
    subject.gateway.remove_user_from_group(user_id, group.id)
    subject.gateway.remove_user_from_group(user_id, group.id)
    assert list(subject.gateway.iter_group_members(group.id)) == []


def test_is_member_reads_the_users_groups_past_one_page(subject: Subject) -> None:
    user_id = subject.seed.add_user("dora")
    groups = [subject.gateway.create_group(f"many-{index:02d}") for index in range(SMALL_PAGE * 2 + 1)]
    for group in groups:
        subject.gateway.add_user_to_group(user_id, group.id)
    lonely = subject.gateway.create_group("lonely")
    assert subject.gateway.is_member(user_id, groups[-1].id)  # on the third page of dora's groups
    assert not subject.gateway.is_member(user_id, lonely.id)
    subject.gateway.remove_user_from_group(user_id, groups[-1].id)
    assert not subject.gateway.is_member(user_id, groups[-1].id)
    with pytest.raises(errors.NotFound):
        subject.gateway.is_member(str(uuid.uuid4()), lonely.id)


def test_check_connection(subject: Subject) -> None:
    subject.gateway.check_connection()


def test_members_read_one_page_at_a_time(subject: Subject) -> None:
    subject.seed.add_path("/paged-crowd")
    users = [{"username": f"pm{index:03d}", "email": f"pm{index}@example.org"} for index in range(23)]
    subject.seed.add_users_bulk(users, ["/paged-crowd"])
    group = subject.gateway.get_group_by_path("/paged-crowd")
    pages = [subject.gateway.group_members_page(group.id, first, 10) for first in (0, 10, 20)]
    assert [len(page) for page in pages] == [10, 10, 3]
    seen = [user.username for page in pages for user in page]
    assert sorted(seen) == sorted(user["username"] for user in users)
    assert subject.gateway.group_members_page(group.id, 30, 10) == []
    assert subject.gateway.group_members_page(group.id, 0, 10) == pages[0]  # the same slice twice
