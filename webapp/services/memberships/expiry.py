"""Memberships that end (docs/PRODUCT.md §11): a group's policy (a default and a maximum duration), the expiry
a grant or a renewal asks for, checked against it, and the renewal itself. Removing the expired members on time
is plans/expiry.py's (above the removal brake it makes an expiry plan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ...extensions import db
from ...models import MembershipState, OfferingKeycloakGroup, OfferingKeycloakMembership, User, utcnow
from .. import audit
from ..access import require_manager
from ..errors import Refused, ValidationFailed
from ..locks import lock_group, lock_membership
from . import lifecycle

MAX_POLICY_DAYS = 3650  # ten years: a longer default or maximum is a typo
NOT_IN_THE_PAST = "Choose a time in the future."


@dataclass(frozen=True)
class Policy:
    default_days: int | None = None
    max_days: int | None = None


def aware(value: datetime) -> datetime:
    """A time without a zone is taken as UTC (what the API documents); one with a zone is converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def set_policy(actor: User, group: OfferingKeycloakGroup, policy: Policy) -> OfferingKeycloakGroup:
    """The group's default and maximum duration of a grant, in days (None: none). Errors name the fields."""
    require_manager(actor, group.offering)
    for name, value in (("default_days", policy.default_days), ("max_days", policy.max_days)):
        if value is not None and not 1 <= value <= MAX_POLICY_DAYS:
            raise ValidationFailed.field(name, f"Enter a number of days from 1 to {MAX_POLICY_DAYS}, or null.")
    if policy.default_days and policy.max_days and policy.default_days > policy.max_days:
        raise ValidationFailed.field("default_days", f"At most the maximum, {policy.max_days} days.")
    before = {"default_days": group.default_days, "max_days": group.max_days}
    group.default_days, group.max_days = policy.default_days, policy.max_days
    after = {"default_days": group.default_days, "max_days": group.max_days}
    audit.record(actor, group.offering, "group.membership_policy_set", group, {"from": before, "to": after})
    db.session.commit()
    return group


def checked_expiry(group: OfferingKeycloakGroup, asked: datetime | None) -> datetime | None:
    """The expiry of a grant or renewal in `group`: the asked time (not in the past, at most the group's
    maximum from now), or the group's default when none is asked. A 400 on "expires_at" in words otherwise."""
    field = "expires_at"
    now = utcnow()
    if asked is None:
        if group.default_days:
            return now + timedelta(days=group.default_days)
        if group.max_days:  # a maximum and no default: the maximum
            return now + timedelta(days=group.max_days)
        return None
    asked = aware(asked)
    if asked <= now:
        raise ValidationFailed.field(field, NOT_IN_THE_PAST)
    if group.max_days and asked > now + timedelta(days=group.max_days, minutes=1):
        latest = (now + timedelta(days=group.max_days)).strftime("%Y-%m-%d %H:%M UTC")
        raise ValidationFailed.field(field, f"At most {group.max_days} days from now in {group.name} (until {latest}).")
    return asked


def renew(actor: User, membership: OfferingKeycloakMembership, asked: datetime | None) -> OfferingKeycloakMembership:
    """A new end for a membership that has not ended (the group's default when none is asked)."""
    if not lock_group(membership.group_id) or not lock_membership(membership.id):
        raise Refused("The membership was deleted meanwhile.")
    db.session.refresh(membership)
    if membership.state == MembershipState.EXPIRED:
        ended = membership.expires_at.strftime("%Y-%m-%d %H:%M UTC") if membership.expires_at else "earlier"
        raise Refused(f"This membership ended on {ended}; grant access again instead.")
    group = membership.group
    lifecycle.renew(actor, group.offering, membership, checked_expiry(group, asked))
    db.session.commit()
    return membership


@dataclass(frozen=True)
class ExpiryCounts:
    ending_soon: int = 0  # access that has not ended and ends within the window
    overdue: int = 0  # its time is up, not expired yet (Keycloak failed, or the next round has not run)


def expiry_counts(offering_ids: list[int], within: timedelta) -> dict[int, ExpiryCounts]:
    """Per offering, in two grouped queries (/overview)."""
    if not offering_ids:
        return {}
    model = OfferingKeycloakMembership
    now = utcnow()
    base = (
        select(OfferingKeycloakGroup.offering_id, func.count())
        .select_from(model)
        .join(OfferingKeycloakGroup, model.group_id == OfferingKeycloakGroup.id)
        .where(OfferingKeycloakGroup.offering_id.in_(offering_ids), model.state.in_(list(lifecycle.CURRENT)))
        .group_by(OfferingKeycloakGroup.offering_id)
    )
    soon = dict(db.session.execute(base.where(model.expires_at > now, model.expires_at <= now + within)).all())
    overdue = dict(db.session.execute(base.where(model.expires_at <= now)).all())
    return {
        offering_id: ExpiryCounts(int(soon.get(offering_id, 0)), int(overdue.get(offering_id, 0)))
        for offering_id in offering_ids
    }
