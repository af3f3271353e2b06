"""Which certificates a Keycloak connection trusts.

Verification is on by default. A private CA comes from the offering's "CA certificate" field (PEM text)
or from OKG_KEYCLOAK_CA_BUNDLE (a file path); requests wants a file, so PEM text is written once to the
instance folder under a name derived from its content.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509

MAX_PEM_LENGTH = 64 * 1024


def pem_problem(pem: str) -> str | None:
    """Why `pem` is not one or more PEM certificates, or None when it is (or is empty)."""
    if not pem.strip():
        return None
    if len(pem) > MAX_PEM_LENGTH:
        return f"A CA certificate of at most {MAX_PEM_LENGTH // 1024} KB, please."
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        return "Paste one or more certificates in PEM form (-----BEGIN CERTIFICATE----- …)."
    return None if certificates else "No certificate found in the text."


def verify_setting(verify: bool, pem: str, default_bundle: str, folder: Path) -> bool | str:
    """What requests' `verify` gets: False, a CA file, or True (the system's trust store)."""
    if not verify:
        return False
    if pem.strip():
        path = folder / f"keycloak-ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(pem.strip() + "\n")
        return str(path)
    return default_bundle or True
