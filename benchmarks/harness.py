"""What every scenario needs: the app on the bench database, counters, a real WSGI server, timing."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.serving import BaseWSGIServer, make_server

from webapp import create_app
from webapp.extensions import db
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.registry import EXTENSION_KEY
from webapp.models import Offering
from webapp.services.connection.gateway import connection_settings

from .seed import DbSeed, RealmSeed

T = TypeVar("T")
SECRET_KEY = "bench-secret-key"
ENCRYPTION_KEY = "bench-encryption-key"


def app_config(database: Path, keycloak_page_size: int | None = None) -> dict[str, Any]:
    """The app as deployed, on the bench database; the default GatewayRegistry/AdminGateway."""
    config: dict[str, Any] = {
        "SECRET_KEY": SECRET_KEY,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    if keycloak_page_size:
        config["KEYCLOAK_PAGE_SIZE"] = keycloak_page_size
        config["KEYCLOAK_MEMBERS_PAGE_SIZE"] = keycloak_page_size
    return config


def build_app(database: Path, keycloak_page_size: int | None = None) -> Flask:
    return create_app(app_config(database, keycloak_page_size))


# ---------------------------------------------------------------------------------------- counters


class SqlCounter:
    """Counts (and optionally records) the statements one engine sends, from every thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0
        self.recording = False
        self.recorded: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        with self._lock:
            self.count += 1
            if self.recording:
                self.recorded.append((statement, parameters))

    @contextmanager
    def record(self) -> Iterator[list[tuple[str, Any]]]:
        self.recorded = []
        self.recording = True
        try:
            yield self.recorded
        finally:
            self.recording = False

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)


class KeycloakCounter:
    """Counts the admin REST calls one AdminGateway makes by wrapping its connection's raw_* methods."""

    def __init__(self, gateway: AdminGateway) -> None:
        self.gateway = gateway
        self.count = 0
        self.seconds = 0.0  # wall time spent inside Keycloak HTTP calls (network + Keycloak + download)
        self._lock = threading.Lock()
        connection = gateway._connection
        for name in ("raw_get", "raw_post", "raw_put", "raw_delete"):
            setattr(connection, name, self._wrap(getattr(connection, name)))

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                with self._lock:
                    self.count += 1
                    self.seconds += time.perf_counter() - started

        return counted

    @property
    def tokens(self) -> int:
        return self.gateway.token_requests


def gateway_of(app: Flask, offering_uuid: str) -> AdminGateway:
    """The very gateway the app uses for this offering (the registry keys gateways by settings)."""
    with app.app_context():
        offering = db.session.query(Offering).filter_by(uuid=offering_uuid).one()
        gateway = app.extensions[EXTENSION_KEY].get(connection_settings(offering))
    assert isinstance(gateway, AdminGateway), "the benchmarks need the real AdminGateway"
    return gateway


# ------------------------------------------------------------------------------------- WSGI server


class LiveServer:
    """werkzeug's threaded server (what ``flask run`` uses) in a background thread."""

    def __init__(self, app: Flask) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self._thread.join()


# ----------------------------------------------------------------------------------------- context


@dataclass
class BenchContext:
    database: Path
    realm: RealmSeed
    seed: DbSeed
    app: Flask
    server: LiveServer
    sql: SqlCounter
    keycloak: KeycloakCounter
    page_size: int
    repeat: int
    session: requests.Session = field(default_factory=requests.Session)

    def api(self, path: str, method: str = "GET", **params: Any) -> requests.Response:
        response = self.session.request(
            method,
            f"{self.server.url}/api/{path}",
            params=params,
            headers={"Authorization": f"Token {self.seed.manager_token}"},
            timeout=300,
        )
        response.raise_for_status()
        return response


# ------------------------------------------------------------------------------------------ timing


@dataclass
class Timings:
    ours: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def floor_median(self) -> float:
        return statistics.median(self.floor)


@dataclass
class RunStats:
    """Per-run SQL statements, Keycloak requests and time inside Keycloak calls of our code."""

    sql: list[int] = field(default_factory=list)
    keycloak: list[int] = field(default_factory=list)
    keycloak_s: list[float] = field(default_factory=list)

    def around(self, ctx: BenchContext, operation: Callable[[], T]) -> T:
        sql, requests_, seconds = ctx.sql.count, ctx.keycloak.count, ctx.keycloak.seconds
        value = operation()
        self.sql.append(ctx.sql.count - sql)
        self.keycloak.append(ctx.keycloak.count - requests_)
        self.keycloak_s.append(ctx.keycloak.seconds - seconds)
        return value

    def overhead(self, timings: Timings) -> dict[str, float]:
        """Our time outside Keycloak calls: robust to Keycloak's own run-to-run noise, which the ratio is not."""
        in_keycloak = self.keycloak_s[-len(timings.ours) :]
        outside = [total - kc for total, kc in zip(timings.ours, in_keycloak, strict=True)]
        overhead = statistics.median(outside)
        return {
            "ours_in_keycloak_s": round(statistics.median(in_keycloak), 4),
            "ours_overhead_s": round(overhead, 4),
            "ratio_overhead_based": round((timings.floor_median + overhead) / timings.floor_median, 3),
        }


def timed(operation: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = operation()
    return time.perf_counter() - started, value


def interleave(
    ours: Callable[[], Any],
    floor: Callable[[], Any],
    repeat: int,
    before_each: Callable[[], None] | None = None,
    warmup: bool = True,
) -> Timings:
    """Run floor and ours alternately (one untimed warm-up each) so drift hits both equally."""
    timings = Timings()
    rounds = repeat + (1 if warmup else 0)
    for index in range(rounds):
        floor_time, _ = timed(floor)
        if before_each:
            before_each()
        ours_time, _ = timed(ours)
        if warmup and index == 0:
            continue
        timings.floor.append(floor_time)
        timings.ours.append(ours_time)
    return timings
