"""UUIDs render as 32-char hex; input accepts hex with or without hyphens (docs/PRODUCT.md §1)."""

import uuid
from typing import Any


def parse_uuid(value: Any) -> str | None:
    """Return the canonical 32-char hex form, or None when `value` is not a UUID."""
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value.strip()).hex
    except ValueError:
        return None


def uuid_from_url_or_hex(value: Any) -> str | None:
    """Accept a UUID or an API URL ending in one (".../offerings/<uuid>/")."""
    if not isinstance(value, str):
        return None
    candidate = value.rstrip("/").rsplit("/", 1)[-1]
    return parse_uuid(candidate)
