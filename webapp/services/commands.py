"""Typed inputs of the services that change things: objects already looked up, values already parsed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..models import AccessReview, Offering, OfferingKeycloakGroup, OfferingRole, Resource


class Keep(enum.Enum):
    """A field the caller left out: keep the current value (absent is not the same as null)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class ImportGroup:
    offering: Offering
    role: OfferingRole
    resource: Resource | None
    scope_id: str
    remote_group_id: str


@dataclass(frozen=True)
class ChangeLink:
    """Link, re-link or unlink (`backend_id` "" or None), and optionally move to another resource or scope."""

    backend_id: str | Literal[Keep.KEEP] | None = KEEP
    resource: Resource | Literal[Keep.KEEP] | None = KEEP
    scope_id: str | Literal[Keep.KEEP] = KEEP


@dataclass(frozen=True)
class GrantAccess:
    offering: Offering
    role: OfferingRole
    resource: Resource | None
    scope_id: str
    username: str
    email: str = ""
    expires_at: datetime | None = None  # None: the group's default (docs/PRODUCT.md §11)


@dataclass(frozen=True)
class ImportParams:
    role: OfferingRole
    resource: Resource | None
    scope_id: str  # empty: each group gets its Keycloak name as scope id (so several can share role and resource)
    remote_group_ids: list[str]


@dataclass(frozen=True)
class PreviewMembers:
    offering: Offering
    groups: list[OfferingKeycloakGroup]


@dataclass(frozen=True)
class PreviewExpiry:
    """The expired members of these groups still in their Keycloak groups (docs/PRODUCT.md §11)."""

    offering: Offering
    groups: list[OfferingKeycloakGroup]


@dataclass(frozen=True)
class PreviewReview:
    """The "remove" decisions of a closed access review, as removals from these Keycloak groups (§12)."""

    offering: Offering
    review: AccessReview
    groups: list[OfferingKeycloakGroup]


@dataclass(frozen=True)
class PreviewImport:
    offering: Offering
    params: ImportParams


@dataclass(frozen=True)
class PreviewLinks:
    offering: Offering
    group_uuids: list[str] | None = None  # None: every suggestion


Preview = PreviewMembers | PreviewImport | PreviewLinks


@dataclass(frozen=True)
class ApplySelection:
    """Keys absent from `choices` take their default action; a key mapped to None is not applied."""

    choices: dict[str, str | None]
    confirm: str = ""
