"""Access that ends when Keycloak says so: an account linked to the sign-in realm is checked with Keycloak
again once its last answer is OIDC_RECHECK_SECONDS old, for its sessions and its API tokens alike.

The answer is kept on the user row, so every instance shares it and most requests ask nobody. A disabled or
deleted Keycloak account ends access; a lost staff role ends staff (the account goes on as a manager). When
Keycloak cannot be asked, the last answer stands for at most one more interval (not asked again more often
than a tenth of it, so an outage does not put a timeout into every request); after that access is refused in
words until Keycloak answers again. Without an admin account for the sign-in realm nobody is asked: the ID
token of the last sign-in is all there is (the README says so).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from flask import Flask, current_app

from ...extensions import db
from ...keycloak import errors as keycloak_errors
from ...keycloak.sign_in_realm import AccountStanding, SignInRealmGateway, split_issuer
from ...keycloak.types import ConnectionSettings
from ...models import User, utcnow
from .. import audit
from ..errors import Refused

EXTENSION_KEY = "okg_sign_in_accounts"
log = logging.getLogger(__name__)


class AccessEnded(Refused):
    """Keycloak said this account may not go on (or could not be asked for too long); the message says why."""


class AccountChecker(Protocol):
    def account_standing(self, subject: str) -> AccountStanding: ...


def init_app(app: Flask) -> None:
    """The checker, when signing in with Keycloak is on and an admin account for its realm is configured."""
    issuer = str(app.config.get("OIDC_ISSUER") or "").rstrip("/")
    client_id = str(app.config.get("OIDC_ADMIN_CLIENT_ID") or "")
    if not issuer or not client_id:
        if issuer:
            log.warning(
                "OKG_OIDC_ADMIN_CLIENT_ID is not set: accounts signed in with Keycloak are not checked with it "
                "again, so disabling one there ends nothing here until its session ends"
            )
        return
    where = split_issuer(issuer)
    if where is None:
        raise ValueError(f"OKG_OIDC_ISSUER {issuer!r} is not a Keycloak realm URL (…/realms/<realm>)")
    settings = ConnectionSettings(
        server_url=where[0],
        realm=where[1],
        client_id=client_id,
        client_secret=str(app.config.get("OIDC_ADMIN_CLIENT_SECRET") or ""),
        verify_ssl=app.config.get("KEYCLOAK_CA_BUNDLE") or True,
        timeout=float(app.config["OIDC_TIMEOUT_SECONDS"]),
    )
    app.extensions[EXTENSION_KEY] = SignInRealmGateway(settings, str(app.config["OIDC_CLIENT_ID"]))


def _checker() -> AccountChecker | None:
    checker: AccountChecker | None = current_app.extensions.get(EXTENSION_KEY)
    return checker


def is_checked(user: User) -> bool:
    """Whether Keycloak is asked about this account: linked to the configured sign-in realm, and an admin
    account to ask with."""
    issuer = str(current_app.config.get("OIDC_ISSUER") or "").rstrip("/")
    return _checker() is not None and bool(user.oidc_subject) and (user.oidc_issuer or "").rstrip("/") == issuer


def signed_in_now(user: User) -> None:
    """A sign-in with Keycloak is a fresh answer (the ID token): enabled, with the roles it carries. The caller
    commits."""
    now = utcnow()
    user.oidc_checked_at = user.oidc_check_tried_at = now
    user.oidc_check_ok, user.oidc_check_reason = True, None


def confirm(user: User) -> None:
    """Raise AccessEnded when this account may no longer be used; refresh is_staff from Keycloak's answer."""
    checker = _checker()
    if checker is None or not is_checked(user):
        return
    interval = timedelta(seconds=float(current_app.config["OIDC_RECHECK_SECONDS"]))
    now = utcnow()
    checked, tried = user.oidc_checked_at, user.oidc_check_tried_at
    fresh = checked is not None and now - checked < interval
    down_lately = tried is not None and (checked is None or tried > checked) and now - tried < interval / 10
    within_grace = checked is not None and now - checked < 2 * interval
    if fresh or (down_lately and within_grace):
        return _verdict(user)
    try:
        standing = checker.account_standing(str(user.oidc_subject))
    except keycloak_errors.KeycloakError as exc:
        user.oidc_check_tried_at = now
        db.session.commit()
        log.warning("Could not check %s with Keycloak: %s", user.username, exc.message)
        if within_grace:
            return _verdict(user)
        raise AccessEnded(
            f"Keycloak cannot be asked whether the account {user.username} may still be used ({exc.message}), "
            "and its last answer is too old. Try again when Keycloak is back."
        ) from exc
    _record(user, standing, now)
    return _verdict(user)


def _record(user: User, standing: AccountStanding, now: datetime) -> None:
    was_ok, was_staff = user.oidc_check_ok, user.is_staff
    user.oidc_checked_at = user.oidc_check_tried_at = now
    if not standing.exists:
        user.oidc_check_ok, user.oidc_check_reason = False, f"The Keycloak account of {user.username} is gone."
    elif not standing.enabled:
        user.oidc_check_ok, user.oidc_check_reason = False, f"Keycloak says the account {user.username} is disabled."
    else:
        user.oidc_check_ok, user.oidc_check_reason = True, None
        user.is_staff = current_app.config["OIDC_STAFF_ROLE"] in standing.client_roles
    if user.oidc_check_ok != was_ok and user.oidc_check_ok is False:
        audit.record(None, None, "user.access_ended_by_keycloak", user, {"reason": user.oidc_check_reason})
    if user.is_staff != was_staff:
        audit.record(None, None, "user.staff_changed_by_keycloak", user, {"staff": user.is_staff})
    db.session.commit()


def _verdict(user: User) -> None:
    if user.oidc_check_ok is False:
        raise AccessEnded(user.oidc_check_reason or f"Keycloak says the account {user.username} may not be used.")
