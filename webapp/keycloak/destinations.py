"""Where a Keycloak may be: a well-formed http(s) URL, and one the operator allows.

`OKG_KEYCLOAK_ALLOWED_URLS` holds comma-separated prefixes (e.g. `https://sso.example.org/,http://127.0.0.1:`).
The settings form refuses other URLs and the gateway refuses them again at call time, so a value that got
into the database some other way still cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

NOT_ALLOWED = "This server is not one of the Keycloak servers allowed here (OKG_KEYCLOAK_ALLOWED_URLS)."


def _lower_origin(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.lower()
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


def normalized(url: str) -> str | None:
    """`scheme://host[:port]/path` for a URL fit to be a Keycloak server URL; None when it is not.

    Userinfo (`http://allowed@evil/`), a non-numeric port (`http://127.0.0.1:80.evil/`), backslashes,
    white space and control characters are refused: each is a way to make a prefix check say yes to another host.
    """
    if not url or any(char.isspace() or ord(char) < 32 or char == "\\" for char in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if "@" in parts.netloc or parts.query or parts.fragment:
        return None
    netloc = parts.hostname.lower() if ":" not in parts.hostname else f"[{parts.hostname.lower()}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path or '/'}"


def parse_prefixes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The setting as a tuple of prefixes: a comma-separated string or a list; empty means "any URL"."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return tuple(_lower_origin(item.strip()) for item in items if item.strip())


def is_allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    clean = normalized(url)
    if clean is None:
        return False
    return not prefixes or any(clean.startswith(prefix) for prefix in prefixes)
