"""`make soak`: many instances at once. Two web instances and two workers share PostgreSQL, Redis and a real
Keycloak, and race for 90 s; a worker is killed with SIGKILL on the way.

The flask development server and gunicorn (2 workers x 4 threads) serve one database and one job queue on
Redis; two `flask worker`s run the jobs, and their periodic round (pending sync, reconcile, drift check) comes
every minute. One client asks both instances, in turn, for pull jobs (of two offerings' crowd groups, so that
both workers are busy, and of the group the grants go to); two clients grant and revoke the same seven users
through alternating instances; one reads lists. After 30 s one worker is killed with SIGKILL while jobs run,
and a new one starts 20 s later. Then the run waits (bounded) for every job to end and prints its numbers:
requests, 5xx, requests without an answer, answers a client could not read, jobs not ended, jobs that failed
unexpectedly (the killed worker's job fails in words, as it should), duplicate memberships, register-vs-Keycloak
differences. The exit status is non-zero when any of them but the requests is not zero.

Everything listens on loopback only. The run stops by itself within 5 minutes and stops every process it
started, on Ctrl-C too; the shared Keycloak is left running, and so is a PostgreSQL or Redis it found running.
Its PostgreSQL database (okg_soak) is recreated at every run; its Keycloak realm is deleted at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
sys.path.insert(0, str(REPO / "scripts"))
from load_test import env_from, free_port  # noqa: E402  (the load driver's helpers)

TIME_LIMIT = 300  # seconds for the whole run, setup and clean-up included
SETUP_AND_CHECKS = 120  # what the run keeps for everything but the client mix (seeding, waiting for jobs, checks)
JOB_WAIT = 60  # at most this long for the last jobs to end after the clients stop
# OKG_JOB_STALE_SECONDS here: the killed worker's job is marked failed this long after its last heartbeat (more
# than a job may wait for a busy group's lock, 20 s, and well within the run).
STALE_SECONDS = 30
UNEXPECTED = "The job failed unexpectedly"  # how a job that raised something other than a service error ends
# (slug, offering uuid, its member role's uuid); grants go to the first one's member group.
OFFERINGS = (
    ("svc", "7a1d0c3e5b2f4a6c8d9e0f1a2b3c4d50", "8b2e1d4f6c3a4b7d9e0f1a2b3c4d5e60"),
    ("svc2", "7a1d0c3e5b2f4a6c8d9e0f1a2b3c4d51", "8b2e1d4f6c3a4b7d9e0f1a2b3c4d5e61"),
)
ORGANIZATION = "9c3f2e5a7b4d4c8e0f1a2b3c4d5e6f71"
MEMBER_ROLE = OFFERINGS[0][2]
BASE_GROUP = "soak"
STAFF, STAFF_PASSWORD = "soaker", "soak-password-1"


class TimeUp(Exception):
    """The run went past TIME_LIMIT."""


STARTED_AT = time.monotonic()


def log(message: str) -> None:
    print(f"soak [{time.monotonic() - STARTED_AT:5.0f} s]: {message}", file=sys.stderr, flush=True)


# -- the servers the run uses -----------------------------------------------------------------------------------


@dataclass
class Started:
    """Processes this run started (each in a session of its own, stopped by its own id) and how to undo the rest."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="okg-soak-")))
    undo: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    closed: bool = False  # cleaning up: nothing starts any more (the worker-kill thread may still be waiting)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with self.lock:
            if self.closed:
                return
            with (self.logs / f"{name}.log").open("wb") as output:
                self.processes[name] = subprocess.Popen(
                    argv, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
                )

    def stop(self, name: str, sig: int = signal.SIGTERM, wait: float = 15) -> None:
        process = self.processes[name]
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # its own session: the process and the children it made
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def stop_all(self) -> None:
        with self.lock:
            self.closed = True
        for name in reversed(list(self.processes)):
            self.stop(name)
        for what, undo in reversed(self.undo):
            try:
                undo()
            except Exception as exc:  # clean-up goes on; say what was left
                log(f"could not {what}: {exc}")

    def tail(self, name: str, lines: int = 25) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def postgres(started: Started, database: str) -> str:
    running = subprocess.run(["scripts/postgres-dev", "status"], cwd=REPO, capture_output=True).returncode == 0
    test_uri = env_from(["scripts/postgres-dev", "start"])["OKG_TEST_DATABASE_URI"]
    if not running:
        started.undo.append(("stop PostgreSQL", lambda: subprocess.run(["scripts/postgres-dev", "stop"], cwd=REPO)))
    admin_uri = test_uri.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_uri, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    return test_uri.rsplit("/", 1)[0] + f"/{database}"


def redis_queue(started: Started, port: int) -> str:
    env = os.environ | {"OKG_REDIS_PORT": str(port)}
    running = subprocess.run(["scripts/redis-dev", "status"], cwd=REPO, env=env, capture_output=True).returncode == 0
    url = env_from(["env", f"OKG_REDIS_PORT={port}", "scripts/redis-dev", "start"])["OKG_JOBS_URL"]
    if not running:
        started.undo.append(
            ("stop Redis", lambda: subprocess.run(["scripts/redis-dev", "stop"], cwd=REPO, env=env, check=True))
        )
    redis.Redis.from_url(url).flushdb()  # its own port: nothing of anyone else's is in it
    return url


class Keycloak:
    """Admin calls on the shared server, for seeding the run's realm and for the checks at the end."""

    def __init__(self, settings: dict[str, str], realm: str) -> None:
        self.url = settings["KEYCLOAK_URL"].rstrip("/")
        self.admin, self.password = settings["KEYCLOAK_ADMIN"], settings["KEYCLOAK_ADMIN_PASSWORD"]
        self.realm = realm
        self._token, self._expires = "", 0.0

    def headers(self) -> dict[str, str]:
        if time.monotonic() > self._expires - 10:
            answer = requests.post(
                f"{self.url}/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": self.admin,
                    "password": self.password,
                },
                timeout=30,
            )
            answer.raise_for_status()
            body = answer.json()
            self._token, self._expires = body["access_token"], time.monotonic() + float(body.get("expires_in", 60))
        return {"Authorization": f"Bearer {self._token}"}

    def create_realm(self, crowd: int, users: list[str]) -> None:
        def offering_group(slug: str) -> dict[str, Any]:
            path = f"/{BASE_GROUP}/{slug}"
            return {"name": slug, "path": path, "subGroups": [{"name": "crowd", "path": f"{path}/crowd"}]}

        people = [{"username": name, "email": f"{name}@example.org", "enabled": True} for name in users]
        for slug, *_uuids in OFFERINGS:
            people += [
                {"username": f"{slug}-crowd-{index:04d}", "enabled": True, "groups": [f"/{BASE_GROUP}/{slug}/crowd"]}
                for index in range(crowd)
            ]
        realm = {
            "realm": self.realm,
            "enabled": True,
            "groups": [
                {
                    "name": BASE_GROUP,
                    "path": f"/{BASE_GROUP}",
                    "subGroups": [offering_group(slug) for slug, *_uuids in OFFERINGS],
                }
            ],
            "users": people,
        }
        requests.post(f"{self.url}/admin/realms", json=realm, headers=self.headers(), timeout=180).raise_for_status()

    def delete_realm(self) -> None:
        answer = requests.delete(f"{self.url}/admin/realms/{self.realm}", headers=self.headers(), timeout=120)
        if answer.status_code not in (204, 404):
            answer.raise_for_status()

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(
            f"{self.url}/admin/realms/{self.realm}/{path}", params=params, headers=self.headers(), timeout=60
        )

    def members(self, group_id: str) -> list[str] | None:
        """Usernames of the group's direct members; None when the group does not exist."""
        names: list[str] = []
        for first in itertools.count(0, 500):
            answer = self.get(f"groups/{group_id}/members", first=first, max=500, briefRepresentation="true")
            if answer.status_code == 404:
                return None
            answer.raise_for_status()
            page = answer.json()
            names += [user["username"] for user in page]
            if len(page) < 500:
                return names
        return names

    def children(self, group_id: str) -> list[dict[str, Any]]:
        answer = self.get(f"groups/{group_id}/children", first=0, max=1000, briefRepresentation="true")
        answer.raise_for_status()
        return list(answer.json())

    def group_by_path(self, path: str) -> dict[str, Any]:
        answer = self.get(f"group-by-path/{path.strip('/')}")
        answer.raise_for_status()
        return dict(answer.json())


def app_environment(database: str, jobs_url: str, sync_interval: str) -> dict[str, str]:
    return os.environ | {
        "OKG_SYNC_INTERVAL": sync_interval,  # the periodic round (pending sync, reconcile, drift check) joins in
        "FLASK_APP": "webapp",
        "OKG_SQLALCHEMY_DATABASE_URI": database,
        "OKG_JOBS_URL": jobs_url,
        "OKG_SECRET_KEY": "soak-secret-key",
        "OKG_ENCRYPTION_KEY": "soak-encryption-key",
        "OKG_JOB_STALE_SECONDS": str(STALE_SECONDS),
        "OKG_KEYCLOAK_MEMBERS_PAGE_SIZE": "50",  # a pull of a crowd takes several pages, each with a heartbeat
    }


def seed_app(env: dict[str, str], keycloak: Keycloak) -> str:
    data = {
        "users": [{"username": STAFF, "password": STAFF_PASSWORD, "is_staff": True}],
        "organizations": [{"uuid": ORGANIZATION, "name": "Soak", "slug": "soak"}],
        "offerings": [
            {
                "uuid": offering_uuid,
                "organization": ORGANIZATION,
                "name": f"Soak {slug}",
                "slug": slug,
                "keycloak": {
                    "enabled": True,
                    "url": keycloak.url,
                    "realm": keycloak.realm,
                    "username": keycloak.admin,
                    "password": keycloak.password,
                    "base_group": BASE_GROUP,
                    "timeout": 30,
                },
                "roles": [{"uuid": role_uuid, "name": "member"}],
            }
            for slug, offering_uuid, role_uuid in OFFERINGS
        ],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(data, handle)
    flask = [str(BIN / "flask"), "--app", "webapp"]
    try:
        for command in (["db", "upgrade"], ["load-data", handle.name]):
            subprocess.run([*flask, *command], check=True, env=env, cwd=REPO, capture_output=True)
        return subprocess.run(
            [*flask, "create-token", STAFF], check=True, env=env, cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    finally:
        os.unlink(handle.name)


def wait_until_up(started: Started, name: str, base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if started.processes[name].poll() is not None:
            raise SystemExit(f"{name} exited at start:\n{started.tail(name)}")
        with suppress(requests.RequestException):
            if requests.get(f"{base}/api/schema/", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{name} did not answer at {base}:\n{started.tail(name)}")


# -- the clients ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What every client got, per endpoint: status codes, and the first few answers that were not expected."""

    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    no_answer: Counter[str] = field(default_factory=Counter)
    not_understood: int = 0  # answers a client could not read (not the JSON it asked for)
    refusals: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # the 4xx answers, in words
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, answer: requests.Response | None, detail: str = "") -> None:
        with self.lock:
            if answer is None:
                self.no_answer[name] += 1
            else:
                self.statuses[name][answer.status_code] += 1
                if 400 <= answer.status_code < 500:
                    words = re.sub(r"\b\d\d:\d\d(:\d\d)?\b", "hh:mm", answer.text.strip()[:160])  # one line a kind
                    self.refusals[(name, answer.status_code, words)] += 1
            if (answer is None or answer.status_code >= 500) and len(self.problems) < 20:
                shown = detail if answer is None else f"HTTP {answer.status_code}: {answer.text[:300]}"
                self.problems.append(f"{name}: {shown}")

    @property
    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values()) + sum(self.no_answer.values())

    @property
    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for code, n in counts.items() if code >= 500)


class Client(threading.Thread):
    """One API client that sends each request to the next instance in turn."""

    def __init__(self, name: str, bases: list[str], token: str, stop: threading.Event, tally: Tally) -> None:
        super().__init__(name=name, daemon=True)
        self.bases = itertools.cycle(bases)
        self.stop, self.tally = stop, tally
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.random = random.Random()

    def call(self, name: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        try:
            answer = self.session.request(method, f"{next(self.bases)}{path}", timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.tally.record(name, None, repr(exc))
            return None
        self.tally.record(name, answer)
        return answer

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.step()
            except Exception as exc:  # an answer this client could not read (not JSON, say): counted, and on
                with self.tally.lock:
                    self.tally.not_understood += 1
                    self.tally.problems.append(f"{self.name}: {exc!r}")

    def step(self) -> None:
        raise NotImplementedError


class Puller(Client):
    """Asks for pull jobs of the crowds of both offerings and of the grants' group, one instance after the other;
    a 409 (a job of that offering is queued or running) is the expected answer most of the time."""

    def __init__(self, *args: Any, groups: Callable[[], list[str]]) -> None:
        super().__init__(*args)
        self.groups = groups

    def step(self) -> None:
        for group_uuid in self.groups():
            self.call(
                "ask for a pull job",
                "POST",
                "/api/offering-keycloak-jobs/",
                json={"kind": "pull_members", "group_uuid": group_uuid},
            )
        self.stop.wait(0.3)


class Granter(Client):
    """Grants or revokes one of the same few users (whichever the register says is due) at every step."""

    def __init__(self, *args: Any, users: list[str], found_group: Callable[[str], None]) -> None:
        super().__init__(*args)
        self.users, self.found_group = users, found_group

    def step(self) -> None:
        username = self.random.choice(self.users)
        offering_uuid = OFFERINGS[0][1]
        listed = self.call(
            "find membership",
            "GET",
            "/api/offering-keycloak-memberships/",
            params={"offering_uuid": offering_uuid, "username": username},
        )
        if listed is None or listed.status_code != 200:
            return
        rows = [
            row for row in listed.json() if row.get("group_role_name") == "member" and row.get("group_scope_id") == ""
        ]
        if rows:
            self.call("revoke", "DELETE", f"/api/offering-keycloak-memberships/{rows[0]['uuid']}/")
            return
        body = {
            "offering": offering_uuid,
            "role": MEMBER_ROLE,
            "username": username,
            "email": f"{username}@example.org",
        }
        granted = self.call("grant", "POST", "/api/offering-keycloak-memberships/", json=body)
        if granted is not None and granted.status_code == 201:
            self.found_group(granted.json()["group"].rstrip("/").rsplit("/", 1)[-1])  # the group's URL


class Reader(Client):
    def step(self) -> None:
        offering = self.random.choice(OFFERINGS)[1]
        name, path = self.random.choice(
            [
                ("list groups", f"/api/offering-keycloak-groups/?offering_uuid={offering}"),
                ("list memberships", f"/api/offering-keycloak-memberships/?offering_uuid={offering}&page_size=50"),
                ("list jobs", f"/api/offering-keycloak-jobs/?offering_uuid={offering}"),
                ("sync status", f"/api/offering-keycloak-groups/sync_status/?offering_uuid={offering}"),
            ]
        )
        self.call(name, "GET", path)


# -- the checks -------------------------------------------------------------------------------------------------


def sql(database: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as connection:
        return list(connection.execute(query).fetchall())  # type: ignore[arg-type]


def jobs_not_ended(database: str) -> int:
    return int(sql(database, "SELECT count(*) FROM job WHERE state IN ('queued', 'running')")[0][0])


def duplicates(database: str, keycloak: Keycloak) -> tuple[int, list[str]]:
    """Memberships twice in the register, local groups twice for one scope, Keycloak groups twice by name."""
    found: list[str] = []
    for group_id, username, count in sql(
        database,
        "SELECT group_id, username, count(*) FROM offering_keycloak_membership GROUP BY 1, 2 HAVING count(*) > 1",
    ):
        found.append(f"membership {username} in local group {group_id}: {count} rows")
    for offering_id, role_id, scope_id, count in sql(
        database,
        "SELECT offering_id, role_id, scope_id, count(*) FROM offering_keycloak_group "
        "WHERE resource_id IS NULL GROUP BY 1, 2, 3 HAVING count(*) > 1",
    ):
        found.append(f"local group of offering {offering_id}, role {role_id}, scope {scope_id!r}: {count} rows")
    for slug, *_uuids in OFFERINGS:
        root = keycloak.group_by_path(f"/{BASE_GROUP}/{slug}")
        names = Counter(child["name"] for child in keycloak.children(root["id"]))
        found += [f"Keycloak group /{BASE_GROUP}/{slug}/{name}: {n} times" for name, n in names.items() if n > 1]
    return len(found), found


def register_vs_keycloak(database: str, keycloak: Keycloak) -> tuple[int, list[str]]:
    """Per linked local group: who is active here but no member there, and the other way round."""
    differences: list[str] = []
    active: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, backend_id, username, state in sql(
        database,
        "SELECT g.name, g.backend_id, m.username, m.state FROM offering_keycloak_group g "
        "LEFT JOIN offering_keycloak_membership m ON m.group_id = g.id WHERE g.backend_id <> ''",
    ):
        rows = active[(name, backend_id)]
        if username is not None and state == "active":
            rows.add(username)
        elif username is not None and state == "pending":
            differences.append(f"{name}: {username} is still pending (the user exists)")
    for (name, backend_id), here in sorted(active.items()):
        there = keycloak.members(backend_id)
        if there is None:
            differences.append(f"{name}: its Keycloak group {backend_id} is gone")
            continue
        differences += [f"{name}: {user} active here, no member in Keycloak" for user in sorted(here - set(there))]
        differences += [f"{name}: {user} member in Keycloak, not active here" for user in sorted(set(there) - here)]
    return len(differences), differences


# -- the run ----------------------------------------------------------------------------------------------------


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expired(_signum: int, _frame: Any) -> None:
        raise TimeUp(f"the run took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=90, help="how long the clients run (default 90)")
    parser.add_argument("--kill-at", type=float, default=30, help="SIGKILL a worker this long into the run")
    parser.add_argument("--restart-after", type=float, default=20, help="start a new worker this long after")
    parser.add_argument("--users", type=int, default=7, help="users granted and revoked by two clients")
    parser.add_argument("--crowd", type=int, default=300, help="members of each offering's crowd group (pulled)")
    parser.add_argument("--database", default="okg_soak", help="the PostgreSQL database, recreated")
    parser.add_argument("--redis-port", type=int, default=16390, help="the run's own Redis on loopback")
    parser.add_argument("--sync-interval", default="1m", help="OKG_SYNC_INTERVAL of the workers (default 1m)")
    args = parser.parse_args()
    if not 10 <= args.seconds <= TIME_LIMIT - SETUP_AND_CHECKS:
        parser.error(f"--seconds must be between 10 and {TIME_LIMIT - SETUP_AND_CHECKS}: the run is bounded")
    if not 0 < args.kill_at < args.kill_at + args.restart_after < args.seconds:
        parser.error("the worker must be killed and restarted while the clients run")

    # Ctrl-C even where the shell started us with SIGINT ignored (a background job), and SIGTERM is one too: the
    # clean-up below runs for each.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = Started()
    keycloak: Keycloak | None = None
    try:
        with time_limit(TIME_LIMIT):
            keycloak_env = env_from(["scripts/keycloak-dev", "start"])  # the shared server: never stopped here
            keycloak = Keycloak(keycloak_env, f"okg-soak-{secrets.token_hex(3)}")
            return run(args, started, keycloak)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    except TimeUp as exc:
        log(f"{exc}: cleaning up")
        return 1
    finally:
        started.stop_all()
        if keycloak is not None:
            try:
                keycloak.delete_realm()
            except Exception as exc:
                log(f"could not delete realm {keycloak.realm}: {exc}")
        log(f"server logs are in {started.logs}")


def run(args: argparse.Namespace, started: Started, keycloak: Keycloak) -> int:
    users = [f"soak-user-{index}" for index in range(args.users)]
    log(f"seeding realm {keycloak.realm} ({len(OFFERINGS)} crowds of {args.crowd}, {len(users)} users to grant)")
    keycloak.create_realm(args.crowd, users)
    database = postgres(started, args.database)
    env = app_environment(database, redis_queue(started, args.redis_port), args.sync_interval)
    token = seed_app(env, keycloak)

    flask_port, gunicorn_port = free_port(), free_port()
    flask = [str(BIN / "flask"), "--app", "webapp"]
    started.start("flask-run", [*flask, "run", "--host", "127.0.0.1", "--port", str(flask_port), "--no-reload"], env)
    gunicorn = [
        str(BIN / "gunicorn"),
        *["--workers", "2", "--threads", "4", "--timeout", "120", "--log-level", "warning"],
    ]
    started.start("gunicorn", [*gunicorn, "--bind", f"127.0.0.1:{gunicorn_port}", "webapp:create_app()"], env)
    for number in (1, 2):
        started.start(f"worker-{number}", [*flask, "worker", "--workers", "1"], env)
    bases = [f"http://127.0.0.1:{flask_port}", f"http://127.0.0.1:{gunicorn_port}"]
    deadline = time.monotonic() + 60
    wait_until_up(started, "flask-run", bases[0], deadline)
    wait_until_up(started, "gunicorn", bases[1], deadline)

    crowds = import_crowds(bases[1], token)
    grants_group: list[str] = []
    tally = Tally()
    stop = threading.Event()

    def pulled() -> list[str]:
        return crowds + grants_group[:1]

    clients: list[Client] = [
        Puller("puller", bases, token, stop, tally, groups=pulled),
        *(
            Granter(
                f"granter-{n}",
                bases[n:] + bases[:n],
                token,
                stop,
                tally,
                users=users,
                found_group=lambda uuid_: grants_group.append(uuid_) if not grants_group else None,
            )
            for n in (0, 1)
        ),
        Reader("reader", bases, token, stop, tally),
    ]
    log(f"racing for {args.seconds:g} s on {bases[0]} (flask run) and {bases[1]} (gunicorn 2x4), 2 workers")
    began = time.monotonic()
    for client in clients:
        client.start()
    kill = WorkerKill(started, env, database, began, args)
    kill.start()
    stop.wait(max(0.0, began + args.seconds - time.monotonic()))
    stop.set()
    for client in clients:
        client.join(90)
    wall = time.monotonic() - began
    kill.join(30)

    log("clients stopped; waiting for the last jobs to end")
    deadline = time.monotonic() + JOB_WAIT
    watcher = requests.Session()
    watcher.headers["Authorization"] = f"Token {token}"
    while jobs_not_ended(database) and time.monotonic() < deadline:
        with suppress(requests.RequestException):  # listing jobs is what marks a dead worker's job failed
            watcher.get(f"{bases[0]}/api/offering-keycloak-jobs/?state=running", timeout=30)
        time.sleep(1)
    not_ended = jobs_not_ended(database)
    duplicate_count, duplicate_list = duplicates(database, keycloak)
    difference_count, difference_list = register_vs_keycloak(database, keycloak)
    job_states = sql(database, "SELECT kind, state, count(*) FROM job GROUP BY 1, 2 ORDER BY 1, 2")
    failed = sql(database, "SELECT kind, error, count(*) FROM job WHERE state = 'failed' GROUP BY 1, 2")
    unexpected = sum(n for _kind, error, n in failed if error.startswith(UNEXPECTED))
    version = keycloak.get("../../serverinfo").json().get("systemInfo", {}).get("version", "?")

    numbers = {
        "requests": tally.requests,
        "5xx": tally.server_errors,
        "no answer": sum(tally.no_answer.values()),
        "answers not understood": tally.not_understood,
        "jobs not ended": not_ended,
        "jobs failed unexpectedly": unexpected,
        "duplicate memberships": duplicate_count,
        "register vs Keycloak": difference_count,
    }
    print(
        f"\nsoak: {wall:.0f} s; flask run + gunicorn 2x4; 2 workers ({kill.words}); "
        f"PostgreSQL, Redis, Keycloak {version}"
    )
    print(f"{'endpoint':<26} {'requests':>9}  statuses")
    for name, counts in sorted(tally.statuses.items()):
        shown = ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))
        print(f"{name:<26} {sum(counts.values()) + tally.no_answer[name]:>9}  {shown}")
    print("4xx, in words:")
    for (name, code, text), n in sorted(tally.refusals.items()):
        print(f"  {name} {code} x{n}: {text}")
    print("jobs: " + ", ".join(f"{kind} {state} {n}" for kind, state, n in job_states))
    for kind, error, n in failed:
        print(f"  failed {kind} x{n}: {error}")
    print()
    for name, value in numbers.items():
        print(f"{name:<26} {value:>9}")
    for line in tally.problems + duplicate_list + difference_list:
        print(f"  {line}")
    bad = [name for name, value in numbers.items() if name != "requests" and value]
    if bad:
        print(f"\nNOT ZERO: {', '.join(bad)}")
        for name in started.processes:
            if "Traceback" in (text := started.tail(name, 60)):
                print(f"--- {name} (last lines)\n{text}", file=sys.stderr)
    return 1 if bad or not tally.requests else 0


def import_crowds(base: str, token: str) -> list[str]:
    """Each offering's crowd group imported, and pulled once so that the register starts in agreement."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    api = f"{base}/api/offering-keycloak-groups"
    imported = []
    for _slug, offering_uuid, role_uuid in OFFERINGS:
        remote = session.get(f"{api}/remote_groups/", params={"offering_uuid": offering_uuid}, timeout=60)
        remote.raise_for_status()
        crowd = next(item for item in remote.json() if item["name"] == "crowd")
        body = {
            "offering_uuid": offering_uuid,
            "role_uuid": role_uuid,
            "remote_group_id": crowd["id"],
            "scope_id": "crowd",
        }
        answer = session.post(f"{api}/import_remote/", json=body, timeout=60)
        answer.raise_for_status()
        group_uuid = answer.json()["uuid"]
        session.post(f"{api}/{group_uuid}/pull_members/", timeout=120).raise_for_status()
        imported.append(group_uuid)
    return imported


class WorkerKill(threading.Thread):
    """At --kill-at, once both workers run a job (or 10 s later at most), SIGKILL worker 1; start a new worker
    --restart-after later."""

    def __init__(self, started: Started, env: dict[str, str], database: str, began: float, args: argparse.Namespace):
        super().__init__(name="worker-kill", daemon=True)
        self.started, self.env, self.database, self.began, self.args = started, env, database, began, args
        self.words = "no worker was killed"
        self.running_at_kill = 0

    def run(self) -> None:
        time.sleep(max(0.0, self.began + self.args.kill_at - time.monotonic()))
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            self.running_at_kill = int(sql(self.database, "SELECT count(*) FROM job WHERE state = 'running'")[0][0])
            if self.running_at_kill >= 2:
                break
            time.sleep(0.1)
        self.started.stop("worker-1", signal.SIGKILL, wait=10)
        killed_at = time.monotonic() - self.began
        log(f"SIGKILLed worker 1 at {killed_at:.0f} s, {self.running_at_kill} job(s) running")
        time.sleep(self.args.restart_after)
        self.started.start("worker-3", [str(BIN / "flask"), "--app", "webapp", "worker", "--workers", "1"], self.env)
        restarted_at = time.monotonic() - self.began
        log(f"started worker 3 at {restarted_at:.0f} s")
        self.words = (
            f"worker 1 SIGKILLed at {killed_at:.0f} s with {self.running_at_kill} jobs running, "
            f"worker 3 started at {restarted_at:.0f} s"
        )


if __name__ == "__main__":
    sys.exit(main())
