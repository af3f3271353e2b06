"""Memberships that end, on a real Keycloak (docs/PRODUCT.md §11): a membership expiring in a few seconds is gone
from the Keycloak group after `flask expire-memberships`, state expired, audit written; a renewal before that
keeps it; a renewal past the maximum is a 400 in words; twelve expiries with a brake of five make a plan."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from webapp.extensions import db
from webapp.models import AuditEvent, OfferingKeycloakMembership, Plan, utcnow
from webapp.services.commands import ApplySelection
from webapp.services.plans import core as plans

from .conftest import RealWorld

MEMBERSHIPS = "/api/offering-keycloak-memberships/"


def test_memberships_end_on_time_in_keycloak(app: Flask, client: FlaskClient, real: RealWorld) -> None:
    world = real.world
    headers = world.headers("manager")
    group_id = real.realm.add_path("/base/hpc/course")
    group = world.add_group("course", backend_id=group_id, scope_id="course")
    group.max_days = 30
    db.session.commit()
    for name in ("ann", "ben"):
        real.realm.add_user(name, f"{name}@example.org")
    body = {"offering": world.offering.uuid, "role": world.member_role.uuid, "scope_id": "course"}
    soon = (utcnow() + timedelta(seconds=3)).isoformat()
    ann = client.post(MEMBERSHIPS, json=body | {"username": "ann", "expires_at": soon}, headers=headers)
    ben = client.post(MEMBERSHIPS, json=body | {"username": "ben", "expires_at": soon}, headers=headers)
    assert ann.status_code == ben.status_code == 201, (ann.json, ben.json)
    assert sorted(real.realm.group_members(group_id)) == ["ann", "ben"]

    renewed = client.post(
        f"{MEMBERSHIPS}{ben.json['uuid']}/renew/",
        json={"expires_at": (utcnow() + timedelta(days=10)).isoformat()},
        headers=headers,
    )
    assert renewed.status_code == 200
    too_far = client.post(
        f"{MEMBERSHIPS}{ben.json['uuid']}/renew/",
        json={"expires_at": (utcnow() + timedelta(days=31)).isoformat()},
        headers=headers,
    )
    assert too_far.status_code == 400 and too_far.json["expires_at"][0].startswith("At most 30 days from now in course")

    deadline = time.monotonic() + 10
    while utcnow().isoformat() < soon and time.monotonic() < deadline:
        time.sleep(0.2)
    result = app.test_cli_runner().invoke(args=["expire-memberships"])
    assert result.exit_code == 0, result.output
    assert "expired 1, expiry plans 0, overdue 0, errors 0" in result.output
    assert real.realm.group_members(group_id) == ["ben"]
    db.session.expire_all()
    assert client.get(f"{MEMBERSHIPS}{ann.json['uuid']}/", headers=headers).json["state"] == "expired"
    event = db.session.query(AuditEvent).filter_by(action="membership.expired").one()
    assert event.actor_name == "system" and event.object_repr == "ann"


def test_twelve_expiries_with_a_brake_of_five_make_a_plan(app: Flask, real: RealWorld) -> None:
    world = real.world
    assert app.config["PLAN_REMOVAL_BRAKE"] == 5
    group_id = real.realm.add_path("/base/hpc/visitors")
    group = world.add_group("visitors", backend_id=group_id, scope_id="visitors")
    names = [f"visitor{index:02d}" for index in range(12)]
    real.realm.add_users_bulk([{"username": name} for name in names], ["/base/hpc/visitors"])
    for name in names:
        db.session.add(
            OfferingKeycloakMembership(
                group=group,
                username=name,
                state="active",
                keycloak_user_id=real.realm.user_id(name),
                expires_at=utcnow() - timedelta(seconds=1),
            )
        )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["expire-memberships"])
    assert result.exit_code == 0, result.output
    assert "expired 12, expiry plans 1" in result.output
    assert sorted(real.realm.group_members(group_id)) == names  # waiting for a manager
    plan = db.session.query(Plan).filter_by(kind="expiry").one()
    applied = plans.apply_plan(world.manager, plan, ApplySelection({}, "remove 12 members"))
    assert applied is not None
    assert real.realm.group_members(group_id) == []
    db.session.expire_all()
    assert {row.state for row in db.session.query(OfferingKeycloakMembership)} == {"expired"}
