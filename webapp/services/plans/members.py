"""Members plans: per linked group, each difference between Keycloak and the local register becomes an item
offering the local fix and, where one exists, the Keycloak fix (docs/PLAN-APPLY.md §3).

Computing reads every member page once and yields items as it goes, so a 50,000-member plan never holds
more than the group's members and its local rows. Applying writes the local actions in batches of plain
statements and makes one Keycloak call per Keycloak action; every item succeeds or fails alone.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Row, Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ...extensions import db
from ...keycloak import AuthFailed, KeycloakError, KeycloakGateway, NotFound, RemoteUser, Unavailable
from ...models import MembershipState, OfferingKeycloakGroup, OfferingKeycloakMembership, Plan, User, utcnow
from ..attribution.events import Question
from ..commands import PreviewMembers
from ..connection.gateway import call_keycloak, gateway_for_offering
from ..connection.prefetch import prefetched
from ..connection.subtree import keycloak_id
from ..errors import REMOTE_GROUP_NOT_FOUND, RemoteFailure, ServiceError, ValidationFailed
from ..memberships import lifecycle
from . import kinds as plan_kinds
from .journal import NOT_MADE, SETTLED, UNKNOWN
from .kinds import (
    ActionWords,
    Built,
    Chosen,
    KindWords,
    Outcome,
    Progress,
    Report,
    Settled,
    Stale,
    Work,
    configured_ttl,
    lock_offering,
)

ADD_LOCAL, UPDATE_LOCAL, ACTIVATE_LOCAL, FLAG_REMOVED = "add_local", "update_local", "activate_local", "flag_removed"
ADD_REMOTE, REMOVE_REMOTE, RESTORE_REMOTE = "add_remote", "remove_remote", "restore_remote"
KEYCLOAK_ACTIONS = frozenset({ADD_REMOTE, REMOVE_REMOTE, RESTORE_REMOTE})
DESTRUCTIVE = frozenset({REMOVE_REMOTE})
BATCH_SIZE = 1000
PENDING, ACTIVE, REMOVED, EXPIRED = (state.value for state in MembershipState)
COMPARED = ("email", "first_name", "last_name")

# Items whose difference is someone's presence in (or absence from) the Keycloak group: what an admin event of
# that membership explains (docs/PRODUCT.md §10). Differing details (an email) are no membership event.
IN_KEYCLOAK_NOW = frozenset({ADD_LOCAL, REMOVE_REMOTE, ACTIVATE_LOCAL})
GONE_FROM_KEYCLOAK = frozenset({FLAG_REMOVED, RESTORE_REMOTE})

Item = dict[str, Any]
NOT_REGISTERED = "In the Keycloak group, not in the local register."


def keycloak_question(item: Any) -> Question | None:
    """What Keycloak's admin events may explain about this item: its member came into the group, or left it."""
    actions = set(item.actions or ())
    if not item.remote_group_id or not item.remote_user_id or item.unchanged:
        return None
    if actions & IN_KEYCLOAK_NOW:
        return Question(item.remote_group_id, item.remote_user_id, present=True)
    if actions & GONE_FROM_KEYCLOAK:
        return Question(item.remote_group_id, item.remote_user_id, present=False)
    return None


def remote_fingerprint(remote: dict[str, RemoteUser]) -> dict[str, Any]:
    lines = sorted(f"{u.id}\t{k}\t{u.email}\t{u.first_name}\t{u.last_name}" for k, u in remote.items())
    return {"remote": _digest(lines), "members": len(lines)}


def local_fingerprint(rows: list[Row[Any]]) -> dict[str, Any]:
    lines = sorted("\t".join(str(value) for value in row) for row in rows)
    return {"local": _digest(lines), "rows": len(lines)}


def _digest(lines: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def linked_groups(groups: list[OfferingKeycloakGroup]) -> list[OfferingKeycloakGroup]:
    unlinked = [group.name for group in groups if not group.backend_id]
    if unlinked:
        raise ValidationFailed.field(
            "group_uuids", f"Not linked to a Keycloak group, so there is nothing to compare: {', '.join(unlinked)}."
        )
    for group in groups:
        keycloak_id("backend_id", group.backend_id)
    return groups


def local_rows(group: OfferingKeycloakGroup) -> list[Row[Any]]:
    model = OfferingKeycloakMembership
    query = (
        select(model.username, model.state, model.email, model.first_name, model.last_name)
        .add_columns(model.keycloak_user_id, model.id)
        .where(model.group_id == group.id)
        .order_by(model.username)
    )
    return list(db.session.execute(query).all())


def remote_pages(gateway: KeycloakGateway, group: OfferingKeycloakGroup) -> Iterator[list[RemoteUser]]:
    """The group's member pages, fetched ahead in a thread; failures in words."""
    try:
        yield from prefetched(gateway.iter_group_members(group.backend_id, label=group.name))
    except NotFound as exc:
        raise ValidationFailed.field("group_uuids", f"{group.name}: {REMOTE_GROUP_NOT_FOUND}") from exc
    except KeycloakError as exc:
        raise RemoteFailure(f"Reading the members of {group.name} in Keycloak failed", exc.message) from exc


def read_remote(
    gateway: KeycloakGateway, group: OfferingKeycloakGroup, on_page: Callable[[], None] | None = None
) -> dict[str, RemoteUser]:
    found: dict[str, RemoteUser] = {}
    for page in remote_pages(gateway, group):
        for user in page:
            found.setdefault(user.username.lower(), user)
        if on_page is not None:
            on_page()  # a job's heartbeat while a big group is read
    return found


def member_items(
    gateway: KeycloakGateway,
    groups: list[OfferingKeycloakGroup],
    fingerprint: dict[str, Any],
    progress: Progress | None = None,
) -> Iterator[plan_kinds.Item]:
    """The items of a members plan, group by group, yielded while the next member pages are fetched;
    `fingerprint` gets each group's entry once its pages are read."""
    counted = [0, 0]  # pages and members read so far, over all groups
    for group in groups:
        local = local_rows(group)
        remote: dict[str, RemoteUser] = {}
        pages = remote_pages(gateway, group)
        if progress is not None:
            pages = _reported(pages, progress, counted)
        differences = 0
        for item in _group_items(gateway, group, local, pages, remote):
            differences += not item.unchanged
            yield item
        entry = remote_fingerprint(remote) | local_fingerprint(local) | {"name": group.name, "group_id": group.id}
        fingerprint[group.uuid] = entry
        # The member state apart from the link state (the Groups page and /overview), as of this comparison;
        # stored with the plan.
        group.member_differences, group.differences_checked_at = differences, utcnow()


def _reported(pages: Iterator[list[RemoteUser]], progress: Progress, counted: list[int]) -> Iterator[list[RemoteUser]]:
    for page in pages:
        counted[0], counted[1] = counted[0] + 1, counted[1] + len(page)
        progress(counted[0], counted[1])
        yield page


def _base(group: OfferingKeycloakGroup, username: str, **about: Any) -> plan_kinds.Item:
    return plan_kinds.Item(
        key=f"{group.uuid}:{username}",
        group_id=group.id,
        group_uuid=group.uuid,
        group_name=group.name,
        username=username,
        remote_group_id=group.backend_id,
        **about,
    )


def _choice(actions: list[str], default: str | None) -> Item:
    return {
        "actions": tuple(actions),
        "default_action": default,
        "destructive": any(action in DESTRUCTIVE for action in actions),
        "where": "keycloak" if default in KEYCLOAK_ACTIONS or (default is None and actions) else "local",
    }


def _group_items(
    gateway: KeycloakGateway,
    group: OfferingKeycloakGroup,
    local: list[Row[Any]],
    pages: Iterator[list[RemoteUser]],
    remote: dict[str, RemoteUser],
) -> Iterator[plan_kinds.Item]:
    """Items in Keycloak's order as pages arrive (`remote` collects every member), then the local rows
    Keycloak does not have."""
    local_by_name = {row.username: row for row in local}
    for page in pages:
        for user in page:
            username = user.username.lower()
            if username in remote:
                continue
            remote[username] = user
            yield _remote_item(group, user, username, local_by_name.get(username))
    for row in local:
        if row.username not in remote:
            yield _local_only_item(gateway, group, row)


def _remote_item(
    group: OfferingKeycloakGroup, user: RemoteUser, username: str, row: Row[Any] | None
) -> plan_kinds.Item:
    """Built as one dict and made an Item once: a 5,000-member preview builds 5,000 of these."""
    about: dict[str, Any] = {
        "email": user.email.lower(),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "remote_user_id": user.id,
    }
    if row is None:
        return _base(group, username, **about, **_choice([ADD_LOCAL, REMOVE_REMOTE], ADD_LOCAL), note=NOT_REGISTERED)
    changes = {
        name: [getattr(row, name), about[name]] for name in COMPARED if (getattr(row, name) or "") != about[name]
    }
    if row.state == EXPIRED:  # the decision is taken: removing it is the default (docs/PRODUCT.md §11)
        about |= _choice([REMOVE_REMOTE], REMOVE_REMOTE) | {"note": "Expired here, yet in the Keycloak group."}
        changes = {}  # its details no longer matter: it is to leave
    elif row.state in (PENDING, REMOVED):
        changes = {"state": [row.state, ACTIVE], **changes}
        about |= _choice([ACTIVATE_LOCAL], ACTIVATE_LOCAL) | {"note": "Now a member of the Keycloak group."}
    elif changes or row.keycloak_user_id != user.id:
        note = "Keycloak has other details for this member." if changes else "The Keycloak user id changed."
        about |= _choice([UPDATE_LOCAL], UPDATE_LOCAL) | {"note": note}
    else:
        about["unchanged"] = True
    return _base(group, username, **about, membership_id=row.id, changes=changes)


def _local_only_item(gateway: KeycloakGateway, group: OfferingKeycloakGroup, row: Row[Any]) -> plan_kinds.Item:
    item = _base(
        group,
        row.username,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        remote_user_id=row.keycloak_user_id,
        membership_id=row.id,
    )
    if row.state == ACTIVE:
        return replace(
            item,
            **_choice([FLAG_REMOVED, RESTORE_REMOTE], FLAG_REMOVED),
            changes={"state": [ACTIVE, REMOVED]},
            note="Active here, but no longer in the Keycloak group.",
        )
    if row.state == REMOVED:
        return replace(
            item,
            **_choice([RESTORE_REMOTE], None),
            note="Already flagged as removed in Keycloak; restore adds them to the group again.",
        )
    if row.state == EXPIRED:
        return replace(item, unchanged=True, note="Expired, and not in the Keycloak group.")
    return _pending_item(gateway, item)


def _pending_item(gateway: KeycloakGateway, item: plan_kinds.Item) -> plan_kinds.Item:
    username = item.username
    user = call_keycloak("Looking up the Keycloak user failed", lambda: gateway.find_user_by_username(username))
    if user is None:
        return replace(item, note="Pending: no Keycloak user has this username yet.")
    return replace(
        item,
        **_choice([ADD_REMOTE], ADD_REMOTE),
        remote_user_id=user.id,
        email=item.email or user.email.lower(),
        first_name=user.first_name,
        last_name=user.last_name,
        changes={"state": [PENDING, ACTIVE]},
        note="Pending, and the Keycloak user now exists: add them to the Keycloak group.",
    )


def stale_reasons(
    groups: list[OfferingKeycloakGroup],
    recorded: dict[str, Any],
    local: dict[str, Any] | None = None,
    remote: dict[str, Any] | None = None,
) -> list[str]:
    """Why the plan no longer describes Keycloak (`remote`) or the register (`local`), one reason per group."""
    reasons = []
    for group in groups:
        before = recorded.get(group.uuid)
        if before is None:
            reasons.append(f"{group.name}: not part of this preview")
        elif remote is not None and remote[group.uuid]["remote"] != before["remote"]:
            now = remote[group.uuid]
            if now["members"] != before["members"]:
                reasons.append(f"{group.name}: {now['members']} members in Keycloak, {before['members']} at preview")
            else:
                reasons.append(f"{group.name}: members or their details changed in Keycloak")
        elif local is not None and local[group.uuid]["local"] != before["local"]:
            reasons.append(f"{group.name}: the local register changed")
    return reasons


def groups_of(plan: Plan) -> dict[int, OfferingKeycloakGroup]:
    """The plan's groups that still exist, by id."""
    uuids = plan.params.get("group_uuids") or []
    found = db.session.scalars(
        select(OfferingKeycloakGroup).where(
            OfferingKeycloakGroup.offering_id == plan.offering_id, OfferingKeycloakGroup.uuid.in_(uuids)
        )
    )
    return {group.id: group for group in found}


class MembersKind:
    """Members plans: computed from each linked group's members in Keycloak and its local rows; stale when
    either changed; the local actions are written in batches, the Keycloak ones are one call each."""

    name = "members"
    preview = PreviewMembers
    for_group_managers = True
    attributed = True  # its items carry keycloak_change (docs/PRODUCT.md §10)
    removes = frozenset({REMOVE_REMOTE})
    words = KindWords(
        heading="pull members into {n} group{s}",
        what="groups",
        subject="User",
        actions={
            ADD_LOCAL: ActionWords("+", "Add here", "add {user} to {group} here", "+{n} to add", "Add"),
            UPDATE_LOCAL: ActionWords("~", "Update here", "update {user} in {group} here", "~{n} to update", "Update"),
            ACTIVATE_LOCAL: ActionWords(
                "~", "Activate here", "activate {user} in {group} here", "~{n} to activate", "Activate"
            ),
            FLAG_REMOVED: ActionWords(
                "\u2212",
                "Flag as removed",
                "flag {user} as removed from {group}",
                "\u2212{n} missing in Keycloak",
                "Missing in Keycloak",
            ),
            ADD_REMOTE: ActionWords(
                "+",
                "Add in Keycloak",
                "add {user} to {group} in Keycloak",
                "+{n} to add in Keycloak",
                "Add in Keycloak",
            ),
            REMOVE_REMOTE: ActionWords("\u2212", "Remove from Keycloak", "remove {user} from {group} in Keycloak"),
            RESTORE_REMOTE: ActionWords("+", "Restore in Keycloak", "add {user} back to {group} in Keycloak"),
        },
    )

    def ttl(self) -> timedelta:
        return configured_ttl()

    def build(self, preview: PreviewMembers, fingerprint: dict[str, Any], progress: Progress | None) -> Built:
        groups = linked_groups(preview.groups)
        items = member_items(gateway_for_offering(preview.offering), groups, fingerprint, progress)
        return Built({"group_uuids": [group.uuid for group in groups]}, items)

    def again(self, plan: Plan) -> PreviewMembers:
        groups = sorted(groups_of(plan).values(), key=lambda group: (group.name, group.uuid))
        if not groups:
            raise ValidationFailed(["The groups of this preview no longer exist."])
        return PreviewMembers(plan.offering, groups)

    def prepare(self, actor: User, plan: Plan, chosen: list[Chosen], report: Report) -> Work:
        """The steps below, in this order."""
        groups = groups_of(plan)
        missing = [entry["name"] for entry in plan.fingerprint.values() if entry.get("group_id") not in groups]
        if missing:
            raise Stale([f"{name}: the local group no longer exists" for name in missing])
        gateway = gateway_for_offering(plan.offering)
        listed = list(groups.values())
        db.session.commit()  # no transaction of ours stays open while Keycloak is read
        reasons = keycloak_reasons(gateway, listed, plan.fingerprint, on_page=report)
        if reasons:
            raise Stale(reasons)
        lock_offering(plan)  # one short transaction: the register checked again, the local writes, the start
        reasons = register_reasons(listed, plan.fingerprint)
        if reasons:
            raise Stale(reasons)
        work = split_member_items(groups, chosen)
        written = write_local(work)
        items = {item.id: item for item, _action, _group in work.remote}
        calls = [
            (item.id, partial(keycloak_action, gateway, group, item, action)) for item, action, group in work.remote
        ]
        return Work(written, calls, follow=lambda made: follow_up(made, items))

    def settle(self, plan: Plan, items: list[plan_kinds.Item]) -> Settled:
        groups = groups_of(plan)
        db.session.commit()
        outcomes: list[Outcome] = []
        unknown = 0
        gateway: KeycloakGateway | None = None
        with contextlib.suppress(ServiceError):  # settings broken meanwhile: every item is unknown
            gateway = gateway_for_offering(plan.offering)
        for item in items:
            action, group = str(item.chosen_action), groups.get(item.group_id or -1)
            try:
                if gateway is None or group is None:
                    raise Unavailable("not asked")
                made = was_made(gateway, group, item, action)
            except (KeycloakError, ServiceError) as exc:
                if isinstance(exc, Unavailable | AuthFailed):
                    gateway = None  # down: the others are not asked either, so finding this out costs one wait
                outcomes.append(Outcome(item.id, action, False, UNKNOWN))
                unknown += 1
                continue
            outcomes.append(Outcome(item.id, action, made, SETTLED if made else NOT_MADE))
        by_id = {item.id: item for item in items}
        return Settled(outcomes, unknown, lambda made: follow_up(made, by_id))


# -- apply --------------------------------------------------------------------------------------------------
#
# A members apply (MembersKind.prepare, then the journal of webapp/services/plans/core.py) runs these steps in this
# order, so that a stale plan writes nothing and no write transaction is ever open while Keycloak is called:
# Keycloak is read again with no
# transaction of ours open (keycloak_reasons); then, in one short transaction that holds the offering's lock,
# the register is compared again (register_reasons) and the local actions are written; then each Keycloak
# action is one call, recorded in batches with the local row that follows it (follow_up).


@dataclass(frozen=True)
class MemberWork:
    """A members apply's chosen items by where they write (`refused`: their group is gone or unlinked)."""

    refused: list[Outcome]
    local: list[tuple[Any, str]]
    remote: list[tuple[Any, str, OfferingKeycloakGroup]]


def split_member_items(groups: dict[int, OfferingKeycloakGroup], chosen: list[tuple[Any, str]]) -> MemberWork:
    work = MemberWork([], [], [])
    for item, action in chosen:
        group = groups.get(item.group_id)
        if group is None or not group.backend_id:
            work.refused.append(Outcome(item.id, action, False, "The local group is gone or no longer linked."))
        elif action in KEYCLOAK_ACTIONS:
            work.remote.append((item, action, group))
        else:
            work.local.append((item, action))
    return work


def keycloak_reasons(
    gateway: KeycloakGateway,
    groups: list[OfferingKeycloakGroup],
    recorded: dict[str, Any],
    on_page: Callable[[], None] | None = None,
) -> list[str]:
    """Why Keycloak no longer matches the preview; raises RemoteFailure / ValidationFailed when it cannot say."""
    remote_now = {group.uuid: remote_fingerprint(read_remote(gateway, group, on_page)) for group in groups}
    return stale_reasons(groups, recorded, remote=remote_now)


def register_reasons(groups: list[OfferingKeycloakGroup], recorded: dict[str, Any]) -> list[str]:
    """Why the local register no longer matches the preview (read inside the transaction that writes)."""
    local_now = {group.uuid: local_fingerprint(local_rows(group)) for group in groups}
    return stale_reasons(groups, recorded, local=local_now)


def write_local(work: MemberWork) -> list[Outcome]:
    """The local actions, in the caller's open transaction; one outcome per item, refused ones included."""
    return work.refused + _local_actions(work.local)


def keycloak_action(gateway: KeycloakGateway, group: OfferingKeycloakGroup, item: Any, action: str) -> Outcome:
    """One Keycloak call for one item; its failure is the item's outcome, never an exception."""
    try:
        user_id = item.remote_user_id
        if not user_id:
            found = gateway.find_user_by_username(item.username)
            if found is None:
                return Outcome(item.id, action, False, "No Keycloak user has this username.")
            user_id = found.id
        keycloak_id("remote_user_id", user_id)
        if action == REMOVE_REMOTE:
            gateway.remove_user_from_group(user_id, group.backend_id)
        else:
            gateway.add_user_to_group(user_id, group.backend_id)
    except (KeycloakError, ServiceError) as exc:
        return Outcome(item.id, action, False, exc.message)
    return Outcome(item.id, action, True)


def follow_up(outcomes: list[Outcome], items: dict[int, Any]) -> list[Outcome]:
    """The local rows follow what Keycloak now says (written in the caller's open transaction); a row that
    cannot be written makes its item's outcome say so."""
    follows = [  # a removal from Keycloak is of an expired row, which stays expired
        (items[o.item_id], ACTIVATE_LOCAL)
        for o in outcomes
        if o.ok and o.action != REMOVE_REMOTE and items[o.item_id].membership_id
    ]
    refused = {outcome.item_id: outcome.message for outcome in _local_actions(follows) if not outcome.ok}
    words = "Done in Keycloak, but the local row was not updated: "
    return [
        Outcome(o.item_id, o.action, False, words + refused[o.item_id]) if o.item_id in refused else o for o in outcomes
    ]


def was_made(gateway: KeycloakGateway, group: OfferingKeycloakGroup, item: Any, action: str) -> bool:
    """Whether Keycloak shows this item's action as done: asked for the items an apply was sending when it
    stopped, since the call may or may not have reached Keycloak. Raises KeycloakError when it cannot tell."""
    user_id = item.remote_user_id
    if not user_id:
        found = gateway.find_user_by_username(item.username)
        if found is None:
            return False
        user_id = found.id
    keycloak_id("remote_user_id", user_id)
    try:
        member = gateway.is_member(user_id, group.backend_id)
    except NotFound:
        member = False  # the account is gone: it is in no group
    return member != (action == REMOVE_REMOTE)


def _local_actions(chosen: list[tuple[Any, str]]) -> list[Outcome]:
    """Write the local actions in batches; a batch that fails is retried row by row, so one bad row fails alone."""
    outcomes: list[Outcome] = []
    for start in range(0, len(chosen), BATCH_SIZE):
        batch = chosen[start : start + BATCH_SIZE]
        try:
            with db.session.begin_nested():
                _write(batch)
            outcomes.extend(Outcome(item.id, action, True) for item, action in batch)
        except SQLAlchemyError:
            for item, action in batch:
                try:
                    with db.session.begin_nested():
                        _write([(item, action)])
                    outcomes.append(Outcome(item.id, action, True))
                except SQLAlchemyError as exc:
                    outcomes.append(Outcome(item.id, action, False, _database_error(exc)))
    return outcomes


def _database_error(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", exc)).lower()
    if "unique" in text or "duplicate" in text:
        return "A local membership for this user was created meanwhile."
    return "The local register refused this change."


def _write(batch: list[tuple[Any, str]]) -> None:
    now = utcnow()
    model = OfferingKeycloakMembership
    inserts: list[Item] = []
    updates: list[Item] = []
    for item, action in batch:
        details = lifecycle.FromKeycloak(item.email, item.first_name, item.last_name, item.remote_user_id)
        if action == ADD_LOCAL:
            inserts.append(lifecycle.recorded_row(item.group_id, item.username, details, now))
        elif action in (UPDATE_LOCAL, ACTIVATE_LOCAL):
            updates.append(lifecycle.confirmed_row(item.membership_id, details, now))
        elif action == FLAG_REMOVED:
            # offered for active rows only, and the register is as the preview saw it (register_reasons)
            updates.append(lifecycle.flagged_row(item.membership_id, ACTIVE, now))
    table = cast(Table, model.__table__)
    if inserts:
        db.session.execute(insert(table), inserts)
    if updates:
        db.session.execute(update(model), updates)
