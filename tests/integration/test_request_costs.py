"""What one call of each `make load` endpoint costs on a real Keycloak, in Keycloak requests and SQL statements.

Latency on a shared machine moves with whatever else runs there; these counts do not, so they are what a
change that makes an endpoint do more work shows up in. The numbers are today's: a change that needs more
says so here, on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import event

from webapp.extensions import db

from .conftest import RealWorld

GROUPS = "/api/offering-keycloak-groups"
TEAMS = 60  # children of the offering group: two pages at the fixture's page size of 50
PAGE = 50
MEMBERS = 30  # one page of members


@contextmanager
def counting(proxy_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """Keycloak HTTP requests (token grants apart, from every thread) and SQL statements while it is open."""
    seen: dict[str, list[str]] = {"keycloak": [], "tokens": [], "sql": []}
    send = requests.Session.send

    def counted(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if url.startswith(proxy_url):
            seen["tokens" if url.endswith("/protocol/openid-connect/token") else "keycloak"].append(url)
        return send(session, request, **kwargs)

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        seen["sql"].append(text)

    monkeypatch.setattr(requests.Session, "send", counted)
    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
        monkeypatch.setattr(requests.Session, "send", send)


def root_lookup_requests(major: int) -> int:
    """Finding /base/hpc part by part: one group-by-path per part; 23-25 leave the child count out of that
    answer, so each part also costs a /groups/{id}; 22 sends no parent id, so below the top level the part is
    confirmed among its parent's children (one /groups/{parent} with them inline)."""
    if major < 23:
        return 2 + 1
    return 2 * (2 if major <= 25 else 1)


def walk_requests(major: int, children: int) -> int:
    """The offering's subtree (children only, none of them with children of their own): pages of /children,
    one more when the last page was full; 22 sends the subtree inline in one answer."""
    return 1 if major < 23 else children // PAGE + 1


def test_each_load_endpoint_costs_a_fixed_number_of_keycloak_requests_and_sql_statements(
    client: FlaskClient, real: RealWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    realm: Any = real.realm
    teams = [realm.add_group(f"team-{index:02d}", real.root_id) for index in range(TEAMS)]
    realm.add_users_bulk(
        [{"username": f"user{index:03d}", "email": f"u{index}@example.org"} for index in range(MEMBERS)],
        ["/base/hpc/team-00"],
    )
    headers = real.world.headers("staff")
    offering = real.world.offering.uuid
    imported = [
        client.post(
            f"{GROUPS}/import_remote/",
            headers=headers,
            json={
                "offering_uuid": offering,
                "role_uuid": real.world.member_role.uuid,
                "remote_group_id": team,
                "scope_id": str(index),  # one group per role and scope
            },
        )
        for index, team in enumerate(teams[:3])
    ]
    assert [response.status_code for response in imported] == [201, 201, 201]
    group = imported[0].json["uuid"]  # team-00, the one with members
    query = f"offering_uuid={offering}"
    calls = {
        "list groups": ("GET", f"{GROUPS}/?{query}&page_size=50"),
        "retrieve group": ("GET", f"{GROUPS}/{group}/"),
        "remote_groups": ("GET", f"{GROUPS}/remote_groups/?{query}&page_size=100"),
        "sync_status": ("GET", f"{GROUPS}/sync_status/?{query}"),
        "search users": ("GET", f"{GROUPS}/search_remote_users/?{query}&q=user00"),
        "memberships": ("GET", f"/api/offering-keycloak-memberships/?{query}&page_size=50"),
        "pull_members": ("POST", f"{GROUPS}/{group}/pull_members/"),
    }
    for method, url in calls.values():  # warm-up: the token, the server's version, the first pull's inserts
        assert client.open(url, method=method, headers=headers).status_code == 200
    major = int((real.gateways[0].server_version() or "0").split(".")[0])
    assert major >= 22, "the server said which version it is"

    costs: dict[str, tuple[int, int]] = {}
    for name, (method, url) in calls.items():
        with counting(real.proxy.url, monkeypatch) as seen:
            response = client.open(url, method=method, headers=headers)
        assert response.status_code == 200, (name, response.json)
        assert seen["tokens"] == [], f"{name} asked for a token again"
        costs[name] = (len(seen["keycloak"]), len(seen["sql"]))

    walk = root_lookup_requests(major) + walk_requests(major, TEAMS)
    assert {name: cost[0] for name, cost in costs.items()} == {
        "list groups": 0,
        "retrieve group": 0,
        "remote_groups": walk,
        "sync_status": walk,
        "search users": 2,  # the count and the page
        "memberships": 0,
        "pull_members": 1,  # one page of members
    }
    # The token, the offering and the rows asked for; nothing per row or per Keycloak group. (The test's requests
    # share one database session, which already holds the user: a fresh process sends one or two more.)
    assert {name: cost[1] for name, cost in costs.items()} == {
        "list groups": 5,  # token, user, offering, count, page
        "retrieve group": 2,
        # Every call that reaches Keycloak first checks that no other offering's group overlaps this one's on the
        # same server and realm (one query over the offerings): remote_groups, sync_status, search and pull.
        "remote_groups": 3,
        # + the local groups and their roles, and who changed it (the admin events' cursor: for the read, which
        # reads nothing while events are off, and for the group differences' explanation)
        "sync_status": 7,
        "search users": 3,
        "memberships": 4,
        # + the group's lock (on PostgreSQL with its lock timeout set and reset), the local members, the audit
        # event, the group's count
        "pull_members": 7 + (2 if db.session.get_bind().dialect.name == "postgresql" else 0),
    }
