"""Keycloak reads in background threads: the next pages while the caller writes the current one, or a read that
overlaps the caller's other work."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar, cast

T = TypeVar("T")
_DONE = object()


def prefetched(pages: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield the items of `pages`, fetching up to `depth` ahead in a thread; errors surface in the caller.

    Fetching starts at once, before the first item is asked for, so the caller's own setup overlaps it too.
    The source iterator must not need the Flask app context (the Keycloak gateway does not).
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    worker = threading.Thread(target=produce, name="keycloak-prefetch", daemon=True)
    worker.start()
    return _consume(buffer, stop, worker)


def _consume(buffer: queue.Queue[object], stop: threading.Event, worker: threading.Thread) -> Iterator[T]:
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)  # anything else in the buffer is a page the producer put there
    finally:
        stop.set()  # the consumer stopped early (or failed): let the producer finish
        worker.join()


_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="okg-keycloak")


def started(operation: Callable[[], T]) -> Callable[[], T]:
    """Start `operation` in a background thread now; the returned call waits for its value (or raises its
    error) in the caller. For Keycloak reads that can overlap each other or the caller's database work; the
    operation must not need the Flask app context (the Keycloak gateway does not)."""
    future: Future[T] = _POOL.submit(operation)
    return future.result
