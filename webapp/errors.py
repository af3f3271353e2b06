"""Error pages for the UI and JSON errors for the API; nothing ever shows a stack trace."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        code = exc.code or 500
        if _wants_json():
            if code == 405:
                response = jsonify({"detail": f'Method "{request.method}" not allowed.'})
                response.headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
                return response, 405
            if code == 404:
                return jsonify({"detail": "Not found."}), 404
            return jsonify({"detail": exc.description}), code
        return render_template("errors/error.html", code=code, title=exc.name, message=exc.description), code

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[Response | str, int]:
        message = "Your form expired or was sent from another site. Reload the page and try again."
        if _wants_json():
            return jsonify({"detail": message}), 400
        return render_template("errors/error.html", code=400, title="Form expired", message=message), 400

    @app.errorhandler(500)
    def internal_error(_exc: Exception) -> tuple[Response | str, int]:
        db.session.rollback()
        message = "Something went wrong on our side. Nothing was changed; please try again."
        if _wants_json():
            return jsonify({"detail": message}), 500
        return render_template("errors/error.html", code=500, title="Server error", message=message), 500
