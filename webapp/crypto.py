"""Encryption at rest for Keycloak secrets.

OKG_ENCRYPTION_KEY holds one or more comma-separated keys: the first encrypts, every one decrypts
(MultiFernet), so a key can be rotated without losing what was stored: add the new key in front, run
`flask rotate-secrets`, then drop the old one.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretDecryptionError(Exception):
    """The stored secret cannot be read with the configured key (the key changed)."""


def configured_keys(value: str | list[str] | None) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [item.strip() for item in items if item.strip()]


def _fernet() -> MultiFernet:
    keys = configured_keys(current_app.config["ENCRYPTION_KEY"])
    # Accept any passphrase: derive a proper 32-byte Fernet key from each.
    return MultiFernet([Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())) for key in keys])


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError("A stored Keycloak secret cannot be decrypted with the current key") from exc


def rotate(token: str) -> str:
    """`token` re-encrypted with the first key (readable with any configured key)."""
    if not token:
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError("A stored Keycloak secret cannot be decrypted with any configured key") from exc
