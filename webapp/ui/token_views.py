"""Per-user API tokens: create (shown once, optionally expiring) and revoke."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import redirect_to, render
from ..services.accounts.core import create_token, revoke_token, tokens_of
from . import ui_bp
from .forms import ConfirmForm, TokenForm
from .token_rows import token_rows


def _page(form: TokenForm, new_token: str | None = None, status: int = 200) -> Response:
    rows = token_rows(tokens_of(current_user))
    return render("tokens/list.html", tokens=rows, form=form, new_token=new_token, status=status)


@ui_bp.get("/tokens")
@login_required
def tokens() -> Response:
    return _page(TokenForm())


@ui_bp.post("/tokens")
@login_required
def token_create() -> Response:
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    _token, plain = create_token(current_user, form.days)
    return _page(TokenForm(formdata=None), new_token=plain)


@ui_bp.post("/tokens/<token_uuid>/revoke")
@login_required
def token_revoke(token_uuid: str) -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not revoke_token(current_user, token_uuid):
        abort(404)
    flash("Token revoked. Scripts using it can no longer call the API.", "success")
    return redirect_to(url_for("ui.tokens"))
