"""KeycloakGateway on top of python-keycloak's OpenID connection.

We use python-keycloak for what it does well (token grant, refresh, retry after a 401) and write the
paging loops ourselves: its helpers mutate query dicts and mis-page children (see KEYCLOAK.md).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from keycloak import KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakConnectionError, KeycloakError
from requests import Response

from . import errors
from .types import ConnectionSettings, RemoteGroup, RemoteUser

DEFAULT_PAGE_SIZE = 200
# Keycloak's time per /members page grows with the group, not with the page: big pages for members.
DEFAULT_MEMBERS_PAGE_SIZE = 1000


class _CountingConnection(KeycloakOpenIDConnection):
    """Counts token grants: benchmarks and tests assert that one token serves many requests."""

    token_requests = 0

    def get_token(self) -> None:
        self.token_requests += 1
        super().get_token()


class AdminGateway:
    """One reusable admin connection per realm configuration; thread-safe token handling."""

    def __init__(
        self,
        settings: ConnectionSettings,
        page_size: int = DEFAULT_PAGE_SIZE,
        members_page_size: int = DEFAULT_MEMBERS_PAGE_SIZE,
    ) -> None:
        self.settings = settings
        self.page_size = page_size
        self.members_page_size = members_page_size
        self._token_lock = threading.Lock()
        if settings.uses_service_account:
            self._connection = _CountingConnection(
                server_url=settings.server_url,
                realm_name=settings.realm,
                client_id=settings.client_id,
                client_secret_key=settings.client_secret,
                grant_type="client_credentials",
                verify=settings.verify_ssl,
                timeout=settings.timeout,
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
                timeout=settings.timeout,
            )

    # -- plumbing -----------------------------------------------------------------------------------

    @property
    def token_requests(self) -> int:
        return self._connection.token_requests

    @property
    def _admin_base(self) -> str:
        return f"admin/realms/{quote(self.settings.realm, safe='')}"

    def _ensure_token(self) -> None:
        with self._token_lock:
            try:
                if self._connection.token is None:
                    self._connection.get_token()
                else:
                    self._connection._refresh_if_required()
            except KeycloakAuthenticationError as exc:
                raise errors.AuthFailed("Authentication failed: Keycloak rejected the credentials") from exc
            except KeycloakConnectionError as exc:
                raise errors.Unavailable(_connection_reason(exc, self.settings)) from exc
            except KeycloakError as exc:
                raise _map_keycloak_error(exc, "Authentication failed") from exc

    def _request(self, method: str, path: str, body: Any = None, **params: Any) -> Response:
        self._ensure_token()
        url = f"{self._admin_base}/{path}" if path else self._admin_base
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
            raise errors.Unavailable(_connection_reason(exc, self.settings)) from exc
        except KeycloakAuthenticationError as exc:
            raise errors.AuthFailed("Authentication failed: Keycloak rejected the credentials") from exc
        except KeycloakError as exc:
            raise _map_keycloak_error(exc, "Keycloak request failed") from exc
        _raise_for_status(response)
        return response

    def _get_json(self, path: str, **params: Any) -> Any:
        response = self._request("GET", path, **params)
        try:
            return response.json()
        except ValueError as exc:
            raise errors.Unavailable("Keycloak returned a response that is not JSON") from exc

    def _paged(self, path: str, page_size: int | None = None, **params: Any) -> Iterator[list[dict[str, Any]]]:
        size = page_size or self.page_size
        first = 0
        while True:
            page = self._get_json(path, first=first, max=size, **params)
            if page:
                yield page
            if len(page) < size:
                return
            first += len(page)

    # -- groups -------------------------------------------------------------------------------------

    def check_connection(self) -> None:
        self._get_json("groups/count", top="true")

    def list_top_level_groups(self, search: str | None = None) -> list[RemoteGroup]:
        params: dict[str, Any] = {"briefRepresentation": "false"}
        if search:
            params["search"] = search
        return [RemoteGroup.from_representation(item) for page in self._paged("groups", **params) for item in page]

    def get_group(self, group_id: str) -> RemoteGroup:
        if not group_id or "/" in group_id:
            raise errors.NotFound("Could not find group by id")
        return RemoteGroup.from_representation(self._get_json(f"groups/{quote(group_id, safe='')}"))

    def get_group_by_path(self, path: str) -> RemoteGroup:
        clean = "/".join(quote(part, safe="") for part in path.strip("/").split("/") if part)
        if not clean:
            raise errors.NotFound("Group path does not exist")
        return RemoteGroup.from_representation(self._get_json(f"group-by-path/{clean}"))

    def iter_children(self, group_id: str) -> Iterator[RemoteGroup]:
        for page in self._paged(f"groups/{quote(group_id, safe='')}/children", briefRepresentation="false"):
            for item in page:
                yield RemoteGroup.from_representation(item, parent_id=group_id)

    def walk_subtree(self, group_id: str) -> list[RemoteGroup]:
        found: list[RemoteGroup] = []
        queue = deque([group_id])
        while queue:
            parent = queue.popleft()
            for child in self.iter_children(parent):
                found.append(child)
                # Only groups Keycloak reports as having children cost a request.
                if child.sub_group_count > 0:
                    queue.append(child.id)
        return found

    def create_group(self, name: str, parent_id: str | None = None) -> RemoteGroup:
        path = f"groups/{quote(parent_id, safe='')}/children" if parent_id else "groups"
        response = self._request("POST", path, body={"name": name})
        location = response.headers.get("Location", "")
        new_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
        if not new_id:
            try:
                new_id = response.json()["id"]
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.Unavailable("Keycloak did not return the new group's id") from exc
        return self.get_group(new_id)

    def delete_group(self, group_id: str) -> None:
        self._request("DELETE", f"groups/{quote(group_id, safe='')}")

    # -- users --------------------------------------------------------------------------------------

    def iter_group_members(self, group_id: str) -> Iterator[list[RemoteUser]]:
        members = f"groups/{quote(group_id, safe='')}/members"
        for page in self._paged(members, page_size=self.members_page_size, briefRepresentation="true"):
            yield [RemoteUser.from_representation(item) for item in page]

    def search_users(self, query: str, first: int = 0, max_results: int = 25) -> list[RemoteUser]:
        data = self._get_json("users", search=query, first=first, max=max_results, briefRepresentation="true")
        return [RemoteUser.from_representation(item) for item in data]

    def count_users(self, query: str) -> int:
        data = self._get_json("users/count", search=query)
        return int(data) if not isinstance(data, dict) else int(data.get("count", 0))

    def find_user_by_username(self, username: str) -> RemoteUser | None:
        data = self._get_json("users", username=username, exact="true", briefRepresentation="true")
        wanted = username.lower()
        for item in data:
            if (item.get("username") or "").lower() == wanted:
                return RemoteUser.from_representation(item)
        return None

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        self._request("PUT", f"users/{quote(user_id, safe='')}/groups/{quote(group_id, safe='')}")

    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        self._request("DELETE", f"users/{quote(user_id, safe='')}/groups/{quote(group_id, safe='')}")


def _body_message(response: Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        return str(data.get("errorMessage") or data.get("error") or data.get("error_description") or "")
    return ""


def _raise_for_status(response: Response) -> None:
    code = response.status_code
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
        raise errors.AuthFailed("Permission denied: the Keycloak account lacks a required realm-management role")
    if code >= 500:
        raise errors.Unavailable(f"Keycloak answered with HTTP {code}")
    raise errors.RequestRejected(f"Keycloak rejected the request (HTTP {code}){': ' + message if message else ''}")


def _map_keycloak_error(exc: KeycloakError, what: str) -> errors.KeycloakError:
    code = getattr(exc, "response_code", None)
    if code in (400, 401, 403):
        return errors.AuthFailed(f"{what}: Keycloak rejected the credentials")
    if code == 404:
        return errors.NotFound(f"{what}: realm or endpoint not found")
    if code is None or code >= 500:
        return errors.Unavailable(f"{what}: Keycloak did not answer properly")
    return errors.RequestRejected(f"{what}: HTTP {code}")


def _connection_reason(exc: KeycloakConnectionError, settings: ConnectionSettings) -> str:
    cause = repr(exc.__cause__ or "")
    if "Timeout" in cause:
        return f"Keycloak at {settings.server_url} did not answer within {settings.timeout:g} s"
    return f"Cannot connect to Keycloak at {settings.server_url}"
