"""Per-user API tokens: create (shown once) and revoke."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..services.accounts import create_token, revoke_token, tokens_of
from . import ui_bp
from .forms import ConfirmForm
from .htmx import redirect_to, render


@ui_bp.get("/tokens")
@login_required
def tokens() -> Response:
    return render("tokens/list.html", tokens=tokens_of(current_user), form=ConfirmForm(), new_token=None)


@ui_bp.post("/tokens")
@login_required
def token_create() -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _token, plain = create_token(current_user)
    return render("tokens/list.html", tokens=tokens_of(current_user), form=ConfirmForm(), new_token=plain)


@ui_bp.post("/tokens/<token_uuid>/revoke")
@login_required
def token_revoke(token_uuid: str) -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not revoke_token(current_user, token_uuid):
        abort(404)
    flash("Token revoked. Scripts using it can no longer call the API.", "success")
    return redirect_to(url_for("ui.tokens"))
