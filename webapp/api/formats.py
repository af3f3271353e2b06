"""`?format=csv` on the lists that auditors download: the same rows and fields as the JSON list, all pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, request
from sqlalchemy import Select

from ..downloads import shape_csv
from ..services.errors import ValidationFailed
from .pagination import paginated_response
from .shapes import Shape


def list_response(
    query: Select[Any],
    shape: type[Shape],
    filename: str,
    dump: Callable[[Any], dict[str, Any]] | None = None,
    dump_page: Callable[[list[Any]], list[dict[str, Any]]] | None = None,
) -> Response:
    """A JSON page, or with `format=csv` every row as CSV (columns: the shape's fields). `dump_page` dumps a
    page of rows at once when a row's answer needs more than its own columns (one query per page, not per row)."""
    chosen = request.args.get("format", "json").strip().lower() or "json"
    if chosen == "csv":
        return shape_csv(filename, query, dump or shape.dump, [name for name, _ in shape.getters()], dump_page)
    if chosen != "json":
        raise ValidationFailed.field("format", f"Select a valid choice. {chosen} is not one of json, csv.")
    return paginated_response(query, dump or shape.dump, dump_page=dump_page)
