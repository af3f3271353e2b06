"""Job kinds are registrations: a kind defined here alone runs from asking to done, and the queue imports no
service (the job service depends on the queue, never the other way round)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.factories import World
from webapp.extensions import db
from webapp.jobs.queue import job_queue
from webapp.models import Job
from webapp.services.jobs import core as jobs
from webapp.services.jobs import kinds as job_kinds
from webapp.services.jobs.kinds import JobKindSpec, Report

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"


def _greet(job: Job, report: Report) -> dict[str, Any]:
    report(1, 2)
    report(2, 3)
    return {"greeted": job.offering.name if job.offering else ""}


TOY = JobKindSpec(
    name="toy_greet",
    label="Greet",
    words="A greeting",
    work=_greet,
    unit="greetings",
    needs=("offering",),
    start_label="Greet now",
)


@pytest.fixture
def toy() -> Iterator[JobKindSpec]:
    job_kinds.register(TOY)
    yield TOY
    job_kinds.unregister(TOY.name)


def test_a_kind_registered_in_a_test_runs_from_asking_to_done(app: Flask, client, world: World, toy) -> None:
    job = jobs.create_job(world.manager, toy.name, world.offering)
    assert job.state == "queued" and job.progress == {"done": 0, "total": None, "unit": "greetings"}
    huey = job_queue().huey
    task = huey.dequeue()  # what a worker does: the queued task runs the job by uuid
    assert task is not None
    huey.execute(task)
    db.session.expire_all()
    done = db.session.get(Job, job.id)
    assert done is not None and done.state == "succeeded" and done.result == {"greeted": world.offering.name}
    assert jobs.busy_words(done).startswith(f"A greeting of {world.offering.name}")
    with pytest.raises(Exception, match="offering_uuid"):
        jobs.create_job(world.manager, toy.name)  # it needs an offering, as registered


def test_an_unknown_kind_is_refused_by_name(app: Flask, world: World) -> None:
    with pytest.raises(Exception, match="not a valid choice"):
        jobs.create_job(world.manager, "no_such_kind", world.offering)


def test_a_name_registers_once() -> None:
    with pytest.raises(ValueError):
        job_kinds.register(job_kinds.kind_of("pull_members"))


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions, resolved to its dotted name."""
    package = ".".join(path.relative_to(WEBAPP.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.update(f"{module}.{alias.name}" if not node.module else module for alias in node.names)
    return found


def test_the_queue_imports_no_service_and_the_registry_no_kind() -> None:
    queue = _imports(WEBAPP / "jobs" / "queue.py")
    assert not [name for name in queue if name.startswith(("webapp.services", "webapp.ui", "webapp.api"))]
    registry = _imports(WEBAPP / "services" / "jobs" / "kinds.py")
    assert {name for name in registry if name.startswith("webapp.")} <= {
        "webapp.extensions",
        "webapp.models",
        "webapp.services.errors",
    }
