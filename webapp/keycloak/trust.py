"""Which certificates a Keycloak connection trusts.

Verification is on by default. A private CA comes from the offering's "CA certificate" field (PEM text)
or from OKG_KEYCLOAK_CA_BUNDLE (a file path); requests wants a file, so PEM text is written once to the
instance folder under a name derived from its content. Those files are a cache of what the database holds:
which of them are still needed is the service layer's decision (webapp/services/connection/ca_files.py); a file removed
too early is simply written again when it is next needed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509

MAX_PEM_LENGTH = 64 * 1024
CA_FILE_PATTERN = "keycloak-ca-*.pem"


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
        path = ca_file(folder, pem)
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(pem.strip() + "\n")
        return str(path)
    return default_bundle or True


def ca_file(folder: Path, pem: str) -> Path:
    """The file that holds this PEM text in `folder` (whether it exists yet or not)."""
    return folder / CA_FILE_PATTERN.replace("*", hashlib.sha256(pem.encode()).hexdigest()[:16])


def remove_ca_file(folder: Path, pem: str) -> bool:
    """Delete the file of this PEM text, if there is one; False when there was none or it cannot be removed."""
    try:
        ca_file(folder, pem).unlink()
    except OSError:
        return False
    return True


def remove_ca_files(folder: Path, keep: set[str], older_than: float | None = None) -> list[str]:
    """Delete the CA files in `folder` whose names are not in `keep` (and, with `older_than`, whose last change
    is before that time); returns the names removed. A file that cannot be removed is left for the next time."""
    removed = []
    for path in folder.glob(CA_FILE_PATTERN) if folder.is_dir() else []:
        try:
            if path.name in keep or (older_than is not None and path.stat().st_mtime > older_than):
                continue
            path.unlink()
        except OSError:
            continue
        removed.append(path.name)
    return removed
