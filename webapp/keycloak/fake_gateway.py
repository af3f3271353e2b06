"""In-memory KeycloakGateway with the same observable behaviour as a real realm.

Used by fast unit and API tests. The contract tests in tests/contract run the same assertions against
this fake and against a real Keycloak, so the two cannot drift apart.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from . import errors
from .ids import checked_id, is_safe_path_name
from .limits import Limits, bounded_members, walk_subtree
from .types import AdminEvent, AdminEventPage, AdminEventsStatus, RemoteGroup, RemoteUser


@dataclass
class _Group:
    id: str
    name: str
    parent_id: str | None
    children: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


@dataclass
class _User:
    id: str
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass
class Fault:
    """A planned event in one operation. By default Keycloak becomes unreachable (for good when `stays_down`).

    For the writes, a race with another instance instead (these fire once, since the competing request may
    make the same call, and leave Keycloak reachable): `raced`, another instance makes this very change just
    before ours reaches Keycloak; the fake makes it, then answers as the real gateway does in that case (add or
    remove a member: done; create a group: AlreadyExists, theirs exists; delete a group: NotFound).
    `meanwhile`: whatever else another instance does just before the call, `afterwards`: just after it."""

    stays_down: bool = False
    after_pages: int = 0  # for member listings: fail only after this many pages were served
    raced: bool = False
    meanwhile: Callable[[], None] | None = None
    afterwards: Callable[[], None] | None = None

    @property
    def is_race(self) -> bool:
        return self.raced or self.meanwhile is not None or self.afterwards is not None


class FakeRealm:
    """The state of one fake realm; tests seed it directly and plan failures with its switches:
    `down`, `reject_credentials`, and `faults["<gateway method>"] = Fault(...)`."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}
        self.top_level: list[str] = []
        self.users: dict[str, _User] = {}
        self.down = False
        self.reject_credentials = False
        self.faults: dict[str, Fault] = {}
        self.version: str | None = "26.7.3"
        self.organization_groups: set[str] = set()  # ids the realm groups API refuses (400), as 26.6+ does
        # Admin events: the realm's switches, and which roles our account has for them.
        self.admin_events_enabled = False
        self.admin_events_details = False
        self.may_view_events = True  # view-events: read the events settings and the events
        self.may_manage_events = True  # manage-events: change the settings
        self.may_view_clients = True  # view-clients: a client's name from its internal id
        # Recorded membership events (representations as Keycloak sends them, oldest first), when enabled.
        self.admin_events: list[dict[str, object]] = []
        self.realm_id = str(uuid.uuid4())
        self.service_account_id = str(uuid.uuid4())  # whom our own writes are made by
        self.clients: dict[str, str] = {str(uuid.uuid4()): "okg-service"}  # internal id -> clientId
        self.calls = 0
        self._ids = itertools.count(1)
        # Each change is one step, as in Keycloak's database, when tests run instances in threads at once.
        self.lock = threading.RLock()

    # -- seeding helpers used by tests ----------------------------------------------------------------
    def client(self, client_id: str) -> str:
        """The internal id of the realm's client `client_id` (made on first use)."""
        for internal, name in self.clients.items():
            if name == client_id:
                return internal
        internal = str(uuid.uuid4())
        self.clients[internal] = client_id
        return internal

    def admin_change(
        self,
        operation: str,
        user_id: str,
        group_id: str,
        actor_user_id: str,
        client: str = "admin-cli",
        actor_realm_id: str | None = None,
        at_ms: int | None = None,
    ) -> None:
        """Someone else's membership change (CREATE/DELETE) as Keycloak records it, done in the fake too."""
        (self.add_member if operation == "CREATE" else self.remove_member)(group_id, user_id)
        self.record_event(operation, user_id, group_id, actor_user_id, self.client(client), actor_realm_id, at_ms)

    def record_event(
        self,
        operation: str,
        user_id: str,
        group_id: str,
        actor_user_id: str,
        client_internal_id: str,
        actor_realm_id: str | None = None,
        at_ms: int | None = None,
    ) -> None:
        if not self.admin_events_enabled:
            return
        self.admin_events.append(
            {
                "id": str(uuid.uuid4()),
                "time": at_ms if at_ms is not None else int(time.time() * 1000),
                "realmId": self.realm_id,
                "authDetails": {
                    "realmId": actor_realm_id or self.realm_id,
                    "clientId": client_internal_id,
                    "userId": actor_user_id,
                    "ipAddress": "127.0.0.1",
                },
                "operationType": operation,
                "resourceType": "GROUP_MEMBERSHIP",
                "resourcePath": f"users/{user_id}/groups/{group_id}",
            }
            | self._event_details(user_id)
        )

    def admin_group_change(
        self,
        operation: str,
        actor_user_id: str,
        name: str = "",
        parent_id: str | None = None,
        group_id: str = "",
        client: str = "admin-cli",
        actor_realm_id: str | None = None,
    ) -> str:
        """Someone else makes (CREATE, `name` under `parent_id`) or deletes (DELETE `group_id`) a group, recorded as
        Keycloak records it; the group's id."""
        if operation == "CREATE":
            group_id = self.add_group(name, parent_id)
        else:
            parent_id = None
            self.delete_group(group_id)
        self.record_group_event(operation, group_id, parent_id, actor_user_id, self.client(client), actor_realm_id)
        return group_id

    def record_group_event(
        self,
        operation: str,
        group_id: str,
        parent_id: str | None,
        actor_user_id: str,
        client_internal_id: str,
        actor_realm_id: str | None = None,
    ) -> None:
        """As Keycloak records a group's CREATE, DELETE or MOVE: a subgroup's CREATE and a MOVE are events of the
        parent's `children`, naming the group only in the representation (sent when details are on)."""
        if not self.admin_events_enabled:
            return
        under = operation == "MOVE" or (operation == "CREATE" and parent_id)
        event: dict[str, object] = {
            "id": str(uuid.uuid4()),
            "time": int(time.time() * 1000),
            "realmId": self.realm_id,
            "authDetails": {
                "realmId": actor_realm_id or self.realm_id,
                "clientId": client_internal_id,
                "userId": actor_user_id,
                "ipAddress": "127.0.0.1",
            },
            "operationType": "UPDATE" if operation == "MOVE" else operation,
            "resourceType": "GROUP",
            "resourcePath": f"groups/{parent_id}/children" if under else f"groups/{group_id}",
        }
        if self.admin_events_details:
            event["representation"] = json.dumps({"id": group_id, "subGroups": []})
        self.admin_events.append(event)

    def _event_details(self, user_id: str) -> dict[str, object]:
        """26 names the member in `details`; 22 and 24 send no details."""
        user = self.users.get(user_id)
        if user is None or not (self.version or "").startswith("26"):
            return {}
        return {"details": {"username": user.username, "email": user.email}}

    def add_group(self, name: str, parent_id: str | None = None) -> str:
        with self.lock:
            siblings = self.groups[parent_id].children if parent_id else self.top_level
            if any(self.groups[sibling].name == name for sibling in siblings):
                where = "Sibling" if parent_id else "Top level"
                raise errors.AlreadyExists(f"{where} group named '{name}' already exists.")
            group_id = str(uuid.uuid4())
            self.groups[group_id] = _Group(group_id, name, parent_id)
            siblings.append(group_id)
            return group_id

    def add_path(self, path: str) -> str:
        parent: str | None = None
        for part in [p for p in path.split("/") if p]:
            existing = self._child_named(parent, part)
            parent = existing if existing else self.add_group(part, parent)
        assert parent is not None
        return parent

    def add_user(self, username: str, email: str = "", first_name: str = "", last_name: str = "") -> str:
        user_id = str(uuid.uuid4())
        self.users[user_id] = _User(user_id, username.lower(), email.lower(), first_name, last_name)
        return user_id

    def add_users_bulk(self, users: list[dict], group_paths: list[str] | None = None) -> None:
        group_ids = [self.add_path(path) for path in group_paths or []]
        for user in users:
            user_id = self.add_user(
                user["username"], user.get("email", ""), user.get("first_name", ""), user.get("last_name", "")
            )
            for group_id in group_ids:
                self.add_member(group_id, user_id)

    def add_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            if user_id not in self.groups[group_id].members:
                self.groups[group_id].members.append(user_id)

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            if user_id in self.groups[group_id].members:
                self.groups[group_id].members.remove(user_id)

    def delete_group(self, group_id: str) -> bool:
        """The group and its subtree; False when it was gone already."""
        with self.lock:
            group = self.groups.get(group_id)
            if group is None:
                return False
            siblings = self.groups[group.parent_id].children if group.parent_id else self.top_level
            siblings.remove(group_id)
            stack = [group_id]
            while stack:
                removed = self.groups.pop(stack.pop())
                stack.extend(removed.children)
            return True

    # -- internals ------------------------------------------------------------------------------------
    def _child_named(self, parent: str | None, name: str) -> str | None:
        siblings = self.groups[parent].children if parent else self.top_level
        return next((gid for gid in siblings if self.groups[gid].name == name), None)

    def path_of(self, group_id: str) -> str:
        parts = []
        current: str | None = group_id
        while current:
            group = self.groups[current]
            parts.append(group.name)
            current = group.parent_id
        return "/" + "/".join(reversed(parts))

    def remote(self, group_id: str) -> RemoteGroup:
        group = self.groups[group_id]
        return RemoteGroup(group.id, group.name, self.path_of(group_id), len(group.children), group.parent_id)


class FakeGateway:
    """KeycloakGateway over a FakeRealm."""

    def __init__(self, realm: FakeRealm, limits: Limits | None = None) -> None:
        self.realm = realm
        self.limits = limits or Limits()
        self.token_requests = 0

    def _enter(self) -> FakeRealm:
        realm = self.realm
        realm.calls += 1
        if realm.down:
            raise errors.Unavailable("Cannot connect to Keycloak at http://fake-keycloak")
        if realm.reject_credentials:
            raise errors.AuthFailed("Authentication failed: Keycloak rejected the credentials")
        if self.token_requests == 0:
            self.token_requests = 1
        return realm

    def _fault(self, operation: str, pages_served: int = 0) -> Fault | None:
        """Play the planned fault of `operation`: an outage raises; a race is returned (once) for the call to play."""
        fault = self.realm.faults.get(operation)
        if fault is None or pages_served < fault.after_pages:
            return None
        if fault.is_race:
            del self.realm.faults[operation]
            if fault.meanwhile is not None:
                fault.meanwhile()
            return fault
        if fault.stays_down:
            self.realm.down = True
        raise errors.Unavailable("Cannot connect to Keycloak at http://fake-keycloak")

    def _group(self, group_id: str) -> _Group:
        group = self._enter().groups.get(checked_id(group_id))
        if group is None:
            raise errors.NotFound("Could not find group by id")
        return group

    def check_connection(self) -> None:
        self._enter()

    def server_version(self) -> str | None:
        return self._enter().version

    def admin_events_status(self) -> AdminEventsStatus:
        realm = self._enter()
        if not realm.may_view_events:
            return AdminEventsStatus(None, None, False)
        return AdminEventsStatus(realm.admin_events_enabled, realm.admin_events_details, True)

    def enable_admin_events(self) -> None:
        realm = self._enter()
        if not realm.may_manage_events:
            raise errors.PermissionDenied(errors.PERMISSION_DENIED)
        realm.admin_events_enabled = realm.admin_events_details = True

    def admin_events_page(self, since: datetime, first: int, max_results: int) -> AdminEventPage:
        self._fault("admin_events_page")
        realm = self._enter()
        if not realm.may_view_events:
            raise errors.PermissionDenied(errors.PERMISSION_DENIED)
        newest_first = sorted(realm.admin_events, key=lambda event: -int(str(event["time"])))
        page = newest_first[first : first + max_results]
        events = [event for event in map(AdminEvent.from_representation, page) if event is not None]
        return AdminEventPage(events, len(page))

    def username_of(self, user_id: str) -> str | None:
        user = self._enter().users.get(checked_id(user_id))
        return user.username if user else None

    def client_name_of(self, client_id: str) -> str | None:
        realm = self._enter()
        return realm.clients.get(checked_id(client_id)) if realm.may_view_clients else None

    def own_user_id(self) -> str | None:
        return self._enter().service_account_id

    def list_top_level_groups(self, search: str | None = None) -> list[RemoteGroup]:
        realm = self._enter()
        ids = realm.top_level
        if search:
            needle = search.lower()
            ids = [gid for gid in ids if self._branch_matches(gid, needle)]
        return [realm.remote(gid) for gid in ids]

    def _branch_matches(self, group_id: str, needle: str) -> bool:
        group = self.realm.groups[group_id]
        return needle in group.name.lower() or any(self._branch_matches(c, needle) for c in group.children)

    def get_group(self, group_id: str) -> RemoteGroup:
        return self.realm.remote(self._group(group_id).id)

    def get_group_by_path(self, path: str) -> RemoteGroup:
        found = self._by_path(path)
        if found.id in self.realm.organization_groups:
            raise errors.RequestRejected("Keycloak rejected the request (HTTP 400)")
        return found

    def _by_path(self, path: str) -> RemoteGroup:
        realm = self._enter()
        parent: str | None = None
        parts = [p for p in path.split("/") if p]
        if not all(is_safe_path_name(part) for part in parts):
            raise errors.InvalidId("A group path may not contain '.' or '..' segments.")
        for part in parts:
            parent = realm._child_named(parent, part)
            if parent is None:
                raise errors.NotFound("Group path does not exist")
        if parent is None:
            raise errors.NotFound("Group path does not exist")
        return realm.remote(parent)

    def iter_children(self, group_id: str) -> Iterator[RemoteGroup]:
        group = self._group(group_id)
        for child in list(group.children):
            yield self.realm.remote(child)

    def walk_subtree(self, group_id: str, label: str = "") -> list[RemoteGroup]:
        return walk_subtree(self.iter_children, checked_id(group_id), self.limits, label or f"group {group_id}")

    def iter_group_members(self, group_id: str, label: str = "") -> Iterator[list[RemoteUser]]:
        group = self._group(group_id)
        members = [self._user(uid) for uid in group.members if uid in self.realm.users]
        pages = (members[start : start + 100] for start in range(0, len(members), 100))
        for served, page in enumerate(bounded_members(pages, self.limits, label or f"group {group_id}")):
            self._fault("iter_group_members", served)
            yield page

    def group_members_page(self, group_id: str, first: int, max_results: int) -> list[RemoteUser]:
        group = self._group(group_id)
        self._fault("group_members_page")
        members = sorted((self._user(uid) for uid in group.members if uid in self.realm.users), key=_by_username)
        return members[max(first, 0) : max(first, 0) + max(max_results, 0)]

    def _user(self, user_id: str) -> RemoteUser:
        user = self.realm.users[user_id]
        return RemoteUser(user.id, user.username, user.email, user.first_name, user.last_name)

    def _matches(self, user: _User, query: str) -> bool:
        fields = [user.username, user.email, user.first_name.lower(), user.last_name.lower()]
        if len(query) >= 2 and query.startswith('"') and query.endswith('"'):
            return query[1:-1] in fields
        if query.startswith("*") or query.endswith("*"):
            return any(query.strip("*") in value for value in fields)
        return any(value.startswith(query) for value in fields)

    def search_users(self, query: str, first: int = 0, max_results: int = 25) -> list[RemoteUser]:
        realm = self._enter()
        needle = query.lower()
        matches = sorted((u for u in realm.users.values() if self._matches(u, needle)), key=lambda u: u.username)
        return [self._user(u.id) for u in matches[first : first + max_results]]

    def count_users(self, query: str) -> int:
        realm = self._enter()
        return sum(1 for u in realm.users.values() if self._matches(u, query.lower()))

    def find_user_by_username(self, username: str) -> RemoteUser | None:
        realm = self._enter()
        wanted = username.lower()
        user = next((u for u in realm.users.values() if u.username == wanted), None)
        return self._user(user.id) if user else None

    def create_group(self, name: str, parent_id: str | None = None) -> RemoteGroup:
        race = self._fault("create_group")
        with self.realm.lock:
            if parent_id is not None:
                self._group(parent_id)
            realm = self._enter()
            if race and race.raced and realm._child_named(parent_id, name) is None:
                realm.add_group(name, parent_id)  # theirs, a moment before ours
            created = realm.remote(realm.add_group(name, parent_id))
            realm.record_group_event(
                "CREATE", created.id, parent_id, realm.service_account_id, realm.client("okg-service")
            )
        _afterwards(race)
        return created

    def delete_group(self, group_id: str) -> None:
        race = self._fault("delete_group")
        if race and race.raced:
            self.realm.delete_group(checked_id(group_id))  # theirs: ours finds it gone
        self._enter()
        if not self.realm.delete_group(checked_id(group_id)):
            raise errors.NotFound("Could not find group by id")
        self.realm.record_group_event(
            "DELETE", group_id, None, self.realm.service_account_id, self.realm.client("okg-service")
        )
        _afterwards(race)

    def _member_write(self, operation: str, user_id: str, group_id: str) -> None:
        race = self._fault(operation)
        realm = self._enter()
        with realm.lock:
            if checked_id(group_id) not in realm.groups:
                raise errors.NotFound("Group not found")
            if checked_id(user_id) not in realm.users:
                raise errors.NotFound("User not found")
            write = realm.add_member if operation == "add_user_to_group" else realm.remove_member
            if race and race.raced:
                write(group_id, user_id)  # theirs, a moment before ours
            write(group_id, user_id)  # a member already is one, a non-member is none: done either way
            operation_type = "CREATE" if operation == "add_user_to_group" else "DELETE"
            realm.record_event(operation_type, user_id, group_id, realm.service_account_id, realm.client("okg-service"))
        _afterwards(race)

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        self._member_write("add_user_to_group", user_id, group_id)

    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        self._member_write("remove_user_from_group", user_id, group_id)

    def is_member(self, user_id: str, group_id: str) -> bool:
        self._fault("is_member")
        realm = self._enter()
        if checked_id(user_id) not in realm.users:
            raise errors.NotFound("User not found")
        group = realm.groups.get(checked_id(group_id))
        return group is not None and user_id in group.members


def _afterwards(race: Fault | None) -> None:
    if race is not None and race.afterwards is not None:
        race.afterwards()


def _by_username(user: RemoteUser) -> str:
    return user.username
