"""Paged views keep their place in the URL (`?page=&q=&state=`): the page number read from the request, and the
previous/next links of a pager built from the same arguments, so reload, bookmarks and Back all work."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, request, url_for

from ..services.memberships.pages import MAX_QUERY_LENGTH, PageRequest

MAX_PAGE = 1_000_000


def per_page() -> int:
    return max(1, min(int(current_app.config["MEMBERS_PAGE_SIZE"]), 1000))


def page_number(name: str = "page") -> int:
    """The 1-based page asked for; anything that is not a positive number is the first page."""
    value = request.args.get(name, 1, type=int) or 1
    return min(max(value, 1), MAX_PAGE)


def page_request(name: str = "page", query_name: str = "q") -> PageRequest:
    """The page and search asked for; a search longer than any name is cut to `MAX_QUERY_LENGTH`."""
    return PageRequest(page_number(name), per_page(), request.args.get(query_name, "").strip()[:MAX_QUERY_LENGTH])


@dataclass(frozen=True)
class Pager:
    """Previous/next links and the words between them. `pages` is None when the total is not known
    (the Keycloak side of a group page), and then `has_next` says whether there is more."""

    page: int
    has_next: bool
    pages: int | None
    prev_url: str | None
    next_url: str | None
    label: str  # "Page 3 of 1,001" / "Page 3"
    target: str  # the id of the element an htmx pager swaps (its HX-Target); "" for a plain boosted link

    @property
    def shown(self) -> bool:
        return self.page > 1 or self.has_next


def pager(
    endpoint: str,
    view_args: Mapping[str, str],
    args: Mapping[str, str | int | None],
    page: int,
    *,
    total: int | None = None,
    per_page_: int | None = None,
    has_next: bool | None = None,
    page_arg: str = "page",
    target: str = "",
) -> Pager:
    """A pager over `total` rows, or over an unknown total with `has_next` (one more row was asked for)."""
    size = per_page_ or per_page()
    pages = max(1, math.ceil(total / size)) if total is not None else None
    more = has_next if has_next is not None else (pages is not None and page < pages)

    def link(number: int) -> str:
        kept: dict[str, Any] = dict(view_args)
        kept.update((key, value) for key, value in args.items() if value not in (None, ""))
        if number > 1:
            kept[page_arg] = number
        return url_for(endpoint, **kept)

    label = f"Page {page:,} of {pages:,}" if pages is not None else f"Page {page:,}"
    return Pager(
        page=page,
        has_next=more,
        pages=pages,
        prev_url=link(page - 1) if page > 1 else None,
        next_url=link(page + 1) if more else None,
        label=label,
        target=target,
    )
