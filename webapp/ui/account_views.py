"""The signed-in user's account: change the password, sign out everywhere."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from ..services.accounts import change_password, sign_out_everywhere
from . import ui_bp
from .forms import ChangePasswordForm, ConfirmForm
from .htmx import redirect_to, render


def _account_page(form: ChangePasswordForm, status: int = 200) -> Response:
    return render("account/account.html", form=form, signout_form=ConfirmForm(), status=status)


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
    if not change_password(user, form.current_password.data or "", form.new_password.data or ""):
        form.current_password.errors = ["This is not your current password."]
        return _account_page(form, 400)
    login_user(user)  # this session carries the new session version; every other one has ended
    flash("Password changed. You were signed out everywhere else.", "success")
    return redirect_to(url_for("ui.account"))


@ui_bp.post("/account/sign-out-everywhere")
@login_required
def account_sign_out_everywhere() -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    sign_out_everywhere(user)
    login_user(user)
    flash("Every other session of yours has ended.", "success")
    return redirect_to(url_for("ui.account"))
