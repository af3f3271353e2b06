"""pull_members on a 5,000-member group: into an empty local group, then with every member already there.

Floor: the same members fetched with plain paged ``requests`` GETs (same page size, same representation).
"""

from __future__ import annotations

import math

from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership, User
from webapp.services.memberships import pull as members

from ..harness import BenchContext, RunStats, interleave
from ..report import Check, Result
from ..seed import MANAGER, MEMBERS_5K, MEMBERS_SMALL, PlainKeycloak

RATIO_TARGET = 1.3


def pull(ctx: BenchContext, group_uuid: str) -> dict[str, int]:
    """What the API handler does, minus HTTP: load actor and group, pull, commit."""
    with ctx.app.app_context():
        actor = db.session.scalar(select(User).where(User.username == MANAGER))
        group = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == group_uuid))
        assert group is not None
        return members.pull_members(actor, group).as_dict()


def clear_members(ctx: BenchContext, group_uuid: str) -> None:
    with ctx.app.app_context():
        group_id = db.session.scalar(select(OfferingKeycloakGroup.id).where(OfferingKeycloakGroup.uuid == group_uuid))
        db.session.execute(delete(OfferingKeycloakMembership).where(OfferingKeycloakMembership.group_id == group_id))
        db.session.commit()


def run(ctx: BenchContext) -> list[Result]:
    plain = PlainKeycloak(ctx.realm.server.url)
    group_uuid = ctx.seed.pull_groups["m5k"]
    remote_id = ctx.realm.member_groups["m5k"]
    page = int(ctx.app.config["KEYCLOAK_MEMBERS_PAGE_SIZE"])  # the floor pages exactly like the gateway

    def floor() -> None:
        users = plain.members(remote_id, page)
        assert len(users) == MEMBERS_5K, len(users)

    plain.requests = 0
    floor()
    floor_requests = plain.requests

    # SQL growth reference: the same pulls (empty, then existing) on a 10-member group.
    small = RunStats()
    clear_members(ctx, ctx.seed.pull_groups["small"])
    for _ in range(2):
        small.around(ctx, lambda: pull(ctx, ctx.seed.pull_groups["small"]))

    outcomes: list[dict[str, int]] = []
    empty = RunStats()
    timings_empty = interleave(
        lambda: outcomes.append(empty.around(ctx, lambda: pull(ctx, group_uuid))),
        floor,
        ctx.repeat,
        before_each=lambda: clear_members(ctx, group_uuid),
    )
    assert outcomes[-1]["created"] == MEMBERS_5K, outcomes[-1]
    existing = RunStats()
    timings_existing = interleave(
        lambda: outcomes.append(existing.around(ctx, lambda: pull(ctx, group_uuid))), floor, ctx.repeat
    )
    assert outcomes[-1]["unchanged"] == MEMBERS_5K, outcomes[-1]

    batches = math.ceil(MEMBERS_5K / members.BATCH_SIZE)
    results = []
    for name, timings, stats, small_sql in (
        ("pull_members_5k_empty", timings_empty, empty, small.sql[0]),
        ("pull_members_5k_existing", timings_existing, existing, small.sql[1]),
    ):
        sql = max(stats.sql)
        growth = sql - small_sql
        ratio = timings.ours_median / timings.floor_median
        results.append(
            Result(
                scenario=name,
                ours_s=timings.ours_median,
                floor_s=timings.floor_median,
                target=f"ratio ≤ {RATIO_TARGET}; SQL ~ N/{members.BATCH_SIZE}",
                checks=[
                    Check("ratio", round(ratio, 3), RATIO_TARGET, ratio <= RATIO_TARGET),
                    Check(
                        f"SQL statements at N={MEMBERS_5K} minus at N={MEMBERS_SMALL}",
                        growth,
                        f"≤ {batches + 2} (N/batch + 2)",
                        growth <= batches + 2,
                    ),
                ],
                extra={
                    "n_members": MEMBERS_5K,
                    "page_size": page,
                    "runs_ours_s": [round(t, 4) for t in timings.ours],
                    "runs_floor_s": [round(t, 4) for t in timings.floor],
                    **stats.overhead(timings),
                    "sql_statements": sql,
                    "sql_statements_small_group": small_sql,
                    "keycloak_requests": max(stats.keycloak),
                    "keycloak_requests_floor": floor_requests,
                },
            )
        )
    return results
