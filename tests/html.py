"""Reading pages like a person does: parsed HTML, text content, rows found by what they show."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from werkzeug.test import TestResponse


def parse(response: TestResponse | str) -> BeautifulSoup:
    text = response if isinstance(response, str) else response.get_data(as_text=True)
    return BeautifulSoup(text, "html.parser")


def text_of(node: Tag | None) -> str:
    """The visible text of a node, white space folded."""
    return " ".join(node.get_text(" ").split()) if node is not None else ""


def status_counts(page: BeautifulSoup) -> dict[str, str]:
    """The Groups view's header counts by status: {"synced": "1", ...}."""
    return {str(item["data-count"]): text_of(item) for item in page.select("[data-count]")}


def row_showing(page: BeautifulSoup, name: str) -> Tag:
    """The table row whose cells show `name`."""
    for row in page.select("tr"):
        if any(name == text_of(cell) or name in text_of(cell).split() for cell in row.find_all(["td", "th"])):
            return row
    raise AssertionError(f"no row shows {name!r}")
