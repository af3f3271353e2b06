"""Members plans: per linked group, each difference between Keycloak and the local register becomes an item
offering the local fix and, where one exists, the Keycloak fix (the issue's action table).

Computing reads every member page once and yields items as it goes, so a 50,000-member plan never holds
more than the group's members and its local rows. Applying writes the local actions in batches of plain
statements and makes one Keycloak call per Keycloak action; every item succeeds or fails alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..keycloak import KeycloakError, KeycloakGateway, NotFound, RemoteUser
from ..models import MembershipState, OfferingKeycloakGroup, OfferingKeycloakMembership, new_uuid, utcnow
from .connection import call_keycloak
from .errors import REMOTE_GROUP_NOT_FOUND, ServiceError, ValidationFailed
from .subtree import keycloak_id

ADD_LOCAL, UPDATE_LOCAL, ACTIVATE_LOCAL, FLAG_REMOVED = "add_local", "update_local", "activate_local", "flag_removed"
ADD_REMOTE, REMOVE_REMOTE, RESTORE_REMOTE = "add_remote", "remove_remote", "restore_remote"
KEYCLOAK_ACTIONS = frozenset({ADD_REMOTE, REMOVE_REMOTE, RESTORE_REMOTE})
DESTRUCTIVE = frozenset({REMOVE_REMOTE})
BATCH_SIZE = 1000
PENDING, ACTIVE, REMOVED = (state.value for state in MembershipState)
COMPARED = ("email", "first_name", "last_name")

Item = dict[str, Any]


@dataclass
class GroupMembers:
    """One group's members as Keycloak and the local register see them right now."""

    remote: dict[str, RemoteUser]  # by lower-case username
    local: list[Row[Any]]

    def fingerprint(self) -> dict[str, Any]:
        remote = sorted(f"{u.id}\t{k}\t{u.email}\t{u.first_name}\t{u.last_name}" for k, u in self.remote.items())
        local = sorted("\t".join(str(value) for value in row) for row in self.local)
        return {"remote": _digest(remote), "members": len(remote), "local": _digest(local), "rows": len(local)}


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


def read_members(gateway: KeycloakGateway, group: OfferingKeycloakGroup) -> GroupMembers:
    model = OfferingKeycloakMembership

    def load() -> dict[str, RemoteUser]:
        found: dict[str, RemoteUser] = {}
        for page in gateway.iter_group_members(group.backend_id, label=group.name):
            for user in page:
                found.setdefault(user.username.lower(), user)
        return found

    try:
        remote = call_keycloak(f"Reading the members of {group.name} in Keycloak failed", load)
    except NotFound as exc:
        raise ValidationFailed.field("group_uuids", f"{group.name}: {REMOTE_GROUP_NOT_FOUND}") from exc
    local = db.session.execute(
        select(model.username, model.state, model.email, model.first_name, model.last_name)
        .add_columns(model.keycloak_user_id, model.id)
        .where(model.group_id == group.id)
        .order_by(model.username)
    ).all()
    return GroupMembers(remote, list(local))


def member_items(
    gateway: KeycloakGateway, groups: list[OfferingKeycloakGroup], fingerprint: dict[str, Any]
) -> Iterator[Item]:
    """The items of a members plan, group by group; `fingerprint` is filled in per group as it is read."""
    for group in groups:
        members = read_members(gateway, group)
        fingerprint[group.uuid] = members.fingerprint() | {"name": group.name, "group_id": group.id}
        yield from _group_items(gateway, group, members)


def _base(group: OfferingKeycloakGroup, username: str) -> Item:
    return {
        "key": f"{group.uuid}:{username}",
        "group_id": group.id,
        "group_uuid": group.uuid,
        "group_name": group.name,
        "username": username,
        "remote_group_id": group.backend_id,
        "where": "local",
        "unchanged": False,
        "destructive": False,
        "changes": {},
        "note": "",
    }


def _choice(actions: list[str], default: str | None) -> Item:
    return {
        "actions": actions,
        "default_action": default,
        "destructive": any(action in DESTRUCTIVE for action in actions),
        "where": "keycloak" if default in KEYCLOAK_ACTIONS or (default is None and actions) else "local",
    }


def _group_items(gateway: KeycloakGateway, group: OfferingKeycloakGroup, members: GroupMembers) -> Iterator[Item]:
    local_by_name = {row.username: row for row in members.local}
    for username in sorted(members.remote):
        user = members.remote[username]
        item = _base(group, username) | {
            "email": user.email.lower(),
            "first_name": user.first_name,
            "last_name": user.last_name,
            "remote_user_id": user.id,
        }
        row = local_by_name.get(username)
        if row is None:
            item |= _choice([ADD_LOCAL, REMOVE_REMOTE], ADD_LOCAL)
            item["note"] = "In the Keycloak group, not in the local register."
            yield item
            continue
        item["membership_id"] = row.id
        changes = {
            name: [getattr(row, name), item[name]] for name in COMPARED if (getattr(row, name) or "") != item[name]
        }
        if row.state in (PENDING, REMOVED):
            changes = {"state": [row.state, ACTIVE], **changes}
            item |= _choice([ACTIVATE_LOCAL], ACTIVATE_LOCAL)
            item["note"] = "Now a member of the Keycloak group."
        elif changes or row.keycloak_user_id != user.id:
            item |= _choice([UPDATE_LOCAL], UPDATE_LOCAL)
            item["note"] = "Keycloak has other details for this member." if changes else "The Keycloak user id changed."
        else:
            item |= {"actions": [], "default_action": None, "unchanged": True}
        item["changes"] = changes
        yield item
    for row in members.local:
        if row.username in members.remote:
            continue
        item = _base(group, row.username) | {
            "email": row.email,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "remote_user_id": row.keycloak_user_id,
            "membership_id": row.id,
        }
        if row.state == ACTIVE:
            item |= _choice([FLAG_REMOVED, RESTORE_REMOTE], FLAG_REMOVED)
            item["changes"] = {"state": [ACTIVE, REMOVED]}
            item["note"] = "Active here, but no longer in the Keycloak group."
        elif row.state == REMOVED:
            item |= _choice([RESTORE_REMOTE], None)
            item["note"] = "Already flagged as removed in Keycloak; restore adds them to the group again."
        else:
            yield _pending_item(gateway, item)
            continue
        yield item


def _pending_item(gateway: KeycloakGateway, item: Item) -> Item:
    username = item["username"]
    user = call_keycloak("Looking up the Keycloak user failed", lambda: gateway.find_user_by_username(username))
    if user is None:
        return item | {"actions": [], "note": "Pending: no Keycloak user has this username yet."}
    return (
        item
        | _choice([ADD_REMOTE], ADD_REMOTE)
        | {
            "remote_user_id": user.id,
            "email": item["email"] or user.email.lower(),
            "first_name": user.first_name,
            "last_name": user.last_name,
            "changes": {"state": [PENDING, ACTIVE]},
            "note": "Pending, and the Keycloak user now exists: add them to the Keycloak group.",
        }
    )


def stale_reasons(gateway: KeycloakGateway, groups: list[OfferingKeycloakGroup], recorded: dict[str, Any]) -> list[str]:
    """Why the plan no longer describes Keycloak and the register, one reason per changed group."""
    reasons = []
    for group in groups:
        before = recorded.get(group.uuid)
        now = read_members(gateway, group).fingerprint()
        if before is None:
            reasons.append(f"{group.name}: not part of this preview")
        elif now["remote"] != before["remote"]:
            if now["members"] != before["members"]:
                reasons.append(f"{group.name}: {now['members']} members in Keycloak, {before['members']} at preview")
            else:
                reasons.append(f"{group.name}: members or their details changed in Keycloak")
        elif now["local"] != before["local"]:
            reasons.append(f"{group.name}: the local register changed")
    return reasons


# -- apply --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    item_id: int
    action: str
    ok: bool
    message: str = ""


def apply_member_items(
    gateway: KeycloakGateway, groups: dict[int, OfferingKeycloakGroup], chosen: list[tuple[Any, str]]
) -> list[Outcome]:
    """Carry out each (item row, action): Keycloak actions first, one call each, then the local writes."""
    outcomes: dict[int, Outcome] = {}
    local: list[tuple[Any, str]] = []
    for item, action in chosen:
        group = groups.get(item.group_id)
        if group is None or not group.backend_id:
            outcomes[item.id] = Outcome(item.id, action, False, "The local group is gone or no longer linked.")
        elif action in KEYCLOAK_ACTIONS:
            outcomes[item.id] = outcome = _keycloak_action(gateway, group, item, action)
            if outcome.ok and item.membership_id:
                local.append((item, ACTIVATE_LOCAL))  # the local row follows what Keycloak now says
        else:
            local.append((item, action))
    for outcome in _local_actions(local):
        earlier = outcomes.get(outcome.item_id)
        if earlier is None:
            outcomes[outcome.item_id] = outcome
        elif not outcome.ok:
            message = f"Done in Keycloak, but the local row was not updated: {outcome.message}"
            outcomes[outcome.item_id] = Outcome(outcome.item_id, earlier.action, False, message)
    return list(outcomes.values())


def _keycloak_action(gateway: KeycloakGateway, group: OfferingKeycloakGroup, item: Any, action: str) -> Outcome:
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
        synced = {
            "email": item.email,
            "first_name": item.first_name,
            "last_name": item.last_name,
            "keycloak_user_id": item.remote_user_id,
        }
        common = {"modified": now, "last_checked": now, "error_message": ""}
        if action == ADD_LOCAL:
            inserts.append(
                {"uuid": new_uuid(), "group_id": item.group_id, "username": item.username, "state": ACTIVE}
                | {"created": now, "error_traceback": ""}
                | synced
                | common
            )
        elif action in (UPDATE_LOCAL, ACTIVATE_LOCAL):
            updates.append({"id": item.membership_id, "state": ACTIVE} | synced | common)
        elif action == FLAG_REMOVED:
            updates.append({"id": item.membership_id, "state": REMOVED} | common)
    table = cast(Table, model.__table__)
    if inserts:
        db.session.execute(insert(table), inserts)
    if updates:
        db.session.execute(update(model), updates)
