"""`?o=field` / `?o=-field` ordering with an allow-list; default `-created` (docs/PRODUCT.md §2)."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import Select


def apply_ordering(query: Select[Any], model: Any, allowed: tuple[str, ...]) -> Select[Any]:
    orderings = []
    for item in request.args.get("o", "").split(","):
        name = item.strip()
        descending = name.startswith("-")
        name = name.lstrip("-")
        if name in allowed:
            column = getattr(model, name)
            orderings.append(column.desc() if descending else column.asc())
    if not orderings:
        orderings.append(model.created.desc())
    return query.order_by(*orderings, model.id.desc())
