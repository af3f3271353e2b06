"""KeycloakGateway on top of python-keycloak's OpenID connection.

We use python-keycloak for what it does well (token grant, refresh, retry after a 401) and write the
paging loops ourselves: its helpers mutate query dicts and mis-page children (see docs/KEYCLOAK.md).

Nothing a server answers is trusted: redirects are never followed (a redirect would carry the token or the
password elsewhere), ids it returns must be Keycloak ids before they go into another URL, and an answer that
is not Keycloak's gives one generic reason, never the remote body.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from keycloak import KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakConnectionError, KeycloakError
from requests import Response, TooManyRedirects
from requests.exceptions import SSLError

from . import errors
from .destinations import NOT_ALLOWED, AllowedUrl, is_allowed
from .ids import checked_id, is_keycloak_id, is_safe_path_name
from .limits import Limits, bounded_members, walk_subtree
from .types import (
    AdminEvent,
    AdminEventPage,
    AdminEventsStatus,
    ConnectionSettings,
    MalformedAnswer,
    RemoteGroup,
    RemoteUser,
)
from .versions import ServerCapabilities, capabilities_of

DEFAULT_PAGE_SIZE = 200
# Keycloak's time per /members page grows with the group, not with the page: big pages for members.
DEFAULT_MEMBERS_PAGE_SIZE = 1000
MESSAGE_LENGTH = 200  # Keycloak's own error messages are short; anything longer is not worth showing


def not_keycloak(settings: ConnectionSettings) -> errors.NotKeycloak:
    return errors.NotKeycloak(f"The server at {settings.server_url} did not answer like Keycloak")


class _CountingConnection(KeycloakOpenIDConnection):
    """Counts token grants (benchmarks and tests assert that one token serves many requests) and turns a token
    answer that is not a JSON token (python-keycloak raises TypeError/KeyError for it) into NotKeycloak."""

    token_requests = 0
    settings: ConnectionSettings

    def get_token(self) -> None:
        self.token_requests += 1
        try:
            super().get_token()
        except (TypeError, KeyError, ValueError) as exc:
            raise not_keycloak(self.settings) from exc

    def refresh_token(self) -> None:
        try:
            super().refresh_token()
        except (TypeError, KeyError, ValueError) as exc:
            raise not_keycloak(self.settings) from exc


def _never_redirect(connection: Any) -> None:
    # python-keycloak has no switch for this; its requests session is `_s`. With max_redirects = 0 requests
    # raises TooManyRedirects at the first redirect instead of sending our headers or form to its target.
    connection._s.max_redirects = 0


class AdminGateway:
    """One reusable admin connection per realm configuration; thread-safe token handling."""

    def __init__(
        self,
        settings: ConnectionSettings,
        page_size: int = DEFAULT_PAGE_SIZE,
        members_page_size: int = DEFAULT_MEMBERS_PAGE_SIZE,
        limits: Limits | None = None,
        allowed_urls: tuple[AllowedUrl, ...] = (),
    ) -> None:
        self.settings = settings
        self.page_size = page_size
        self.members_page_size = members_page_size
        self.limits = limits or Limits()
        self.allowed = is_allowed(settings.server_url, allowed_urls)
        self._token_lock = threading.Lock()
        self._own_user_id: str | None = None  # found once (own_user_id); "" when it cannot be told
        if settings.uses_service_account:
            self._connection = _CountingConnection(
                server_url=settings.server_url,
                realm_name=settings.realm,
                client_id=settings.client_id,
                client_secret_key=settings.client_secret,
                grant_type="client_credentials",
                verify=settings.verify_ssl,
                timeout=settings.timeout,  # type: ignore[arg-type]  # python-keycloak says int; requests takes float
            )
        else:
            self._connection = _CountingConnection(
                server_url=settings.server_url,
                realm_name=settings.realm,
                user_realm_name=settings.auth_realm or "master",
                username=settings.username,
                password=settings.password,
                client_id="admin-cli",
                grant_type="password",
                verify=settings.verify_ssl,
                timeout=settings.timeout,  # type: ignore[arg-type]  # python-keycloak says int; requests takes float
            )
        self._connection.settings = settings
        self._capabilities: ServerCapabilities | None = None
        _never_redirect(self._connection)
        _never_redirect(self._connection.keycloak_openid.connection)

    # -- plumbing -----------------------------------------------------------------------------------

    @property
    def token_requests(self) -> int:
        return self._connection.token_requests

    @property
    def _admin_base(self) -> str:
        return f"admin/realms/{quote(self.settings.realm, safe='')}"

    def _ensure_token(self) -> None:
        if not self.allowed:
            raise errors.DestinationNotAllowed(NOT_ALLOWED)
        with self._token_lock:
            try:
                if self._connection.token is None:
                    self._connection.get_token()
                else:
                    self._connection._refresh_if_required()
            except KeycloakAuthenticationError as exc:
                raise errors.AuthFailed("Authentication failed: Keycloak rejected the credentials") from exc
            except KeycloakConnectionError as exc:
                raise _connection_error(exc, self.settings) from exc
            except KeycloakError as exc:
                raise _map_keycloak_error(exc, "Authentication failed", self.settings) from exc

    def _request(self, method: str, path: str, body: Any = None, absolute: bool = False, **params: Any) -> Response:
        self._ensure_token()
        url = path if absolute else (f"{self._admin_base}/{path}" if path else self._admin_base)
        params = {key: value for key, value in params.items() if value is not None}
        try:
            if method == "GET":
                response = self._connection.raw_get(url, **params)
            elif method == "POST":
                response = self._connection.raw_post(url, data=json.dumps(body or {}), **params)
            elif method == "PUT":
                response = self._connection.raw_put(url, data=json.dumps(body or {}), **params)
            else:
                response = self._connection.raw_delete(url, **params)
        except KeycloakConnectionError as exc:
            raise _connection_error(exc, self.settings) from exc
        except KeycloakAuthenticationError as exc:
            raise errors.AuthFailed("Authentication failed: Keycloak rejected the credentials") from exc
        except KeycloakError as exc:
            raise _map_keycloak_error(exc, "Keycloak request failed", self.settings) from exc
        _raise_for_status(response, self.settings)
        return response

    def _get_json(self, path: str, absolute: bool = False, **params: Any) -> Any:
        response = self._request("GET", path, absolute=absolute, **params)
        try:
            return response.json()
        except ValueError as exc:
            raise not_keycloak(self.settings) from exc

    def _get_list(self, path: str, **params: Any) -> list[Any]:
        data = self._get_json(path, **params)
        if not isinstance(data, list):
            raise not_keycloak(self.settings)
        return data

    def _paged(self, path: str, page_size: int | None = None, **params: Any) -> Iterator[list[Any]]:
        size = page_size or self.page_size
        first = 0
        while True:
            page = self._get_list(path, first=first, max=size, **params)
            if page:
                yield page
            if len(page) < size:
                return
            first += len(page)
            if first > self.limits.max_groups + self.limits.max_members:
                raise errors.LimitExceeded(f"Keycloak kept sending pages of {path.split('/')[0]}")

    def _group(self, data: Any, parent_id: str | None = None) -> RemoteGroup:
        try:
            return RemoteGroup.from_representation(data, parent_id)
        except MalformedAnswer as exc:
            raise not_keycloak(self.settings) from exc

    def _user(self, data: Any) -> RemoteUser:
        try:
            return RemoteUser.from_representation(data)
        except MalformedAnswer as exc:
            raise not_keycloak(self.settings) from exc

    def _count(self, data: Any) -> int:
        value = data.get("count") if isinstance(data, dict) else data
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise not_keycloak(self.settings)
        return value

    # -- what the server can do -------------------------------------------------------------------

    def capabilities(self) -> ServerCapabilities:
        """Found once per connection: the server's version, or a probe when it will not say."""
        if self._capabilities is None:
            self._capabilities = self._detect_capabilities()
        return self._capabilities

    def server_version(self) -> str | None:
        return self.capabilities().version

    def _detect_capabilities(self) -> ServerCapabilities:
        version: str | None = None
        try:
            info = self._get_json("admin/serverinfo", absolute=True)
            system = info.get("systemInfo") if isinstance(info, dict) else None
            found = system.get("version") if isinstance(system, dict) else None
            version = found[:40] if isinstance(found, str) else None
        except (errors.AuthFailed, errors.NotFound, errors.RequestRejected):
            version = None  # a service account without a view role: probe instead
        known = capabilities_of(version)
        if known is not None:
            return known
        return ServerCapabilities(version=None, children_endpoint=self._children_endpoint_answers())

    def _children_endpoint_answers(self) -> bool:
        try:
            top = self._get_list("groups", first=0, max=1, briefRepresentation="true")
        except errors.NotFound:
            top = []
        if not top:
            return True  # nothing to tell by; 23+ is the common case
        group = self._group(top[0])
        try:
            self._get_list(f"groups/{group.id}/children", first=0, max=1, briefRepresentation="true")
        except (errors.NotFound, errors.RequestRejected):
            return False  # the group exists, so the endpoint does not (22 answers 405)
        return True

    # -- groups -------------------------------------------------------------------------------------

    def check_connection(self) -> None:
        self._count(self._get_json("groups/count", top="true"))

    # Admin events (docs/KEYCLOAK.md): GET/PUT events/config and GET admin-events have the same paths and
    # fields in 22, 24 and 26; reading the config needs view-events (or view-realm), changing it manage-events
    # (or manage-realm), reading the events view-events.
    def admin_events_status(self) -> AdminEventsStatus:
        try:
            config = self._get_json("events/config")
        except (errors.PermissionDenied, errors.NotFound):  # a role missing, or a server that is not all Keycloak
            config = None
        try:
            self._get_list("admin-events", first=0, max=1)
            readable = True
        except (errors.PermissionDenied, errors.NotFound):
            readable = False
        if config is not None and not isinstance(config, dict):
            raise not_keycloak(self.settings)
        enabled = config.get("adminEventsEnabled") if config is not None else None
        details = config.get("adminEventsDetailsEnabled") if config is not None else None
        return AdminEventsStatus(
            enabled if isinstance(enabled, bool) else None if config is None else False,
            details if isinstance(details, bool) else None if config is None else False,
            readable,
        )

    def enable_admin_events(self) -> None:
        config = self._get_json("events/config")
        if not isinstance(config, dict):
            raise not_keycloak(self.settings)
        self._request("PUT", "events/config", config | {"adminEventsEnabled": True, "adminEventsDetailsEnabled": True})

    # Admin events of memberships and groups: 22 and 24 take dateFrom as yyyy-MM-dd only (an epoch is a 400), 26.2+ also
    # an epoch in ms and direction=asc; all three answer newest first. One code path for all: the day before
    # `since` (the server's day may not be UTC), newest first, and the caller keeps what is newer than `since`.
    # 26 adds each event's `id` (older ones are told apart by time, operation and path) and `details`.
    def admin_events_page(self, since: datetime, first: int, max_results: int) -> AdminEventPage:
        day = (since - timedelta(days=1)).strftime("%Y-%m-%d")
        page = self._get_list(
            "admin-events",
            resourceTypes=["GROUP_MEMBERSHIP", "GROUP"],
            dateFrom=day,
            first=first,
            max=max_results,
        )
        try:
            events = [event for event in map(AdminEvent.from_representation, page) if event is not None]
        except MalformedAnswer as exc:
            raise not_keycloak(self.settings) from exc
        return AdminEventPage(events, len(page))

    def username_of(self, user_id: str) -> str | None:
        try:
            data = self._get_json(f"users/{checked_id(user_id)}", briefRepresentation="true")
        except errors.NotFound:
            return None  # a user of another realm, or deleted
        return self._user(data).username

    def client_name_of(self, client_id: str) -> str | None:
        """The clientId of a client of the realm (needs view-clients); None when it may not say or is not ours."""
        try:
            data = self._get_json(f"clients/{checked_id(client_id)}")
        except (errors.NotFound, errors.PermissionDenied):
            return None
        name = data.get("clientId") if isinstance(data, dict) else None
        return name[:255] if isinstance(name, str) else None

    def own_user_id(self) -> str | None:
        """Our account's user id, as admin events name it: the `sub` of our access token, or (lightweight
        tokens, admin-cli's on 25+, carry none) the account found by its username: the client's service account
        in the realm, or the user we sign in as in their realm. Found once per connection."""
        if self._own_user_id is None:
            self._ensure_token()
            token = self._connection.token
            access = token.get("access_token") if isinstance(token, dict) else None
            found = subject_of(access) if isinstance(access, str) else None
            self._own_user_id = found or self._account_id() or ""
        return self._own_user_id or None

    def _account_id(self) -> str | None:
        settings = self.settings
        if settings.uses_service_account:
            realm, username = settings.realm, f"service-account-{settings.client_id}".lower()
        else:
            realm, username = settings.auth_realm or settings.realm, settings.username.lower()
        try:
            found = self._get_list(
                f"admin/realms/{quote(realm, safe='')}/users",
                absolute=True,
                username=username,
                exact="true",
                briefRepresentation="true",
            )
        except (errors.NotFound, errors.PermissionDenied, errors.RequestRejected):
            return None
        users = [self._user(item) for item in found]
        return next((user.id for user in users if user.username == username), None)

    def list_top_level_groups(self, search: str | None = None) -> list[RemoteGroup]:
        params: dict[str, Any] = {"briefRepresentation": "false", "subGroupsCount": "true"}
        if search:
            params["search"] = search
        return [self._group(item) for page in self._paged("groups", **params) for item in page]

    def get_group(self, group_id: str) -> RemoteGroup:
        return self._full_group(self._get_json(f"groups/{checked_id(group_id)}"))

    def _full_group(self, data: Any, parent_id: str | None = None) -> RemoteGroup:
        """A full representation; on 22 the count is the length of the inline subgroups."""
        group = self._group(data, parent_id)
        nested = data.get("subGroups") if isinstance(data, dict) and "subGroupCount" not in data else None
        if isinstance(nested, list) and nested:
            return RemoteGroup(group.id, group.name, group.path, len(nested), group.parent_id)
        return group

    def _inline_children(self, group_id: str) -> Iterator[RemoteGroup]:
        """Keycloak 22: the group's representation carries its subgroups (and theirs) inline."""
        data = self._get_json(f"groups/{checked_id(group_id)}")
        subgroups = data.get("subGroups") if isinstance(data, dict) else None
        for item in subgroups if isinstance(subgroups, list) else []:
            yield self._inline_group(item, group_id)

    def _inline_group(self, item: Any, parent_id: str) -> RemoteGroup:
        group = self._group(item, parent_id=parent_id)
        nested = item.get("subGroups") if isinstance(item, dict) else None
        count = len(nested) if isinstance(nested, list) else group.sub_group_count
        return RemoteGroup(group.id, group.name, group.path, count, parent_id)

    def _walk_inline(self, group_id: str, label: str) -> list[RemoteGroup]:
        """Keycloak 22: one request returns the whole subtree; flatten it breadth first, bounded like a walk."""
        data = self._get_json(f"groups/{checked_id(group_id)}")
        tree: dict[str, list[Any]] = {}

        def children_of(parent: str) -> list[RemoteGroup]:
            items = tree.pop(parent, None)
            if items is None:
                return []
            groups = []
            for item in items:
                group = self._inline_group(item, parent)
                nested = item.get("subGroups") if isinstance(item, dict) else None
                tree[group.id] = nested if isinstance(nested, list) else []
                groups.append(group)
            return groups

        top = data.get("subGroups") if isinstance(data, dict) else None
        tree[group_id] = top if isinstance(top, list) else []
        return walk_subtree(children_of, group_id, self.limits, label)

    def get_group_by_path(self, path: str) -> RemoteGroup:
        parts = [part for part in path.strip("/").split("/") if part]
        if not parts:
            raise errors.NotFound("Group path does not exist")
        if not all(is_safe_path_name(part) for part in parts):
            raise errors.InvalidId("A group path may not contain '.' or '..' segments.")
        data = self._get_json("group-by-path/" + "/".join(quote(part, safe="") for part in parts))
        if isinstance(data, dict) and "subGroupCount" not in data and self.capabilities().children_endpoint:
            return self.get_group(self._group(data).id)  # 23-25 leave the count out here; /groups/{id} has it
        return self._full_group(data)

    def iter_children(self, group_id: str) -> Iterator[RemoteGroup]:
        if not self.capabilities().children_endpoint:
            yield from self._inline_children(group_id)
            return
        path = f"groups/{checked_id(group_id)}/children"
        for page in self._paged(path, briefRepresentation="false", subGroupsCount="true"):
            for item in page:
                yield self._group(item, parent_id=group_id)

    def walk_subtree(self, group_id: str, label: str = "") -> list[RemoteGroup]:
        label = label or f"group {group_id}"
        if not self.capabilities().children_endpoint:
            return self._walk_inline(group_id, label)
        return walk_subtree(self.iter_children, checked_id(group_id), self.limits, label)

    def create_group(self, name: str, parent_id: str | None = None) -> RemoteGroup:
        path = f"groups/{checked_id(parent_id)}/children" if parent_id else "groups"
        response = self._request("POST", path, body={"name": name})
        location = response.headers.get("Location", "")
        new_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
        if not new_id:
            try:
                new_id = response.json()["id"]
            except (ValueError, KeyError, TypeError) as exc:
                raise not_keycloak(self.settings) from exc
        try:
            group = self.get_group(checked_id(new_id))
        except errors.InvalidId as exc:
            raise not_keycloak(self.settings) from exc
        if group.parent_id is None and parent_id:  # 22 does not say; we know
            return RemoteGroup(group.id, group.name, group.path, group.sub_group_count, parent_id)
        return group

    def delete_group(self, group_id: str) -> None:
        checked = checked_id(group_id)
        try:
            self._request("DELETE", f"groups/{checked}")
        except errors.ServerError as exc:
            # Keycloak 26 answers 500 to the losers of simultaneous deletes of one group (another instance's
            # transaction removed the rows first). If the group is gone now, that is the outcome of a 404.
            try:
                self.get_group(checked)
            except errors.NotFound:
                raise errors.NotFound("Could not find group by id: it was deleted at the same time") from exc
            except errors.KeycloakError:
                pass
            raise

    # -- users --------------------------------------------------------------------------------------

    def iter_group_members(self, group_id: str, label: str = "") -> Iterator[list[RemoteUser]]:
        members = f"groups/{checked_id(group_id)}/members"
        pages = self._paged(members, page_size=self.members_page_size, briefRepresentation="true")
        for page in bounded_members(pages, self.limits, label or f"group {group_id}"):
            yield [self._user(item) for item in page]

    def group_members_page(self, group_id: str, first: int, max_results: int) -> list[RemoteUser]:
        path = f"groups/{checked_id(group_id)}/members"
        data = self._get_list(path, first=max(first, 0), max=max(max_results, 0), briefRepresentation="true")
        if len(data) > max_results:  # a server that ignores `max` is not one we page through
            raise not_keycloak(self.settings)
        return [self._user(item) for item in data]

    def search_users(self, query: str, first: int = 0, max_results: int = 25) -> list[RemoteUser]:
        data = self._get_list("users", search=query, first=first, max=max_results, briefRepresentation="true")
        return [self._user(item) for item in data]

    def count_users(self, query: str) -> int:
        return self._count(self._get_json("users/count", search=query))

    def find_user_by_username(self, username: str) -> RemoteUser | None:
        data = self._get_list("users", username=username, exact="true", briefRepresentation="true")
        wanted = username.lower()
        for user in (self._user(item) for item in data):
            if user.username.lower() == wanted:
                return user
        return None

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        try:
            self._request("PUT", f"users/{checked_id(user_id)}/groups/{checked_id(group_id)}")
        except errors.AlreadyExists:
            # A member already is one: Keycloak answers 204. It answers 409 ("Duplicate resource error") only
            # when another request added the same user at the same moment, so the user is a member: done.
            return

    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        self._request("DELETE", f"users/{checked_id(user_id)}/groups/{checked_id(group_id)}")

    def is_member(self, user_id: str, group_id: str) -> bool:
        wanted = checked_id(group_id)
        for page in self._paged(f"users/{checked_id(user_id)}/groups", briefRepresentation="true"):
            if any(isinstance(item, dict) and item.get("id") == wanted for item in page):
                return True
        return False


def _body_message(response: Response) -> str:
    """Keycloak's own error message from a JSON body (short); nothing from any other kind of body."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        message = data.get("errorMessage") or data.get("error") or data.get("error_description") or ""
        return message[:MESSAGE_LENGTH] if isinstance(message, str) else ""
    return ""


def _raise_for_status(response: Response, settings: ConnectionSettings) -> None:
    code = response.status_code
    if 300 <= code < 400:
        raise not_keycloak(settings)
    if code < 400:
        return
    message = _body_message(response)
    if code == 404:
        raise errors.NotFound(message or "Not found in Keycloak")
    if code == 409:
        raise errors.AlreadyExists(message or "Already exists in Keycloak")
    if code == 401:
        raise errors.AuthFailed("Authentication failed: Keycloak rejected the access token")
    if code == 403:
        raise errors.PermissionDenied(errors.PERMISSION_DENIED)
    if code >= 500:
        raise errors.ServerError(f"Keycloak answered with HTTP {code}")
    raise errors.RequestRejected(f"Keycloak rejected the request (HTTP {code}){': ' + message if message else ''}")


def _map_keycloak_error(exc: KeycloakError, what: str, settings: ConnectionSettings) -> errors.KeycloakError:
    code = getattr(exc, "response_code", None)
    if isinstance(code, int) and 300 <= code < 400:
        return not_keycloak(settings)
    if code in (400, 401, 403):
        return errors.AuthFailed(f"{what}: Keycloak rejected the credentials")
    if code == 404:
        return errors.NotFound(f"{what}: realm or endpoint not found")
    if code is None or code >= 500:
        return errors.Unavailable(f"{what}: Keycloak did not answer properly")
    return errors.RequestRejected(f"{what}: HTTP {code}")


def _connection_error(exc: KeycloakConnectionError, settings: ConnectionSettings) -> errors.KeycloakError:
    cause = exc.__cause__
    if isinstance(cause, TooManyRedirects):
        return not_keycloak(settings)
    if isinstance(cause, SSLError):
        return errors.Unavailable(
            f"The certificate of {settings.server_url} is not trusted: give its CA certificate in the settings"
        )
    if "Timeout" in repr(cause or ""):
        return errors.Unavailable(f"Keycloak at {settings.server_url} did not answer within {settings.timeout:g} s")
    return errors.Unavailable(f"Cannot connect to Keycloak at {settings.server_url}")


def subject_of(access_token: str) -> str | None:
    """The `sub` claim of a JWT's payload, or None when it has none that is an id."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if is_keycloak_id(subject) else None
