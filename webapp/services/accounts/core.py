"""Users, passwords and API tokens. Passwords and tokens are stored hashed only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ...extensions import db
from ...models import ApiToken, AuditEvent, User, utcnow
from .. import audit
from ..errors import ValidationFailed
from . import checks as account_checks
from . import devices, throttle


def set_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


# Checked when the username is unknown, so that unknown and known usernames cost the same time.
_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


@dataclass(frozen=True)
class SignedIn:
    """A password sign-in that worked, with the known-device cookie to hand to the browser."""

    user: User
    device_cookie: str


def authenticate(username: str, password: str, address: str, device_cookie: str | None = None) -> SignedIn | None:
    """Check a password, throttled per client address, per username and per known device (throttle.py); raises
    TooManyAttempts, before any password is checked, when the attempt must wait."""
    username = username.strip().lower()
    attempt = throttle.begin(address, username, devices.nonce_for(device_cookie, username))
    user = db.session.scalar(select(User).where(User.username == username))
    usable = user is not None and user.active and bool(user.password_hash)
    valid = check_password_hash(user.password_hash if user is not None and usable else _dummy_hash(), password)
    if user is not None and usable and valid:
        throttle.succeeded(attempt)
        return SignedIn(user, devices.remembered(device_cookie, username))
    db.session.add(
        AuditEvent(
            actor_name=username[:150],
            action="user.login_failed",
            object_type="User",
            object_repr=username[:500],
            details={"address": address[:64]},
        )
    )
    db.session.commit()
    return None


def change_password(user: User, current: str, new: str) -> int | None:
    """Set a new password when `current` is right: every other session of the user ends and every API token of
    theirs is revoked (whoever knew the old password may have made one). Returns how many tokens were revoked;
    None when `current` is wrong (nothing changes)."""
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        return None
    set_password(user, new)
    user.session_version += 1
    revoked = _revoke_all_tokens(user)
    audit.record(user, None, "user.password_changed", None, {"tokens_revoked": revoked})
    db.session.commit()
    return revoked


def reset_password(user: User, password: str) -> int:
    """Set a password someone else chose (load-data): as with a changed one, every session of the user ends and
    every API token of theirs is revoked. Returns how many tokens; the caller commits."""
    set_password(user, password)
    user.session_version += 1
    revoked = _revoke_all_tokens(user)
    audit.record(None, None, "user.password_reset", None, {"username": user.username, "tokens_revoked": revoked})
    return revoked


def sign_out_everywhere(user: User) -> int:
    """End every other session of the user and revoke every API token of theirs; returns how many tokens."""
    user.session_version += 1
    revoked = _revoke_all_tokens(user)
    audit.record(user, None, "user.signed_out_everywhere", None, {"tokens_revoked": revoked})
    db.session.commit()
    return revoked


def _revoke_all_tokens(user: User) -> int:
    tokens = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))
    for token in tokens:
        db.session.delete(token)
    return len(tokens)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


TOKEN_LIFETIMES_DAYS = (30, 90, 365)  # what the tokens page offers besides "until revoked"
MAX_TOKEN_DAYS = 3650


class TokenRefused(Exception):
    """The API token cannot be used; the message says why (the API answers 401 {"detail": ...})."""


def create_token(user: User, expires_days: int | None = None) -> tuple[ApiToken, str]:
    """Return the stored token row and the plain token, which is shown once and never stored. `expires_days`:
    the token stops working that many days from now (None: until revoked)."""
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise ValidationFailed.field("expires_days", f"Choose between 1 and {MAX_TOKEN_DAYS} days.")
    plain = secrets.token_hex(20)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    token = ApiToken(user_id=user.id, token_hash=hash_token(plain), prefix=plain[:8], expires=expires)
    db.session.add(token)
    details = {"prefix": token.prefix, "expires": expires.isoformat() if expires else None}
    audit.record(user, None, "token.created", None, details)
    db.session.commit()
    return token, plain


def is_expired(token: ApiToken, now: datetime | None = None) -> bool:
    return token.expires is not None and token.expires <= (now or utcnow())


def user_for_token(plain: str) -> User | None:
    """The user an API token belongs to; None for no such token. Raises TokenRefused (in words) when the token
    expired, or when Keycloak says its owner's account may no longer be used (checks.py)."""
    # Looked up by its SHA-256: comparing in the index reveals nothing of a token whose hash is unknown.
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or not token.user.active:
        return None
    now = utcnow()
    if is_expired(token, now):
        raise TokenRefused(
            f"This token expired on {token.expires or now:%Y-%m-%d %H:%M} UTC; create a new one on the API tokens page."
        )
    try:
        account_checks.confirm(token.user)
    except account_checks.AccessEnded as exc:
        raise TokenRefused(f"{exc.message} Its API tokens cannot be used.") from exc
    last = token.last_used
    # Writing on every request would serialize API traffic on one row; a minute's precision is plenty.
    if last is None or (now - last).total_seconds() > 60:
        token.last_used = now
        db.session.commit()
    return token.user


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created.desc()))
    )


def revoke_token(user: User, token_uuid: str) -> bool:
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.uuid == token_uuid))
    if token is None:
        return False
    audit.record(user, None, "token.revoked", None, {"prefix": token.prefix})
    db.session.delete(token)
    db.session.commit()
    return True


def user_named(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username.strip().lower()))


def note_signed_in(user: User) -> None:
    """The audit line of a password sign-in, committed (the session cookie is the view's)."""
    audit.record(user, None, "user.logged_in")
    db.session.commit()
