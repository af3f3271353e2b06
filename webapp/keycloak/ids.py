"""Keycloak ids and names that go into URL paths.

`requests` removes dot segments from a path, so an id `..` turns `groups/{id}` into the realm itself and
`users/{uid}/groups/..` into `DELETE users/{uid}/` (the user is deleted); quoting does not help because `.`
is unreserved. Every id is checked against Keycloak's alphabet before it is put into a path, and so is
every id a server sends back (a server pretending to be Keycloak could send anything).
"""

from __future__ import annotations

import re

from . import errors

_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
NOT_A_KEYCLOAK_ID = "Not a Keycloak id."


def is_keycloak_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def checked_id(value: object) -> str:
    """`value` when it can stand alone in a URL segment; InvalidId otherwise."""
    if not is_keycloak_id(value):
        raise errors.InvalidId(NOT_A_KEYCLOAK_ID)
    assert isinstance(value, str)
    return value


def is_safe_path_name(name: str) -> bool:
    """A group or realm name that can be one segment of a path: not blank, no '/', not a dot segment."""
    return bool(name.strip()) and "/" not in name and name not in (".", "..")
