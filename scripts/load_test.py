"""`make load`: 20 concurrent API clients for 60 s against gunicorn on PostgreSQL with a real Keycloak.

Reports throughput, p50/p99 latency and errors per endpoint; exits non-zero when any request failed.
Everything runs on loopback and stops by itself (bounded by --seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
REALM = "okg-load"
OFFERING_UUID = uuid.UUID("7a1d0c3e5b2f4a6c8d9e0f1a2b3c4d5e").hex
ROLE_UUID = uuid.UUID("8b2e1d4f6c3a4b7d9e0f1a2b3c4d5e6f").hex


def env_from(command: list[str]) -> dict[str, str]:
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def fresh_database(test_uri: str) -> str:
    """A database of its own next to okg_test, recreated for every run."""
    admin_uri = test_uri.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_uri, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS okg_load WITH (FORCE)")
        connection.execute("CREATE DATABASE okg_load")
    return test_uri.rsplit("/", 1)[0] + "/okg_load"


def seed_realm(keycloak: dict[str, str], groups: int, members: int) -> None:
    url = keycloak["KEYCLOAK_URL"]
    token = requests.post(
        f"{url}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": keycloak["KEYCLOAK_ADMIN"],
            "password": keycloak["KEYCLOAK_ADMIN_PASSWORD"],
        },
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    requests.delete(f"{url}/admin/realms/{REALM}", headers=headers, timeout=60)
    subgroups = [
        {"name": f"team-{index:03d}", "path": f"/load/svc/team-{index:03d}", "subGroups": []} for index in range(groups)
    ]
    realm = {
        "realm": REALM,
        "enabled": True,
        "groups": [
            {
                "name": "load",
                "path": "/load",
                "subGroups": [{"name": "svc", "path": "/load/svc", "subGroups": subgroups}],
            }
        ],
        "users": [
            {
                "username": f"user{index:04d}",
                "email": f"user{index}@example.org",
                "enabled": True,
                "groups": ["/load/svc/team-000"],
            }
            for index in range(members)
        ],
    }
    requests.post(f"{url}/admin/realms", json=realm, headers=headers, timeout=300).raise_for_status()


def seed_app(env: dict[str, str], keycloak: dict[str, str]) -> str:
    data = {
        "users": [{"username": "loader", "password": "loader-password", "is_staff": True}],
        "organizations": [{"uuid": "9c3f2e5a7b4d4c8e0f1a2b3c4d5e6f70", "name": "Load", "slug": "load"}],
        "offerings": [
            {
                "uuid": OFFERING_UUID,
                "organization": "9c3f2e5a7b4d4c8e0f1a2b3c4d5e6f70",
                "name": "Load",
                "slug": "svc",
                "keycloak": {
                    "enabled": True,
                    "url": keycloak["KEYCLOAK_URL"],
                    "realm": REALM,
                    "username": keycloak["KEYCLOAK_ADMIN"],
                    "password": keycloak["KEYCLOAK_ADMIN_PASSWORD"],
                    "base_group": "load",
                },
                "roles": [{"uuid": ROLE_UUID, "name": "member"}],
            }
        ],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(data, handle)
    flask = [str(BIN / "flask"), "--app", "webapp"]
    subprocess.run([*flask, "db", "upgrade"], check=True, env=env, cwd=REPO, capture_output=True)
    subprocess.run([*flask, "load-data", handle.name], check=True, env=env, cwd=REPO, capture_output=True)
    return subprocess.run(
        [*flask, "create-token", "loader"], check=True, env=env, cwd=REPO, capture_output=True, text=True
    ).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/api/schema/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


class Client(threading.Thread):
    def __init__(self, base: str, token: str, stop_at: float, groups: list[str], results: dict) -> None:
        super().__init__(daemon=True)
        self.base, self.stop_at, self.groups, self.results = base, stop_at, groups, results
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.random = random.Random()

    def calls(self) -> list[tuple[str, str, str]]:
        offering = f"offering_uuid={OFFERING_UUID}"
        group = self.random.choice(self.groups)
        api = f"{self.base}/api/offering-keycloak-groups"
        return [
            ("list groups", "GET", f"{api}/?{offering}&page_size=50"),
            ("retrieve group", "GET", f"{api}/{group}/"),
            ("remote_groups", "GET", f"{api}/remote_groups/?{offering}&page_size=100"),
            ("sync_status", "GET", f"{api}/sync_status/?{offering}"),
            ("search users", "GET", f"{api}/search_remote_users/?{offering}&q=user00"),
            ("memberships", "GET", f"{self.base}/api/offering-keycloak-memberships/?{offering}&page_size=50"),
            ("pull_members", "POST", f"{api}/{group}/pull_members/"),
        ]

    def run(self) -> None:
        while time.monotonic() < self.stop_at:
            name, method, url = self.random.choice(self.calls())
            started = time.perf_counter()
            try:
                response = self.session.request(method, url, timeout=30)
                ok = response.status_code < 400
                detail = "" if ok else f"HTTP {response.status_code}: {response.text[:200]}"
            except requests.RequestException as exc:
                ok, detail = False, repr(exc)
            elapsed = time.perf_counter() - started
            with lock:
                self.results[name]["latencies"].append(elapsed)
                if not ok:
                    self.results[name]["errors"].append(detail)


lock = threading.Lock()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--members", type=int, default=300)
    args = parser.parse_args()

    keycloak = env_from(["scripts/keycloak-dev", "start"])
    database = fresh_database(env_from(["scripts/postgres-dev", "start"])["OKG_TEST_DATABASE_URI"])
    env = {
        **os.environ,
        "OKG_SQLALCHEMY_DATABASE_URI": database,
        "OKG_SECRET_KEY": "load-test",
        "OKG_ENCRYPTION_KEY": "load-test",
    }
    print(f"Seeding realm {REALM!r}: {args.groups} groups, {args.members} members …", file=sys.stderr)
    seed_realm(keycloak, args.groups, args.members)
    token = seed_app(env, keycloak)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            "2",
            "--threads",
            "8",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "webapp:create_app()",
        ],
        env=env,
        cwd=REPO,
    )
    try:
        wait_until_up(base, time.monotonic() + 60)
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        remote = session.get(
            f"{base}/api/offering-keycloak-groups/remote_groups/?offering_uuid={OFFERING_UUID}&page_size=20"
        ).json()
        groups = []
        for index, item in enumerate(remote[:20]):
            imported = session.post(
                f"{base}/api/offering-keycloak-groups/import_remote/",
                json={
                    "offering_uuid": OFFERING_UUID,
                    "role_uuid": ROLE_UUID,
                    "remote_group_id": item["id"],
                    "scope_id": str(index),
                },
            )
            imported.raise_for_status()
            groups.append(imported.json()["uuid"])

        results: dict = defaultdict(lambda: {"latencies": [], "errors": []})
        started = time.monotonic()
        stop_at = started + args.seconds
        clients = [Client(base, token, stop_at, groups, results) for _ in range(args.clients)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(args.seconds + 60)
        wall = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(30)

    total = sum(len(r["latencies"]) for r in results.values())
    errors = sum(len(r["errors"]) for r in results.values())
    every = [value for r in results.values() for value in r["latencies"]]
    print(
        f"\n{args.clients} clients for {wall:.0f} s against gunicorn (2 workers x 8 threads), PostgreSQL, Keycloak 26"
    )
    print(f"{'endpoint':<16} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, result in sorted(results.items()):
        print(
            f"{name:<16} {len(result['latencies']):>9} {percentile(result['latencies'], 0.5) * 1000:>8.1f} "
            f"{percentile(result['latencies'], 0.99) * 1000:>8.1f} {len(result['errors']):>7}"
        )
    print(
        f"{'all':<16} {total:>9} {percentile(every, 0.5) * 1000:>8.1f} {percentile(every, 0.99) * 1000:>8.1f} "
        f"{errors:>7}"
    )
    print(f"throughput: {total / wall:.1f} requests/s; median {statistics.median(every) * 1000:.1f} ms")
    for name, result in results.items():
        for detail in result["errors"][:3]:
            print(f"  error in {name}: {detail}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
