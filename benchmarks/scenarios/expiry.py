"""Removal on time at scale (docs/PRODUCT.md §11): one expiry round removing 10,000 members whose time is up,
against the same removals done by applying a plan.

- expiry_round_10k: ``expire_due`` of the offering (what the periodic round and ``flask expire-memberships``
  run) on 10,000 due memberships of one linked group, with the removal brake raised above 10,000 (an operator's
  setting: below it the round removes them itself; above it they would wait in an expiry plan).
- floor: the expiry plan of the same 10,000 members (already marked expired here, still in Keycloak) applied
  with its typed phrase: the plan's stale check reads the group's members again, then one DELETE per member.
  Making the plan is not timed.

Both send the same 10,000 ``DELETE /users/{id}/groups/{group}``; the group is filled again (untimed, eight
threads) before each. At 10,000 members one run of either takes about a minute and a half here, so the scenario
is opt-in (``make bench-scale``) and runs three rounds each (``--repeat`` caps it), without a warm-up round.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import delete, func, insert, select

from webapp.extensions import db
from webapp.models import (
    MembershipState,
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    OfferingRole,
    Plan,
    User,
    utcnow,
)
from webapp.services.commands import ApplySelection, PreviewExpiry
from webapp.services.plans import core as plans
from webapp.services.plans import expiry_run

from ..harness import BenchContext, RunStats, Timings, timed
from ..report import Check, Result
from ..seed import MANAGER, PlainKeycloak

N = int(os.environ.get("BENCH_EXPIRY_N", "10000"))  # smaller only to try the scenario out
GROUP = "expiry-10k"
RATIO_TARGET = 1.3
ROUNDS_AT_MOST = 3
FILL_THREADS = 8


class Remote:
    """The Keycloak side: the group under /bench-members, its 10,000 users (the first of m50k), refilling it."""

    def __init__(self, ctx: BenchContext) -> None:
        self.plain = PlainKeycloak(ctx.realm.server.url)
        self.group_id = ctx.realm.member_groups.get(GROUP) or self._create()
        users = self.plain.get(
            f"groups/{ctx.realm.member_groups['m50k']}/members", first=0, max=N, briefRepresentation="true"
        )
        assert len(users) == N, len(users)
        self.users: list[dict[str, Any]] = users
        self._local = threading.local()

    def _create(self) -> str:
        holder = self.plain.group_by_path("/bench-members")
        response = self.plain.session.post(f"{self.plain.base}/groups/{holder['id']}/children", json={"name": GROUP})
        if response.status_code != 409:  # 409: made by an earlier run that stopped before describing the realm
            response.raise_for_status()
        return str(self.plain.group_by_path(f"/bench-members/{GROUP}")["id"])

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = self.plain.session.headers["Authorization"]
        return session

    def fill(self) -> None:
        self.plain.authenticate()  # a fresh token for the threads: a round outlasts none

        def put(user: dict[str, Any]) -> None:
            url = f"{self.plain.base}/users/{user['id']}/groups/{self.group_id}"
            self._session().put(url, timeout=60).raise_for_status()

        with ThreadPoolExecutor(FILL_THREADS) as pool:
            list(pool.map(put, self.users))
        assert self.count() == N

    def count(self) -> int:
        return len(self.plain.get(f"groups/{self.group_id}/members", first=0, max=N + 1, briefRepresentation="true"))


def local_group(ctx: BenchContext, remote: Remote) -> str:
    """The local group linked to it, in the offering of the member groups (made on the first run)."""
    existing = ctx.seed.pull_groups.get(GROUP)
    if existing:
        return existing
    with ctx.app.app_context():
        offering = db.session.scalar(select(Offering).where(Offering.uuid == ctx.seed.pulls_offering_uuid))
        assert offering is not None
        role = db.session.scalar(select(OfferingRole).where(OfferingRole.offering_id == offering.id))
        group = OfferingKeycloakGroup(
            offering=offering, role=role, scope_id=GROUP, name=GROUP, backend_id=remote.group_id, origin="imported"
        )
        db.session.add(group)
        db.session.commit()
        return group.uuid


def set_rows(ctx: BenchContext, group_uuid: str, remote: Remote, state: MembershipState) -> None:
    """The group's 10,000 register rows, anew: their time was up a minute ago."""
    with ctx.app.app_context():
        group_id = db.session.scalar(select(OfferingKeycloakGroup.id).where(OfferingKeycloakGroup.uuid == group_uuid))
        db.session.execute(delete(OfferingKeycloakMembership).where(OfferingKeycloakMembership.group_id == group_id))
        ended = utcnow() - timedelta(minutes=1)
        rows = [
            {
                "group_id": group_id,
                "username": user["username"],
                "email": user.get("email") or "",
                "first_name": user.get("firstName") or "",
                "last_name": user.get("lastName") or "",
                "keycloak_user_id": user["id"],
                "state": state,
                "expires_at": ended,
            }
            for user in remote.users
        ]
        for start in range(0, len(rows), 1000):
            db.session.execute(insert(OfferingKeycloakMembership), rows[start : start + 1000])
        db.session.commit()


def expired_count(ctx: BenchContext, group_uuid: str) -> int:
    with ctx.app.app_context():
        return int(
            db.session.scalar(
                select(func.count())
                .select_from(OfferingKeycloakMembership)
                .join(OfferingKeycloakGroup)
                .where(
                    OfferingKeycloakGroup.uuid == group_uuid,
                    OfferingKeycloakMembership.state == MembershipState.EXPIRED,
                )
            )
            or 0
        )


def run(ctx: BenchContext) -> list[Result]:
    remote = Remote(ctx)
    group_uuid = local_group(ctx, remote)
    rounds = max(1, min(ctx.repeat, ROUNDS_AT_MOST))
    brake = ctx.app.config["PLAN_REMOVAL_BRAKE"]
    ctx.app.config["PLAN_REMOVAL_BRAKE"] = N  # the round removes them itself (above it: an expiry plan waits)
    timings, ours_stats, floor_stats = Timings(), RunStats(), RunStats()
    expired: list[int] = []
    applied: list[int] = []

    def ours() -> None:
        with ctx.app.app_context():
            offering = db.session.scalar(select(Offering).where(Offering.uuid == ctx.seed.pulls_offering_uuid))
            done = expiry_run.expire_due(offering)
            assert not done.errors and not done.planned, (done.errors, done.planned)
            expired.append(done.expired)

    def make_plan() -> str:
        with ctx.app.app_context():
            actor = db.session.scalar(select(User).where(User.username == MANAGER))
            group = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == group_uuid))
            assert actor is not None and group is not None
            return plans.create_plan(actor, PreviewExpiry(group.offering, [group])).uuid

    def floor(plan_uuid: str) -> None:
        with ctx.app.app_context():
            actor = db.session.scalar(select(User).where(User.username == MANAGER))
            plan = db.session.scalar(select(Plan).where(Plan.uuid == plan_uuid))
            assert actor is not None and plan is not None
            counts = plans.apply_plan(actor, plan, ApplySelection({}, plans.removal_phrase(N))).counts
            applied.append(counts["applied"])

    try:
        for index in range(rounds):
            for side in ("ours", "floor") if index % 2 == 0 else ("floor", "ours"):
                remote.fill()
                if side == "ours":
                    set_rows(ctx, group_uuid, remote, MembershipState.ACTIVE)
                    seconds, _ = timed(lambda: ours_stats.around(ctx, ours))
                    timings.ours.append(seconds)
                else:
                    set_rows(ctx, group_uuid, remote, MembershipState.EXPIRED)
                    plan_uuid = make_plan()
                    seconds, _ = timed(lambda uuid=plan_uuid: floor_stats.around(ctx, lambda: floor(uuid)))
                    timings.floor.append(seconds)
                assert remote.count() == 0, f"{side} left members in the Keycloak group"
        left_expired = expired_count(ctx, group_uuid)
    finally:
        ctx.app.config["PLAN_REMOVAL_BRAKE"] = brake
    ratio = timings.ours_median / timings.floor_median
    return [
        Result(
            scenario="expiry_round_10k" if N == 10_000 else f"expiry_round_{N}",
            ours_s=timings.ours_median,
            floor_s=timings.floor_median,
            target=f"ratio ≤ {RATIO_TARGET} (vs the same removals by a plan apply)",
            checks=[
                Check("ratio", round(ratio, 3), RATIO_TARGET, ratio <= RATIO_TARGET),
                Check("expired per round", min(expired), N, set(expired) == {N}),
                Check("applied per plan", min(applied), N, set(applied) == {N}),
                Check("expired rows after the last round", left_expired, N, left_expired == N),
            ],
            extra={
                "n_members": N,
                "rounds": rounds,
                "runs_ours_s": [round(t, 3) for t in timings.ours],
                "runs_floor_s": [round(t, 3) for t in timings.floor],
                "batch_size": expiry_run.BATCH_SIZE,
                "sql_statements": max(ours_stats.sql),
                "sql_statements_floor": max(floor_stats.sql),
            },
        )
    ]
