"""Moments are timezone-aware wherever they come from: SQLite keeps naive text, and the column type says UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from tests.factories import World
from webapp.extensions import db
from webapp.models import ApiToken, utcnow


def test_a_stored_moment_reads_back_aware_and_in_utc(world: World) -> None:
    token = db.session.scalar(select(ApiToken).limit(1))
    assert token is not None
    east = timezone(timedelta(hours=5))
    token.expires = datetime(2030, 1, 2, 8, 30, tzinfo=east)
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(ApiToken, token.id)
    assert again is not None and again.expires == datetime(2030, 1, 2, 3, 30, tzinfo=UTC)
    assert again.expires.tzinfo is not None and again.created.tzinfo is not None
    assert again.expires > utcnow()  # comparable with an aware now, on every database


def test_a_naive_moment_is_refused_rather_than_guessed(world: World) -> None:
    token = db.session.scalar(select(ApiToken).limit(1))
    assert token is not None
    token.expires = datetime(2030, 1, 2, 8, 30)
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()
