"""Admin events are answers from a server we do not trust (docs/KEYCLOAK.md §9): only membership changes of the
expected shape are kept, ids longer than a Keycloak id are dropped, anything that is not an event is an error."""

from __future__ import annotations

import json

import pytest

from webapp.keycloak.types import AdminEvent, MalformedAnswer

USER, GROUP = "7d2c1f5e-0000-4000-8000-000000000001", "7d2c1f5e-0000-4000-8000-000000000002"


def event(**overrides: object) -> dict[str, object]:
    return {
        "id": "e1",
        "time": 1_796_675_768_258,
        "realmId": "realm-uuid",
        "authDetails": {"realmId": "realm-uuid", "clientId": "client-uuid", "userId": "actor-uuid"},
        "operationType": "CREATE",
        "resourceType": "GROUP_MEMBERSHIP",
        "resourcePath": f"users/{USER}/groups/{GROUP}",
        "details": {"username": "erin"},
    } | overrides


def test_a_membership_event_is_read_with_its_actor() -> None:
    parsed = AdminEvent.from_representation(event())
    assert parsed is not None
    assert (parsed.key, parsed.operation, parsed.user_id, parsed.group_id) == ("e1", "CREATE", USER, GROUP)
    assert (parsed.actor_realm_id, parsed.actor_user_id, parsed.actor_client_id) == (
        "realm-uuid",
        "actor-uuid",
        "client-uuid",
    )
    assert parsed.member_username == "erin"


def test_without_an_id_22_and_24_events_are_told_apart_by_time_operation_and_path() -> None:
    parsed = AdminEvent.from_representation(event(id=None, details=None))
    assert parsed is not None and parsed.key == f"1796675768258:CREATE:{USER}:{GROUP}" and parsed.member_username == ""


@pytest.mark.parametrize(
    "hostile",
    [
        {"resourcePath": f"users/{'a' * 65}/groups/{GROUP}"},  # longer than any Keycloak id: not stored
        {"resourcePath": f"users/{USER}/groups/{GROUP}/extra"},
        {"resourcePath": f"users/../groups/{GROUP}"},
        {"resourcePath": 7},
        {"operationType": "UPDATE"},
        {"time": "yesterday"},
        {"time": True},
    ],
)
def test_anything_else_is_not_a_membership_change(hostile: dict[str, object]) -> None:
    assert AdminEvent.from_representation(event(**hostile)) is None


def test_overlong_actor_ids_are_dropped_not_stored() -> None:
    parsed = AdminEvent.from_representation(event(authDetails={"userId": "x" * 300, "clientId": 5}, id="y" * 65))
    assert parsed is not None and (parsed.actor_user_id, parsed.actor_client_id) == ("", "")
    assert parsed.key.startswith("1796675768258:")  # an overlong id is no id


def test_what_is_not_an_event_is_an_answer_not_from_keycloak() -> None:
    with pytest.raises(MalformedAnswer):
        AdminEvent.from_representation(["not", "an", "event"])


# -- group events (the side-by-side diff's differences) -----------------------------------------------------

GROUP_ID = "0034c4db-78b2-427f-82d5-f203b6b2f8ea"
CHILD_ID = "98840c90-a11c-45a8-9399-e7d11665081f"


def group_event(operation: str, path: str, representation: object = None) -> dict[str, object]:
    event: dict[str, object] = {
        "time": 1_765_000_000_000,
        "operationType": operation,
        "resourceType": "GROUP",
        "resourcePath": path,
        "authDetails": {"realmId": "r", "userId": "u", "clientId": "c"},
    }
    if representation is not None:
        event["representation"] = representation
    return event


def test_group_events_as_keycloak_26_records_them() -> None:
    """Paths and representations as a real Keycloak 26.7.3 recorded them (probed: docs/KEYCLOAK.md §9)."""
    made = AdminEvent.from_representation(group_event("CREATE", f"groups/{GROUP_ID}"))
    assert made is not None and (made.operation, made.group_id, made.parent_id, made.about_group) == (
        "CREATE",
        GROUP_ID,
        "",
        True,
    )
    child = json.dumps({"id": CHILD_ID, "name": "child", "subGroups": []})
    sub = AdminEvent.from_representation(group_event("CREATE", f"groups/{GROUP_ID}/children", child))
    assert sub is not None and (sub.operation, sub.group_id, sub.parent_id) == ("CREATE", CHILD_ID, GROUP_ID)
    moved = AdminEvent.from_representation(group_event("UPDATE", f"groups/{GROUP_ID}/children", child))
    assert moved is not None and (moved.operation, moved.group_id, moved.parent_id) == ("MOVE", CHILD_ID, GROUP_ID)
    deleted = AdminEvent.from_representation(group_event("DELETE", f"groups/{CHILD_ID}"))
    assert deleted is not None and (deleted.operation, deleted.group_id) == ("DELETE", CHILD_ID)


def test_group_events_that_name_no_group_or_no_difference_are_not_kept() -> None:
    assert AdminEvent.from_representation(group_event("UPDATE", f"groups/{GROUP_ID}")) is None  # a rename
    assert AdminEvent.from_representation(group_event("CREATE", f"groups/{GROUP_ID}/children")) is None  # no details
    assert AdminEvent.from_representation(group_event("ACTION", f"groups/{GROUP_ID}")) is None


@pytest.mark.parametrize(
    "representation",
    [
        "not json",
        "[1, 2]",
        json.dumps({"id": "../../users"}),
        json.dumps({"id": "x" * 65}),
        json.dumps({"id": 42}),
        "[" * 100_000,
        "[" * 5_000 + "]" * 5_000,
        {"id": CHILD_ID},  # not a text
    ],
)
def test_a_hostile_representation_names_no_group(representation: object) -> None:
    event = group_event("CREATE", f"groups/{GROUP_ID}/children", representation)
    assert AdminEvent.from_representation(event) is None


def test_a_hostile_group_path_is_not_kept() -> None:
    for path in (f"groups/{GROUP_ID}/children/x", f"groups/{'a' * 65}", "groups/../x", f"groups/{GROUP_ID}/members"):
        assert AdminEvent.from_representation(group_event("CREATE", path)) is None
