"""Log in, log out, and the landing page (the offerings list)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from .. import oidc
from ..htmx import render
from ..services import access
from ..services.accounts import devices, sign_in
from ..services.accounts.core import authenticate, note_signed_in
from ..services.accounts.throttle import TooManyAttempts
from . import ui_bp
from .forms import ConfirmForm, LoginForm
from .helpers import attempt, local_url


@ui_bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("ui.offerings"))
    form = LoginForm()
    local = bool(current_app.config["LOCAL_LOGIN"])
    context: dict[str, Any] = {
        "local_login": local,
        "keycloak_login": oidc.enabled(),
        "next": local_url(request.args.get("next")),
    }
    if request.method == "POST" and not local:
        context["refusal"] = "Signing in with a password is off here: use Sign in with Keycloak."
        return render("auth/login.html", form=form, status=403, **context)
    if form.validate_on_submit():
        username, password = form.username.data or "", form.password.data or ""
        try:
            signed_in = authenticate(username, password, request.remote_addr or "", request.cookies.get(devices.COOKIE))
        except TooManyAttempts as exc:
            form.password.errors.append(str(exc))
            refused = render("auth/login.html", form=form, status=429, **context)
            refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
        if signed_in is not None:
            session.permanent = True  # ends after SESSION_LIFETIME_SECONDS
            login_user(signed_in.user)
            note_signed_in(signed_in.user)
            response = redirect(local_url(request.args.get("next")) or url_for("ui.offerings"), code=303)
            _remember_device(response, signed_in.device_cookie)
            return response
        form.password.errors.append("Unknown username or wrong password.")
    return render("auth/login.html", form=form, status=400 if form.errors else 200, **context)


def _remember_device(response: Response, cookie: str) -> None:
    """This browser is now known for the username (services/accounts/devices.py); only the login form reads it."""
    response.set_cookie(
        devices.COOKIE,
        cookie,
        max_age=devices.max_age_seconds(),
        path=url_for("ui.login"),
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        httponly=True,
        samesite="Lax",
    )


@ui_bp.get("/auth/keycloak/login")
def keycloak_login() -> Response:
    """To Keycloak's login page (authorization code + PKCE); back at keycloak_callback."""
    if not oidc.enabled():
        abort(404)
    session["after_sign_in"] = local_url(request.args.get("next")) or ""
    try:
        return oidc.start(url_for("ui.keycloak_callback", _external=True))
    except oidc.SignInFailed as exc:
        return _sign_in_failed(exc)


@ui_bp.get("/auth/keycloak/callback")
def keycloak_callback() -> Response:
    if not oidc.enabled():
        abort(404)
    try:
        identity, id_token = oidc.finish()
    except oidc.SignInFailed as exc:
        return _sign_in_failed(exc)
    found = attempt(lambda: sign_in.user_for(identity))
    if found.value is None:
        return _sign_in_failed(oidc.SignInFailed(found.error, 403))
    after = local_url(session.get("after_sign_in")) or url_for("ui.offerings")
    session.clear()  # nothing from before the sign-in carries over (session fixation)
    session.permanent = True
    login_user(found.value)
    session["keycloak_id_token"] = id_token  # for the logout hint; no access or refresh token is kept
    return redirect(after, code=303)


def _sign_in_failed(exc: oidc.SignInFailed) -> Response:
    title = "Keycloak cannot be reached" if exc.status == 502 else "Not signed in"
    page = render_template("errors/sign_in.html", code=exc.status, title=title, message=str(exc))
    return make_response(page, exc.status)


@ui_bp.post("/logout")
@login_required
def logout() -> Response:
    ConfirmForm().validate_on_submit()  # CSRF is checked globally; this keeps the form pattern uniform
    id_token = session.pop("keycloak_id_token", "")
    logout_user()
    if id_token and oidc.enabled():  # end the Keycloak session too, or the next click signs in silently
        ended = oidc.logout_url(id_token, url_for("ui.login", _external=True))
        if ended:
            return redirect(ended, code=303)
        flash("Logged out here; Keycloak could not be reached to end its session there.", "error")
        return redirect(url_for("ui.login"), code=303)
    flash("You have been logged out.", "success")
    return redirect(url_for("ui.login"), code=303)


@ui_bp.get("/")
@login_required
def offerings() -> Response:
    items = access.offerings_of(current_user)
    return render("offerings/list.html", offerings=items, delegated=access.delegated_group_count(current_user))
