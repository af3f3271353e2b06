"""Plain results returned by the gateway: no python-keycloak or HTTP types leak out."""

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from .ids import is_keycloak_id


class MalformedAnswer(ValueError):
    """A representation that is not what Keycloak sends; the gateway reports it as "did not answer like Keycloak"."""


def _representation(data: object) -> dict[str, Any]:
    if not isinstance(data, dict) or not is_keycloak_id(data.get("id")):
        raise MalformedAnswer("not a Keycloak representation")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class RemoteGroup:
    id: str
    name: str
    path: str
    sub_group_count: int
    parent_id: str | None = None

    @classmethod
    def from_representation(cls, data: object, parent_id: str | None = None) -> "RemoteGroup":
        data = _representation(data)
        count = data.get("subGroupCount")
        parent = data.get("parentId") or parent_id
        if parent is not None and not is_keycloak_id(parent):
            raise MalformedAnswer("parentId is not a Keycloak id")
        return cls(
            id=data["id"],
            name=_text(data, "name"),
            path=_text(data, "path"),
            sub_group_count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0,
            parent_id=parent,
        )


@dataclass(frozen=True, slots=True)
class RemoteUser:
    id: str
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""

    @classmethod
    def from_representation(cls, data: object) -> "RemoteUser":
        data = _representation(data)
        return cls(
            id=data["id"],
            username=_text(data, "username"),
            email=_text(data, "email"),
            first_name=_text(data, "firstName"),
            last_name=_text(data, "lastName"),
        )


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything needed to reach one realm; hashable so connections can be cached per configuration."""

    server_url: str
    realm: str
    auth_realm: str = "master"
    username: str = ""
    password: str = ""
    client_id: str = ""
    client_secret: str = ""
    verify_ssl: bool | str = True  # False, True (system trust store) or a CA bundle file
    timeout: float = 10.0

    @property
    def uses_service_account(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def __repr__(self) -> str:  # never let secrets reach a log line through repr()
        return (
            f"ConnectionSettings(server_url={self.server_url!r}, realm={self.realm!r}, "
            f"auth_realm={self.auth_realm!r}, service_account={self.uses_service_account})"
        )


@dataclass(frozen=True, slots=True)
class AdminEventsStatus:
    """What the realm says about its admin events (GET events/config, GET admin-events; docs/KEYCLOAK.md):
    `enabled` and `details` are None when our account may not read the realm's events settings."""

    enabled: bool | None
    details: bool | None
    readable: bool  # our account may read the admin events (view-events of realm-management)


# What is stored of an admin event's ids: Keycloak's ids are UUIDs (36 characters); anything longer, or not an
# id, is not kept (a hostile server could otherwise make a row too long to store).
_SHORT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MEMBERSHIP_PATH = re.compile(r"users/([A-Za-z0-9_-]{1,64})/groups/([A-Za-z0-9_-]{1,64})")


def _short_id(value: object) -> str:
    return value if isinstance(value, str) and _SHORT_ID.fullmatch(value) else ""


@functools.lru_cache(maxsize=1024)
def _actor(realm_id: object, user_id: object, client_id: object) -> tuple[str, str, str]:
    """An event's acting realm, user and client, checked: the same few actors make most events."""
    return _short_id(realm_id), _short_id(user_id), _short_id(client_id)


_GROUP_PATH = re.compile(r"groups/([A-Za-z0-9_-]{1,64})(/children)?")
# What a group event means for the group it is about: made, deleted, or put under another group (a move is an
# UPDATE of the new parent's `children`, naming the group only in the representation, like a subgroup's CREATE).
GROUP_OPERATIONS = {
    ("CREATE", False): "CREATE",
    ("DELETE", False): "DELETE",
    ("CREATE", True): "CREATE",
    ("UPDATE", True): "MOVE",
}


@dataclass(frozen=True, slots=True)
class AdminEvent:
    """One change from GET admin-events (docs/KEYCLOAK.md §9), made at `time_ms` by `actor_user_id` of realm
    `actor_realm_id` through the client whose internal id is `actor_client_id`:
    - a membership: `operation` CREATE (added) or DELETE (removed) of user `user_id` in group `group_id`;
    - a group (`user_id` ""): CREATE, DELETE or MOVE of group `group_id`, under `parent_id` ("" when the event
      does not say: a top-level group, a deletion). A subgroup's CREATE and a MOVE name the group only in the
      event's representation (admin events with details); without it they are not kept.
    `key` is the event's id (26 has one) or, on 22 and 24, its time, operation and path, which is what makes it
    one."""

    key: str
    time_ms: int
    operation: str
    user_id: str
    group_id: str
    realm_id: str  # the realm the event happened in (ours)
    actor_realm_id: str
    actor_user_id: str
    actor_client_id: str
    member_username: str = ""  # 26 says whose membership in `details`; "" before
    parent_id: str = ""

    @property
    def about_group(self) -> bool:
        return not self.user_id

    @classmethod
    def from_representation(cls, data: object) -> "AdminEvent | None":
        """None for an event that is not a change of the expected shape (ignored, not trusted)."""
        if not isinstance(data, dict):
            raise MalformedAnswer("not an admin event")
        time_ms, operation, path = data.get("time"), data.get("operationType"), data.get("resourcePath")
        if not isinstance(time_ms, int) or isinstance(time_ms, bool) or not isinstance(path, str):
            return None
        user_id = parent_id = member = ""
        if (found := _MEMBERSHIP_PATH.fullmatch(path)) is not None:
            if operation not in ("CREATE", "DELETE"):
                return None
            user_id, group_id = found.groups()
            about = data.get("details")
            member = _text(about, "username")[:255] if isinstance(about, dict) else ""
        elif (found := _GROUP_PATH.fullmatch(path)) is not None:
            named, children = found.group(1), found.group(2) is not None
            operation = GROUP_OPERATIONS.get((str(operation), children))
            if operation is None:
                return None  # a rename or attributes: not a difference the register has
            if children:
                parent_id, group_id = named, _represented_id(data.get("representation"))
                if not group_id:
                    return None
            else:
                group_id = named
        else:
            return None
        details = data.get("authDetails")
        auth: dict[str, Any] = details if isinstance(details, dict) else {}
        try:
            actor_realm, actor_user, actor_client = _actor(
                auth.get("realmId"), auth.get("userId"), auth.get("clientId")
            )
        except TypeError:  # not hashable: not an id
            actor_realm = actor_user = actor_client = ""
        event_id = _short_id(data.get("id"))
        key = event_id or f"{time_ms}:{operation}:{user_id}:{group_id}"
        return cls(
            key=key,
            time_ms=time_ms,
            operation=operation,
            user_id=user_id,
            group_id=group_id,
            realm_id=_actor(data.get("realmId"), None, None)[0] if isinstance(data.get("realmId"), str) else "",
            actor_realm_id=actor_realm,
            actor_user_id=actor_user,
            actor_client_id=actor_client,
            member_username=member,
            parent_id=parent_id,
        )


def _represented_id(representation: object) -> str:
    """The group id in an event's representation (a JSON text when details are on); "" when absent or odd."""
    if not isinstance(representation, str) or len(representation) > 100_000:
        return ""
    try:
        data = json.loads(representation)
    except (ValueError, RecursionError):
        return ""
    return _short_id(data.get("id")) if isinstance(data, dict) else ""


@dataclass(frozen=True, slots=True)
class AdminEventPage:
    """One page of GET admin-events: the membership and group changes in it, and how many events Keycloak sent
    (a page shorter than asked for is the last)."""

    events: list[AdminEvent]
    size: int
