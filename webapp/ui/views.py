from flask import redirect, url_for
from werkzeug.wrappers import Response

from . import ui_bp


@ui_bp.get("/")
def index() -> Response:
    return redirect(url_for("ui.login"))


@ui_bp.get("/login")
def login() -> str:
    return "login"
