"""Bounds on remote walks and pulls, shared by every gateway implementation.

A Keycloak (or a server pretending to be one) can answer with a group that is its own ancestor, pages that
never get shorter, or simply more than anyone should load into one request. Each walk and pull therefore
has a visited set, a cap and an overall deadline; exceeding one is a clear LimitExceeded.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from . import errors
from .types import RemoteGroup, RemoteUser


@dataclass(frozen=True, slots=True)
class Limits:
    max_groups: int = 20_000  # groups under one offering group
    max_members: int = 500_000  # direct members of one group
    deadline_seconds: float = 600.0  # one walk or one pull, from its first request


class Deadline:
    def __init__(self, seconds: float, what: str) -> None:
        self._ends = time.monotonic() + seconds
        self._seconds = seconds
        self._what = what

    def check(self) -> None:
        if time.monotonic() > self._ends:
            raise errors.LimitExceeded(f"{self._what} did not finish within {self._seconds:g} s")


def walk_subtree(
    children_of: Callable[[str], Iterable[RemoteGroup]], group_id: str, limits: Limits, label: str
) -> list[RemoteGroup]:
    """Breadth first; only groups reported as having children cost a request; each group is visited once."""
    deadline = Deadline(limits.deadline_seconds, f"Reading the groups under {label}")
    found: list[RemoteGroup] = []
    visited = {group_id}
    queue = deque([group_id])
    while queue:
        deadline.check()
        for child in children_of(queue.popleft()):
            if child.id in visited:
                continue  # a group that is its own ancestor (or listed twice) ends that branch
            visited.add(child.id)
            found.append(child)
            if len(found) > limits.max_groups:
                raise errors.LimitExceeded(f"Keycloak returned more than {limits.max_groups} groups under {label}")
            if child.sub_group_count > 0:
                queue.append(child.id)
    return found


def bounded_members(pages: Iterator[list[RemoteUser]], limits: Limits, label: str) -> Iterator[list[RemoteUser]]:
    deadline = Deadline(limits.deadline_seconds, f"Reading the members of {label}")
    total = 0
    for page in pages:
        total += len(page)
        if total > limits.max_members:
            raise errors.LimitExceeded(f"Keycloak returned more than {limits.max_members} members in {label}")
        deadline.check()
        yield page
