"""CSV downloads for auditors and spreadsheets, shared by the UI and the API (`?format=csv`).

Rows are written as they are read (the database in batches, see `streamed`), so 50,000 rows never sit in
memory. Every cell that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return) is prefixed with an apostrophe, as OWASP's CSV injection advice says.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy import Select

from .extensions import db
from .services.errors import ServiceError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000  # rows read from the database, and rows written, per step
UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def cell(value: Any) -> str:
    """One value as spreadsheet-safe text."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header, then the rows, a batch of lines at a time. When reading fails halfway (Keycloak went away),
    the file ends with a row that says so in words: an auditor must not take a cut file for a whole one."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    try:
        for index, row in enumerate(rows, start=1):
            writer.writerow([cell(value) for value in row])
            if index % BATCH == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    except ServiceError as exc:
        writer.writerow([cell(f"INCOMPLETE: {exc.message} The rows above are all this file has.")])
    yield buffer.getvalue()


def primed(rows: Iterator[Any]) -> Iterator[Any]:
    """Read the first row now, so that a failure before any row is raised here (and answered as an error page
    or a 4xx/502) instead of inside a response that already started."""
    first = next(rows, None)
    return rows if first is None else itertools.chain([first], rows)


def streamed(query: Select[Any]) -> Iterator[Any]:
    """The query's objects, fetched BATCH at a time (a server-side cursor on PostgreSQL)."""
    yield from db.session.scalars(query.execution_options(yield_per=BATCH))


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    name = UNSAFE_FILENAME.sub("-", filename).strip("-") or "export.csv"
    response = Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def shape_csv(
    filename: str,
    query: Select[Any],
    dump: Callable[[Any], dict[str, Any]],
    columns: list[str],
    dump_page: Callable[[list[Any]], list[dict[str, Any]]] | None = None,
) -> Response:
    """A list endpoint's rows as CSV; `columns` (the shape's fields) head the file even when it has no rows.
    `dump_page` dumps BATCH rows at once, when a row's answer needs more than its own columns."""

    def rows() -> Iterator[list[Any]]:
        chunk: list[Any] = []
        for obj in itertools.chain(streamed(query), [None]):
            if obj is not None:
                chunk.append(obj)
            if chunk and (obj is None or len(chunk) == BATCH):
                for values in dump_page(chunk) if dump_page is not None else map(dump, chunk):
                    yield [_cell(values.get(name)) for name in columns]
                chunk = []

    return csv_response(filename, columns, rows())


def _cell(value: Any) -> Any:
    """A nested answer (a dict) as compact JSON in its one cell."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if isinstance(value, dict) else value
