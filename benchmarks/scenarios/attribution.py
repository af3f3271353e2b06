"""Who changed it (docs/PRODUCT.md §10) at scale.

- plan_attributed_5k: a members plan of the 5,000-member group, nothing recorded here (5,000 items "in Keycloak,
  not here"), with 5,000 membership events of that group to read first (2,500 members removed and added again in
  Keycloak with admin events on), against the same plan without attribution (the offering's events remembered as
  off, so nothing is read). The stored events are cleared before each attributed run, so each reads all 5,000.
- keycloak_change_page_50k: the plan's items page (``items/?page_size=100``, each item with its
  ``keycloak_change``) with 50,000 stored changes against the same page with 5,000: SQL statements equal; p50.

Admin events are turned on in the bench realm for this scenario and off again at its end; its old admin events
are deleted first, so that a run reads what this run made.
"""

from __future__ import annotations

import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import delete, insert, select

from webapp.extensions import db
from webapp.models import KeycloakChange, KeycloakEventCursor, Offering, OfferingKeycloakGroup, utcnow

from ..harness import BenchContext, RunStats, Timings, timed
from ..report import Check, Result
from ..seed import CLIENT_ID, MEMBERS_5K, REALM, PlainKeycloak
from .plans import create
from .pull_members import clear_members

RATIO_TARGET = 1.3
ITEMS_P50_TARGET_S = 0.050
STORED_BIG = 50_000
THREADS = 8


def _admin(ctx: BenchContext, method: str, path: str, **kwargs: Any) -> requests.Response:
    """The realm's settings, as its administrator (the bench's service account may not change them)."""
    return ctx.realm.server.admin_request(method, f"/{REALM}{path}", **kwargs)


def _events_config(ctx: BenchContext, enabled: bool) -> None:
    config = _admin(ctx, "GET", "/events/config").json()
    _admin(ctx, "PUT", "/events/config", json=config | {"adminEventsEnabled": enabled})


def _may_read_events(ctx: BenchContext) -> None:
    """Our service account gets view-events of realm-management (what attribution needs beyond its four roles)."""
    management = _admin(ctx, "GET", "/clients", params={"clientId": "realm-management"}).json()[0]["id"]
    account = _admin(ctx, "GET", "/users", params={"username": f"service-account-{CLIENT_ID}", "exact": "true"})
    user_id = account.json()[0]["id"]
    role = _admin(ctx, "GET", f"/clients/{management}/roles/view-events").json()
    _admin(ctx, "POST", f"/users/{user_id}/role-mappings/clients/{management}", json=[role])


def _churn(plain: PlainKeycloak, group_id: str, users: list[dict[str, Any]]) -> None:
    """Half of the members leave the group and come back: 5,000 membership events, the group as it was."""
    token = plain.session.headers["Authorization"]
    sessions: dict[int, requests.Session] = {}

    def session() -> requests.Session:
        key = threading.get_ident()
        if key not in sessions:
            sessions[key] = requests.Session()
            sessions[key].headers["Authorization"] = token
        return sessions[key]

    def out_and_back(user: dict[str, Any]) -> None:
        url = f"{plain.base}/users/{user['id']}/groups/{group_id}"
        session().delete(url, timeout=60).raise_for_status()
        session().put(url, timeout=60).raise_for_status()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(out_and_back, users[: MEMBERS_5K // 2]))


def _offering_id(ctx: BenchContext) -> int:
    with ctx.app.app_context():
        found = db.session.scalar(select(Offering.id).where(Offering.uuid == ctx.seed.pulls_offering_uuid))
        assert found is not None
        return int(found)


def _forget(ctx: BenchContext, offering_id: int, state: str | None) -> None:
    """No stored changes; the cursor gone (read everything) or remembered as `state` (e.g. off: read nothing)."""
    with ctx.app.app_context():
        db.session.execute(delete(KeycloakChange).where(KeycloakChange.offering_id == offering_id))
        db.session.execute(delete(KeycloakEventCursor).where(KeycloakEventCursor.offering_id == offering_id))
        if state is not None:
            db.session.add(KeycloakEventCursor(offering_id=offering_id, state=state))
        db.session.commit()


def _stored(ctx: BenchContext, offering_id: int) -> int:
    with ctx.app.app_context():
        return len(db.session.scalars(select(KeycloakChange.id).where(KeycloakChange.offering_id == offering_id)).all())


def _pad(ctx: BenchContext, offering_id: int, group_id: str, total: int) -> None:
    """Stored changes of other users up to `total` (older than the real ones, so they answer nothing)."""
    with ctx.app.app_context():
        have = _stored(ctx, offering_id)
        at = utcnow() - timedelta(days=1)
        rows = [
            {
                "offering_id": offering_id,
                "event_key": f"pad-{index}",
                "at": at,
                "operation": "CREATE",
                "user_id": f"pad-user-{index}",
                "group_id": group_id,
                "actor_realm_id": "",
                "actor_user_id": "pad-actor",
                "actor_client_id": "",
                "other_realm": False,
                "by_app": False,
            }
            for index in range(have, total)
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(KeycloakChange), rows[start : start + 5000])
        db.session.commit()


def run(ctx: BenchContext) -> list[Result]:
    plain = PlainKeycloak(ctx.realm.server.url)
    group_uuid = ctx.seed.pull_groups["m5k"]
    remote_id = ctx.realm.member_groups["m5k"]
    offering_id = _offering_id(ctx)
    users = plain.members(remote_id, 1000)
    assert len(users) == MEMBERS_5K
    _may_read_events(ctx)
    _admin(ctx, "DELETE", "/admin-events")  # what earlier runs left
    _events_config(ctx, True)
    try:
        _churn(plain, remote_id, users)
        made_events = _admin(ctx, "GET", "/admin-events", params={"resourceTypes": "GROUP_MEMBERSHIP", "max": 20_000})
        events_made = len(made_events.json())
        clear_members(ctx, group_uuid)
        timings, ours_stats, floor_stats = Timings(), RunStats(), RunStats()
        made: list[str] = []
        stored: list[int] = []
        for index in range(ctx.repeat + 1):  # the first pair warms up
            sides = ("ours", "floor") if index % 2 == 0 else ("floor", "ours")
            for side in sides:
                if side == "ours":
                    _forget(ctx, offering_id, None)
                    seconds, plan_uuid = timed(lambda: ours_stats.around(ctx, lambda: create(ctx, group_uuid)))
                    stored.append(_stored(ctx, offering_id))
                    made.append(plan_uuid)
                else:
                    _forget(ctx, offering_id, "off")
                    seconds, _ = timed(lambda: floor_stats.around(ctx, lambda: create(ctx, group_uuid)))
                if index:
                    (timings.ours if side == "ours" else timings.floor).append(seconds)
        _forget(ctx, offering_id, None)
        create(ctx, group_uuid)  # the stored changes of this run, for the page below
        churned = {user["username"] for user in users[: MEMBERS_5K // 2]}
        page = _items_page(ctx, made[-1], offering_id, remote_id, churned)
    finally:
        _events_config(ctx, False)
    ratio = timings.ours_median / timings.floor_median
    with ctx.app.app_context():
        changes_of_group = db.session.scalar(
            select(OfferingKeycloakGroup.backend_id).where(OfferingKeycloakGroup.uuid == group_uuid)
        )
    return [
        Result(
            scenario="plan_attributed_5k",
            ours_s=timings.ours_median,
            floor_s=timings.floor_median,
            target=f"ratio ≤ {RATIO_TARGET} (vs the same plan without attribution)",
            checks=[
                Check("ratio", round(ratio, 3), RATIO_TARGET, ratio <= RATIO_TARGET),
                Check("membership events in Keycloak", events_made, f"≥ {MEMBERS_5K}", events_made >= MEMBERS_5K),
                Check("changes stored by the plan's read", min(stored), MEMBERS_5K, min(stored) == MEMBERS_5K),
            ],
            extra={
                "n_items": MEMBERS_5K,
                "group": changes_of_group,
                "runs_ours_s": [round(t, 4) for t in timings.ours],
                "runs_floor_s": [round(t, 4) for t in timings.floor],
                "sql_statements": max(ours_stats.sql),
                "sql_statements_floor": max(floor_stats.sql),
            },
        ),
        page,
    ]


def _items_page(ctx: BenchContext, plan_uuid: str, offering_id: int, group_id: str, churned: set[str]) -> Result:
    """items/?page_size=100 of the plan with 5,000 and with 50,000 stored changes: SQL statements of the same
    pages, p50; every item of a member whose membership changed in Keycloak is attributed, the others unknown."""
    url = f"offering-keycloak-plans/{plan_uuid}/items/"
    pages = [1 + (number * 7) % 50 for number in range(1, 22)]
    measured: dict[int, tuple[list[int], float, int, int]] = {}
    for total in (MEMBERS_5K, STORED_BIG):
        _pad(ctx, offering_id, group_id, total)
        ctx.api(url, page=1, page_size=100)  # warm-up: the token's user and the session
        samples, statements = [], []
        right = wrong = 0
        for page in pages:
            before = ctx.sql.count
            seconds, response = timed(lambda p=page: ctx.api(url, page=p, page_size=100))
            statements.append(ctx.sql.count - before)
            samples.append(seconds)
            answer = response.json()
            assert len(answer) == 100
            for item in answer:
                known = (item["keycloak_change"] or {}).get("source") != "unknown"
                right, wrong = (right + 1, wrong) if known == (item["username"] in churned) else (right, wrong + 1)
        measured[total] = (statements, statistics.median(samples), right, wrong)
    small, big = measured[MEMBERS_5K], measured[STORED_BIG]
    return Result(
        scenario="keycloak_change_page_50k",
        ours_s=big[1],
        floor_s=None,
        target=f"SQL constant from 5k to 50k stored changes; items p50 ≤ {int(ITEMS_P50_TARGET_S * 1000)} ms",
        checks=[
            Check("SQL statements per page, 50k stored vs 5k", max(big[0]) - max(small[0]), 0, big[0] == small[0]),
            Check("items/?page_size=100 p50 (ms)", round(big[1] * 1000, 1), 50, big[1] <= ITEMS_P50_TARGET_S),
            Check("items attributed exactly when their member changed", big[3], 0, big[3] == 0 and big[2] > 0),
        ],
        extra={
            "sql_statements_per_page_5k": small[0],
            "sql_statements_per_page_50k": big[0],
            "p50_ms_5k": round(small[1] * 1000, 1),
            "p50_ms_50k": round(big[1] * 1000, 1),
            "items_checked": big[2] + big[3],
        },
    )
