"""A 50,000-member group in the browser: its group page, the Members tab, and a search round-trip.

The realm's ``/bench-members/m50k`` (50,000 members, cached with the realm) is linked to a local group of its
own in the "Bench Members" offering, and all 50,000 are recorded locally plus two local-only members, so the
page says "Local members · 50,002". Each view is measured in Chromium (first contentful paint, HTML bytes) and
counted on the server: Keycloak requests and SQL statements, which must not grow with the group (compared
with the same views of the 5,000-member group, recorded the same way).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page
from sqlalchemy import delete, insert, select

from webapp.extensions import db
from webapp.models import (
    Offering,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    new_uuid,
    utcnow,
)

from ..harness import BenchContext, KeycloakCounter, gateway_of
from ..report import Check, Result
from ..seed import MEMBERS_5K, MEMBERS_BIG, log
from .browser import CHROMIUM, FIRST_RENDER_TARGET_S, HTML_TARGET_BYTES, TIMING_JS, logged_in_page

KEYCLOAK_REQUESTS_TARGET = 3
SEARCH_P50_TARGET_S = 0.3
SEARCHES = ["bu4", "bu12", "bu0499", "bu31337", "bu4999", "First7", "Last123", "bench.example.org", "bu49", "nobody"]
LOCAL_ONLY = 2


@dataclass
class Seeded:
    big_group_uuid: str
    twin_group_uuid: str
    offering_uuid: str
    group_ids: tuple[int, int]


def _seed(ctx: BenchContext) -> Seeded:
    """The 50k group recorded locally (bulk inserts, a few seconds), and the 5k group to compare with; both are
    the "Bench Members" offering's groups that the pull scenarios use, emptied first and again afterwards."""
    with ctx.app.app_context():
        pulls = db.session.scalars(select(Offering).filter_by(uuid=ctx.seed.pulls_offering_uuid)).one()
        big, twin = (
            db.session.scalars(select(OfferingKeycloakGroup).filter_by(uuid=ctx.seed.pull_groups[name])).one()
            for name in ("m50k", "m5k")
        )
        _empty(big.id, twin.id)
        big.remote_member_count, big.remote_counted_at = MEMBERS_BIG, utcnow()  # as a pull would have left it
        twin.remote_member_count, twin.remote_counted_at = MEMBERS_5K, utcnow()
        now = utcnow()

        def rows(group_id: int, count: int) -> list[dict[str, Any]]:
            return [
                {
                    "uuid": new_uuid(),
                    "group_id": group_id,
                    "username": f"bu{i:05d}",
                    "email": f"bu{i:05d}@bench.example.org",
                    "first_name": f"First{i}",
                    "last_name": f"Last{i}",
                    "state": "active",
                    "created": now,
                    "modified": now,
                    "last_checked": now,
                }
                for i in range(count)
            ]

        big_rows = rows(big.id, MEMBERS_BIG) + [
            {**row, "username": f"local-only-{i}", "email": f"local-only-{i}@example.org", "state": "pending"}
            for i, row in enumerate(rows(big.id, LOCAL_ONLY))
        ]
        for start in range(0, len(big_rows), 5000):
            db.session.execute(insert(OfferingKeycloakMembership), big_rows[start : start + 5000])
        db.session.execute(insert(OfferingKeycloakMembership), rows(twin.id, MEMBERS_5K))
        db.session.commit()
        return Seeded(big.uuid, twin.uuid, pulls.uuid, (big.id, twin.id))


def _empty(*group_ids: int) -> None:
    db.session.execute(delete(OfferingKeycloakMembership).where(OfferingKeycloakMembership.group_id.in_(group_ids)))
    db.session.commit()


@dataclass
class View:
    fcp_s: float
    html_bytes: int
    keycloak_requests: int
    sql_statements: int
    heading: str


def _view(ctx: BenchContext, page: Page, counter: KeycloakCounter, url: str, heading_selector: str) -> View:
    requests_before, sql_before = counter.count, ctx.sql.count
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, response
    timing = page.evaluate(TIMING_JS)
    heading = page.locator(heading_selector).first.inner_text()
    return View(
        timing["fcp"] / 1000,
        len(response.body()),
        counter.count - requests_before,
        ctx.sql.count - sql_before,
        heading,
    )


def _median_view(ctx: BenchContext, page: Page, counter: KeycloakCounter, url: str, selector: str) -> View:
    _view(ctx, page, counter, url, selector)  # warms the browser's caches and the server's connection
    views = [_view(ctx, page, counter, url, selector) for _ in range(max(ctx.repeat, 3))]
    fcp = statistics.median(view.fcp_s for view in views)
    last = views[-1]
    return View(fcp, last.html_bytes, max(v.keycloak_requests for v in views), last.sql_statements, last.heading)


def _checks(big: View, small: View, with_keycloak: bool) -> list[Check]:
    checks = [
        Check(
            "first contentful paint (s)", round(big.fcp_s, 3), FIRST_RENDER_TARGET_S, big.fcp_s <= FIRST_RENDER_TARGET_S
        ),
        Check("page HTML bytes", big.html_bytes, HTML_TARGET_BYTES, big.html_bytes <= HTML_TARGET_BYTES),
        Check(
            "SQL statements per view (50k vs 5k members)",
            f"{big.sql_statements} vs {small.sql_statements}",
            "equal",
            big.sql_statements == small.sql_statements,
        ),
    ]
    if with_keycloak:
        checks.append(
            Check(
                "Keycloak requests per view",
                big.keycloak_requests,
                KEYCLOAK_REQUESTS_TARGET,
                big.keycloak_requests <= KEYCLOAK_REQUESTS_TARGET,
            )
        )
    return checks


def _searches(ctx: BenchContext, page: Page, url: str) -> list[float]:
    """What the search box sends as one types: an htmx request for both member panels."""
    samples = []
    headers = {"HX-Request": "true", "HX-Target": "member-panels", "HX-Current-URL": url}
    for _ in range(2):
        for query in SEARCHES:
            started = time.perf_counter()
            response = page.request.get(url, params={"q": query}, headers=headers)
            response.body()
            samples.append(time.perf_counter() - started)
            assert response.ok, response.status
    return samples


def run(ctx: BenchContext) -> list[Result]:
    if not CHROMIUM.exists():
        return [
            Result("browser_big_group", None, None, "—", [Check("chromium available", False, str(CHROMIUM), False)])
        ]
    seeded = _seed(ctx)
    log(f"  recorded {MEMBERS_BIG + LOCAL_ONLY} members of the 50k group locally")
    counter = KeycloakCounter(gateway_of(ctx.app, seeded.offering_uuid))
    base = f"{ctx.server.url}/offerings/{seeded.offering_uuid}"
    big_url, twin_url = f"{base}/groups/{seeded.big_group_uuid}", f"{base}/groups/{seeded.twin_group_uuid}"
    with logged_in_page(ctx) as page:
        group_big = _median_view(ctx, page, counter, big_url, "#member-panels h3")
        group_small = _median_view(ctx, page, counter, twin_url, "#member-panels h3")
        page.goto(big_url)
        keycloak_heading = page.locator("#keycloak-members h3").inner_text()
        members_big = _median_view(ctx, page, counter, f"{base}/members", "#member-list .muted")
        members_small = _median_view(
            ctx, page, counter, f"{base}/members?group={seeded.twin_group_uuid}", "#member-list .muted"
        )
        search = _searches(ctx, page, big_url)
    with ctx.app.app_context():
        _empty(*seeded.group_ids)  # the pull scenarios expect these groups as they found them
    p50 = statistics.median(search)
    return [
        Result(
            scenario="browser_big_group",
            ours_s=group_big.fcp_s,
            floor_s=None,
            target="group page of a 50k group: FCP ≤ 1 s; HTML ≤ 300 KB; ≤ 3 Keycloak requests; SQL constant",
            checks=_checks(group_big, group_small, with_keycloak=True),
            extra={
                "local_heading": group_big.heading,
                "keycloak_heading": keycloak_heading,
                "keycloak_requests_5k_group": group_small.keycloak_requests,
                "sql_statements": group_big.sql_statements,
            },
        ),
        Result(
            scenario="browser_big_members_tab",
            ours_s=members_big.fcp_s,
            floor_s=None,
            target="Members tab with 55,002 memberships: FCP ≤ 1 s; HTML ≤ 300 KB; no Keycloak request; SQL constant",
            checks=[
                *_checks(members_big, members_small, with_keycloak=False),
                Check(
                    "Keycloak requests per view", members_big.keycloak_requests, 0, members_big.keycloak_requests == 0
                ),
            ],
            extra={"summary": members_big.heading, "sql_statements": members_big.sql_statements},
        ),
        Result(
            scenario="browser_big_group_search",
            ours_s=p50,
            floor_s=None,
            target="search round-trip on the 50k group page (htmx, both panels) p50 ≤ 300 ms",
            checks=[Check("p50_s", round(p50, 4), SEARCH_P50_TARGET_S, p50 <= SEARCH_P50_TARGET_S)],
            extra={
                "p90_s": round(sorted(search)[int(len(search) * 0.9) - 1], 4),
                "samples": len(search),
                "queries": SEARCHES,
            },
        ),
    ]
