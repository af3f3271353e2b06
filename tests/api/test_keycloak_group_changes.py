"""Who changed it (docs/PRODUCT.md §10) for the side-by-side diff, on the fake Keycloak: a group in Keycloak that
the register does not have says who made it (or moved it in); a dangling link says who deleted the group."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import World
from webapp.extensions import db
from webapp.models import KeycloakChange, KeycloakEventCursor, OfferingKeycloakGroup
from webapp.services.attribution.jobs import READ_KEYCLOAK_EVENTS

SYNC = "/api/offering-keycloak-groups/sync_status/"


def diff(client: FlaskClient, world: World) -> dict:
    answer = client.get(SYNC, query_string={"offering_uuid": world.offering.uuid}, headers=world.headers("manager"))
    assert answer.status_code == 200, answer.json
    return answer.json


def remote_only(answer: dict, name: str) -> dict:
    return next(group for group in answer["remote_only_groups"] if group["name"] == name)


def test_a_group_made_in_keycloak_says_who_made_it(client: FlaskClient, world: World) -> None:
    world.realm.admin_events_enabled = world.realm.admin_events_details = True
    root = world.realm.add_path("/base/hpc")
    helpdesk = world.realm.add_user("helpdesk")
    world.realm.admin_group_change("CREATE", helpdesk, name="made-by-hand", parent_id=root)
    deeper = world.realm.admin_group_change("CREATE", helpdesk, name="team", parent_id=root)
    world.realm.admin_group_change("CREATE", helpdesk, name="sub-team", parent_id=deeper)
    world.realm.add_path("/base/hpc/seeded")  # no event: made in a realm import, say

    answer = diff(client, world)
    change = remote_only(answer, "made-by-hand")["keycloak_change"]
    assert (change["source"], change["operation"], change["by"], change["client"]) == (
        "keycloak_admin",
        "created",
        "helpdesk",
        "admin-cli",
    )
    assert change["at"] and change["event_id"] and change["reason"] is None
    assert remote_only(answer, "sub-team")["keycloak_change"]["by"] == "helpdesk"  # under an unlinked subgroup
    seeded = remote_only(answer, "seeded")["keycloak_change"]
    assert seeded["source"] == "unknown" and seeded["reason"].startswith("No admin event records it since ")


def test_a_deleted_linked_group_says_who_deleted_it_and_our_own_is_this_app(client: FlaskClient, world: World) -> None:
    world.realm.admin_events_enabled = world.realm.admin_events_details = True
    world.realm.add_path("/base/hpc")
    helpdesk = world.realm.add_user("helpdesk")
    gone = world.add_group("gone", backend_id=world.realm.add_path("/base/hpc/gone"), scope_id="gone")
    world.realm.admin_group_change("DELETE", helpdesk, group_id=gone.backend_id)

    answer = diff(client, world)
    [dangling] = [group for group in answer["local_only_groups"] if group["broken_link"]]
    change = dangling["keycloak_change"]
    assert (change["source"], change["operation"], change["by"]) == ("keycloak_admin", "deleted", "helpdesk")

    # A group this app made in Keycloak (the register then loses its row): "this app".
    world.realm.add_user("grace")
    made = client.post(
        "/api/offering-keycloak-memberships/",
        json={
            "offering": world.offering.uuid,
            "role": world.member_role.uuid,
            "scope_id": "ours",
            "username": "grace",
        },
        headers=world.headers("manager"),
    )
    assert made.status_code == 201, made.json
    ours = db.session.query(OfferingKeycloakGroup).filter_by(scope_id="ours").one()
    assert ours.backend_id
    db.session.delete(ours)
    db.session.commit()
    db.session.query(KeycloakEventCursor).update({"read_at": None})  # the page reads again at once
    db.session.commit()
    mine = next(group for group in diff(client, world)["remote_only_groups"] if group["id"] == ours.backend_id)
    assert (mine["keycloak_change"]["source"], mine["keycloak_change"]["operation"]) == ("this_app", "created")


def test_without_details_a_subgroup_is_unknown_and_says_why(client: FlaskClient, world: World) -> None:
    world.realm.admin_events_enabled = True  # details off: Keycloak names a subgroup only in them
    root = world.realm.add_path("/base/hpc")
    world.realm.admin_group_change("CREATE", world.realm.add_user("helpdesk"), name="quiet", parent_id=root)
    change = remote_only(diff(client, world), "quiet")["keycloak_change"]
    assert change["source"] == "unknown" and "admin event details" in change["reason"]


def test_events_off_say_so_on_every_difference(client: FlaskClient, world: World) -> None:
    world.realm.add_path("/base/hpc/loose")
    change = remote_only(diff(client, world), "loose")["keycloak_change"]
    assert change["source"] == "unknown" and change["reason"].startswith("Admin events are off in realm")


def test_only_the_offering_s_subtree_is_kept_and_the_round_walks_it(client: FlaskClient, world: World) -> None:
    world.realm.admin_events_enabled = world.realm.admin_events_details = True
    root = world.realm.add_path("/base/hpc")
    team = world.realm.add_path("/base/hpc/team")
    elsewhere = world.realm.add_path("/other")
    helpdesk = world.realm.add_user("helpdesk")
    world.realm.admin_group_change("CREATE", helpdesk, name="not-ours", parent_id=elsewhere)
    world.realm.admin_group_change("CREATE", helpdesk, name="top-level-elsewhere")
    made = world.realm.admin_group_change("CREATE", helpdesk, name="deep", parent_id=team)

    class Job:
        offering = world.offering

    READ_KEYCLOAK_EVENTS.work(Job(), lambda *_: None)  # type: ignore[arg-type]
    kept = db.session.query(KeycloakChange).all()
    assert [(change.group_id, change.parent_id, change.operation) for change in kept] == [(made, team, "CREATE")]
    assert root  # the offering's group itself was seeded, without an event
    assert remote_only(diff(client, world), "deep")["keycloak_change"]["by"] == "helpdesk"
