"""Plan → apply on the 5,000-member group (half of the local rows differ), and a 50,000-member plan.

- plan_members_5k: computing and storing the plan vs the floor (the same members fetched with plain paged
  ``requests``, as for pull_members).
- apply_plan_5k: applying the default selection (it re-reads Keycloak for the stale check, then writes)
  vs the floor fetch plus the same rows written with bare SQL (one executemany).
- plan_members_50k: peak RSS growth of computing the plan in a fresh process, then the p50 of
  ``items/?page_size=100`` through the live API at pages spread over the plan.
SQL statements of plan and apply are compared with the same operations on the 10-member group.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership, Plan, User, utcnow
from webapp.services.commands import ApplySelection, PreviewMembers
from webapp.services.plans import core as plans

from ..harness import BenchContext, RunStats, interleave, timed
from ..report import Check, Result
from ..seed import MANAGER, MEMBERS_5K, MEMBERS_BIG, MEMBERS_SMALL, PlainKeycloak
from .memory import GROWTH_TARGET_MB, PAGE_SIZE, child, growth_mb
from .pull_members import clear_members, pull

RATIO_TARGET = 1.3
ITEMS_P50_TARGET_S = 0.050
BATCH = plans.BATCH_SIZE


def _exactly(name: str, value: int, wanted: int) -> Check:
    return Check(name, value, wanted, value == wanted)


def make_stale(ctx: BenchContext, group_uuid: str) -> None:
    """Half of the group's local rows get an email Keycloak does not have."""
    with ctx.app.app_context():
        group_id = db.session.scalar(select(OfferingKeycloakGroup.id).where(OfferingKeycloakGroup.uuid == group_uuid))
        db.session.execute(
            text(
                "UPDATE offering_keycloak_membership SET email = 'stale-' || email "
                "WHERE group_id = :group AND id % 2 = 0 AND email NOT LIKE 'stale-%'"
            ),
            {"group": group_id},
        )
        db.session.commit()


def create(ctx: BenchContext, group_uuid: str) -> str:
    with ctx.app.app_context():
        actor = db.session.scalar(select(User).where(User.username == MANAGER))
        group = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == group_uuid))
        assert actor is not None and group is not None
        return plans.create_plan(actor, PreviewMembers(group.offering, [group])).uuid


def apply(ctx: BenchContext, plan_uuid: str) -> dict[str, int]:
    with ctx.app.app_context():
        actor = db.session.scalar(select(User).where(User.username == MANAGER))
        plan = db.session.scalar(select(Plan).where(Plan.uuid == plan_uuid))
        assert actor is not None and plan is not None
        return plans.apply_plan(actor, plan, ApplySelection({})).counts


def prepared(ctx: BenchContext, group_uuid: str) -> None:
    clear_members(ctx, group_uuid)
    pull(ctx, group_uuid)
    make_stale(ctx, group_uuid)


def run(ctx: BenchContext) -> list[Result]:
    plain = PlainKeycloak(ctx.realm.server.url)
    group_uuid, small_uuid = ctx.seed.pull_groups["m5k"], ctx.seed.pull_groups["small"]
    remote_id = ctx.realm.member_groups["m5k"]
    page = int(ctx.app.config["KEYCLOAK_MEMBERS_PAGE_SIZE"])
    differing = MEMBERS_5K // 2

    fetched: list[Any] = []

    def floor_fetch() -> None:
        fetched[:] = plain.members(remote_id, page)
        assert len(fetched) == MEMBERS_5K, len(fetched)

    def floor_apply() -> None:
        floor_fetch()
        with ctx.app.app_context():
            group_id = db.session.scalar(
                select(OfferingKeycloakGroup.id).where(OfferingKeycloakGroup.uuid == group_uuid)
            )
            rows = db.session.execute(  # the half make_stale changes, whatever state they are in now
                select(OfferingKeycloakMembership.id, OfferingKeycloakMembership.username).where(
                    OfferingKeycloakMembership.group_id == group_id, OfferingKeycloakMembership.id % 2 == 0
                )
            ).all()
            by_name = {user["username"]: user for user in fetched}
            now = utcnow()
            values = [
                {"id": row.id, "email": (by_name[row.username].get("email") or ""), "now": now}
                for row in rows
                if row.username in by_name
            ]
            db.session.execute(
                text("UPDATE offering_keycloak_membership SET email = :email, modified = :now WHERE id = :id"), values
            )
            db.session.rollback()  # the floor only has to write them; ours then finds the same differences

    # SQL growth references on the 10-member group.
    small = RunStats()
    prepared(ctx, small_uuid)
    small_plan = small.around(ctx, lambda: create(ctx, small_uuid))
    small.around(ctx, lambda: apply(ctx, small_plan))

    prepared(ctx, group_uuid)
    planning = RunStats()
    made: list[str] = []
    plan_timings = interleave(
        lambda: made.append(planning.around(ctx, lambda: create(ctx, group_uuid))), floor_fetch, ctx.repeat
    )
    with ctx.app.app_context():
        summary = db.session.scalar(select(Plan.summary).where(Plan.uuid == made[-1]))

    applying = RunStats()
    counts: list[dict[str, int]] = []
    pending: list[str] = []

    def fresh_plan() -> None:
        make_stale(ctx, group_uuid)
        pending.append(create(ctx, group_uuid))

    apply_timings = interleave(
        lambda: counts.append(applying.around(ctx, lambda: apply(ctx, pending.pop()))),
        floor_apply,
        ctx.repeat,
        before_each=fresh_plan,
    )
    batches = math.ceil(MEMBERS_5K / BATCH)
    results = []
    for name, timings, stats, small_sql, checks_extra in (
        (
            "plan_members_5k",
            plan_timings,
            planning,
            small.sql[0],
            [_exactly("items to update", (summary or {}).get("update_local", 0), differing)],
        ),
        (
            "apply_plan_5k",
            apply_timings,
            applying,
            small.sql[1],
            [_exactly("items applied", counts[-1]["applied"], differing)],
        ),
    ):
        ratio = timings.ours_median / timings.floor_median
        growth = max(stats.sql) - small_sql
        limit = 2 * batches + 4
        results.append(
            Result(
                scenario=name,
                ours_s=timings.ours_median,
                floor_s=timings.floor_median,
                target=f"ratio ≤ {RATIO_TARGET}; SQL ~ N/{BATCH}",
                checks=[
                    Check("ratio", round(ratio, 3), RATIO_TARGET, ratio <= RATIO_TARGET),
                    Check(
                        f"SQL statements at N={MEMBERS_5K} minus at N={MEMBERS_SMALL}",
                        growth,
                        f"≤ {limit} (2·N/batch + 4)",
                        growth <= limit,
                    ),
                    *checks_extra,
                ],
                extra={
                    "n_members": MEMBERS_5K,
                    "differing": differing,
                    "runs_ours_s": [round(t, 4) for t in timings.ours],
                    "runs_floor_s": [round(t, 4) for t in timings.floor],
                    **stats.overhead(timings),
                    "sql_statements": max(stats.sql),
                    "sql_statements_small_group": small_sql,
                    "keycloak_requests": max(stats.keycloak),
                },
            )
        )
    results.append(big_plan(ctx))
    return results


def big_plan(ctx: BenchContext) -> Result:
    """The 50,000-member plan: memory in a fresh process, then paging its items through the API."""
    group_uuid, warm_uuid = ctx.seed.pull_groups["m50k"], ctx.seed.pull_groups["small"]
    clear_members(ctx, group_uuid)
    measured = child("plan", str(ctx.database), group_uuid, warm_uuid, str(PAGE_SIZE))
    growth = growth_mb(measured)
    plan_uuid = measured["result"]["plan_uuid"]
    pages = math.ceil(MEMBERS_BIG / 100)
    wanted = [1 + (index * (pages - 1)) // 20 for index in range(21)]
    samples = []
    url = f"offering-keycloak-plans/{plan_uuid}/items/"
    for number in wanted:
        seconds, response = timed(lambda n=number: ctx.api(url, page=n, page_size=100))
        assert len(response.json()) == 100
        samples.append(seconds)
    p50 = statistics.median(samples)
    added = measured["result"]["summary"].get("add_local", 0)
    return Result(
        scenario="plan_members_50k",
        ours_s=measured["elapsed_s"],
        floor_s=None,
        target=f"peak RSS growth ≤ {GROWTH_TARGET_MB} MB; items p50 ≤ {int(ITEMS_P50_TARGET_S * 1000)} ms",
        checks=[
            Check("peak RSS growth over idle (MB)", round(growth, 1), GROWTH_TARGET_MB, growth <= GROWTH_TARGET_MB),
            Check("items/?page_size=100 p50 (ms)", round(p50 * 1000, 1), 50, p50 <= ITEMS_P50_TARGET_S),
            Check("items planned", added, MEMBERS_BIG, added == MEMBERS_BIG),
        ],
        extra={
            "n_members": MEMBERS_BIG,
            "page_size": PAGE_SIZE,
            "idle_rss_mb": round(measured["idle_rss"] / (1024 * 1024), 1),
            "sql_statements": measured["sql_statements"],
            "keycloak_requests": measured["keycloak_requests"],
            "items_pages_sampled": wanted,
            "items_ms": [round(s * 1000, 1) for s in samples],
        },
    )
