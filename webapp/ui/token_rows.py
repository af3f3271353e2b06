"""What the tokens page shows of each token: its dates in words, whether it still works."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..models import ApiToken, utcnow
from ..services.accounts.core import is_expired


@dataclass(frozen=True)
class TokenRow:
    uuid: str
    prefix: str
    created: str
    last_used: str
    expires: str
    expired: bool


def _when(moment: datetime | None, otherwise: str) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else otherwise


def token_rows(tokens: list[ApiToken]) -> list[TokenRow]:
    now = utcnow()
    return [
        TokenRow(
            uuid=token.uuid,
            prefix=token.prefix,
            created=_when(token.created, ""),
            last_used=_when(token.last_used, "never"),
            expires=_when(token.expires, "never"),
            expired=is_expired(token, now),
        )
        for token in tokens
    ]
