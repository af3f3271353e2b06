"""Log in, log out, and the landing page (the offerings list)."""

from __future__ import annotations

from flask import flash, redirect, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import Offering
from ..services import access, audit
from ..services.accounts import authenticate
from ..services.throttle import TooManyAttempts
from . import ui_bp
from .forms import ConfirmForm, LoginForm
from .helpers import local_url
from .htmx import render


@ui_bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("ui.offerings"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data or "", form.password.data or "", request.remote_addr or "")
        except TooManyAttempts as exc:
            form.password.errors.append(str(exc))
            return render("auth/login.html", form=form, status=429)
        if user is not None:
            session.permanent = True  # ends after SESSION_LIFETIME_SECONDS
            login_user(user)
            audit.record(user, None, "user.logged_in")
            db.session.commit()
            return redirect(local_url(request.args.get("next")) or url_for("ui.offerings"), code=303)
        form.password.errors.append("Unknown username or wrong password.")
    return render("auth/login.html", form=form, status=400 if form.errors else 200)


@ui_bp.post("/logout")
@login_required
def logout() -> Response:
    ConfirmForm().validate_on_submit()  # CSRF is checked globally; this keeps the form pattern uniform
    logout_user()
    flash("You have been logged out.", "success")
    return redirect(url_for("ui.login"), code=303)


@ui_bp.get("/")
@login_required
def offerings() -> Response:
    items = db.session.scalars(access.visible_offerings(current_user).order_by(Offering.name)).all()
    return render("offerings/list.html", offerings=items)
