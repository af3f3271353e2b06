"""Encryption at rest for Keycloak secrets (Fernet, key from configuration)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class SecretDecryptionError(Exception):
    """The stored secret cannot be read with the configured key (the key changed)."""


def _fernet() -> Fernet:
    key: str = current_app.config["ENCRYPTION_KEY"]
    # Accept any passphrase: derive a proper 32-byte Fernet key from it.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


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
