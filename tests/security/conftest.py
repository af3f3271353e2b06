"""Fixtures for the security tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine


def _fast_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # A throwaway per-test database needs no durability: skipping fsync makes the ~300 cells much faster.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


@pytest.fixture(autouse=True)
def fast_sqlite() -> Iterator[None]:
    event.listen(Engine, "connect", _fast_sqlite)
    yield
    event.remove(Engine, "connect", _fast_sqlite)
