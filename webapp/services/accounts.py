"""Users, passwords and API tokens. Passwords and tokens are stored hashed only."""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import ApiToken, AuditEvent, User, utcnow
from . import audit, throttle


def set_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


# Checked when the username is unknown, so that unknown and known usernames cost the same time.
_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


def authenticate(username: str, password: str, address: str) -> User | None:
    """Check a password, throttled per client address and per username (webapp/services/throttle.py)."""
    username = username.strip().lower()
    attempt = throttle.begin(address, username)  # raises TooManyAttempts
    throttle.pause(attempt.delay)
    user = db.session.scalar(select(User).where(User.username == username))
    usable = user is not None and user.active and bool(user.password_hash)
    valid = check_password_hash(user.password_hash if user is not None and usable else _dummy_hash(), password)
    if usable and valid:
        throttle.succeeded(attempt)
        return user
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


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password when `current` is right; every other session of the user ends."""
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        return False
    set_password(user, new)
    user.session_version += 1
    audit.record(user, None, "user.password_changed")
    db.session.commit()
    return True


def sign_out_everywhere(user: User) -> None:
    user.session_version += 1
    audit.record(user, None, "user.signed_out_everywhere")
    db.session.commit()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User) -> tuple[ApiToken, str]:
    """Return the stored token row and the plain token, which is shown once and never stored."""
    plain = secrets.token_hex(20)
    token = ApiToken(user_id=user.id, token_hash=hash_token(plain), prefix=plain[:8])
    db.session.add(token)
    audit.record(user, None, "token.created", None, {"prefix": token.prefix})
    db.session.commit()
    return token, plain


def user_for_token(plain: str) -> User | None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or not token.user.active:
        return None
    now = utcnow()
    last = token.last_used
    # Writing on every request would serialize API traffic on one row; a minute's precision is plenty.
    if last is None or (now - (last if last.tzinfo else last.replace(tzinfo=now.tzinfo))).total_seconds() > 60:
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
