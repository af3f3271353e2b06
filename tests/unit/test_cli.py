"""Flask CLI commands: load-data, create-token, sync-pending, reconcile, worker --once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factories import World
from webapp.crypto import decrypt
from webapp.extensions import db
from webapp.jobs.queue import parse_minutes
from webapp.models import ApiToken, Job, Offering, OfferingKeycloakMembership, OfferingManager, User
from webapp.services.accounts.core import hash_token

ORG = "11111111111111111111111111111111"
OFFERING = "22222222-2222-2222-2222-222222222222"


def data_file(tmp_path: Path, **overrides) -> Path:
    data = {
        "users": [{"username": "Dana", "password": "pw-dana", "email": "dana@example.org", "is_staff": False}],
        "organizations": [{"uuid": ORG, "name": "Org", "slug": "org", "managers": ["dana"]}],
        "offerings": [
            {
                "uuid": OFFERING,
                "organization": ORG,
                "name": "Svc",
                "slug": "svc",
                "managers": ["dana"],
                "keycloak": {
                    "enabled": True,
                    "url": "http://kc",
                    "realm": "r",
                    "username": "a",
                    "password": "s3cret",
                    "group_name_template": "${offering_slug}_${role_name}",
                },
                "roles": [{"uuid": "33333333333333333333333333333333", "name": "member"}],
                "resources": [
                    {
                        "uuid": "44444444444444444444444444444444",
                        "name": "Res",
                        "keycloak_available_scopes": [{"scope_type": "cluster", "scope_id": "c1", "label": "C1"}],
                    }
                ],
            }
        ],
    } | overrides
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    return path


def test_load_data_is_idempotent_and_encrypts_secrets(app, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["load-data", str(data_file(tmp_path))])
    assert first.exit_code == 0, first.output
    assert "5 created" in first.output  # user, organization, offering, role, resource
    second = runner.invoke(args=["load-data", str(data_file(tmp_path))])
    assert "0 created, 0 updated" in second.output
    offering = db.session.query(Offering).one()
    assert (
        offering.keycloak_password_encrypted != "s3cret" and decrypt(offering.keycloak_password_encrypted) == "s3cret"
    )
    assert db.session.query(OfferingManager).count() == 2
    assert db.session.query(User).one().username == "dana"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"organizations": [{"uuid": "bad", "name": "x", "slug": "x"}]},
            "organizations[0]: 'uuid' is not a valid UUID",
        ),
        ({"users": [{"email": "x"}]}, "users[0]: 'username' is required"),
        (
            {
                "offerings": [
                    {
                        "uuid": OFFERING,
                        "organization": ORG,
                        "name": "S",
                        "slug": "s",
                        "keycloak": {"group_name_template": "$bogus"},
                    }
                ]
            },
            "Unknown variable $bogus",
        ),
        (
            {"offerings": [{"uuid": OFFERING, "organization": ORG, "name": "S", "slug": "s", "managers": ["ghost"]}]},
            "manager 'ghost' is not a known user",
        ),
    ],
)
def test_load_data_bad_entry_named_and_nothing_changed(app, tmp_path: Path, override: dict, message: str) -> None:
    result = app.test_cli_runner().invoke(args=["load-data", str(data_file(tmp_path, **override))])
    assert result.exit_code != 0
    assert message in result.output and "Nothing was changed." in result.output
    assert db.session.query(User).count() == 0 and db.session.query(Offering).count() == 0


def test_load_data_not_json(app, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{nope")
    result = app.test_cli_runner().invoke(args=["load-data", str(path)])
    assert result.exit_code != 0 and "is not valid JSON" in result.output and "Traceback" not in result.output


def test_create_token_prints_a_token_stored_hashed(app, world: World) -> None:
    result = app.test_cli_runner().invoke(args=["create-token", "manager"])
    token = result.output.strip()
    assert result.exit_code == 0 and len(token) == 40
    assert db.session.query(ApiToken).filter_by(token_hash=hash_token(token)).count() == 1
    assert db.session.query(ApiToken).filter_by(token_hash=token).count() == 0
    missing = app.test_cli_runner().invoke(args=["create-token", "ghost"])
    assert missing.exit_code != 0 and "No user named" in missing.output


def add_pending(world: World, username: str, offering=None, role=None) -> OfferingKeycloakMembership:
    group = world.add_group(
        f"g-{username}",
        backend_id=world.realm.add_path(f"/base/x-{username}"),
        offering=offering,
        role=role,
        scope_id=username,
    )
    membership = OfferingKeycloakMembership(group=group, username=username, state="pending")
    db.session.add(membership)
    db.session.commit()
    return membership


def test_sync_pending_activates_and_isolates_a_bad_offering(app, world: World) -> None:
    waiting = add_pending(world, "later")
    broken = add_pending(world, "elsewhere", offering=world.other_offering, role=world.other_role)
    world.other_offering.keycloak_url = ""  # missing settings on the other offering
    db.session.commit()
    runner = app.test_cli_runner()

    first = runner.invoke(args=["sync-pending"])
    assert first.exit_code == 0 and "still pending 1" in first.output
    db.session.refresh(broken)
    assert "incomplete" in broken.error_message and broken.state == "pending"

    user_id = world.realm.add_user("later")
    second = runner.invoke(args=["sync-pending"])
    assert "activated 1" in second.output
    db.session.refresh(waiting)
    assert waiting.state == "active" and waiting.keycloak_user_id == user_id
    assert user_id in world.realm.groups[waiting.group.backend_id].members


def test_sync_pending_skips_an_offering_after_its_keycloak_failed_once(app, world: World) -> None:
    rows = [add_pending(world, name) for name in ("d1", "d2", "d3")]
    world.realm.down = True
    calls = world.realm.calls
    result = app.test_cli_runner().invoke(args=["sync-pending"])
    assert result.exit_code == 0 and "skipped its other pending rows this round" in result.output
    assert world.realm.calls - calls == 1  # one failed call, not one timeout per row
    for row in rows:
        db.session.refresh(row)
        assert row.state == "pending" and row.error_message.startswith("Looking up the Keycloak user failed")


def test_a_membership_deleted_meanwhile_is_left_alone_by_the_pending_sync(app, world: World, monkeypatch) -> None:
    from webapp.services.memberships import periodic

    row = add_pending(world, "gone-soon")
    world.realm.add_user("gone-soon")
    original = periodic._lock_pending

    def delete_first(target):  # type: ignore[no-untyped-def]
        db.session.delete(target)  # the request that deleted it committed just before the sync locked it
        db.session.commit()
        return original(target)

    monkeypatch.setattr(periodic, "_lock_pending", delete_first)
    summary = periodic.sync_pending()
    assert summary.activated == 0 and summary.errors == []
    assert all(not group.members for group in world.realm.groups.values())  # nobody added in Keycloak
    assert row


def test_sync_pending_uses_one_gateway_per_offering(app, world: World, fake_keycloak) -> None:
    for name in ("p1", "p2", "p3"):
        add_pending(world, name)
    app.test_cli_runner().invoke(args=["sync-pending"])
    assert len(fake_keycloak.gateways) == 1


def test_reconcile_flags_and_restores(app, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/team")
    user_id = world.realm.add_user("rita")
    world.realm.add_member(remote_id, user_id)
    group = world.add_group("team", backend_id=remote_id)
    membership = OfferingKeycloakMembership(group=group, username="rita", state="active", keycloak_user_id=user_id)
    db.session.add(membership)
    db.session.commit()
    runner = app.test_cli_runner()
    assert "flagged removed 0" in runner.invoke(args=["reconcile"]).output
    world.realm.groups[remote_id].members.clear()
    assert "flagged removed 1" in runner.invoke(args=["reconcile"]).output
    db.session.refresh(membership)
    assert membership.state == "removed_remotely"
    world.realm.add_member(remote_id, user_id)
    assert "restored 1" in runner.invoke(args=["reconcile"]).output
    db.session.refresh(membership)
    assert membership.state == "active"


def test_worker_once_runs_the_periodic_round_as_jobs(app, world: World) -> None:
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    # One sync_pending and one reconcile job per offering with Keycloak enabled, run here and recorded.
    assert result.output.count("sync_pending of ") == 2 and result.output.count("reconcile of ") == 2
    assert "reconcile of HPC Cluster: succeeded" in result.output
    kinds = sorted((job.kind, job.state) for job in db.session.query(Job))
    assert (
        kinds
        == [("drift_check", "succeeded")] * 2 + [("reconcile", "succeeded")] * 2 + [("sync_pending", "succeeded")] * 2
    )


@pytest.mark.parametrize(("text", "minutes"), [("15m", 15), ("30s", 1), ("1h", 60), ("45", 45), ("900s", 15)])
def test_parse_minutes(text: str, minutes: int) -> None:
    assert parse_minutes(text) == minutes


@pytest.mark.parametrize("text", ["", "soon", "5x"])
def test_parse_minutes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not an interval"):
        parse_minutes(text)
