"""The review plan (docs/PRODUCT.md §12): closing an access review makes one plan of its "remove" decisions, each
preselected to be removed from the Keycloak group, applied through the usual plan page and API.

It is a members plan (members.py) of the reviewed groups that keeps only the members decided "remove" who are
still in the Keycloak group: its stale check, apply, brake and settling are the members kind's. After a removal
the member's local row is revoked (deleted, audited), as a manager's *Remove* does: the review decided they go."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ...extensions import db
from ...models import AccessReview, AccessReviewItem, OfferingKeycloakMembership, Plan, PlanItem, ReviewDecision, User
from ..commands import PreviewMembers, PreviewReview
from ..errors import ValidationFailed
from ..memberships import lifecycle
from ..reviews import core as reviews
from .kinds import Built, Chosen, Item, KindWords, Outcome, Progress, Report, Settled, Work
from .members import GONE_FROM_KEYCLOAK, REMOVE_REMOTE, MembersKind, groups_of


class ReviewKind:
    name = "review"
    preview = PreviewReview
    for_group_managers = False  # closing a review is the offering managers'; so is applying what it decided
    attributed = True  # its items carry keycloak_change (docs/PRODUCT.md §10)
    removes = MembersKind.removes
    words = KindWords(
        heading="remove from Keycloak the members an access review decided to remove, in {n} group{s}",
        what="groups",
        subject="User",
        actions=MembersKind.words.actions,
    )

    def __init__(self) -> None:
        self.members = MembersKind()

    def ttl(self) -> timedelta:
        return self.members.ttl()

    def build(self, preview: PreviewReview, fingerprint: dict[str, Any], progress: Progress | None) -> Built:
        built = self.members.build(PreviewMembers(preview.offering, preview.groups), fingerprint, progress)
        decided = _removals(preview.review)
        return Built(built.params | {"review_uuid": preview.review.uuid}, _decided_removals(built.items, decided))

    def prepare(self, actor: User, plan: Plan, chosen: list[Chosen], report: Report) -> Work:
        work = self.members.prepare(actor, plan, chosen, report)
        follow = work.follow

        def revoked(made: list[Outcome]) -> list[Outcome]:
            outcomes = follow(made) if follow else made
            _revoke_removed(actor, plan, outcomes)
            return outcomes

        return Work(work.written, work.calls, follow=revoked)

    def settle(self, plan: Plan, items: list[Item]) -> Settled:
        settled = self.members.settle(plan, items)
        follow = settled.follow

        def revoked(made: list[Outcome]) -> list[Outcome]:
            outcomes = follow(made) if follow else made
            _revoke_removed(None, plan, outcomes)
            return outcomes

        return Settled(settled.outcomes, settled.unknown, follow=revoked)

    def again(self, plan: Plan) -> PreviewReview:
        review = db.session.scalar(select(AccessReview).where(AccessReview.uuid == plan.params.get("review_uuid")))
        groups = sorted(groups_of(plan).values(), key=lambda group: (group.name, group.uuid))
        if review is None or not groups:
            raise ValidationFailed(["The review or the groups of this preview no longer exist."])
        return PreviewReview(plan.offering, review, groups)


def _removals(review: AccessReview) -> dict[tuple[int, str], str]:
    """(group id, username) of each "remove" decision, with the words of its note."""
    rows = db.session.execute(
        select(
            AccessReviewItem.group_id,
            AccessReviewItem.username,
            AccessReviewItem.decided_by,
            AccessReviewItem.note,
        ).where(AccessReviewItem.review_id == review.id, AccessReviewItem.decision == ReviewDecision.REMOVE)
    )
    decided = {}
    for group_id, username, decided_by, note in rows:
        if group_id is not None:
            words = f"Decided in the access review by {decided_by}: remove."
            decided[(group_id, username)] = f"{words} {note}".strip() if note else words
    return decided


def _decided_removals(items: Any, decided: dict[tuple[int, str], str]) -> Iterator[Item]:
    """The members plan's items of members decided "remove" who are in the Keycloak group now."""
    for item in items:
        note = decided.get((item.group_id or -1, item.username))
        if note is None or not item.remote_user_id or item.default_action in GONE_FROM_KEYCLOAK:
            continue
        yield replace(
            item,
            actions=(REMOVE_REMOTE,),
            default_action=REMOVE_REMOTE,
            destructive=True,
            where="keycloak",
            unchanged=False,
            changes={},
            note=note,
        )


def _revoke_removed(actor: User | None, plan: Plan, outcomes: list[Outcome]) -> None:
    """Each removal's outcome is kept with the review (its evidence), and the local rows of the members removed
    from Keycloak are revoked; in the caller's open transaction."""
    ours = {outcome.item_id: outcome for outcome in outcomes if outcome.action == REMOVE_REMOTE}
    if not ours:
        return
    rows = db.session.execute(
        select(PlanItem.id, PlanItem.group_uuid, PlanItem.remote_user_id, PlanItem.membership_id).where(
            PlanItem.id.in_(list(ours))
        )
    ).all()
    reviews.record_outcomes(
        str(plan.params.get("review_uuid")),
        [
            (f"{group_uuid}:{user_id}", ours[item_id].ok, ours[item_id].message)
            for item_id, group_uuid, user_id, _ in rows
        ],
    )
    revoked = [membership_id for item_id, _, _, membership_id in rows if membership_id and ours[item_id].ok]
    for membership in db.session.scalars(
        select(OfferingKeycloakMembership).where(OfferingKeycloakMembership.id.in_(revoked))
    ):
        lifecycle.revoke(actor, plan.offering, membership)
