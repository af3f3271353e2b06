"""200 consecutive API calls on one offering, through a real WSGI server, from a cold process state.

A fresh app (fresh GatewayRegistry, no token yet) serves the calls; the offering's AdminGateway counts
its token grants. Calls cycle through the endpoints that reach Keycloak.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import requests

from webapp.extensions import db

from ..harness import BenchContext, KeycloakCounter, LiveServer, build_app, gateway_of
from ..report import Check, Result

CALLS = 200
TOKEN_TARGET = 2


def run(ctx: BenchContext) -> list[Result]:
    app = build_app(ctx.database)
    server = LiveServer(app)
    offering = ctx.seed.pulls_offering_uuid
    counter = KeycloakCounter(gateway_of(app, offering))
    session = requests.Session()
    headers = {"Authorization": f"Token {ctx.seed.manager_token}"}
    small_remote = ctx.realm.member_groups["small"]
    small_local = ctx.seed.pull_groups["small"]

    def get(path: str, **params: Any) -> Callable[[], requests.Response]:
        params["offering_uuid"] = offering
        return lambda: session.get(f"{server.url}/api/{path}", params=params, headers=headers, timeout=120)

    def post(path: str) -> Callable[[], requests.Response]:
        return lambda: session.post(f"{server.url}/api/{path}", json={}, headers=headers, timeout=120)

    calls = [
        get("offering-keycloak-groups/search_remote_users/", q="bu0000"),
        get("offering-keycloak-groups/remote_group_members/", group_id=small_remote),
        get("offering-keycloak-groups/remote_groups/"),
        get("offering-keycloak-groups/sync_status/"),
        post(f"offering-keycloak-groups/{small_local}/pull_members/"),
    ]
    durations = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    try:
        for index in range(CALLS):
            call_started = time.perf_counter()
            response = calls[index % len(calls)]()
            durations.append(time.perf_counter() - call_started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    finally:
        total = time.perf_counter() - started
        server.close()
        with app.app_context():
            db.engine.dispose()
    tokens = counter.tokens
    return [
        Result(
            scenario="api_200_calls_tokens",
            ours_s=total,
            floor_s=None,
            target=f"Keycloak token requests ≤ {TOKEN_TARGET}",
            checks=[
                Check("Keycloak token requests", tokens, TOKEN_TARGET, tokens <= TOKEN_TARGET),
                Check("HTTP 2xx answers", statuses.get(200, 0), CALLS, statuses.get(200, 0) == CALLS),
            ],
            extra={
                "calls": CALLS,
                "token_requests": tokens,
                "keycloak_requests": counter.count,
                "median_call_s": round(statistics.median(durations), 5),
                "statuses": statuses,
            },
        )
    ]
