"""Typed SQLAlchemy models for docs/PRODUCT.md §1. Rules live in webapp/services, not here."""

from __future__ import annotations

import enum
import uuid as uuid_module
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .extensions import Model

NAME_LENGTH = 255
E = TypeVar("E", bound=enum.StrEnum)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC, timezone-aware on the way in and out: PostgreSQL keeps the zone, SQLite gives back naive
    text, which was written in UTC. Nobody downstream needs to know which database answered."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: say it is UTC (models.utcnow())")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def new_uuid() -> str:
    return uuid_module.uuid4().hex


class TimestampedMixin:
    uuid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uuid)
    created: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    modified: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Organization(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    slug: Mapped[str] = mapped_column(String(NAME_LENGTH))

    offerings: Mapped[list[Offering]] = relationship(back_populates="organization")


class Offering(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    slug: Mapped[str] = mapped_column(String(NAME_LENGTH))

    # Keycloak connection (docs/PRODUCT.md §1.1). Secrets are stored encrypted (webapp/crypto.py).
    keycloak_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    keycloak_url: Mapped[str] = mapped_column(String(500), default="")
    keycloak_realm: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    keycloak_auth_realm: Mapped[str] = mapped_column(String(NAME_LENGTH), default="master")
    keycloak_username: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    keycloak_password_encrypted: Mapped[str] = mapped_column(Text, default="")
    keycloak_client_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    keycloak_client_secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    keycloak_verify_ssl: Mapped[bool] = mapped_column(Boolean, default=True)
    keycloak_ca_certificate: Mapped[str] = mapped_column(Text, default="", server_default="")  # PEM
    keycloak_timeout: Mapped[float] = mapped_column(Float, default=10.0)
    keycloak_base_group: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    keycloak_group_name_template: Mapped[str] = mapped_column(String(500), default="")
    keycloak_username_label: Mapped[str] = mapped_column(String(100), default="Username")

    organization: Mapped[Organization] = relationship(back_populates="offerings")
    roles: Mapped[list[OfferingRole]] = relationship(back_populates="offering", order_by="OfferingRole.name")
    resources: Mapped[list[Resource]] = relationship(back_populates="offering", order_by="Resource.name")


class OfferingRole(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    scope_type: Mapped[str] = mapped_column(String(100), default="")
    scope_type_label: Mapped[str] = mapped_column(String(100), default="")

    offering: Mapped[Offering] = relationship(back_populates="roles")


class Resource(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    project_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    keycloak_available_scopes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    offering: Mapped[Offering] = relationship(back_populates="resources")


class User(UserMixin, TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    password_hash: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of every session's id: raising it (password change, "sign out everywhere") ends other sessions.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Signing in with Keycloak: the issuer and `sub` this account is linked to (once, never re-linked).
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    # What Keycloak last said about the linked account (webapp/services/accounts/checks.py), shared by every
    # instance: when it last answered, when we last asked, whether the account may go on and why not.
    oidc_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    oidc_check_tried_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    oidc_check_ok: Mapped[bool | None] = mapped_column(Boolean)
    oidc_check_reason: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_user_oidc_link", "oidc_issuer", "oidc_subject", unique=True),)

    @property
    def is_active(self) -> bool:  # flask-login asks this
        return self.active

    def get_id(self) -> str:  # flask-login stores this in the session
        return f"{self.id}:{self.session_version}"


class LoginAttempt(Model):
    """A sign-in attempt that has not succeeded (yet): the throttle counts these per address and username."""

    id: Mapped[int] = mapped_column(primary_key=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(150), index=True)
    # The known-device cookie's nonce when the attempt came from a browser its owner signed in on before: such
    # attempts are counted per device, not against the username's or the address's budget.
    device: Mapped[str | None] = mapped_column(String(32), index=True)


class OfferingManager(Model):
    """A grant: the user manages every offering of an organization, or one offering."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offering.id"))

    __table_args__ = (UniqueConstraint("user_id", "organization_id", "offering_id", name="uq_offering_manager_grant"),)


class GroupManager(TimestampedMixin, Model):
    """A delegation (docs/PRODUCT.md §13): the user with this username manages the members of one local group,
    and nothing else. Kept by username, so that it holds before the person's first sign-in."""

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("offering_keycloak_group.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(150), index=True)
    created_by_name: Mapped[str] = mapped_column(String(150), default="")

    group: Mapped[OfferingKeycloakGroup] = relationship()

    __table_args__ = (UniqueConstraint("group_id", "username", name="uq_group_manager_group_username"),)


class ApiToken(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12), default="")
    last_used: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires: Mapped[datetime | None] = mapped_column(UtcDateTime())  # None: until revoked

    user: Mapped[User] = relationship()


class StoredEnum(TypeDecorator[E]):
    """A StrEnum kept as its value in a plain string column, as the migrations created it (no database enum
    type): a read gives the member, a write takes the member or its value and refuses anything else."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_class(value)


class GroupOrigin(enum.StrEnum):
    CREATED = "created"
    IMPORTED = "imported"


class OfferingKeycloakGroup(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("offering_role.id"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    scope_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    backend_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    origin: Mapped[GroupOrigin] = mapped_column(StoredEnum(GroupOrigin, 20), default=GroupOrigin.CREATED)
    # The Keycloak id of the group this application created for this row ("" when it adopted or was linked to
    # an existing one): the only Keycloak group a delete with delete_remote may remove.
    created_backend_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="", server_default="")
    # Keycloak has no member count: the size of the Keycloak group at its last pull, and when that was.
    remote_member_count: Mapped[int | None] = mapped_column(default=None)
    remote_counted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # How many members differ between here and Keycloak at the last members comparison (a preview of this group),
    # and when: the member state, kept apart from the link state (None: never compared).
    member_differences: Mapped[int | None] = mapped_column(Integer, default=None)
    differences_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Memberships that end (docs/PRODUCT.md §11): a grant's expiry by default, and at most, in days from the
    # grant (None: no default, no maximum).
    default_days: Mapped[int | None] = mapped_column(Integer, default=None)
    max_days: Mapped[int | None] = mapped_column(Integer, default=None)

    offering: Mapped[Offering] = relationship()
    role: Mapped[OfferingRole] = relationship()
    resource: Mapped[Resource | None] = relationship()
    memberships: Mapped[list[OfferingKeycloakMembership]] = relationship(
        back_populates="group", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def remote_created_here(self) -> bool:
        """Linked to the very Keycloak group this application created (so it may be deleted there)."""
        return bool(self.backend_id) and self.backend_id == self.created_backend_id

    __table_args__ = (
        # Two partial indexes so that NULL resources are unique too (a plain unique constraint treats
        # NULLs as distinct on PostgreSQL and SQLite alike).
        Index(
            "uq_group_scope_with_resource",
            "offering_id",
            "role_id",
            "resource_id",
            "scope_id",
            unique=True,
            sqlite_where=text("resource_id IS NOT NULL"),
            postgresql_where=text("resource_id IS NOT NULL"),
        ),
        Index(
            "uq_group_scope_without_resource",
            "offering_id",
            "role_id",
            "scope_id",
            unique=True,
            sqlite_where=text("resource_id IS NULL"),
            postgresql_where=text("resource_id IS NULL"),
        ),
        Index(
            "uq_group_backend_id",
            "offering_id",
            "backend_id",
            unique=True,
            sqlite_where=text("backend_id <> ''"),
            postgresql_where=text("backend_id <> ''"),
        ),
    )


class MembershipState(enum.StrEnum):
    """Changed only by webapp/services/memberships/lifecycle.py, which holds the transitions between them."""

    PENDING = "pending"
    ACTIVE = "active"
    REMOVED_REMOTELY = "removed_remotely"
    EXPIRED = "expired"  # its expires_at passed: out of the Keycloak group (or about to be, by an expiry plan)


class OfferingKeycloakMembership(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("offering_keycloak_group.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(NAME_LENGTH))
    email: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    first_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    last_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    keycloak_user_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    state: Mapped[MembershipState] = mapped_column(
        StoredEnum(MembershipState, 20), default=MembershipState.PENDING, index=True
    )
    last_checked: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    error_message: Mapped[str] = mapped_column(Text, default="")
    error_traceback: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, index=True)  # None: never
    # The reminders sent for the current expires_at, as days before it (OKG_EXPIRY_REMINDER_DAYS); a renewal
    # clears it, so each threshold is sent once per end.
    reminders_sent: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")

    group: Mapped[OfferingKeycloakGroup] = relationship(back_populates="memberships")

    __table_args__ = (UniqueConstraint("group_id", "username", name="uq_membership_group_username"),)


class AuditEvent(TimestampedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(150), default="")
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offering.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100), default="")
    object_repr: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    offering: Mapped[Offering | None] = relationship()


class PlanState(enum.StrEnum):
    OPEN = "open"
    APPLYING = "applying"
    APPLIED = "applied"
    PARTIALLY_APPLIED = "partially_applied"
    FAILED = "failed"
    STALE = "stale"
    EXPIRED = "expired"
    DISCARDED = "discarded"


class Plan(TimestampedMixin, Model):
    """A stored preview of changes (docs/PLAN-APPLY.md): computed once, reviewed, then applied or discarded."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[PlanState] = mapped_column(StoredEnum(PlanState, 20), default=PlanState.OPEN, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_by_name: Mapped[str] = mapped_column(String(150), default="")
    expires: Mapped[datetime] = mapped_column(UtcDateTime())
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the plan was computed from: per Keycloak group (and the local rows) a hash and a count.
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    brake: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    applied_by_name: Mapped[str] = mapped_column(String(150), default="")
    apply_started: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # counts, selection size, partial, error
    # When the retention sweep deleted the items of this ended plan; the row, summary and result stay.
    items_removed: Mapped[datetime | None] = mapped_column(UtcDateTime())

    offering: Mapped[Offering] = relationship()


class PlanItem(Model):
    """One row of a plan: what it is about, the actions it offers, and after apply what happened."""

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(600))
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: unchanged or nothing possible
    default_action: Mapped[str | None] = mapped_column(String(30), nullable=True)
    destructive: Mapped[bool] = mapped_column(Boolean, default=False)
    where: Mapped[str] = mapped_column(String(10), default="local")
    unchanged: Mapped[bool] = mapped_column(Boolean, default=False)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("offering_keycloak_group.id", ondelete="SET NULL"))
    group_uuid: Mapped[str] = mapped_column(String(32), default="")
    group_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    membership_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    email: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    first_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    last_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    remote_user_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    remote_group_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    remote_path: Mapped[str] = mapped_column(String(1000), default="")
    scope_id: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    changes: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    chosen_action: Mapped[str | None] = mapped_column(String(30), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        UniqueConstraint("plan_id", "key", name="uq_plan_item_key"),
        Index("ix_plan_item_plan_position", "plan_id", "position"),
        Index("ix_plan_item_plan_unchanged_position", "plan_id", "unchanged", "position"),  # the default page
    )


class JobKind(enum.StrEnum):
    PULL_MEMBERS = "pull_members"
    PLAN_MEMBERS = "plan_members"
    APPLY_PLAN = "apply_plan"
    SYNC_PENDING = "sync_pending"
    RECONCILE = "reconcile"
    DRIFT_CHECK = "drift_check"
    EXPIRE_MEMBERSHIPS = "expire_memberships"
    READ_KEYCLOAK_EVENTS = "read_keycloak_events"
    ACCESS_REVIEWS = "access_reviews"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(TimestampedMixin, Model):
    """Long work done by a worker (webapp/jobs). This row is the truth for people; the queue carries its uuid."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offering.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("offering_keycloak_group.id", ondelete="SET NULL"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[JobState] = mapped_column(StoredEnum(JobState, 20), default=JobState.QUEUED, index=True)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {done, total, unit}
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")  # an apply's selection
    started: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_by_name: Mapped[str] = mapped_column(String(150), default="")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    # What the job does to what (kind, offering, target), hashed: at most one queued or running job per key.
    work_key: Mapped[str | None] = mapped_column(String(64), nullable=True)

    offering: Mapped[Offering | None] = relationship()
    group: Mapped[OfferingKeycloakGroup | None] = relationship()
    plan: Mapped[Plan | None] = relationship()

    __table_args__ = (
        # A partial unique index: the database itself refuses a second active job for the same work, however
        # many requests race (finished jobs keep their key and are outside the index).
        Index(
            "uq_job_active_work_key",
            "work_key",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )


class KeycloakChange(Model):
    """A change Keycloak recorded in its admin events (docs/PRODUCT.md §10) in an offering's subtree: of a
    membership, or (`user_id` "") of a group made, deleted or moved under `parent_id`. Read incrementally
    (webapp/services/attribution/events.py), kept OKG_KEYCLOAK_EVENTS_DAYS. `by_app`: made by this application's
    own account."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    operation: Mapped[str] = mapped_column(String(10))  # CREATE (added, made), DELETE (removed), MOVE (a group)
    user_id: Mapped[str] = mapped_column(String(64))  # whose membership (Keycloak user id); "" for a group's change
    group_id: Mapped[str] = mapped_column(String(64))  # the Keycloak group id
    parent_id: Mapped[str] = mapped_column(String(64), default="", server_default="")  # a group's new parent
    actor_realm_id: Mapped[str] = mapped_column(String(64), default="")
    actor_user_id: Mapped[str] = mapped_column(String(64), default="")
    actor_client_id: Mapped[str] = mapped_column(String(64), default="")  # the client's internal id
    other_realm: Mapped[bool] = mapped_column(Boolean, default=False)  # the actor is not of the managed realm
    by_app: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("offering_id", "event_key", name="uq_keycloak_change_offering_event"),
        Index("ix_keycloak_change_membership", "offering_id", "group_id", "user_id", "at"),
        Index("ix_keycloak_change_offering_at", "offering_id", "at"),
    )


class KeycloakEventCursor(Model):
    """How far an offering's admin events were read: all of them from `complete_from` to `newest_ms` are
    stored; `state` is what the last read found ("ok", "off", "unreadable")."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="")
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    complete_from: Mapped[datetime | None] = mapped_column(UtcDateTime())
    newest_ms: Mapped[int | None] = mapped_column(BigInteger())


class KeycloakName(Model):
    """A name resolved once from a Keycloak id (a user's username, a client's clientId); "" when Keycloak
    would not say (another realm's user, a client we may not read)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # "user" or "client"
    keycloak_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (UniqueConstraint("offering_id", "kind", "keycloak_id", name="uq_keycloak_name"),)


class ReviewState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ReviewDecision(enum.StrEnum):
    KEEP = "keep"
    REMOVE = "remove"
    UNSURE = "unsure"


class AccessReview(TimestampedMixin, Model):
    """An access review (docs/PRODUCT.md §12): the members in Keycloak of an offering's groups when it opened,
    each decided keep / remove / unsure by a reviewer; closing it makes a `review` plan of the removals.
    `repeat_months`: the periodic round opens the next one that many months after this one opened."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id", ondelete="CASCADE"), index=True)
    state: Mapped[ReviewState] = mapped_column(StoredEnum(ReviewState, 10), default=ReviewState.OPEN, index=True)
    due: Mapped[date] = mapped_column(Date())
    created_by_name: Mapped[str] = mapped_column(String(150), default="")
    group_uuids: Mapped[list[str]] = mapped_column(JSON, default=list)  # the reviewed groups, as asked
    repeat_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by_name: Mapped[str] = mapped_column(String(150), default="")
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id", ondelete="SET NULL"))
    reminders_sent: Mapped[list[int]] = mapped_column(JSON, default=list)  # days before `due`, each sent once
    next_opened: Mapped[bool] = mapped_column(Boolean, default=False)  # its repeat was opened

    offering: Mapped[Offering] = relationship()
    plan: Mapped[Plan | None] = relationship()
    reviewers: Mapped[list[AccessReviewer]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="AccessReviewer.username"
    )


class AccessReviewer(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("access_review.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(NAME_LENGTH))

    review: Mapped[AccessReview] = relationship(back_populates="reviewers")

    __table_args__ = (
        UniqueConstraint("review_id", "username", name="uq_access_reviewer"),
        Index("ix_access_reviewer_username", "username"),
    )


class AccessReviewItem(Model):
    """One member of one reviewed group as Keycloak had them when the review opened, and its decision."""

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("access_review.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(100))  # "{group uuid}:{Keycloak user id}"
    group_id: Mapped[int | None] = mapped_column(ForeignKey("offering_keycloak_group.id", ondelete="SET NULL"))
    group_uuid: Mapped[str] = mapped_column(String(32), default="")
    group_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    remote_user_id: Mapped[str] = mapped_column(String(64), default="")
    username: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    email: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    first_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    last_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    decision: Mapped[ReviewDecision | None] = mapped_column(StoredEnum(ReviewDecision, 10), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(150), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A removal's outcome when the review plan was applied ("applied" or "failed"), kept with the review: the
    # plan's own items go after OKG_PLAN_RETENTION_DAYS, the evidence stays.
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    outcome_message: Mapped[str] = mapped_column(Text, default="")

    review: Mapped[AccessReview] = relationship()

    __table_args__ = (
        UniqueConstraint("review_id", "key", name="uq_access_review_item_key"),
        Index("ix_access_review_item_position", "review_id", "position"),
        Index("ix_access_review_item_decision", "review_id", "decision", "position"),
    )
