"""Helpers for tests against a real Keycloak (started by ``scripts/keycloak-dev``).

Nothing here is a pytest fixture; ``tests/conftest.py`` wires it up.  Only ``requests`` is used, so
the helpers do not depend on the library the application itself uses to talk to Keycloak.

Typical use::

    server, started = start_server(REPO_ROOT)
    realm = server.create_realm()
    leaf = realm.add_path("/a/b/c")
    uid = realm.add_user("alice", "alice@example.org")
    realm.add_member(leaf, uid)
    ...
    realm.delete()
    if started:
        stop_server(REPO_ROOT)

``RealRealm``'s seeding methods (``add_group``, ``add_path``, ``add_user``, ``add_member``) mirror the
in-memory fake's, so contract tests can seed either one the same way.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

SERVICE_CLIENT_ID = "okg-service"
SERVICE_CLIENT_SECRET = "okg-service-test-secret"
SERVICE_ACCOUNT_ROLES = ("view-users", "query-users", "query-groups", "manage-users")
BULK_CHUNK = 500
TIMEOUT = 60  # seconds per HTTP call; partial imports of 500 users take a few seconds
# Emptying a realm deletes its users one by one (four at a time, ~20-80 ms each); a new realm costs 2-15 s.
RESET_MAX_USERS = 200


class KeycloakAdminError(RuntimeError):
    """An admin REST call answered with an unexpected status."""

    def __init__(self, method: str, url: str, status_code: int, body: str):
        self.method = method
        self.url = url
        self.status_code = status_code
        self.body = body
        super().__init__(f"{method} {url} -> {status_code}: {body[:500]}")


def _check(resp: requests.Response, *ok: int) -> requests.Response:
    if resp.status_code not in (ok or (200, 201, 204)):
        raise KeycloakAdminError(resp.request.method or "?", resp.url, resp.status_code, resp.text)
    return resp


def _id_from_location(resp: requests.Response) -> str:
    location = resp.headers.get("Location", "")
    if not location:
        raise KeycloakAdminError(
            resp.request.method or "?", resp.url, resp.status_code, "no Location header in response"
        )
    return location.rstrip("/").rsplit("/", 1)[-1]


def _split_path(path: str) -> list[str]:
    parts = [p for p in path.strip().split("/") if p]
    if not parts:
        raise ValueError(f"empty group path: {path!r}")
    return parts


def _quote_path(parts: Iterable[str]) -> str:
    return "/".join(quote(p, safe="") for p in parts)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ------------------------------------------------------------------------------------------ server
class _Session(requests.Session):
    """A session whose ``verify`` wins over ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``.

    ``requests`` lets those environment variables replace ``Session.verify`` (psf/requests#3829), so
    a private CA set on the session alone would be ignored; pass it on every request instead.
    """

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self.verify is not True:
            kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


@dataclass
class KeycloakServer:
    url: str
    admin: str
    admin_password: str
    ca_bundle: str | None = None  # CA file for an HTTPS server (``KEYCLOAK_CA_BUNDLE``)
    _session: requests.Session = field(default_factory=_Session, init=False, repr=False, compare=False)
    _token: str | None = field(default=None, init=False, repr=False, compare=False)
    _token_expires: float = field(default=0.0, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _version: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        if self.ca_bundle:
            self._session.verify = self.ca_bundle

    @property
    def verify(self) -> str | bool:
        """``verify=`` for your own ``requests`` calls to this server (the CA file over HTTPS)."""
        return self.ca_bundle or True

    @property
    def version(self) -> str:
        """Server version (``GET /admin/serverinfo`` -> ``systemInfo.version``), e.g. ``"24.0.5"``."""
        if self._version is None:
            resp = self._session.get(
                f"{self.url}/admin/serverinfo",
                headers={"Authorization": f"Bearer {self.admin_token()}"},
                timeout=TIMEOUT,
            )
            _check(resp, 200)
            self._version = str(resp.json()["systemInfo"]["version"])
        return self._version

    @property
    def major(self) -> int:
        """Major version as an int (22, 24, 26, ...)."""
        return int(self.version.split(".", 1)[0])

    # -- tokens
    def admin_token(self, *, force: bool = False) -> str:
        """Master-realm admin token (password grant, ``admin-cli``), cached until 15 s before expiry."""
        with self._lock:
            if not force and self._token and time.monotonic() < self._token_expires - 15:
                return self._token
            resp = self._session.post(
                f"{self.url}/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": self.admin,
                    "password": self.admin_password,
                },
                timeout=TIMEOUT,
            )
            _check(resp, 200)
            body = resp.json()
            self._token = body["access_token"]
            self._token_expires = time.monotonic() + float(body.get("expires_in", 60))
            return self._token

    def token_url(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}/protocol/openid-connect/token"

    # -- raw admin calls
    def admin_request(
        self, method: str, path: str, *, ok: Iterable[int] | None = None, **kwargs: Any
    ) -> requests.Response:
        """Call ``{url}/admin/realms{path}`` with the admin token (one retry after a 401).

        ``ok``: statuses that must not raise (default: any 2xx).  Returns the ``requests.Response``.
        """
        url = f"{self.url}/admin/realms{path}"
        kwargs.setdefault("timeout", TIMEOUT)
        headers = dict(kwargs.pop("headers", None) or {})
        resp = None
        for attempt in range(2):
            headers["Authorization"] = f"Bearer {self.admin_token(force=attempt > 0)}"
            resp = self._session.request(method, url, headers=headers, **kwargs)
            if resp.status_code != 401:
                break
        assert resp is not None
        allowed = tuple(ok) if ok is not None else tuple(range(200, 300))
        return _check(resp, *allowed)

    # -- realms
    def create_realm(self, access_token_lifespan: int = 300) -> RealRealm:
        """Create ``t-<hex8>`` with the confidential service client ``okg-service``.

        The client's service-account user gets ``realm-management`` roles view-users, query-users,
        query-groups and manage-users (what the application's gateway needs).
        """
        name = f"t-{secrets.token_hex(4)}"
        self.admin_request(
            "POST",
            "",
            json={"realm": name, "enabled": True, "accessTokenLifespan": access_token_lifespan},
        )
        try:
            resp = self.admin_request(
                "POST",
                f"/{name}/clients",
                json={
                    "clientId": SERVICE_CLIENT_ID,
                    "name": "Offering Keycloak Groups (tests)",
                    "enabled": True,
                    "protocol": "openid-connect",
                    "publicClient": False,
                    "bearerOnly": False,
                    "clientAuthenticatorType": "client-secret",
                    "secret": SERVICE_CLIENT_SECRET,
                    "serviceAccountsEnabled": True,
                    "standardFlowEnabled": False,
                    "implicitFlowEnabled": False,
                    "directAccessGrantsEnabled": False,
                },
            )
            client_uuid = _id_from_location(resp)
            sa_user = self.admin_request("GET", f"/{name}/clients/{client_uuid}/service-account-user").json()
            rm = self.admin_request("GET", f"/{name}/clients", params={"clientId": "realm-management"}).json()
            if not rm:
                raise RuntimeError(f"realm {name} has no realm-management client")
            rm_uuid = rm[0]["id"]
            roles = [
                self.admin_request("GET", f"/{name}/clients/{rm_uuid}/roles/{role}").json()
                for role in SERVICE_ACCOUNT_ROLES
            ]
            self.admin_request("POST", f"/{name}/users/{sa_user['id']}/role-mappings/clients/{rm_uuid}", json=roles)
        except BaseException:
            self.delete_realm(name)
            raise
        return RealRealm(
            server=self,
            name=name,
            client_id=SERVICE_CLIENT_ID,
            client_secret=SERVICE_CLIENT_SECRET,
            client_uuid=client_uuid,
        )

    def delete_realm(self, name: str) -> None:
        """Delete a realm; a realm that is already gone is fine."""
        # Deleting a realm of a few thousand users takes Keycloak (dev-file H2) well over a minute under load.
        self.admin_request("DELETE", f"/{name}", ok=(204, 404), timeout=600)

    def list_realms(self) -> list[str]:
        return [r["realm"] for r in self.admin_request("GET", "").json()]


# ------------------------------------------------------------------------------------------- realm
@dataclass
class RealRealm:
    server: KeycloakServer
    name: str
    client_id: str
    client_secret: str
    client_uuid: str = ""

    @property
    def base(self) -> str:
        """``/{realm}``: prefix for ``server.admin_request`` paths."""
        return f"/{self.name}"

    @property
    def token_url(self) -> str:
        return self.server.token_url(self.name)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Admin call relative to this realm, e.g. ``realm.admin("GET", "/groups")``."""
        return self.server.admin_request(method, f"{self.base}{path}", **kwargs)

    def service_token(self) -> str:
        """Access token of the ``okg-service`` client (client_credentials grant in this realm)."""
        resp = self.server._session.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            timeout=TIMEOUT,
        )
        _check(resp, 200)
        return resp.json()["access_token"]

    # -- groups
    def add_group(self, name: str, parent_id: str | None = None) -> str:
        """Create a group (top level, or a child of ``parent_id``); returns its id.

        Raises ``KeycloakAdminError`` (``status_code`` 409 for a duplicate sibling name).
        """
        path = f"/groups/{parent_id}/children" if parent_id else "/groups"
        return _id_from_location(self.admin("POST", path, json={"name": name}, ok=(201,)))

    def group_by_path(self, path: str) -> dict | None:
        resp = self.admin("GET", f"/group-by-path/{_quote_path(_split_path(path))}", ok=(200, 404))
        return resp.json() if resp.status_code == 200 else None

    def children(self, group_id: str) -> list[dict]:
        """Direct subgroups of a group, all of them, on every version.

        23+: ``GET /groups/{id}/children`` paged (its default page is 10); 22 has no ``/children``
        and inlines them as ``subGroups`` of ``GET /groups/{id}``.
        """
        if self.server.major < 23:
            return list(self.admin("GET", f"/groups/{group_id}").json().get("subGroups") or [])
        out: list[dict] = []
        first, page = 0, 500
        while True:
            batch = self.admin("GET", f"/groups/{group_id}/children", params={"first": first, "max": page}).json()
            out.extend(batch)
            if len(batch) < page:
                return out
            first += page

    def add_path(self, path: str) -> str:
        """``"/a/b/c"``: create the missing groups along the path; returns the leaf's id."""
        parts = _split_path(path)
        parent_id: str | None = None
        for depth in range(1, len(parts) + 1):
            existing = self.group_by_path("/" + "/".join(parts[:depth]))
            parent_id = existing["id"] if existing is not None else self.add_group(parts[depth - 1], parent_id)
        assert parent_id is not None
        return parent_id

    def add_groups_bulk(self, groups: list[dict]) -> None:
        """Create whole trees with partialImport: ``[{"name": "a", "subGroups": [{"name": "b"}]}]``.

        ``ifResourceExists=SKIP`` works per top-level group: an existing top-level group is skipped
        together with everything below it (nothing is merged into it).
        """
        reps = [self._group_rep(g) for g in groups]
        batch: list[dict] = []
        size = 0
        for rep in reps:
            n = self._count(rep)
            if batch and size + n > 2000:
                self._partial_import({"groups": batch})
                batch, size = [], 0
            batch.append(rep)
            size += n
        if batch:
            self._partial_import({"groups": batch})

    @classmethod
    def _group_rep(cls, g: dict, parent_path: str = "") -> dict:
        # partialImport looks groups up by "path" (Keycloak 26.7 answers 500 with an NPE without it).
        path = f"{parent_path}/{g['name']}"
        rep: dict[str, Any] = {"name": g["name"], "path": path}
        if g.get("attributes"):
            rep["attributes"] = g["attributes"]
        subs = g.get("subGroups", g.get("sub_groups", g.get("children", [])))
        rep["subGroups"] = [cls._group_rep(s, path) for s in subs]
        return rep

    @classmethod
    def _count(cls, rep: dict) -> int:
        return 1 + sum(cls._count(s) for s in rep["subGroups"])

    def group_members(self, group_id: str) -> list[str]:
        """Usernames of the direct members, all pages."""
        names: list[str] = []
        first, page = 0, 500
        while True:
            batch = self.admin(
                "GET",
                f"/groups/{group_id}/members",
                params={"first": first, "max": page, "briefRepresentation": "true"},
            ).json()
            names.extend(u["username"] for u in batch)
            if len(batch) < page:
                return names
            first += page

    # -- users
    def add_user(self, username: str, email: str = "", first_name: str = "", last_name: str = "") -> str:
        """Create an enabled user; returns its id.  Keycloak stores username and email lower-case."""
        rep = self._user_rep({"username": username, "email": email, "firstName": first_name, "lastName": last_name})
        return _id_from_location(self.admin("POST", "/users", json=rep, ok=(201,)))

    def add_member(self, group_id: str, user_id: str) -> None:
        self.admin("PUT", f"/users/{user_id}/groups/{group_id}", ok=(204,))

    def add_users_bulk(self, users: list[dict], group_paths: list[str] | None = None) -> None:
        """Create many users fast (partialImport, ``ifResourceExists=SKIP``, 500 per request).

        Each dict: ``username`` and optionally ``email``, ``first_name``/``firstName``,
        ``last_name``/``lastName``, ``groups`` (paths).  ``group_paths`` (which must exist) are added to
        every user's groups.  Existing usernames are skipped untouched.
        """
        extra = list(group_paths or [])
        reps = []
        for u in users:
            rep = self._user_rep(u)
            groups = list(u.get("groups") or []) + extra
            if groups:
                rep["groups"] = groups
            reps.append(rep)
        for chunk in _chunks(reps, BULK_CHUNK):
            self._partial_import({"users": chunk})

    @staticmethod
    def _user_rep(u: dict) -> dict:
        rep: dict[str, Any] = {"username": u["username"], "enabled": True}
        for key, aliases in (
            ("email", ("email",)),
            ("firstName", ("firstName", "first_name")),
            ("lastName", ("lastName", "last_name")),
        ):
            value = next((u[a] for a in aliases if u.get(a)), "")
            if value:
                rep[key] = value
        return rep

    def user_id(self, username: str) -> str:
        found = self.admin(
            "GET", "/users", params={"username": username, "exact": "true", "briefRepresentation": "true"}
        ).json()
        for u in found:
            if u["username"] == username.lower():
                return u["id"]
        raise KeyError(f"no user {username!r} in realm {self.name}")

    def _partial_import(self, body: dict) -> dict:
        payload = {"ifResourceExists": "SKIP", **body}
        return self.admin("POST", "/partialImport", json=payload, ok=(200,), timeout=300).json()

    # -- signing in to the app (docs/SIGN-IN.md §6: confidential, standard flow only, PKCE S256, exact URIs)
    def add_sign_in_client(
        self, client_id: str, secret: str, redirect_uri: str, after_logout: str, staff_role: str = "okg-staff"
    ) -> str:
        """A login client whose ID tokens carry its client roles under resource_access.<client_id>.roles."""
        resp = self.admin(
            "POST",
            "/clients",
            json={
                "clientId": client_id,
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": secret,
                "standardFlowEnabled": True,
                "implicitFlowEnabled": False,
                "directAccessGrantsEnabled": False,
                "serviceAccountsEnabled": False,
                "frontchannelLogout": False,
                "redirectUris": [redirect_uri],
                "webOrigins": [],
                "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": after_logout},
                "protocolMappers": [
                    {
                        "name": "client roles in the ID token",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-usermodel-client-role-mapper",
                        "config": {
                            "usermodel.clientRoleMapping.clientId": client_id,
                            "claim.name": f"resource_access.{client_id}.roles",
                            "multivalued": "true",
                            "jsonType.label": "String",
                            "id.token.claim": "true",
                            "access.token.claim": "true",
                            "userinfo.token.claim": "false",
                        },
                    }
                ],
            },
        )
        client_uuid = _id_from_location(resp)
        self.admin("POST", f"/clients/{client_uuid}/roles", json={"name": staff_role}, ok=(201,))
        return client_uuid

    def add_login_user(
        self,
        username: str,
        password: str,
        email: str = "",
        email_verified: bool = True,
        enabled: bool = True,
        client_roles: tuple[str, str, list[str]] | None = None,  # (client uuid, client id, role names)
    ) -> str:
        """A user who can sign in with a password (no required actions left)."""
        rep = self._user_rep(
            {"username": username, "email": email, "firstName": username.title(), "lastName": "Tester"}
        )
        rep |= {
            "enabled": enabled,
            "emailVerified": email_verified,
            "requiredActions": [],
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
        user_id = _id_from_location(self.admin("POST", "/users", json=rep, ok=(201,)))
        if client_roles:
            client_uuid, _client_id, names = client_roles
            roles = [self.admin("GET", f"/clients/{client_uuid}/roles/{name}").json() for name in names]
            self.admin("POST", f"/users/{user_id}/role-mappings/clients/{client_uuid}", json=roles, ok=(204,))
        return user_id

    def add_service_client(self, client_id: str, secret: str, roles: Iterable[str]) -> str:
        """A confidential client with only a service account, holding these ``realm-management`` roles."""
        resp = self.admin(
            "POST",
            "/clients",
            json={
                "clientId": client_id,
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": secret,
                "serviceAccountsEnabled": True,
                "standardFlowEnabled": False,
                "implicitFlowEnabled": False,
                "directAccessGrantsEnabled": False,
            },
        )
        client_uuid = _id_from_location(resp)
        account = self.admin("GET", f"/clients/{client_uuid}/service-account-user").json()
        management = self.admin("GET", "/clients", params={"clientId": "realm-management"}).json()[0]["id"]
        wanted = [self.admin("GET", f"/clients/{management}/roles/{role}").json() for role in roles]
        self.admin("POST", f"/users/{account['id']}/role-mappings/clients/{management}", json=wanted, ok=(204,))
        return client_uuid

    # -- lifecycle
    def delete(self) -> None:
        self.server.delete_realm(self.name)

    def client_ids(self) -> set[str]:
        """Keycloak ids of the realm's clients (the built-in ones, okg-service, and any a test added)."""
        return {c["id"] for c in self.admin("GET", "/clients", params={"max": 1000}).json()}

    def reset(self, keep_clients: set[str], max_users: int = RESET_MAX_USERS) -> bool:
        """Back to how ``create_realm`` left it: no groups, no users, no clients but ``keep_clients``.

        Returns False, having changed nothing, when the realm holds more than ``max_users`` users: deleting
        them then costs more than a new realm (the caller deletes this one instead).
        """
        users = self.admin("GET", "/users", params={"briefRepresentation": "true", "max": max_users + 1}).json()
        users = [u for u in users if not u["username"].startswith("service-account-")]
        if len(users) > max_users:
            return False
        # Each delete waits on Keycloak's database more than on its CPU: four at a time take a quarter as long.
        # Users first: deleting one also ends its sessions and drops its group memberships.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda user: self.admin("DELETE", f"/users/{user['id']}", ok=(204, 404)), users))
            groups = self.admin("GET", "/groups", params={"briefRepresentation": "true"}).json()
            list(pool.map(lambda group: self.admin("DELETE", f"/groups/{group['id']}", ok=(204, 404)), groups))
            added = self.client_ids() - keep_clients
            list(pool.map(lambda client_id: self.admin("DELETE", f"/clients/{client_id}", ok=(204, 404)), added))
        return True


class RealmPool:
    """One realm per test process, emptied after each test instead of a new realm per test.

    Creating a realm costs Keycloak 2-5 s of work (default clients, flows, roles, keys); emptying one after a
    test costs a few deletes. A test gets the realm exactly as ``create_realm`` makes it (only the
    ``okg-service`` client, no groups, no users), whatever the test before it did; a realm the reset cannot
    empty cheaply (many users) or at all (an error) is deleted and the next test gets a new one. Tests that
    need other realm settings (a short token lifespan) still call ``create_realm`` themselves.
    """

    def __init__(self, server: KeycloakServer) -> None:
        self.server = server
        self._idle: RealRealm | None = None
        self._clients: set[str] = set()

    def take(self) -> RealRealm:
        if self._idle is None:
            realm = self.server.create_realm()
            self._clients = realm.client_ids()
            return realm
        realm, self._idle = self._idle, None
        return realm

    def give_back(self, realm: RealRealm) -> None:
        try:
            emptied = realm.reset(self._clients)
        except (KeycloakAdminError, requests.RequestException):
            emptied = False
        if emptied:
            self._idle = realm
        else:
            realm.delete()

    def close(self) -> None:
        if self._idle is not None:
            self._idle.delete()
            self._idle = None


# -------------------------------------------------------------------------------- start / stop
def _script(repo_root: Path) -> Path:
    return Path(repo_root) / "scripts" / "keycloak-dev"


def _parse_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.startswith("KEYCLOAK_"):
            out[key] = value
    return out


def start_server(repo_root: Path) -> tuple[KeycloakServer, bool]:
    """Find or start the Keycloak for tests.  Returns ``(server, started_by_us)``.

    If ``KEYCLOAK_URL`` is set it is used as is (with ``KEYCLOAK_ADMIN`` / ``KEYCLOAK_ADMIN_PASSWORD``,
    default admin/admin, and ``KEYCLOAK_CA_BUNDLE`` for an HTTPS server with a private CA) and
    ``started_by_us`` is False.  Otherwise ``scripts/keycloak-dev`` is asked (it honours
    ``KEYCLOAK_VERSION``, ``KEYCLOAK_PORT`` and ``KEYCLOAK_TLS``): a server it already runs is reused
    (``started_by_us`` False), else it is started (True; the first start of a version on a machine
    downloads and builds Keycloak, a minute or two).
    """
    if os.environ.get("KEYCLOAK_URL"):
        server = KeycloakServer(
            url=os.environ["KEYCLOAK_URL"],
            admin=os.environ.get("KEYCLOAK_ADMIN", "admin"),
            admin_password=os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "admin"),
            ca_bundle=os.environ.get("KEYCLOAK_CA_BUNDLE") or None,
        )
        return server, False

    script = _script(repo_root)
    status = subprocess.run([str(script), "status"], capture_output=True, text=True, timeout=60)
    started = False
    if status.returncode == 0:
        values = _parse_lines(status.stdout)
    else:
        proc = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            raise RuntimeError(f"{script} start failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}\n{proc.stdout}")
        values = _parse_lines(proc.stdout)
        started = status.returncode == 3  # 4 = it was already starting: someone else owns it
    if "KEYCLOAK_URL" not in values:
        raise RuntimeError(f"{script} printed no KEYCLOAK_URL line")
    server = KeycloakServer(
        url=values["KEYCLOAK_URL"],
        admin=values.get("KEYCLOAK_ADMIN", "admin"),
        admin_password=values.get("KEYCLOAK_ADMIN_PASSWORD", "admin"),
        ca_bundle=values.get("KEYCLOAK_CA_BUNDLE") or None,
    )
    return server, started


def stop_server(repo_root: Path) -> None:
    subprocess.run([str(_script(repo_root)), "stop"], check=True, capture_output=True, timeout=120)
