"""Keys that must never come from the source: generated into the instance folder when not configured.

Without OKG_SECRET_KEY / OKG_ENCRYPTION_KEY the first start writes a random key to `instance/<name>` (mode
0600) and says so once in the log; later starts read the same file. Several hosts must share one value, so
production sets both variables (README, production section).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)


def instance_key(instance_path: Path, name: str) -> str:
    path = instance_path / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()  # another process wrote it first: use theirs
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    log.warning("Generated a random %s in %s (set OKG_%s to share one value across hosts)", name, path, name.upper())
    return value
