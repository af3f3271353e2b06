"""Error pages for the UI and JSON errors for the API; nothing ever shows a stack trace."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.wrappers import Response

from .extensions import db
from .htmx import toast_only
from .input_guard import too_large_message


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


UNTRUSTED_HOST = "This server does not answer for that host name."


def init_app(app: Flask) -> None:
    @app.errorhandler(SecurityError)
    def untrusted_host(_exc: SecurityError) -> tuple[str, int, dict[str, str]]:
        # The Host header is not in TRUSTED_HOSTS: no URL can be built for it, so no page with links either.
        return UNTRUSTED_HOST, 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        code = exc.code or 500
        description = too_large_message() if code == 413 else exc.description
        if _wants_json():
            if code == 405:
                response = jsonify({"detail": f'Method "{request.method}" not allowed.'})
                response.headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
                return response, 405
            if code == 404:
                return jsonify({"detail": "Not found."}), 404
            return jsonify({"detail": description}), code
        if _is_htmx():  # never a whole error page swapped into a fragment's place
            return toast_only(description or exc.name, code), code
        return render_template("errors/error.html", code=code, title=exc.name, message=description), code

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[Response | str, int]:
        message = "Your form expired or was sent from another site. Reload the page and try again."
        if _wants_json():
            return jsonify({"detail": message}), 400
        if _is_htmx():
            return toast_only(message, 400), 400
        return render_template("errors/error.html", code=400, title="Form expired", message=message), 400

    @app.errorhandler(500)
    def internal_error(_exc: Exception) -> tuple[Response | str, int]:
        db.session.rollback()
        message = "Something went wrong on our side. Nothing was changed; please try again."
        if _wants_json():
            return jsonify({"detail": message}), 500
        if _is_htmx():
            return toast_only(message, 500), 500
        return render_template("errors/error.html", code=500, title="Server error", message=message), 500
