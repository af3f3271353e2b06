"""Reading request bodies and query parameters with DRF-style field errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import request

from ..services.errors import ValidationFailed
from ..services.uuids import parse_uuid

INVALID_UUID = "Must be a valid UUID."


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.is_json else None
    if data is None:
        data = request.form.to_dict() if request.form else ({} if not request.data else None)
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "invalid JSON"
        raise ValidationFailed({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
    return data


def uuid_param(name: str) -> str | None:
    """An optional UUID query parameter; malformed is a 400 on that parameter."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ValidationFailed.field(name, INVALID_UUID)
    return parsed


def choice_param(name: str, allowed: list[str]) -> str | None:
    """An optional query parameter that must be one of `allowed`; anything else is a 400 on that parameter."""
    value = request.args.get(name)
    if not value:
        return None
    if value not in allowed:
        raise ValidationFailed.field(name, f'"{value}" is not one of: {", ".join(allowed)}.')
    return value


def bool_param(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationFailed.field(name, "Must be true or false.")


@contextmanager
def field_names(**names: str) -> Iterator[None]:
    """Services name their errors by domain ("role", "resource", "remote_group"); say which request field each
    of those is here, e.g. `with field_names(role="role_uuid"):`."""
    try:
        yield
    except ValidationFailed as exc:
        if not isinstance(exc.errors, dict):
            raise
        raise ValidationFailed({names.get(name, name): messages for name, messages in exc.errors.items()}) from exc
