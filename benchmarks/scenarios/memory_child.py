"""Child process of the peak-memory scenario: one pull (or one plain fetch) in a fresh interpreter.

    python -m benchmarks.scenarios.memory_child ours|ours-tracemalloc|plan DATABASE GROUP_UUID WARM_UUID PAGE_SIZE
    python -m benchmarks.scenarios.memory_child floor SERVER_URL REMOTE_GROUP_ID PAGE_SIZE

MODE: ``ours`` (pull_members; peak RSS), ``ours-tracemalloc`` (pull_members; Python allocation peak),
``plan`` (a members plan of the group, stored; peak RSS),
``floor`` (the same members fetched with plain ``requests`` and kept as a list; peak RSS).
Prints one JSON line.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, User
from webapp.services.commands import PreviewMembers
from webapp.services.memberships import pull as members
from webapp.services.plans import core as plans

from ..harness import KeycloakCounter, SqlCounter, build_app, gateway_of
from ..seed import MANAGER, PlainKeycloak

MB = 1024 * 1024


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def current_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def measure_ours(
    database: Path, group_uuid: str, warm_uuid: str, page_size: int, trace: bool, plan: bool = False
) -> dict[str, Any]:
    app = build_app(database, keycloak_page_size=page_size)
    with app.app_context():
        sql = SqlCounter(db.engine)
        group = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == group_uuid))
        assert group is not None
        keycloak = KeycloakCounter(gateway_of(app, group.offering.uuid))
        actor = db.session.scalar(select(User).where(User.username == MANAGER))
        warm = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == warm_uuid))
        assert warm is not None
        members.pull_members(actor, warm)  # loads every module, opens the DB, gets the Keycloak token
        group = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == group_uuid))
        assert group is not None
        gc.collect()
        idle_rss, idle_peak = current_rss(), peak_rss()
        sql_before, kc_before = sql.count, keycloak.count
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        if plan:
            stored = plans.create_plan(actor, PreviewMembers(group.offering, [group]))
            result: dict[str, Any] = {"plan_uuid": stored.uuid, "summary": stored.summary}
        else:
            result = members.pull_members(actor, group).as_dict()
        elapsed = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {
        "elapsed_s": elapsed,
        "idle_rss": idle_rss,
        "idle_peak_rss": idle_peak,
        "peak_rss": peak_rss(),
        "tracemalloc_peak": traced_peak,
        "sql_statements": sql.count - sql_before,
        "keycloak_requests": keycloak.count - kc_before,
        "result": result,
    }


def measure_floor(server_url: str, remote_id: str, page_size: int) -> dict[str, Any]:
    plain = PlainKeycloak(server_url)
    plain.get(f"groups/{remote_id}/members", first=0, max=1, briefRepresentation="true")  # warm the connection
    plain.requests = 0
    gc.collect()
    idle_rss, idle_peak = current_rss(), peak_rss()
    started = time.perf_counter()
    users = plain.members(remote_id, page_size)
    elapsed = time.perf_counter() - started
    return {
        "elapsed_s": elapsed,
        "idle_rss": idle_rss,
        "idle_peak_rss": idle_peak,
        "peak_rss": peak_rss(),
        "keycloak_requests": plain.requests,
        "n": len(users),
    }


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "floor":
        data = measure_floor(argv[1], argv[2], int(argv[3]))
    else:
        data = measure_ours(
            Path(argv[1]), argv[2], argv[3], int(argv[4]), trace=mode == "ours-tracemalloc", plan=mode == "plan"
        )
    print(json.dumps(data))


if __name__ == "__main__":
    main(sys.argv[1:])
