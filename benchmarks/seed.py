"""Seed a real Keycloak realm (cached across runs) and a fresh SQLite database for the benchmarks.

The realm ``okg-bench`` is created once and reused while its ``okgBenchSeed`` attribute matches
``SEED_VERSION``: seeding 50,000 users takes a few minutes, every later run skips it.

Realm layout::

    /offerings/bench/l1-NN/l2-NN-NN/l3-NN-NN-NN    the offering subtree: 20 x 9 x 10 = 2,000 groups
    /bench-members/m5k                             5,000 direct members
    /bench-members/m50k                            50,000 direct members (peak-memory scenario)
    /bench-members/small                           10 direct members (200-calls scenario)
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert

from tests.realkeycloak import SERVICE_ACCOUNT_ROLES, KeycloakServer, RealRealm
from webapp.crypto import encrypt
from webapp.extensions import db
from webapp.models import (
    Offering,
    OfferingKeycloakGroup,
    OfferingManager,
    OfferingRole,
    Organization,
    User,
    new_uuid,
    utcnow,
)
from webapp.services.accounts.core import create_token, set_password

REPO_ROOT = Path(__file__).resolve().parent.parent
REALM = "okg-bench"
SEED_VERSION = "v1-20x9x10-50000"
SEED_ATTRIBUTE = "okgBenchSeed"
CLIENT_ID = "okg-service"
CLIENT_SECRET = "okg-bench-secret"

TREE_SHAPE = (20, 9, 10)  # children per level below /offerings/bench: 20 + 180 + 1,800 = 2,000 groups
MEMBERS_BIG = 50_000
MEMBERS_5K = 5_000
MEMBERS_SMALL = 10
USER_CHUNK = 500

LOCAL_SYNCED = 1_500  # of the 2,000 local groups of the bench offering: linked to a subtree group
LOCAL_BROKEN = 100  # linked to an id that is not in the subtree
TOTAL_LOCAL_GROUPS = 10_000
FILLER_OFFERINGS = 4

PASSWORD = "bench-password"
MANAGER = "bench-manager"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ Keycloak


@dataclass(frozen=True)
class RemoteNode:
    id: str
    name: str
    path: str
    parent_id: str
    sub_group_count: int


@dataclass
class RealmSeed:
    server: KeycloakServer
    realm: str
    offering_root_id: str
    subtree: list[RemoteNode]
    member_groups: dict[str, str]  # name under /bench-members -> id

    @property
    def parents_with_children(self) -> int:
        """Groups whose children must be listed: the root plus every subtree group with subgroups."""
        return 1 + sum(1 for node in self.subtree if node.sub_group_count > 0)


def _tree() -> list[dict[str, Any]]:
    n1, n2, n3 = TREE_SHAPE
    level1 = []
    for a in range(n1):
        level2 = []
        for b in range(n2):
            level3 = [{"name": f"l3-{a:02d}-{b:02d}-{c:02d}"} for c in range(n3)]
            level2.append({"name": f"l2-{a:02d}-{b:02d}", "subGroups": level3})
        level1.append({"name": f"l1-{a:02d}", "subGroups": level2})
    members = [{"name": "m5k"}, {"name": "m50k"}, {"name": "small"}]
    return [
        {"name": "offerings", "subGroups": [{"name": "bench", "subGroups": level1}]},
        {"name": "bench-members", "subGroups": members},
    ]


def _users() -> list[dict[str, Any]]:
    users = []
    for i in range(MEMBERS_BIG):
        groups = ["/bench-members/m50k"]
        if i < MEMBERS_5K:
            groups.append("/bench-members/m5k")
        if i < MEMBERS_SMALL:
            groups.append("/bench-members/small")
        users.append(
            {
                "username": f"bu{i:05d}",
                "email": f"bu{i:05d}@bench.example.org",
                "first_name": f"First{i}",
                "last_name": f"Last{i}",
                "groups": groups,
            }
        )
    return users


def _realm_seed_version(server: KeycloakServer) -> str | None:
    """The realm's seed marker, "" when the realm exists without one, None when there is no realm."""
    response = server.admin_request("GET", f"/{REALM}", ok=(200, 404))
    if response.status_code == 404:
        return None
    values = (response.json().get("attributes") or {}).get(SEED_ATTRIBUTE, "")
    return values if isinstance(values, str) else ""


def _create_realm(server: KeycloakServer) -> None:
    server.admin_request("POST", "", json={"realm": REALM, "enabled": True, "accessTokenLifespan": 300})
    response = server.admin_request(
        "POST",
        f"/{REALM}/clients",
        json={
            "clientId": CLIENT_ID,
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": CLIENT_SECRET,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
        },
    )
    client_uuid = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    sa_user = server.admin_request("GET", f"/{REALM}/clients/{client_uuid}/service-account-user").json()
    rm_uuid = server.admin_request("GET", f"/{REALM}/clients", params={"clientId": "realm-management"}).json()[0]["id"]
    roles = [
        server.admin_request("GET", f"/{REALM}/clients/{rm_uuid}/roles/{role}").json() for role in SERVICE_ACCOUNT_ROLES
    ]
    server.admin_request("POST", f"/{REALM}/users/{sa_user['id']}/role-mappings/clients/{rm_uuid}", json=roles)


def seed_realm(server: KeycloakServer, reseed: bool = False) -> None:
    version = _realm_seed_version(server)
    if version == SEED_VERSION and not reseed:
        log(f"realm {REALM} already seeded ({SEED_VERSION}), reusing it")
        return
    if version is not None and (reseed or version not in ("", SEED_VERSION)):
        log(f"deleting realm {REALM} (seed {version or 'incomplete'})")
        server.delete_realm(REALM)
        version = None
    if version is None:
        _create_realm(server)
    realm = RealRealm(server=server, name=REALM, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    started = time.perf_counter()
    log(f"seeding realm {REALM}: {sum(_count(g) for g in _tree())} groups, {MEMBERS_BIG} users (first run only)")
    realm.add_groups_bulk(_tree())
    users = _users()
    for start in range(0, len(users), USER_CHUNK * 10):
        realm.add_users_bulk(users[start : start + USER_CHUNK * 10])  # SKIP: a resumed seed is idempotent
        log(f"  users {min(start + USER_CHUNK * 10, len(users))}/{len(users)} ({time.perf_counter() - started:.0f} s)")
    server.admin_request("PUT", f"/{REALM}", json={"attributes": {SEED_ATTRIBUTE: SEED_VERSION}})
    log(f"realm {REALM} seeded in {time.perf_counter() - started:.0f} s")


def _count(group: dict[str, Any]) -> int:
    return 1 + sum(_count(child) for child in group.get("subGroups", []))


class PlainKeycloak:
    """The floor: plain ``requests`` calls against the admin REST API with a service-account token."""

    def __init__(self, server_url: str, realm: str = REALM) -> None:
        self.base = f"{server_url.rstrip('/')}/admin/realms/{realm}"
        self.token_url = f"{server_url.rstrip('/')}/realms/{realm}/protocol/openid-connect/token"
        self.session = requests.Session()
        self.requests = 0
        self.session.hooks["response"].append(self._count)
        self.authenticate()

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests += 1

    def authenticate(self) -> None:
        response = self.session.post(
            self.token_url,
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            timeout=60,
        )
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(f"{self.base}/{path}", params=params, timeout=120)
        response.raise_for_status()
        return response.json()

    def paged(self, path: str, page_size: int, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        first = 0
        while True:
            page = self.get(path, first=first, max=page_size, **params)
            items.extend(page)
            if len(page) < page_size:
                return items
            first += len(page)

    def group_by_path(self, path: str) -> dict[str, Any]:
        return self.get(f"group-by-path/{path.strip('/')}")  # type: ignore[no-any-return]

    def walk(self, root_id: str, page_size: int, brief: bool = False) -> list[dict[str, Any]]:
        """Breadth-first walk listing children only of groups that report subgroups."""
        found: list[dict[str, Any]] = []
        queue = deque([root_id])
        representation = "true" if brief else "false"
        while queue:
            parent = queue.popleft()
            for child in self.paged(f"groups/{parent}/children", page_size, briefRepresentation=representation):
                found.append(child)
                if child.get("subGroupCount"):
                    queue.append(child["id"])
        return found

    def members(self, group_id: str, page_size: int) -> list[dict[str, Any]]:
        return self.paged(f"groups/{group_id}/members", page_size, briefRepresentation="true")


def describe_realm(server: KeycloakServer, page_size: int) -> RealmSeed:
    plain = PlainKeycloak(server.url)
    root = plain.group_by_path("/offerings/bench")
    subtree = [
        RemoteNode(g["id"], g["name"], g["path"], g.get("parentId") or "", int(g.get("subGroupCount") or 0))
        for g in plain.walk(root["id"], page_size)
    ]
    holder = plain.group_by_path("/bench-members")
    member_groups = {g["name"]: g["id"] for g in plain.paged(f"groups/{holder['id']}/children", page_size)}
    return RealmSeed(server, REALM, root["id"], subtree, member_groups)


# ------------------------------------------------------------------------------------------ database


@dataclass
class DbSeed:
    """Uuids and credentials of what ``seed_database`` created."""

    bench_offering_uuid: str
    pulls_offering_uuid: str
    manager_username: str
    manager_password: str
    manager_token: str
    pull_groups: dict[str, str] = field(default_factory=dict)  # "m5k" / "m50k" / "small" -> local group uuid
    local_counts: dict[str, int] = field(default_factory=dict)


def migrate_database(app: Flask) -> None:
    with app.app_context():
        upgrade(directory=str(REPO_ROOT / "migrations"))


def seed_database(app: Flask, realm: RealmSeed) -> DbSeed:
    """Organization, offerings on the bench realm, 10,000 local groups, a manager with an API token."""
    with app.app_context():
        organization = Organization(name="Bench Org", slug="bench-org")
        secret = encrypt(CLIENT_SECRET)

        def offering(name: str, slug: str, base_group: str) -> Offering:
            return Offering(
                organization=organization,
                name=name,
                slug=slug,
                keycloak_enabled=True,
                keycloak_url=realm.server.url + "/",
                keycloak_realm=realm.realm,
                keycloak_client_id=CLIENT_ID,
                keycloak_client_secret_encrypted=secret,
                keycloak_base_group=base_group,
                keycloak_timeout=120,
            )

        bench = offering("Bench Offering", "bench", "offerings")
        pulls = offering("Bench Members", "bench-members", "")
        fillers = [offering(f"Filler {i}", f"filler-{i}", "offerings") for i in range(FILLER_OFFERINGS)]
        offerings = [bench, pulls, *fillers]
        roles = {o.slug: OfferingRole(offering=o, name="member") for o in offerings}
        manager = User(username=MANAGER, email=f"{MANAGER}@bench.example.org")
        set_password(manager, PASSWORD)
        db.session.add_all([organization, *offerings, *roles.values(), manager])
        db.session.flush()
        db.session.add(OfferingManager(user_id=manager.id, organization_id=organization.id))

        rows: list[dict[str, Any]] = []
        add = _row_maker(rows)
        # The bench offering: 1,500 synced, 400 local only, 100 broken; 500 subtree groups stay remote only.
        step = len(realm.subtree) / LOCAL_SYNCED
        linked = [realm.subtree[int(i * step)] for i in range(LOCAL_SYNCED)]
        for node in linked:
            add(bench, roles["bench"], f"local-{node.name}", node.id)
        for i in range(LOCAL_BROKEN):
            add(bench, roles["bench"], f"broken-{i:04d}", new_uuid())
        for i in range(2_000 - LOCAL_SYNCED - LOCAL_BROKEN):
            add(bench, roles["bench"], f"unlinked-{i:04d}", "")
        pull_uuids = {
            name: add(pulls, roles["bench-members"], f"pull-{name}", gid) for name, gid in realm.member_groups.items()
        }
        filler_total = TOTAL_LOCAL_GROUPS - len(rows)
        for i in range(filler_total):
            target = fillers[i % FILLER_OFFERINGS]
            add(target, roles[target.slug], f"filler-{i:05d}", "")
        for start in range(0, len(rows), 1000):
            db.session.execute(insert(OfferingKeycloakGroup), rows[start : start + 1000])
        db.session.commit()
        _, token = create_token(manager)
        return DbSeed(
            bench_offering_uuid=bench.uuid,
            pulls_offering_uuid=pulls.uuid,
            manager_username=MANAGER,
            manager_password=PASSWORD,
            manager_token=token,
            pull_groups=pull_uuids,
            local_counts={
                "total": len(rows),
                "bench_synced": LOCAL_SYNCED,
                "bench_broken": LOCAL_BROKEN,
                "bench_local_only": 2_000 - LOCAL_SYNCED - LOCAL_BROKEN,
                "bench_remote_only": len(realm.subtree) - LOCAL_SYNCED,
            },
        )


def _row_maker(rows: list[dict[str, Any]]) -> Callable[[Offering, OfferingRole, str, str], str]:
    base = utcnow().timestamp()

    def add(offering: Offering, role: OfferingRole, name: str, backend_id: str) -> str:
        created = datetime.fromtimestamp(base - len(rows), UTC)
        uuid = new_uuid()
        rows.append(
            {
                "uuid": uuid,
                "offering_id": offering.id,
                "role_id": role.id,
                "resource_id": None,
                "scope_id": name,  # unique per (offering, role) as the partial unique index requires
                "name": name,
                "backend_id": backend_id,
                "origin": "imported" if backend_id else "created",
                "created": created,
                "modified": created,
            }
        )
        return uuid

    return add
