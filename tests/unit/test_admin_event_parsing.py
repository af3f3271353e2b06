"""Admin events are answers from a server we do not trust (docs/KEYCLOAK.md §9): only membership changes of the
expected shape are kept, ids longer than a Keycloak id are dropped, anything that is not an event is an error."""

from __future__ import annotations

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
