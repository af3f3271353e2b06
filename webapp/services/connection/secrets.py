"""Stored Keycloak secrets as a whole: re-encryption after a key rotation."""

from __future__ import annotations

from sqlalchemy import select

from ...crypto import rotate
from ...extensions import db
from ...models import Offering
from .. import audit

SECRET_COLUMNS = ("keycloak_password_encrypted", "keycloak_client_secret_encrypted")


def rotate_secrets() -> int:
    """Re-encrypt every stored secret with the first configured key, all or nothing; how many were rewritten."""
    count = 0
    for offering in db.session.scalars(select(Offering).order_by(Offering.id)):
        for column in SECRET_COLUMNS:
            token = getattr(offering, column)
            if token:
                setattr(offering, column, rotate(token))
                count += 1
    audit.record(None, None, "secrets.rotated", None, {"secrets": count})
    db.session.commit()
    return count
