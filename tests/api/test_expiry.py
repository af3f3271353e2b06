"""Memberships that end (docs/PRODUCT.md §11), on the fake Keycloak: expiry dates checked against the group's
policy, renewal, the expiry run (removal on time, an expiry plan above the removal brake, Keycloak down), and
nothing that revives an expired membership."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World
from webapp.extensions import db
from webapp.keycloak.fake_gateway import Fault
from webapp.models import AuditEvent, OfferingKeycloakGroup, OfferingKeycloakMembership, Plan, utcnow
from webapp.services.commands import ApplySelection, PreviewMembers
from webapp.services.memberships.pull import pull_members
from webapp.services.plans import core as plans
from webapp.services.plans import expiry_run
from webapp.services.plans.expiry_run import expire_due

MEMBERSHIPS = "/api/offering-keycloak-memberships/"
GROUPS = "/api/offering-keycloak-groups"


def linked_group(world: World, name: str = "project-a") -> OfferingKeycloakGroup:
    return world.add_group(name, backend_id=world.realm.add_path(f"/base/hpc/{name}"), scope_id=name)


def in_keycloak(world: World, group: OfferingKeycloakGroup) -> list[str]:
    return sorted(world.realm.users[user_id].username for user_id in world.realm.groups[group.backend_id].members)


def member(
    world: World, group: OfferingKeycloakGroup, username: str, ends_in: timedelta | None
) -> OfferingKeycloakMembership:
    """An active member, in the Keycloak group too, whose access ends `ends_in` from now (negative: past)."""
    user_id = world.realm.add_user(username, f"{username}@example.org")
    world.realm.add_member(group.backend_id, user_id)
    row = OfferingKeycloakMembership(
        group=group,
        username=username,
        state="active",
        keycloak_user_id=user_id,
        expires_at=utcnow() + ends_in if ends_in is not None else None,
    )
    db.session.add(row)
    db.session.commit()
    return row


def grant(client: FlaskClient, world: World, group: OfferingKeycloakGroup, username: str, **extra: object):  # type: ignore[no-untyped-def]
    body = {"offering": world.offering.uuid, "role": world.member_role.uuid, "scope_id": group.scope_id}
    return client.post(MEMBERSHIPS, json=body | {"username": username} | extra, headers=world.headers("manager"))


def test_a_grant_ends_when_asked_or_by_the_groups_policy(client: FlaskClient, world: World) -> None:
    group = linked_group(world)
    for name in ("ann", "ben", "cat", "dan"):
        world.realm.add_user(name, f"{name}@example.org")
    never = grant(client, world, group, "ann")
    assert never.status_code == 201 and never.get_json()["expires_at"] is None
    asked = grant(client, world, group, "ben", expires_at="2999-01-02T03:04:05+02:00")
    assert asked.status_code == 201 and asked.get_json()["expires_at"] == "2999-01-02T01:04:05Z"

    policy = client.post(
        f"{GROUPS}/{group.uuid}/set_membership_policy/",
        json={"default_days": 30, "max_days": 90},
        headers=world.headers("manager"),
    )
    assert policy.status_code == 200
    assert (policy.get_json()["default_days"], policy.get_json()["max_days"]) == (30, 90)
    defaulted = grant(client, world, group, "cat").get_json()
    ends = db.session.query(OfferingKeycloakMembership).filter_by(uuid=defaulted["uuid"]).one().expires_at
    assert ends is not None and timedelta(days=29, hours=23) < ends - utcnow() <= timedelta(days=30)
    too_long = grant(client, world, group, "dan", expires_at=(utcnow() + timedelta(days=91)).isoformat())
    assert too_long.status_code == 400
    assert too_long.get_json()["expires_at"][0].startswith("At most 90 days from now in project-a (until ")
    past = grant(client, world, group, "dan", expires_at="2020-01-01T00:00:00Z")
    assert past.status_code == 400 and past.get_json() == {"expires_at": ["Choose a time in the future."]}
    assert in_keycloak(world, group) == ["ann", "ben", "cat"]  # refused grants changed nothing in Keycloak


def test_the_policy_is_checked_in_words(client: FlaskClient, world: World) -> None:
    group = linked_group(world)
    url = f"{GROUPS}/{group.uuid}/set_membership_policy/"
    headers = world.headers("manager")
    wrong = client.post(url, json={"default_days": 100, "max_days": 30}, headers=headers)
    assert wrong.status_code == 400 and wrong.get_json() == {"default_days": ["At most the maximum, 30 days."]}
    zero = client.post(url, json={"default_days": 0}, headers=headers)
    assert zero.status_code == 400 and list(zero.get_json()) == ["default_days"]
    cleared = client.post(url, json={"default_days": None, "max_days": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.get_json()["default_days"] is None
    event = db.session.query(AuditEvent).filter_by(action="group.membership_policy_set").one()
    assert event.actor_name == "manager"


def test_renewal_moves_the_end_within_the_maximum(client: FlaskClient, world: World) -> None:
    group = linked_group(world)
    group.max_days = 60
    db.session.commit()
    row = member(world, group, "ann", timedelta(days=2))
    url = f"{MEMBERSHIPS}{row.uuid}/renew/"
    later = (utcnow() + timedelta(days=50)).isoformat()
    renewed = client.post(url, json={"expires_at": later}, headers=world.headers("manager"))
    assert renewed.status_code == 200 and renewed.get_json()["expires_at"].startswith(later[:16])
    too_far = client.post(
        url, json={"expires_at": (utcnow() + timedelta(days=61)).isoformat()}, headers=world.headers("manager")
    )
    assert too_far.status_code == 400 and "At most 60 days from now" in too_far.get_json()["expires_at"][0]
    audit = db.session.query(AuditEvent).filter_by(action="membership.renewed").one()
    assert audit.actor_name == "manager" and audit.details["to"] is not None


def test_due_members_leave_keycloak_on_time_and_are_marked_expired(client: FlaskClient, world: World) -> None:
    group = linked_group(world)
    gone = member(world, group, "ann", -timedelta(minutes=1))
    stays = member(world, group, "ben", timedelta(days=1))
    forever = member(world, group, "cat", None)
    run = expire_due()
    assert (run.expired, run.planned, run.overdue, run.errors) == (1, [], 0, [])
    assert in_keycloak(world, group) == ["ben", "cat"]
    db.session.expire_all()
    assert [gone.state, stays.state, forever.state] == ["expired", "active", "active"]
    event = db.session.query(AuditEvent).filter_by(action="membership.expired").one()
    assert event.actor_name == "system" and event.details["removed_from_keycloak"] is True
    assert expire_due().expired == 0  # once
    shown = client.get(f"{MEMBERSHIPS}{gone.uuid}/", headers=world.headers("manager")).get_json()
    assert shown["state"] == "expired"


def test_keycloak_down_leaves_them_overdue_and_the_next_round_removes_them(world: World) -> None:
    group = linked_group(world)
    due = member(world, group, "ann", -timedelta(minutes=1))
    world.realm.down = True
    run = expire_due()
    assert run.expired == 0 and run.overdue == 1 and run.keycloak_failed
    db.session.expire_all()
    assert due.state == "active"  # never silently dropped
    world.realm.down = False
    assert expire_due().expired == 1
    assert in_keycloak(world, group) == []


def test_a_large_round_commits_batch_by_batch_and_a_failure_leaves_the_rest_overdue(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(expiry_run, "BATCH_SIZE", 2)
    monkeypatch.setitem(app.config, "PLAN_REMOVAL_BRAKE", 10)  # below the brake: the round removes them itself
    group = linked_group(world)
    rows = [member(world, group, f"user{index}", -timedelta(minutes=1)) for index in range(5)]
    calls: list[int] = []

    def the_third_removal_finds_keycloak_down() -> None:
        calls.append(1)
        if len(calls) == 3:
            world.realm.down = True
        else:
            world.realm.faults["remove_user_from_group"] = Fault(meanwhile=the_third_removal_finds_keycloak_down)

    world.realm.faults["remove_user_from_group"] = Fault(meanwhile=the_third_removal_finds_keycloak_down)
    run = expire_due()
    assert (run.expired, run.overdue) == (2, 3)  # the first batch is committed, the second rolled back
    db.session.expire_all()
    assert [row.state for row in rows] == ["expired", "expired", "active", "active", "active"]
    assert in_keycloak(world, group) == ["user2", "user3", "user4"]  # the third removal failed: still there
    world.realm.down = False
    world.realm.faults.clear()
    again = expire_due()
    assert (again.expired, again.overdue) == (3, 0)
    assert in_keycloak(world, group) == []
    assert db.session.query(AuditEvent).filter_by(action="membership.expired").count() == 5


def test_more_expiries_than_the_brake_allows_make_an_expiry_plan(app: Flask, world: World) -> None:
    assert app.config["PLAN_REMOVAL_BRAKE"] == 5
    group = linked_group(world)
    rows = [member(world, group, f"user{index:02d}", -timedelta(minutes=1)) for index in range(12)]
    member(world, group, "keeper", timedelta(days=3))
    run = expire_due()
    assert run.expired == 12 and len(run.planned) == 1
    plan = db.session.query(Plan).filter_by(uuid=run.planned[0]).one()
    assert plan.kind == "expiry" and plan.created_by_name == "system"
    items = list(db.session.scalars(plans.items_query(plan)))
    assert sorted(item.username for item in items) == [f"user{index:02d}" for index in range(12)]
    assert {item.default_action for item in items} == {"remove_remote"}
    assert len(in_keycloak(world, group)) == 13  # still in Keycloak until a manager applies the plan
    db.session.expire_all()
    assert {row.state for row in rows} == {"expired"}
    assert expire_due().planned == []  # the next round makes no second plan
    assert plans.brake_for(plan, Counter({group.id: 12})) is not None  # the apply needs the typed phrase
    plans.apply_plan(world.manager, plan, ApplySelection({}, "remove 12 members"))
    assert in_keycloak(world, group) == ["keeper"]
    db.session.expire_all()
    assert {row.state for row in rows} == {"expired"}  # removed from Keycloak, and still expired here


def test_nothing_revives_an_expired_membership(client: FlaskClient, world: World) -> None:
    group = linked_group(world)
    row = member(world, group, "ann", -timedelta(minutes=1))
    row.state = "expired"  # noqa: state written by a test: expired here, yet back in the Keycloak group
    db.session.commit()
    pulled = pull_members(world.manager, group)
    db.session.expire_all()
    assert row.state == "expired" and pulled.created == 0
    plan = plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))
    item = next(item for item in db.session.scalars(plans.items_query(plan)) if item.username == "ann")
    assert item.default_action == "remove_remote" and item.actions == ["remove_remote"]
    plans.apply_plan(world.manager, plan, ApplySelection({}, "remove 1 member"))  # the brake: 1 of 1 member
    db.session.expire_all()
    assert row.state == "expired" and in_keycloak(world, group) == []
    refused = client.post(f"{MEMBERSHIPS}{row.uuid}/renew/", json={}, headers=world.headers("manager"))
    assert refused.status_code == 400 and refused.get_json()["detail"].startswith("This membership ended on ")
    assert refused.get_json()["detail"].endswith("; grant access again instead.")
    again = grant(client, world, group, "ann")  # a grant again starts anew
    assert again.status_code == 201 and again.get_json()["state"] == "active"
    assert in_keycloak(world, group) == ["ann"]


def test_the_cli_expires_what_is_due(app: Flask, world: World) -> None:
    group = linked_group(world)
    member(world, group, "ann", -timedelta(minutes=1))
    result = app.test_cli_runner().invoke(args=["expire-memberships"])
    assert result.exit_code == 0, result.output
    assert "expire-memberships: 1 group(s); expired 1, expiry plans 0, overdue 0, errors 0" in result.output
    assert in_keycloak(world, group) == []
