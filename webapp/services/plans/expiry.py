"""The expiry plan (docs/PRODUCT.md §11): more expired members in one group and round than the removal brake
allows are marked expired by the expiry run (expiry_run.py) and left in Keycloak for this plan, which removes
them when a manager applies it.

The expiry plan is a members plan (members.py) of the group that keeps only its expired members still in the
Keycloak group, each preselected to be removed: its stale check, apply, brake and settling are the members
kind's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...models import MembershipState, OfferingKeycloakGroup, Plan, PlanState, User
from ..commands import PreviewExpiry, PreviewMembers
from ..errors import ValidationFailed
from .kinds import Built, Chosen, Item, KindWords, Progress, Report, Settled, Work
from .members import REMOVE_REMOTE, MembersKind, groups_of

PENDING = MembershipState.PENDING


class ExpiryKind:
    """A members plan of the groups, limited to their expired members still in Keycloak: everything but what it
    holds is the members kind's (stale check, apply, brake, settling)."""

    name = "expiry"
    preview = PreviewExpiry
    for_group_managers = True  # a group manager applies the expiry of their group
    attributed = True  # its items carry keycloak_change (docs/PRODUCT.md §10)
    removes = MembersKind.removes
    words = KindWords(
        heading="remove the expired members of {n} group{s} from Keycloak",
        what="groups",
        subject="User",
        actions=MembersKind.words.actions,
    )

    def __init__(self) -> None:
        self.members = MembersKind()

    def ttl(self) -> timedelta:
        return self.members.ttl()

    def build(self, preview: PreviewExpiry, fingerprint: dict[str, Any], progress: Progress | None) -> Built:
        built = self.members.build(PreviewMembers(preview.offering, preview.groups), fingerprint, progress)
        return Built(built.params, _expired_only(built.items))

    def prepare(self, actor: User, plan: Plan, chosen: list[Chosen], report: Report) -> Work:
        return self.members.prepare(actor, plan, chosen, report)

    def settle(self, plan: Plan, items: list[Item]) -> Settled:
        return self.members.settle(plan, items)

    def again(self, plan: Plan) -> PreviewExpiry:
        groups = sorted(groups_of(plan).values(), key=lambda group: (group.name, group.uuid))
        if not groups:
            raise ValidationFailed(["The groups of this preview no longer exist."])
        return PreviewExpiry(plan.offering, groups)


def _expired_only(items: Any) -> Iterator[Item]:
    """The members plan's items that are expired rows still in Keycloak (their default: remove)."""
    return (item for item in items if item.membership_id and item.default_action == REMOVE_REMOTE)


def waiting_plans(offering_ids: list[int], group: OfferingKeycloakGroup | None = None) -> list[Plan]:
    """The open expiry plans of these offerings (of one group's, when given), oldest first: what waits for a
    manager's apply (/overview and the group page)."""
    if not offering_ids:
        return []
    found = db.session.scalars(
        select(Plan)
        .where(Plan.offering_id.in_(offering_ids), Plan.kind == ExpiryKind.name, Plan.state == PlanState.OPEN)
        .order_by(Plan.created, Plan.id)
    )
    return [plan for plan in found if group is None or group.uuid in (plan.params.get("group_uuids") or [])]
