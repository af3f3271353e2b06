"""Reading request bodies and query parameters with DRF-style field errors.

Bodies (`parse_body`) and query parameters (`parse_query`) are validated by pydantic against their declared
models (shapes.py, queries.py); `field_errors` is the one place where pydantic's errors become the messages
Waldur clients know.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, get_origin

from flask import request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from ..services.errors import REQUIRED, ValidationFailed

INVALID_UUID = "Must be a valid UUID."
BLANK = "This field may not be blank."
MAX_LENGTH = 255  # the size of every text column these values end up in
MAX_LIST = 10_000  # ids in one request body
# pydantic's error type (or our validators' own) -> the message; placeholders come from the error's context,
# plus `input` and `input_type`
MESSAGES = {
    "missing": REQUIRED,
    "uuid": INVALID_UUID,
    "string_type": "Not a valid string.",
    "string_too_long": "Ensure this field has no more than {max_length} characters.",
    "literal_error": '"{input}" is not a valid choice.',
    "enum": '"{input}" is not a valid choice.',
    "list_type": 'Expected a list of items but got type "{input_type}".',
    "dict_type": 'Expected a dictionary of items but got type "{input_type}".',
    "too_long": "Ensure this field has no more than {max_length} elements.",
    "too_long_keys": "Ensure this field has no more than {max_length} keys.",
    "list_item": f"Each item must be a non-blank string of at most {MAX_LENGTH} characters.",
    "dict_value": "Each value must be an action name or null.",
}
ModelT = TypeVar("ModelT", bound=BaseModel)


def invalid(kind: str) -> PydanticCustomError:
    """An error our own validators raise; its words are in MESSAGES."""
    return PydanticCustomError(kind, MESSAGES[kind])


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind, value, loc = error["type"], error.get("input"), error["loc"]
    info = model.model_fields.get(str(loc[0]))
    if len(loc) > 1:  # an item of a list or a value of a mapping
        return MESSAGES["list_item" if isinstance(loc[1], int) else "dict_value"]
    if info is not None and info.is_required():
        if kind == "missing" or value is None:
            return REQUIRED
        if value == "":
            return BLANK
    context = dict(error.get("ctx") or {})
    if kind == "too_long" and context.get("field_type") == "Dictionary":
        kind = "too_long_keys"
    template = MESSAGES.get(kind)
    if template is None:  # nothing we foresaw: pydantic's own words
        return error["msg"]
    return template.format(**context, input=value, input_type=type(value).__name__)


def field_errors(exc: ValidationError, model: type[BaseModel]) -> dict[str, list[str]]:
    """One message per field, DRF-style; a field's own error before those of its items."""
    problems: dict[str, list[str]] = {}
    for error in sorted(exc.errors(), key=lambda error: len(error["loc"])):
        name = str(error["loc"][0]) if error["loc"] else "non_field_errors"
        problems.setdefault(name, [_message(error, model)])
    return problems


def parse_body(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """The body validated by its model, every field's error at once. `model_fields_set` tells an absent
    optional field from an explicit null."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc, model)) from None


def parse_query(model: type[ModelT]) -> ModelT:
    """`request.args` validated by the endpoint's query model (queries.py); a blank value is no value, a list
    field takes every repetition of its parameter."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if get_origin(info.annotation) is list:
            values = [value for value in request.args.getlist(name) if value.strip()]
            if values:
                data[name] = values
        elif (value := request.args.get(name, "")).strip():
            data[name] = value
    return parse_body(model, data)


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.is_json else None
    if data is None:
        data = request.form.to_dict() if request.form else ({} if not request.data else None)
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "invalid JSON"
        raise ValidationFailed({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
    return data


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
