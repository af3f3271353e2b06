"""`make load`: 20 concurrent API clients for 60 s against gunicorn on PostgreSQL with a real Keycloak.

Prints a Markdown table (throughput, p50/p99 latency and errors per endpoint) headed by the commit it
measured, ready to paste into the README, and where the CPU went: per request in the app, Keycloak,
PostgreSQL and the clients, and how much of the machine other work took meanwhile (on a shared machine
that is what moves the figures most). Exits non-zero when any request failed, and with --strict also when
a target is missed (so `git bisect run` can use it). --app-tree measures another checkout (a `git worktree`
of an older commit) with this checkout's virtualenv and scripts.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
CACHE = Path(os.environ.get("OKG_CACHE_DIR") or Path.home() / ".cache" / "offering-keycloak-groups")
TARGET_THROUGHPUT = 45.0  # requests/s, until the read cache lands
TARGET_P99 = 1.6  # seconds, every endpoint together
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


def seed_realm(keycloak: dict[str, str], groups: int, members: int) -> str:
    """Recreates the realm; returns the server's version ("26.7.3")."""
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
    info = requests.get(f"{url}/admin/serverinfo", headers=headers, timeout=30).json()
    return str(info.get("systemInfo", {}).get("version", "?"))


def seed_app(env: dict[str, str], keycloak: dict[str, str], tree: Path) -> str:
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
    subprocess.run([*flask, "db", "upgrade"], check=True, env=env, cwd=tree, capture_output=True)
    subprocess.run([*flask, "load-data", handle.name], check=True, env=env, cwd=tree, capture_output=True)
    return subprocess.run(
        [*flask, "create-token", "loader"], check=True, env=env, cwd=tree, capture_output=True, text=True
    ).stdout.strip()


def commit_of(tree: Path) -> str:
    """The short commit the app runs from, "+changes" when its tracked files differ from it."""
    git = ["git", "-C", str(tree)]
    try:
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True)
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=False
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit.stdout.strip() + (" +changes" if changed.stdout.strip() else "")


# ------------------------------------------------------------------ where the CPU went (Linux /proc)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds so far, command line) of every process we may read."""
    found: dict[int, tuple[int, float, str]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, command)
    return found


def family_cpu(procs: dict[int, tuple[int, float, str]], root: int | None) -> float:
    """CPU seconds of `root` and all its descendants."""
    if root is None:
        return 0.0
    family, grew = {root}, True
    while grew:
        more = {pid for pid, (parent, _, _) in procs.items() if parent in family} - family
        grew = bool(more)
        family |= more
    return sum(procs[pid][1] for pid in family if pid in procs)


def machine_cpu() -> float:
    """CPU seconds all cores spent busy since boot."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def keycloak_pid(url: str) -> int | None:
    port = url.rstrip("/").rsplit(":", 1)[-1]
    try:
        return int((CACHE / f"keycloak-{port}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def cpu_snapshot(server: int, keycloak: int | None) -> dict[str, float]:
    procs = processes()
    return {
        "app": family_cpu(procs, server),
        "Keycloak": family_cpu(procs, keycloak),
        "PostgreSQL": sum(cpu for _, cpu, command in procs.values() if " okg_load " in f" {command} "),
        "clients": time.process_time(),
        "machine": machine_cpu(),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/api/schema/", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting on a busy machine
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def calls(base: str, group: str) -> list[tuple[str, str, str]]:
    """The seven calls each client picks from at random: (name, method, URL)."""
    offering = f"offering_uuid={OFFERING_UUID}"
    api = f"{base}/api/offering-keycloak-groups"
    return [
        ("list groups", "GET", f"{api}/?{offering}&page_size=50"),
        ("retrieve group", "GET", f"{api}/{group}/"),
        ("remote_groups", "GET", f"{api}/remote_groups/?{offering}&page_size=100"),
        ("sync_status", "GET", f"{api}/sync_status/?{offering}"),
        ("search users", "GET", f"{api}/search_remote_users/?{offering}&q=user00"),
        ("memberships", "GET", f"{base}/api/offering-keycloak-memberships/?{offering}&page_size=50"),
        ("pull_members", "POST", f"{api}/{group}/pull_members/"),
    ]


@dataclass(frozen=True)
class Cost:
    keycloak: int  # Keycloak HTTP requests, token grants aside
    sql: int  # SQL statements
    cpu_ms: float  # this process's CPU time, threads included


def request_costs(tree: Path, env: dict[str, str], token: str, group: str, repeat: int = 5) -> dict[str, Cost]:
    """What one call of each endpoint costs, measured in this process with Flask's test client on the same
    database and realm once the load is over: unlike latency, the counts do not depend on what else the
    machine is doing. The median of `repeat` calls after one warm-up call."""
    os.environ.update({key: value for key, value in env.items() if key.startswith("OKG_")})
    sys.path.insert(0, str(tree))
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from webapp import create_app

    keycloak: list[str] = []
    statements: list[str] = []
    send = requests.Session.send

    def counted(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if not (request.url or "").endswith("/protocol/openid-connect/token"):
            keycloak.append(request.url or "")
        return send(session, request, **kwargs)

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        statements.append(text)

    client = create_app().test_client()
    headers = {"Authorization": f"Token {token}"}
    costs: dict[str, Cost] = {}
    requests.Session.send = counted  # type: ignore[method-assign]
    event.listen(Engine, "before_cursor_execute", statement)
    try:
        for name, method, url in calls("", group):
            client.open(url, method=method, headers=headers)  # warm-up: connections, token, server version
            samples = []
            for _ in range(repeat):
                keycloak.clear()
                statements.clear()
                started = time.process_time()
                response = client.open(url, method=method, headers=headers)
                cpu = (time.process_time() - started) * 1000
                if response.status_code >= 400:
                    raise SystemExit(f"{name} answered {response.status_code} when its cost was measured")
                samples.append((len(keycloak), len(statements), cpu))
            costs[name] = Cost(*(statistics.median(sample[index] for sample in samples) for index in range(3)))
    finally:
        requests.Session.send = send  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", statement)
    return costs


class Client(threading.Thread):
    def __init__(self, base: str, token: str, stop_at: float, groups: list[str], results: dict) -> None:
        super().__init__(daemon=True)
        self.base, self.stop_at, self.groups, self.results = base, stop_at, groups, results
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.random = random.Random()

    def run(self) -> None:
        while time.monotonic() < self.stop_at:
            name, method, url = self.random.choice(calls(self.base, self.random.choice(self.groups)))
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
    parser.add_argument("--app-tree", type=Path, default=REPO, help="checkout whose app is measured")
    parser.add_argument("--strict", action="store_true", help="exit 1 also when a target is missed")
    args = parser.parse_args()
    tree = args.app_tree.resolve()

    keycloak = env_from(["scripts/keycloak-dev", "start"])
    database = fresh_database(env_from(["scripts/postgres-dev", "start"])["OKG_TEST_DATABASE_URI"])
    env = {
        **os.environ,
        "OKG_SQLALCHEMY_DATABASE_URI": database,
        "OKG_SECRET_KEY": "load-test",
        "OKG_ENCRYPTION_KEY": "load-test",
    }
    if tree != REPO:
        env["PYTHONPATH"] = str(tree)  # ahead of this checkout's editable install
    print(f"Seeding realm {REALM!r}: {args.groups} groups, {args.members} members …", file=sys.stderr)
    version = seed_realm(keycloak, args.groups, args.members)
    token = seed_app(env, keycloak, tree)
    commit = commit_of(tree)

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
        cwd=tree,
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
        kc_pid = keycloak_pid(keycloak["KEYCLOAK_URL"])
        before = cpu_snapshot(server.pid, kc_pid)
        started = time.monotonic()
        stop_at = started + args.seconds
        clients = [Client(base, token, stop_at, groups, results) for _ in range(args.clients)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(args.seconds + 60)
        wall = time.monotonic() - started
        after = cpu_snapshot(server.pid, kc_pid)
    finally:
        server.terminate()
        server.wait(30)
    costs = request_costs(tree, env, token, groups[0])  # groups[0] is team-000, the one with members

    total = sum(len(r["latencies"]) for r in results.values())
    errors = sum(len(r["errors"]) for r in results.values())
    every = [value for r in results.values() for value in r["latencies"]]
    throughput, p99 = total / wall, percentile(every, 0.99)
    used = {name: after[name] - before[name] for name in before}
    ours = sum(value for name, value in used.items() if name != "machine")
    others = max(used["machine"] - ours, 0.0)
    cores = os.cpu_count() or 1
    met = throughput >= TARGET_THROUGHPUT and p99 <= TARGET_P99 and not errors
    print(
        f"\n`make load` at {commit} on {time.strftime('%Y-%m-%d')}: {args.clients} clients for {wall:.0f} s against "
        f"gunicorn (2 workers x 8 threads), PostgreSQL, Keycloak {version}, {cores} CPUs\n"
    )
    print("| endpoint | requests | p50 ms | p99 ms | errors | Keycloak requests | SQL statements | CPU ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in sorted(results.items()):
        latencies, cost = result["latencies"], costs[name]
        print(
            f"| {name} | {len(latencies)} | {percentile(latencies, 0.5) * 1000:.0f} "
            f"| {percentile(latencies, 0.99) * 1000:.0f} | {len(result['errors'])} "
            f"| {cost.keycloak:g} | {cost.sql:g} | {cost.cpu_ms:.1f} |"
        )
    print(f"| **all** | {total} | {percentile(every, 0.5) * 1000:.0f} | {p99 * 1000:.0f} | {errors} | | | |")
    per_request = ", ".join(
        f"{name} {used[name] / max(total, 1) * 1000:.1f} ms" for name in ("app", "Keycloak", "PostgreSQL", "clients")
    )
    print(
        f"\nThroughput {throughput:.1f} requests/s; median {statistics.median(every) * 1000:.0f} ms. "
        f"CPU per request: {per_request} (Keycloak's includes anyone else's use of it). "
        f"Other work on the machine meanwhile: {others / wall:.2f} of {cores} cores. The last three columns are "
        "one call measured alone in-process after the load (median of 5; CPU of the app only)."
    )
    print(
        f"Target (≥ {TARGET_THROUGHPUT:g} requests/s, p99 ≤ {TARGET_P99:g} s, 0 errors): {'met' if met else 'missed'}."
    )
    for name, result in results.items():
        for detail in result["errors"][:3]:
            print(f"  error in {name}: {detail}", file=sys.stderr)
    return 1 if errors or (args.strict and not met) else 0


if __name__ == "__main__":
    sys.exit(main())
