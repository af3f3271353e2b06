"""Waldur-style pagination: bare JSON array, Link header and X-Result-Count (docs/PRODUCT.md §2)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, request
from sqlalchemy import Select, func, select

from ..extensions import db

T = TypeVar("T")


class InvalidPage(Exception):
    pass


@dataclass(frozen=True)
class PageRequest:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_request(default_size: int | None = None) -> PageRequest:
    max_size = current_app.config["API_MAX_PAGE_SIZE"]
    size = default_size or current_app.config["API_DEFAULT_PAGE_SIZE"]
    raw_size = request.args.get("page_size", "")
    if raw_size.isdigit() and int(raw_size) > 0:
        size = min(int(raw_size), max_size)
    raw_page = request.args.get("page", "1").strip() or "1"
    if raw_page == "last":
        return PageRequest(-1, size)
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise InvalidPage()
    return PageRequest(int(raw_page), size)


def resolve_page(page: PageRequest, count: int) -> PageRequest:
    last = max(1, math.ceil(count / page.size))
    number = last if page.number == -1 else page.number
    if number > last:
        raise InvalidPage()
    return PageRequest(number, page.size)


def link_headers(page: PageRequest, count: int) -> dict[str, str]:
    last = max(1, math.ceil(count / page.size))

    def url(number: int) -> str:
        args = request.args.to_dict(flat=False)
        args["page"] = [str(number)]
        args["page_size"] = [str(page.size)]
        return f"{request.base_url}?{urlencode(args, doseq=True)}"

    links = [f'<{url(1)}>; rel="first"']
    if page.number > 1:
        links.append(f'<{url(page.number - 1)}>; rel="prev"')
    if page.number < last:
        links.append(f'<{url(page.number + 1)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    return {"Link": ", ".join(links), "X-Result-Count": str(count)}


def paginate_query(query: Select[Any], default_size: int | None = None) -> tuple[list[Any], dict[str, str]]:
    """One COUNT and one page SELECT, whatever the page size."""
    count = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = resolve_page(page_request(default_size), count)
    items = list(db.session.scalars(query.limit(page.size).offset(page.offset))) if count else []
    return items, link_headers(page, count)


def paginate_list(items: Sequence[T], default_size: int | None = None) -> tuple[list[T], dict[str, str]]:
    page = resolve_page(page_request(default_size), len(items))
    return list(items[page.offset : page.offset + page.size]), link_headers(page, len(items))


def paginated_response(
    items: Select[Any] | Sequence[T],
    serialize: Callable[[Any], Any],
    default_size: int | None = None,
    dump_page: Callable[[list[Any]], list[Any]] | None = None,
) -> Response:
    """One page as a bare JSON array, with the Link and X-Result-Count headers (`dump_page`: the page at once)."""
    if isinstance(items, Select):
        page, headers = paginate_query(items, default_size)
    else:
        page, headers = paginate_list(items, default_size)
    response = jsonify(dump_page(page) if dump_page is not None else [serialize(item) for item in page])
    response.headers.update(headers)
    return response
