"""The signed-in user's account: change the password, sign out everywhere (both also revoke API tokens)."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from ..htmx import redirect_to, render
from ..services.accounts.core import change_password, sign_out_everywhere, tokens_of
from . import ui_bp
from .forms import ChangePasswordForm, ConfirmForm


def _account_page(form: ChangePasswordForm, status: int = 200) -> Response:
    count = len(tokens_of(current_user))
    tokens = "" if not count else "your API token" if count == 1 else f"all {count} of your API tokens"
    effect = (
        f"{tokens}: scripts using {'it' if count == 1 else 'them'} stop working until you create "
        f"{'a new one' if count == 1 else 'new ones'}"
    )
    return render(
        "account/account.html",
        form=form,
        signout_form=ConfirmForm(),
        tokens=tokens,
        tokens_effect=effect,
        status=status,
    )


def _tokens_revoked(count: int) -> str:
    if not count:
        return ""
    return f" Your {count} API token{'s were' if count != 1 else ' was'} revoked; scripts using them must get new ones."


@ui_bp.get("/account")
@login_required
def account() -> Response:
    return _account_page(ChangePasswordForm())


@ui_bp.post("/account/password")
@login_required
def account_password() -> Response:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(form, 400)
    user = current_user._get_current_object()
    revoked = change_password(user, form.current_password.data or "", form.new_password.data or "")
    if revoked is None:
        form.current_password.errors = ["This is not your current password."]
        return _account_page(form, 400)
    login_user(user)  # this session carries the new session version; every other one has ended
    flash(f"Password changed. You were signed out everywhere else.{_tokens_revoked(revoked)}", "success")
    return redirect_to(url_for("ui.account"))


@ui_bp.post("/account/sign-out-everywhere")
@login_required
def account_sign_out_everywhere() -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    revoked = sign_out_everywhere(user)
    login_user(user)
    flash(f"Every other session of yours has ended.{_tokens_revoked(revoked)}", "success")
    return redirect_to(url_for("ui.account"))
