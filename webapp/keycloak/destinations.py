"""Where a Keycloak may be: a well-formed http(s) URL, and one the operator allows.

`OKG_KEYCLOAK_ALLOWED_URLS` holds comma-separated entries (e.g. `https://sso.example.org/,http://127.0.0.1:`).
An entry is an origin and a path: a URL is allowed when its scheme, host and port are the entry's (no port
means the scheme's default; a bare `host:` means any port of that host) and its path is the entry's path or
below it, at a `/` boundary. So `https://sso.example.org` admits neither `https://sso.example.org.evil.com/`
nor `https://sso.example.org:8443/`, and `https://sso.example.org/kc` does not admit `/kcx/`. An entry that
cannot be read admits nothing (it never widens the list). The settings form refuses other URLs and the gateway
refuses them again at call time, so a value that got into the database some other way still cannot be reached.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import SplitResult, unquote, urlsplit

NOT_ALLOWED = "This server is not one of the Keycloak servers allowed here (OKG_KEYCLOAK_ALLOWED_URLS)."
DEFAULT_PORTS = {"http": 80, "https": 443}
# Host names as DNS writes them (letters, digits, '-', '_', dot-separated, no empty label): a '%', a trailing dot
# or anything else a resolver or TLS library might read differently from this check is refused.
_HOST = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


class _Parts(NamedTuple):
    scheme: str
    host: str  # lower-case; IPv6 in brackets
    port: int
    path: str


def _host(parts: SplitResult) -> str | None:
    name = (parts.hostname or "").lower()
    if ":" in name:  # urlsplit only lets ':' through inside brackets: an IPv6 literal
        try:
            return f"[{ipaddress.IPv6Address(name).compressed}]"
        except ValueError:
            return None
    return name if _HOST.match(name) else None


def _has_dot_segment(path: str) -> bool:
    # requests removes dot segments before sending: `/kc/../evil/` would leave the allowed path.
    return any(unquote(segment) in (".", "..") for segment in path.split("/"))


def _split(url: str) -> _Parts | None:
    if not url or any(char.isspace() or ord(char) < 32 or char == "\\" for char in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = _host(parts)
    if scheme not in DEFAULT_PORTS or host is None:
        return None
    if "@" in parts.netloc or parts.query or parts.fragment or _has_dot_segment(parts.path):
        return None
    return _Parts(scheme, host, port if port is not None else DEFAULT_PORTS[scheme], parts.path or "/")


def normalized(url: str) -> str | None:
    """`scheme://host[:port]/path` for a URL fit to be a Keycloak server URL (the scheme's default port left
    out); None when it is not.

    Userinfo (`http://allowed@evil/`), a non-numeric port (`http://127.0.0.1:80.evil/`), backslashes,
    white space, control characters, odd host names and dot segments are refused: each is a way to make a
    check say yes to another host or path than the one requests will talk to.
    """
    parts = _split(url)
    if parts is None:
        return None
    port = "" if parts.port == DEFAULT_PORTS[parts.scheme] else f":{parts.port}"
    return f"{parts.scheme}://{parts.host}{port}{parts.path}"


def server_host(url: str) -> str | None:
    """The host a URL talks to (lower-case), or None for a URL that `normalized` refuses."""
    parts = _split(url)
    return parts.host if parts else None


@dataclass(frozen=True)
class AllowedUrl:
    """One entry of OKG_KEYCLOAK_ALLOWED_URLS; `port` None means any port. An unreadable entry has `valid`
    False and admits nothing."""

    scheme: str = ""
    host: str = ""
    port: int | None = None
    path: str = "/"  # always ends with "/"
    valid: bool = True

    def admits(self, url: _Parts) -> bool:
        if not self.valid or (url.scheme, url.host) != (self.scheme, self.host):
            return False
        if self.port is not None and url.port != self.port:
            return False
        path = url.path if url.path.endswith("/") else url.path + "/"
        return path.startswith(self.path)


INVALID_ENTRY = AllowedUrl(valid=False)


def _entry(text: str) -> AllowedUrl:
    scheme, separator, rest = text.partition("://")
    netloc, slash, path = rest.partition("/")
    any_port = bool(separator) and netloc.endswith(":")  # `http://127.0.0.1:`: that host on any port
    if any_port:
        text = f"{scheme}://{netloc[:-1]}{slash}{path}"
    parts = _split(text)
    if parts is None:
        return INVALID_ENTRY
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return AllowedUrl(parts.scheme, parts.host, None if any_port else parts.port, path)


def parse_prefixes(value: str | Iterable[str] | None) -> tuple[AllowedUrl, ...]:
    """The setting as a tuple of entries: a comma-separated string or a list; empty means "any URL"."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return tuple(_entry(item.strip()) for item in items if item.strip())


def is_allowed(url: str, prefixes: tuple[AllowedUrl, ...]) -> bool:
    parts = _split(url)
    if parts is None:
        return False
    return not prefixes or any(entry.admits(parts) for entry in prefixes)
