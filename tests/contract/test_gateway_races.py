"""The gateway contract when instances race: several gateways on one realm (as several web instances and workers
have) make the same write at the same moment. Run on the fake and on a real Keycloak 26, where these are real
races: Keycloak answers 409 to the losers of simultaneous adds of one member and 500 to the losers of
simultaneous deletes of one group, and the gateway turns both into the outcomes its protocol promises."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from webapp.keycloak import errors
from webapp.keycloak.types import RemoteGroup

from .conftest import Subject

INSTANCES = 6
ROUNDS = 4


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; each result is what the call returned or the error it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except errors.KeycloakError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def instances(subject: Subject) -> list[Any]:
    gateways = [subject.twin() for _ in range(INSTANCES)]
    for gateway in gateways:
        gateway.check_connection()  # each has its token before the race, so that the writes leave together
    return gateways


def member_names(subject: Subject, group_id: str) -> list[str]:
    return sorted(user.username for page in subject.gateway.iter_group_members(group_id) for user in page)


def test_member_writes_name_a_missing_user_or_group(subject: Subject) -> None:
    group = subject.gateway.create_group("team")
    user_id = subject.seed.add_user("dave")
    missing = str(uuid.uuid4())
    for write in (subject.gateway.add_user_to_group, subject.gateway.remove_user_from_group):
        with pytest.raises(errors.NotFound):
            write(missing, group.id)
        with pytest.raises(errors.NotFound):
            write(user_id, missing)
    subject.gateway.remove_user_from_group(user_id, group.id)  # never a member: done
    assert member_names(subject, group.id) == []


def test_simultaneous_adds_of_one_member_all_succeed(subject: Subject) -> None:
    group = subject.gateway.create_group("crowded")
    gateways = instances(subject)
    for round_ in range(ROUNDS):
        user_id = subject.seed.add_user(f"racer{round_}")
        outcomes = at_once([partial(g.add_user_to_group, user_id, group.id) for g in gateways])
        assert outcomes == [None] * INSTANCES  # the old gateway raised AlreadyExists for Keycloak's 409s
    assert member_names(subject, group.id) == [f"racer{round_}" for round_ in range(ROUNDS)]


def test_simultaneous_removes_of_one_member_all_succeed(subject: Subject) -> None:
    group = subject.gateway.create_group("leaving")
    gateways = instances(subject)
    for round_ in range(ROUNDS):
        user_id = subject.seed.add_user(f"leaver{round_}")
        subject.gateway.add_user_to_group(user_id, group.id)
        outcomes = at_once([partial(g.remove_user_from_group, user_id, group.id) for g in gateways])
        assert outcomes == [None] * INSTANCES
    assert member_names(subject, group.id) == []


def test_simultaneous_deletes_of_one_group_are_done_or_not_found(subject: Subject) -> None:
    parent = subject.gateway.create_group("parent")
    gateways = instances(subject)
    for round_ in range(ROUNDS):
        doomed = subject.gateway.create_group(f"doomed-{round_}", parent.id)
        subject.gateway.create_group("inner", doomed.id)
        subject.gateway.add_user_to_group(subject.seed.add_user(f"inside{round_}"), doomed.id)
        outcomes = at_once([partial(g.delete_group, doomed.id) for g in gateways])
        # Never Unavailable: Keycloak's 500 to a loser is a NotFound once the group is seen to be gone.
        assert all(outcome is None or isinstance(outcome, errors.NotFound) for outcome in outcomes), outcomes
        assert None in outcomes
        with pytest.raises(errors.NotFound):
            subject.gateway.get_group(doomed.id)
    assert subject.gateway.get_group(parent.id).sub_group_count == 0


def test_simultaneous_creates_of_one_name_make_one_group(subject: Subject) -> None:
    parent = subject.gateway.create_group("parent")
    gateways = instances(subject)
    for round_ in range(ROUNDS):
        outcomes = at_once([partial(g.create_group, f"wanted-{round_}", parent.id) for g in gateways])
        made = [outcome for outcome in outcomes if isinstance(outcome, RemoteGroup)]
        assert len(made) == 1, outcomes
        assert all(isinstance(outcome, errors.AlreadyExists) for outcome in outcomes if outcome is not made[0])
    names = sorted(group.name for group in subject.gateway.iter_children(parent.id))
    assert names == [f"wanted-{round_}" for round_ in range(ROUNDS)]
