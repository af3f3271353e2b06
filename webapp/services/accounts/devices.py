"""Known devices: a browser where someone signed in with their password carries a signed cookie naming that
username and a random nonce (the "device cookie" of OWASP's advice on slowing down online guessing).

Guesses from such a browser are counted per nonce, apart from the username's budget, so a username under
attack from everywhere stays open to its owner on the browsers they use. The cookie is signed with the app's
SECRET_KEY (itsdangerous, its own salt) and expires after LOGIN_DEVICE_COOKIE_DAYS; forging one for another
username needs that key. One cookie lists the last few usernames signed in on that browser.
"""

from __future__ import annotations

import secrets

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "okg_device"
SALT = "okg-known-device"
MAX_NAMES = 5  # usernames one browser remembers (a shared machine); the oldest is forgotten first
MAX_COOKIE_LENGTH = 2048  # more than five entries ever take; anything longer is not ours


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def max_age_seconds() -> int:
    return int(float(current_app.config["LOGIN_DEVICE_COOKIE_DAYS"]) * 86400)


def _entries(cookie: str | None) -> list[tuple[str, str]]:
    if not cookie or len(cookie) > MAX_COOKIE_LENGTH:
        return []
    try:
        data = _serializer().loads(cookie, max_age=max_age_seconds())
    except (BadData, UnicodeError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [
        (entry[0], entry[1])
        for entry in data[:MAX_NAMES]
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry)
    ]


def nonce_for(cookie: str | None, username: str) -> str | None:
    """The device's nonce when `cookie` is a valid device cookie naming `username`, else None."""
    return next((nonce for name, nonce in _entries(cookie) if name == username), None)


def remembered(cookie: str | None, username: str) -> str:
    """The cookie to send after `username` signed in: a fresh nonce for it (its device budget starts over),
    first in the list, the other usernames kept."""
    others = [[name, nonce] for name, nonce in _entries(cookie) if name != username]
    entries = [[username, secrets.token_hex(16)], *others][:MAX_NAMES]
    return _serializer().dumps(entries)
