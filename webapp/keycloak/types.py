"""Plain results returned by the gateway: no python-keycloak or HTTP types leak out."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RemoteGroup:
    id: str
    name: str
    path: str
    sub_group_count: int
    parent_id: str | None = None

    @classmethod
    def from_representation(cls, data: dict[str, Any], parent_id: str | None = None) -> "RemoteGroup":
        return cls(
            id=data["id"],
            name=data.get("name") or "",
            path=data.get("path") or "",
            sub_group_count=int(data.get("subGroupCount") or 0),
            parent_id=data.get("parentId") or parent_id,
        )


@dataclass(frozen=True, slots=True)
class RemoteUser:
    id: str
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""

    @classmethod
    def from_representation(cls, data: dict[str, Any]) -> "RemoteUser":
        return cls(
            id=data["id"],
            username=data.get("username") or "",
            email=data.get("email") or "",
            first_name=data.get("firstName") or "",
            last_name=data.get("lastName") or "",
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
    verify_ssl: bool = True
    timeout: float = 10.0

    @property
    def uses_service_account(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def __repr__(self) -> str:  # never let secrets reach a log line through repr()
        return (
            f"ConnectionSettings(server_url={self.server_url!r}, realm={self.realm!r}, "
            f"auth_realm={self.auth_realm!r}, service_account={self.uses_service_account})"
        )
