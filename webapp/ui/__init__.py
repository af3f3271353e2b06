"""Server-rendered pages (Jinja + htmx)."""

from flask import Blueprint

ui_bp = Blueprint("ui", __name__)

from . import views  # noqa: E402,F401
