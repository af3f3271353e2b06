"""The CA certificate files written for offerings (webapp/keycloak/trust.py) live only as long as some offering
holds that certificate.

A file left behind would keep trusting a CA that nobody chose any more, and the folder would fill with every
certificate ever pasted. A replaced or dropped certificate's file goes right after the change is committed
(`release`); `prune` sweeps the rest (offerings that went some other way, other hosts' folders) from the
periodic round and whenever a new file is written. It spares files younger than a grace period, since another
process may have just written a file for a certificate committed after our query.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...keycloak.trust import ca_file, remove_ca_file, remove_ca_files
from ...models import Offering

PRUNE_GRACE_SECONDS = 300


def _folder() -> Path:
    return Path(current_app.instance_path)


def stored_certificates() -> set[str]:
    return set(
        db.session.scalars(
            select(Offering.keycloak_ca_certificate).where(Offering.keycloak_ca_certificate != "").distinct()
        )
    )


def release(certificates: Iterable[str]) -> list[str]:
    """After a commit that replaced or dropped these certificates: remove their files unless an offering still
    holds the same text."""
    gone = {pem for pem in certificates if pem.strip()} - stored_certificates()
    folder = _folder()
    return [ca_file(folder, pem).name for pem in sorted(gone) if remove_ca_file(folder, pem)]


def prune(grace_seconds: float = PRUNE_GRACE_SECONDS) -> list[str]:
    """Remove every CA file of this instance folder that no offering holds, unless it is very recent."""
    folder = _folder()
    keep = {ca_file(folder, pem).name for pem in stored_certificates()}
    return remove_ca_files(folder, keep, older_than=time.time() - grace_seconds)
