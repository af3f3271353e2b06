"""The app's Huey queue: SQLite in the instance folder by default, Redis when OKG_JOBS_URL says so.

One task runs any job by uuid; one periodic task, once per OKG_SYNC_INTERVAL, enqueues the periodic jobs of
every offering. Live progress, heartbeats and cancel requests live in the queue's key-value store: the app's
database may be locked by the very transaction whose progress they describe (SQLite holds one writer).

The queue knows Huey and nothing of jobs: what its tasks run is handed to it (`Handlers`) by the app factory,
so the job service depends on the queue and never the other way round.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey
from huey.constants import EmptyData
from huey.exceptions import RetryTask

EXTENSION_KEY = "okg_jobs"
HANDLERS_KEY = "okg_jobs_handlers"


@dataclass(frozen=True)
class Handlers:
    """What the queue's tasks run, each in an app context."""

    run: Callable[[str], float | None]  # one job by uuid; a number: run it again after that many seconds
    round: Callable[[], object]  # once per interval, by the first consumer to claim it
    local: Callable[[], object]  # once per interval in every consumer (its host's own instance folder)


class QueueUnavailable(Exception):
    """The queue's storage (Redis, or the SQLite file) cannot be reached; `args[0]` says where it is."""


TASK_NAME = "okg.run_job"


def parse_minutes(value: str) -> int:
    """ "15m", "1h", "900s" or "15" (minutes) as whole minutes, at least one."""
    text = str(value).strip().lower()
    factor = {"s": 1 / 60, "m": 1, "h": 60}.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in "smh" else text
    try:
        minutes = float(number) * factor
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an interval like 30s, 15m or 1h") from exc
    return max(1, round(minutes))


class JobQueue:
    """Huey bound to one app; `worker()` builds the consumer that `flask worker` runs."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        url = str(app.config.get("JOBS_URL") or "")
        if url.startswith(("redis://", "rediss://", "unix://")):
            self.huey: Huey = RedisHuey("okg", url=url)
        else:
            path = Path(url.removeprefix("sqlite:///")) if url else Path(app.instance_path) / "jobs.sqlite"
            self.huey = SqliteHuey("okg", filename=str(path))
        self.storage = url or "sqlite"
        self.stopping = threading.Event()  # set when this process's worker is asked to stop (SIGTERM)
        minutes = parse_minutes(app.config.get("SYNC_INTERVAL", "15m"))
        self.run_job = self.huey.task(name=TASK_NAME)(self._run)
        self.huey.periodic_task(lambda moment: moment.minute % minutes == 0, name="okg.tick")(self._tick)

    @property
    def handlers(self) -> Handlers:
        handlers: Handlers = self.app.extensions[HANDLERS_KEY]
        return handlers

    def _run(self, job_uuid: str) -> None:
        with self.app.app_context():
            again = self.handlers.run(job_uuid)
        if again is not None:
            # Huey puts the same task back: on its schedule after a delay, else at the end of the queue.
            raise RetryTask(delay=again or None)

    def _tick(self) -> None:
        """Every consumer's scheduler calls this; the first to claim this minute's key enqueues the round.
        Every consumer sweeps its own instance folder's unused CA files (each host has its own folder)."""
        minute = int(time.time() // 60)
        claimed = self.huey.put_if_empty(f"tick:{minute}", "1")
        with self.app.app_context():
            if claimed:
                self.handlers.round()
            self.handlers.local()

    def enqueue(self, job_uuid: str) -> None:
        """Raises QueueUnavailable when the queue's storage cannot be reached."""
        try:
            self.run_job(job_uuid)
        except Exception as exc:  # redis' and sqlite3's connection errors alike
            raise QueueUnavailable(self.describe()) from exc

    def describe(self) -> str:
        """Where the queue is, without credentials."""
        return self.storage.split("@")[-1] if "@" in self.storage else self.storage

    # -- live state ------------------------------------------------------------------------------------------
    def set_live(self, job_uuid: str, key: str, value: Any) -> None:
        self.huey.storage.put_data(f"job:{job_uuid}:{key}", self.huey.serializer.serialize(value))

    def live(self, job_uuid: str, key: str) -> Any:
        """What the worker last reported; None when nothing was, or when the queue cannot be reached (pages
        then show the stored state instead of failing)."""
        try:
            raw = self.huey.storage.peek_data(f"job:{job_uuid}:{key}")
        except Exception:
            return None
        return None if raw is None or raw is EmptyData else self.huey.serializer.deserialize(raw)

    def worker(self, workers: int = 1) -> Any:
        """Huey's consumer: SIGTERM (or SIGINT) stops it gracefully; the running jobs see `stopping` at their
        next page, roll back and go back to the queue for another worker."""
        consumer = self.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=True,
            graceful_signal="TERM",
            # An idle worker polls SQLite every 0.1 s at most (Huey's default backs off to 10 s, so a job asked
            # for in the browser could wait that long); Redis blocks on the queue and answers at once.
            initial_delay=0.05,
            backoff=1.15,
            max_delay=0.1,
        )
        self.stopping = consumer.stop_flag
        return consumer


def init_app(app: Flask, handlers: Handlers) -> None:
    app.extensions[HANDLERS_KEY] = handlers
    app.extensions[EXTENSION_KEY] = JobQueue(app)


def job_queue() -> JobQueue:
    queue: JobQueue = current_app.extensions[EXTENSION_KEY]
    return queue
