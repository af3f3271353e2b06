"""The one way a secret someone sent is compared with ours.

`hmac.compare_digest` on two `str` raises TypeError as soon as either holds a non-ASCII character, so a
header like `Bearer é` would be a 500. Comparing the UTF-8 bytes instead keeps the comparison constant-time
and turns any text into a plain "no". `surrogatepass` because a str from a decoded request can hold lone
surrogates, which strict UTF-8 refuses to encode.
"""

from __future__ import annotations

import hmac


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def secrets_equal(sent: str | bytes | None, expected: str | bytes | None) -> bool:
    """Constant-time equality of a secret someone sent and ours; an empty or missing secret never matches."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(_bytes(sent), _bytes(expected))
