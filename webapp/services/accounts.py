"""Users, passwords and API tokens. Passwords and tokens are stored hashed only."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import ApiToken, AuditEvent, User, utcnow
from . import audit


def set_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


class TooManyAttempts(Exception):
    def __init__(self, minutes: int) -> None:
        super().__init__(f"Too many failed logins for this account. Try again in {minutes} minute(s).")
        self.minutes = minutes


def _recent_failures(username: str) -> int:
    window = timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    return (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "user.login_failed",
                AuditEvent.object_repr == username,
                AuditEvent.created >= utcnow() - window,
            )
        )
        or 0
    )


def authenticate(username: str, password: str) -> User | None:
    """Check a password; failures are recorded (stateless across app instances) and throttle the username."""
    username = username.strip().lower()
    if _recent_failures(username) >= current_app.config["LOGIN_MAX_FAILURES"]:
        raise TooManyAttempts(max(1, current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"] // 60))
    user = db.session.scalar(select(User).where(User.username == username))
    if user is not None and user.active and user.password_hash and check_password_hash(user.password_hash, password):
        return user
    db.session.add(
        AuditEvent(
            actor_name=username[:150], action="user.login_failed", object_type="User", object_repr=username[:500]
        )
    )
    db.session.commit()
    return None


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
