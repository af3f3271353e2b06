"""Sign-in throttling that never holds a thread and that a stranger cannot turn into a lockout of the owner.

A slowed attempt is refused at once (429 with Retry-After) before the password is looked at; nothing sleeps.
Failures are counted over a sliding window (LOGIN_FAILURE_WINDOW_SECONDS) in three budgets:

- per client address: after LOGIN_ADDRESS_SLOW_AFTER failures each next attempt must wait (the wait doubling
  from LOGIN_DELAY_SECONDS up to LOGIN_MAX_DELAY_SECONDS), after LOGIN_ADDRESS_MAX_FAILURES it is refused until
  failures leave the window;
- per username, across every address: after LOGIN_USERNAME_SLOW_AFTER failures each next attempt on it must
  wait, so one guess from each of a thousand addresses is slowed like a thousand guesses from one;
- per known device: a browser where the username signed in before (webapp/services/accounts/devices.py) is counted on
  its own, like an address, and not in the two budgets above, so the owner keeps signing in while the
  username is under attack.

Counting is atomic: each attempt is written (and committed) before it is judged, and it is judged against every
other attempt written so far, so of two concurrent attempts at least one sees the other and no burst slips past. A
successful sign-in, and an attempt refused here, remove their own row; rows older than the window are pruned
as attempts come in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, delete, func, select

from ...extensions import db
from ...models import LoginAttempt, utcnow

ADDRESS_LENGTH, USERNAME_LENGTH = 64, 150


class TooManyAttempts(Exception):
    """Refused before the password was checked; `retry_after` is in seconds (the Retry-After header)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    id: int


@dataclass(frozen=True)
class _Budget:
    conditions: tuple[ColumnElement[bool], ...]
    slow_after: int
    max_failures: int | None
    words: str  # "from your address", completing "Too many failed sign-ins ..."
    hint: str = ""


def in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def _wait(failures: int, slow_after: int) -> float:
    config = current_app.config
    return min(
        float(config["LOGIN_DELAY_SECONDS"]) * 2 ** (failures - slow_after), float(config["LOGIN_MAX_DELAY_SECONDS"])
    )


def _seconds_left(budget: _Budget, attempt_id: int, now: datetime) -> int:
    """How long this attempt must wait under `budget`, judged by every other attempt written so far (those still
    being checked count as failures: two concurrent attempts each see the other whatever order their commits
    take); 0: go on."""
    window = timedelta(seconds=float(current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"]))
    query = select(func.count(LoginAttempt.id), func.min(LoginAttempt.created), func.max(LoginAttempt.created)).where(
        LoginAttempt.id != attempt_id, LoginAttempt.created >= now - window, *budget.conditions
    )
    failures, oldest, latest = db.session.execute(query).one()
    if budget.max_failures is not None and failures >= budget.max_failures:
        until = oldest + window  # the window slides: the oldest failure leaving it frees one attempt
    elif failures and failures >= budget.slow_after:
        until = latest + timedelta(seconds=_wait(failures, budget.slow_after))
    else:
        return 0
    left = (until - now).total_seconds()
    return max(1, math.ceil(left)) if left > 0 else 0


def _budgets(address: str, username: str, device: str | None) -> list[_Budget]:
    config = current_app.config
    per_address = (int(config["LOGIN_ADDRESS_SLOW_AFTER"]), int(config["LOGIN_ADDRESS_MAX_FAILURES"]))
    if device:
        return [_Budget((LoginAttempt.device == device,), *per_address, "from this browser")]
    unknown = LoginAttempt.device.is_(None)
    return [
        _Budget((LoginAttempt.address == address, unknown), *per_address, "from your address"),
        _Budget(
            (LoginAttempt.username == username, unknown),
            int(config["LOGIN_USERNAME_SLOW_AFTER"]),
            None,
            "for this username",
            " A browser where you signed in before is not held up.",
        ),
    ]


def begin(address: str, username: str, device: str | None = None) -> Attempt:
    """Record an attempt before the password is checked; TooManyAttempts (and no row) when it must wait.
    `device` is the known-device nonce presented for this username, if any."""
    now = utcnow()
    window = float(current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    address, username = address[:ADDRESS_LENGTH], username[:USERNAME_LENGTH]
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.created < now - timedelta(seconds=window)))
    row = LoginAttempt(address=address, username=username, device=device, created=now)
    db.session.add(row)
    db.session.commit()
    attempt_id = row.id
    for budget in _budgets(address, username, device):
        seconds = _seconds_left(budget, attempt_id, now)
        if seconds:
            # A refused attempt costs the guesser nothing but adds nothing either: it is not a failure.
            db.session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
            db.session.commit()
            message = f"Too many failed sign-ins {budget.words}. Try again in {in_words(seconds)}.{budget.hint}"
            raise TooManyAttempts(message, seconds)
    return Attempt(attempt_id)


def succeeded(attempt: Attempt) -> None:
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
    db.session.commit()
