"""Where the suite's time goes: with OKG_TEST_TIMES=<file> each test's phases and fixtures are written as JSON lines.

Loaded by tests/conftest.py. Every test adds one line {"test", "setup", "call", "teardown", "fixtures",
"fixture_teardowns"}: the phases' wall time and, per fixture, the time of its own body (set-up, without the
fixtures it depends on) and of its own teardown. Under pytest-xdist each worker writes <file>.<worker id>.
`scripts/test-times <file>...` sums the lines by folder and by fixture.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

TIMES_FILE = os.environ.get("OKG_TEST_TIMES", "")


class _Recorder:
    def __init__(self, path: str) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        self.path = f"{path}.{worker}" if worker else path
        self.out = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed at the end of the session
        self.phases: dict[str, float] = {}
        self.fixtures: dict[str, float] = {}
        self.fixture_teardowns: dict[str, float] = {}
        self.stack: list[float] = []  # time spent in nested fixture set-ups (getfixturevalue inside a fixture)
        self.teardown_mark: float | None = None

    def reset(self) -> None:
        self.phases, self.fixtures, self.fixture_teardowns = {}, {}, {}

    def write(self, nodeid: str) -> None:
        line = {
            "test": nodeid,
            **{phase: round(seconds, 4) for phase, seconds in self.phases.items()},
            "fixtures": {name: round(s, 4) for name, s in self.fixtures.items()},
            "fixture_teardowns": {name: round(s, 4) for name, s in self.fixture_teardowns.items()},
        }
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
        self.reset()


_recorder: _Recorder | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _recorder
    if TIMES_FILE and _recorder is None:
        _recorder = _Recorder(TIMES_FILE)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _recorder
    if _recorder is not None:
        _recorder.out.close()
        _recorder = None


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Generator[None]:
    recorder = _recorder
    if recorder is None:
        return (yield)
    recorder.stack.append(0.0)
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        elapsed = time.perf_counter() - start
        nested = recorder.stack.pop()
        own = elapsed - nested
        if recorder.stack:
            recorder.stack[-1] += elapsed
        name = fixturedef.argname
        recorder.fixtures[name] = recorder.fixtures.get(name, 0.0) + own


def pytest_fixture_post_finalizer(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
    # Called right after a fixture's own teardown: the time since the previous mark is that teardown.
    recorder = _recorder
    if recorder is None or recorder.teardown_mark is None:
        return
    now = time.perf_counter()
    name = fixturedef.argname
    recorder.fixture_teardowns[name] = recorder.fixture_teardowns.get(name, 0.0) + now - recorder.teardown_mark
    recorder.teardown_mark = now


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    return (yield from _phase("setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    return (yield from _phase("call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    try:
        return (yield from _phase("teardown"))
    finally:
        if _recorder is not None:
            _recorder.write(item.nodeid)


def _phase(name: str) -> Generator[None]:
    recorder = _recorder
    if recorder is None:
        return (yield)
    start = time.perf_counter()
    if name == "teardown":
        recorder.teardown_mark = start
    try:
        return (yield)
    finally:
        recorder.phases[name] = time.perf_counter() - start
        recorder.teardown_mark = None
