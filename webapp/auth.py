"""Session login (flask-login) and API token authentication."""

from __future__ import annotations

from flask import Flask, flash, g, redirect, request, session
from flask_login import current_user, login_url
from werkzeug.wrappers import Response

from .extensions import db, login_manager
from .htmx import htmx_redirect, is_htmx
from .models import User
from .services.accounts import checks as account_checks
from .services.accounts.core import TokenRefused, user_for_token


def init_app(app: Flask) -> None:
    login_manager.login_view = "ui.login"
    login_manager.login_message = "Please log in to continue."

    @login_manager.unauthorized_handler
    def unauthorized() -> Response:
        # An htmx request from a page whose session expired: send the whole browser to the login page (and
        # back to that page afterwards) instead of swapping the login page into a fragment.
        if is_htmx():
            back = request.headers.get("HX-Current-URL") or request.url
            return htmx_redirect(login_url("ui.login", next_url=back), 401)
        if not g.get("access_ended"):  # the loader already said why, in words
            flash(login_manager.login_message)
        return redirect(login_url("ui.login", next_url=request.url))

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # "<id>:<session version>" (User.get_id): a session from before the version was raised is over.
        user_id, _, version = session_id.partition(":")
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        if user is None or not user.active or version != str(user.session_version):
            return None
        try:
            account_checks.confirm(user)  # signed in with Keycloak: does Keycloak still let this account in?
        except account_checks.AccessEnded as exc:
            # Signed out here and now, with the reason on the next page (the login page).
            session.pop("_user_id", None)
            session.pop("keycloak_id_token", None)
            g.access_ended = f"{exc.message} You were signed out."
            flash(g.access_ended, "error")
            return None
        return user


class AuthError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def api_user() -> User:
    """The caller of an API request: `Authorization: Token <key>`, or the browser session for reads."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "token" or not key.strip():
            raise AuthError("Invalid token header. Expected 'Token <key>'.")
        try:
            user = user_for_token(key.strip())
        except TokenRefused as exc:
            raise AuthError(str(exc)) from exc
        if user is None:
            raise AuthError("Invalid token.")
        return user
    if request.method in ("GET", "HEAD", "OPTIONS") and current_user.is_authenticated:
        signed_in: User = current_user._get_current_object()
        return signed_in
    if g.get("access_ended"):
        raise AuthError(g.access_ended)
    raise AuthError("Authentication credentials were not provided.")
