"""Sign-in throttling that a stranger cannot turn into a lockout.

Failures are counted per client address and per username over a sliding window:
- one address that keeps failing is slowed (each answer delayed, the delay doubling) and then refused (429);
- a username that fails from many addresses is slowed down only for the addresses that failed on it, so its
  owner signing in correctly from another address gets straight in.

Counting is atomic: each attempt is written (and committed) before it is counted, so concurrent attempts each
see every earlier one and no burst slips past the limit. A successful sign-in removes its own row; rows older
than the window are pruned as attempts come in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import ColumnElement, delete, func, select

from ..extensions import db
from ..models import LoginAttempt, utcnow


class TooManyAttempts(Exception):
    def __init__(self, minutes: int) -> None:
        super().__init__(f"Too many failed sign-ins from your address. Try again in {minutes} minute(s).")
        self.minutes = minutes


@dataclass(frozen=True)
class Attempt:
    id: int
    delay: float  # seconds to wait before answering


def pause(seconds: float) -> None:
    """Wait before answering a throttled attempt (tests replace this to observe the delay)."""
    if seconds > 0:
        time.sleep(seconds)


def _count(*conditions: ColumnElement[bool]) -> int:
    since = utcnow() - timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    query = select(func.count(LoginAttempt.id)).where(LoginAttempt.created >= since, *conditions)
    return db.session.scalar(query) or 0


def _delay(failures_before: int, slow_after: int) -> float:
    if failures_before < slow_after:
        return 0.0
    config = current_app.config
    return min(config["LOGIN_DELAY_SECONDS"] * 2 ** (failures_before - slow_after), config["LOGIN_MAX_DELAY_SECONDS"])


def begin(address: str, username: str) -> Attempt:
    """Record an attempt before the password is checked; TooManyAttempts when this address is refused."""
    config = current_app.config
    window = config["LOGIN_FAILURE_WINDOW_SECONDS"]
    refused = TooManyAttempts(max(1, window // 60))
    address, username = address[:64], username[:150]
    if _count(LoginAttempt.address == address) >= config["LOGIN_ADDRESS_MAX_FAILURES"]:
        raise refused
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.created < utcnow() - timedelta(seconds=window)))
    attempt = LoginAttempt(address=address, username=username)
    db.session.add(attempt)
    db.session.commit()
    from_address = _count(LoginAttempt.address == address)  # includes ours and every concurrent one before it
    if from_address > config["LOGIN_ADDRESS_MAX_FAILURES"]:
        raise refused
    delay = _delay(from_address - 1, config["LOGIN_ADDRESS_SLOW_AFTER"])
    if _count(LoginAttempt.address == address, LoginAttempt.username == username) > 1:
        # This address has failed on this username before: slow it down as the username's failures grow.
        delay = max(delay, _delay(_count(LoginAttempt.username == username) - 1, config["LOGIN_USERNAME_SLOW_AFTER"]))
    return Attempt(attempt.id, delay)


def succeeded(attempt: Attempt) -> None:
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
    db.session.commit()
