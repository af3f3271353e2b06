"""Peak memory of pull_members on a 50,000-member group, each run in a fresh subprocess.

Growth = peak RSS during the pull minus the RSS of the idle, warmed-up process (app created, modules
loaded, DB open, Keycloak token held). A separate run reports the tracemalloc peak, and a floor run
the growth of a process that just fetches the same members with ``requests`` and keeps them.

Page size: Keycloak (26, dev-file H2) answers each ``/members`` page of a 50,000-member group in about
2 s whatever ``max`` is, so the default 200 would make one pull last ~8 minutes. These runs use
``KEYCLOAK_PAGE_SIZE=5000`` (10 pages); the default page's cost is sampled and extrapolated instead.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from typing import Any

from webapp.services.memberships.pull import BATCH_SIZE

from ..harness import BenchContext, timed
from ..report import Check, Result
from ..seed import MEMBERS_BIG, REPO_ROOT, PlainKeycloak
from .pull_members import clear_members

GROWTH_TARGET_MB = 150
PAGE_SIZE = 5_000
MB = 1024 * 1024
CHILD = "benchmarks.scenarios.memory_child"


def child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", CHILD, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{CHILD} {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def growth_mb(run: dict[str, Any]) -> float:
    return (run["peak_rss"] - run["idle_rss"]) / MB


def default_page_seconds(ctx: BenchContext, remote_id: str) -> float:
    """Median time of one default-size members page of the 50k group (first, middle, last)."""
    plain = PlainKeycloak(ctx.realm.server.url)
    path = f"groups/{remote_id}/members"
    offsets = (0, MEMBERS_BIG // 2, MEMBERS_BIG - ctx.page_size)
    return statistics.median(
        timed(lambda first=first: plain.get(path, first=first, max=ctx.page_size, briefRepresentation="true"))[0]
        for first in offsets
    )


def run(ctx: BenchContext, rss_runs: int = 1) -> list[Result]:
    group_uuid = ctx.seed.pull_groups["m50k"]
    warm_uuid = ctx.seed.pull_groups["small"]
    remote_id = ctx.realm.member_groups["m50k"]
    database, page = str(ctx.database), str(PAGE_SIZE)
    ours = []
    for _ in range(rss_runs):
        clear_members(ctx, group_uuid)
        ours.append(child("ours", database, group_uuid, warm_uuid, page))
    clear_members(ctx, group_uuid)
    traced = child("ours-tracemalloc", database, group_uuid, warm_uuid, page)
    floor = child("floor", ctx.realm.server.url, remote_id, page)
    clear_members(ctx, group_uuid)
    per_page = default_page_seconds(ctx, remote_id)

    growth = statistics.median(growth_mb(r) for r in ours)
    sql_limit = math.ceil(MEMBERS_BIG / BATCH_SIZE) + 10
    created = ours[-1]["result"]["created"]
    return [
        Result(
            scenario="pull_members_50k_memory",
            ours_s=statistics.median(r["elapsed_s"] for r in ours),
            floor_s=floor["elapsed_s"],
            target=f"peak RSS growth ≤ {GROWTH_TARGET_MB} MB",
            checks=[
                Check("peak RSS growth over idle (MB)", round(growth, 1), GROWTH_TARGET_MB, growth <= GROWTH_TARGET_MB),
                Check("members created", created, MEMBERS_BIG, created == MEMBERS_BIG),
                Check(
                    f"SQL statements at N={MEMBERS_BIG}",
                    ours[-1]["sql_statements"],
                    f"≤ {sql_limit} (N/{BATCH_SIZE} + 10)",
                    ours[-1]["sql_statements"] <= sql_limit,
                ),
            ],
            extra={
                "n_members": MEMBERS_BIG,
                "page_size": PAGE_SIZE,
                "idle_rss_mb": round(ours[-1]["idle_rss"] / MB, 1),
                "peak_rss_mb": [round(r["peak_rss"] / MB, 1) for r in ours],
                "growth_mb_runs": [round(growth_mb(r), 1) for r in ours],
                "tracemalloc_peak_mb": round(traced["tracemalloc_peak"] / MB, 1),
                "floor_growth_mb": round(growth_mb(floor), 1),
                "sql_statements": ours[-1]["sql_statements"],
                "keycloak_requests": ours[-1]["keycloak_requests"],
                "keycloak_requests_floor": floor["keycloak_requests"],
                "default_page_size": ctx.page_size,
                "default_page_s": round(per_page, 3),
                "default_page_pull_estimate_s": round(per_page * (math.ceil(MEMBERS_BIG / ctx.page_size) + 1), 1),
            },
        )
    ]
