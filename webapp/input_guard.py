"""Refuse bodies that are too big and text that no database column can hold, before any view sees them.

Bodies over MAX_CONTENT_LENGTH get a 413 before anything reads them. PostgreSQL rejects NUL (0x00)
characters in text, while SQLite stores them; refusing them up front keeps every endpoint and form at a
clear 400 on both databases instead of a 500 on one.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, current_app, jsonify, render_template, request

NUL_MESSAGE = "Null characters are not allowed."
TOO_LARGE = "The request body is larger than this server accepts ({limit} bytes)."


def _first_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_nul(key, path or str(key)) or _first_nul(item, path or str(key))
            if found:
                return found
    if isinstance(value, list):
        for item in value:
            found = _first_nul(item, path)
            if found:
                return found
    return None


def _field_with_nul() -> str | None:
    if "\x00" in request.path:
        return "path"
    for source in (request.args, request.form):
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return key.replace("\x00", "")
    if request.is_json:
        return _first_nul(request.get_json(silent=True), "")
    return None


def too_large_message() -> str:
    return TOO_LARGE.format(limit=current_app.config["MAX_CONTENT_LENGTH"])


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_bad_input() -> tuple[Response | str, int] | None:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit and (request.content_length or 0) > limit:
            abort(413)  # a chunked body without a length is cut at the limit by Werkzeug (also 413)
        field = _field_with_nul()
        if field is None:
            return None
        if request.path.startswith("/api/"):
            return jsonify({field or "non_field_errors": [NUL_MESSAGE]}), 400
        return render_template("errors/error.html", code=400, title="Invalid input", message=NUL_MESSAGE), 400
