"""sync_status and remote_groups through the API on the 2,000-group offering subtree (+ 2,000 local groups).

Floor: find the offering root by path and walk the same subtree with plain paged ``requests`` GETs
(same page size and representation as the gateway), parsing every page's JSON.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import requests

from ..harness import BenchContext, RunStats, interleave, timed
from ..report import Check, Result
from ..seed import PlainKeycloak

RATIO_TARGET = 1.3
BRIEF_REPEAT = 3


def run(ctx: BenchContext) -> list[Result]:
    plain = PlainKeycloak(ctx.realm.server.url)
    n_groups = len(ctx.realm.subtree)
    page = ctx.page_size

    def floor() -> None:
        root = plain.group_by_path("/offerings/bench")
        found = plain.walk(root["id"], page)
        assert len(found) == n_groups, len(found)

    plain.requests = 0
    floor()
    floor_requests = plain.requests

    # What the same walk costs with briefRepresentation=true (the gateway asks for the full one).
    brief = [timed(lambda: plain.walk(ctx.realm.offering_root_id, page, brief=True))[0] for _ in range(BRIEF_REPEAT)]

    offering = ctx.seed.bench_offering_uuid
    endpoints: dict[str, Callable[[], requests.Response]] = {
        "sync_status_2k": lambda: ctx.api("offering-keycloak-groups/sync_status/", offering_uuid=offering),
        "remote_groups_2k": lambda: ctx.api(
            "offering-keycloak-groups/remote_groups/", offering_uuid=offering, page_size=100
        ),
    }
    results = [
        measure(ctx, name, call, floor, floor_requests, statistics.median(brief)) for name, call in endpoints.items()
    ]
    return results


def measure(
    ctx: BenchContext,
    name: str,
    call: Callable[[], requests.Response],
    floor: Callable[[], None],
    floor_requests: int,
    floor_brief: float,
) -> Result:
    n_groups = len(ctx.realm.subtree)
    page = ctx.page_size
    limit = math.ceil(n_groups / page) + ctx.realm.parents_with_children
    stats = RunStats()
    sizes: list[int] = []

    def ours() -> None:
        sizes.append(len(stats.around(ctx, call).content))

    timings = interleave(ours, floor, ctx.repeat)
    ratio = timings.ours_median / timings.floor_median
    kc_requests = max(stats.keycloak)
    return Result(
        scenario=name,
        ours_s=timings.ours_median,
        floor_s=timings.floor_median,
        target=f"ratio ≤ {RATIO_TARGET}; KC requests ≤ ⌈N/page⌉ + parents",
        checks=[
            Check("ratio", round(ratio, 3), RATIO_TARGET, ratio <= RATIO_TARGET),
            Check(
                "Keycloak requests per call",
                kc_requests,
                f"≤ {limit} (⌈{n_groups}/{page}⌉ + {ctx.realm.parents_with_children})",
                kc_requests <= limit,
            ),
        ],
        extra={
            "n_remote_groups": n_groups,
            "n_local_groups": 2_000,
            "page_size": page,
            "runs_ours_s": [round(t, 4) for t in timings.ours],
            "runs_floor_s": [round(t, 4) for t in timings.floor],
            **stats.overhead(timings),
            "keycloak_requests": kc_requests,
            "keycloak_requests_floor": floor_requests,
            "response_bytes": sizes[-1],
            "floor_brief_representation_s": round(floor_brief, 4),
        },
    )
