"""Reading request bodies and query parameters with DRF-style field errors."""

from __future__ import annotations

from typing import Any

from flask import request

from ..services.errors import REQUIRED, ValidationFailed
from ..services.uuids import parse_uuid

INVALID_UUID = "Must be a valid UUID."
MAX_LENGTH = 255  # the size of every text column these values end up in


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.is_json else None
    if data is None:
        data = request.form.to_dict() if request.form else ({} if not request.data else None)
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "invalid JSON"
        raise ValidationFailed({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
    return data


def read_fields(data: dict[str, Any], spec: dict[str, str]) -> dict[str, Any]:
    """Validate fields by kind: "uuid", "str", with "?" for optional. Collects every error before raising.

    Optional fields absent from the body are left out of the result, so callers can tell
    "absent" from "explicitly null".
    """
    values: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for name, kind in spec.items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if name not in data or (data[name] in (None, "") and not optional):
            if not optional:
                problems[name] = [
                    REQUIRED if name not in data or data[name] is None else "This field may not be blank."
                ]
            continue
        value = data[name]
        if value is None:
            values[name] = None
        elif kind == "uuid":
            parsed = parse_uuid(value) if value != "" else ""
            if parsed is None:
                problems[name] = [INVALID_UUID]
            else:
                values[name] = parsed or None
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            problems[name] = ["Not a valid string."]
        elif len(str(value)) > MAX_LENGTH:
            problems[name] = [f"Ensure this field has no more than {MAX_LENGTH} characters."]
        else:
            values[name] = str(value)
    if problems:
        raise ValidationFailed(problems)
    return values


def uuid_param(name: str) -> str | None:
    """An optional UUID query parameter; malformed is a 400 on that parameter."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ValidationFailed.field(name, INVALID_UUID)
    return parsed


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
