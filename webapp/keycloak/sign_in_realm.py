"""Asking the sign-in realm about one account: does it still exist, is it enabled, which roles of our login
client does it hold (effective: direct, through groups and composites, as the ID token's role mapper sees them).

The app keeps no refresh tokens, and an API token has no Keycloak session behind it at all, so the answer
comes from the realm's Admin API with a service account of its own (client credentials). It needs `view-users`
for the account and `view-clients` for its client role mappings: Keycloak 26 answers 403 to those with
`view-users` alone, and lists no clients to `query-clients`. The plumbing is the admin gateway's: one token
per process, no redirects followed, answers checked, errors typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import errors
from .admin_gateway import AdminGateway, not_keycloak
from .ids import checked_id
from .types import ConnectionSettings

MAX_ROLES = 1000  # more roles than any account holds; a longer list is not Keycloak's


@dataclass(frozen=True)
class AccountStanding:
    exists: bool
    enabled: bool
    client_roles: frozenset[str]


GONE = AccountStanding(exists=False, enabled=False, client_roles=frozenset())


def split_issuer(issuer: str) -> tuple[str, str] | None:
    """(server URL, realm) of a Keycloak issuer `https://host[/base]/realms/<realm>`; None for any other."""
    server, separator, realm = issuer.rstrip("/").rpartition("/realms/")
    realm = unquote(realm)
    if not separator or not server or not realm or "/" in realm or realm in (".", ".."):
        return None
    return server, realm


class SignInRealmGateway(AdminGateway):
    def __init__(self, settings: ConnectionSettings, login_client_id: str) -> None:
        super().__init__(settings)
        self.login_client_id = login_client_id
        self._login_client_uuid: str | None = None  # Keycloak's id of our login client, found once

    def account_standing(self, subject: str) -> AccountStanding:
        """What the realm says about the account `subject` (the ID token's `sub`). Raises the gateway's typed
        errors when it cannot be asked; InvalidId for a subject that cannot go into a URL."""
        user_id = checked_id(subject)
        try:
            data = self._get_json(f"users/{user_id}")
        except errors.NotFound:
            return GONE
        if not isinstance(data, dict) or data.get("id") != user_id or not isinstance(data.get("enabled"), bool):
            raise not_keycloak(self.settings)
        if not data["enabled"]:
            return AccountStanding(exists=True, enabled=False, client_roles=frozenset())
        roles = self._get_list(f"users/{user_id}/role-mappings/clients/{self._client_uuid()}/composite")
        return AccountStanding(exists=True, enabled=True, client_roles=_role_names(roles, self))

    def _client_uuid(self) -> str:
        if self._login_client_uuid is None:
            found = self._get_list("clients", clientId=self.login_client_id, search="false")
            ours = [item for item in found if isinstance(item, dict) and item.get("clientId") == self.login_client_id]
            if len(ours) != 1:
                raise errors.NotFound(f"The sign-in client {self.login_client_id} is not in the realm")
            self._login_client_uuid = checked_id(ours[0].get("id"))
        return self._login_client_uuid


def _role_names(items: list[Any], gateway: SignInRealmGateway) -> frozenset[str]:
    named = all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items)
    if len(items) > MAX_ROLES or not named:
        raise not_keycloak(gateway.settings)
    return frozenset(item["name"] for item in items)
