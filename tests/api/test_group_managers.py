"""/api/offering-keycloak-group-managers/ and what a group manager sees in the other lists (docs/PRODUCT.md §13).

The exact status of every route for a group manager is the authorization matrix's (tests/security/matrix.py);
these tests check what the answers hold."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import World
from webapp.extensions import db
from webapp.models import AuditEvent, GroupManager, OfferingKeycloakGroup, OfferingKeycloakMembership
from webapp.services.commands import PreviewMembers
from webapp.services.plans import core as plans

MANAGERS = "/api/offering-keycloak-group-managers/"
FORBIDDEN = {"detail": "Only the offering's managers may do this; you manage members of some of its groups."}


def linked_group(world: World, name: str, members: tuple[str, ...] = ()) -> OfferingKeycloakGroup:
    backend_id = world.realm.add_path(f"/base/hpc/{name}")
    group = world.add_group(name, backend_id=backend_id, scope_id=name)
    for username in members:
        user_id = world.realm.add_user(username, f"{username}@example.org")
        world.realm.add_member(backend_id, user_id)
        db.session.add(
            OfferingKeycloakMembership(group=group, username=username, state="active", keycloak_user_id=user_id)
        )
    db.session.commit()
    return group


def members_in_keycloak(world: World, group: OfferingKeycloakGroup) -> list[str]:
    return sorted(world.realm.users[user_id].username for user_id in world.realm.groups[group.backend_id].members)


def assign(client: FlaskClient, world: World, group: OfferingKeycloakGroup, username: str):  # type: ignore[no-untyped-def]
    return client.post(
        MANAGERS, json={"group_uuid": group.uuid, "username": username}, headers=world.headers("manager")
    )


def test_assigning_a_group_manager_answers_the_delegation_and_audits_it(client: FlaskClient, world: World) -> None:
    group = linked_group(world, "project-a")
    created = assign(client, world, group, "  PI ")
    assert created.status_code == 201
    body = created.get_json()
    assert body["username"] == "pi" and body["group_uuid"] == group.uuid and body["group_name"] == "project-a"
    assert body["created_by"] == "manager" and body["url"].endswith(f"{MANAGERS}{body['uuid']}/")
    event = db.session.query(AuditEvent).filter_by(action="group_manager.created").one()
    assert event.actor_name == "manager" and event.details == {"username": "pi", "group": group.uuid}
    listed = client.get(f"{MANAGERS}?group_uuid={group.uuid}", headers=world.headers("manager")).get_json()
    assert [item["uuid"] for item in listed] == [body["uuid"]]
    assert client.get(f"{MANAGERS}?username=Pi", headers=world.headers("staff")).get_json()[0]["uuid"] == body["uuid"]
    assert client.get(f"{MANAGERS}?username=someone", headers=world.headers("staff")).get_json() == []


def test_a_username_is_checked_in_words_and_nothing_is_stored(client: FlaskClient, world: World) -> None:
    group = linked_group(world, "project-a")
    world.realm.add_user("kc-only", "kc@example.org")  # no account here: a Keycloak user may sign in later
    assert assign(client, world, group, "kc-only").status_code == 201
    cases = {
        "": {"username": ["This field may not be blank."]},
        "   ": {"username": ["This field may not be blank."]},
        "two words": {"username": ["Enter a username: at most 150 characters, no spaces."]},
        "x" * 151: {"username": ["Enter a username: at most 150 characters, no spaces."]},
        "ghost": {"username": ["No account and no Keycloak user is named ghost."]},
        "KC-ONLY": {"username": ["kc-only already manages this group."]},
    }
    for username, errors in cases.items():
        response = assign(client, world, group, username)
        assert response.status_code == 400 and response.get_json() == errors, username
    assert db.session.query(GroupManager).count() == 1


def test_keycloak_down_while_checking_a_username_is_a_502_and_nothing_is_stored(
    client: FlaskClient, world: World
) -> None:
    group = linked_group(world, "project-a")
    world.realm.down = True
    assert assign(client, world, group, "pi").status_code == 201  # an account here needs no Keycloak
    response = assign(client, world, group, "kc-user")
    assert response.status_code == 502 and response.get_json()["detail"].startswith("Looking the user up in Keycloak")
    assert [row.username for row in db.session.query(GroupManager)] == ["pi"]


def test_a_group_manager_sees_only_their_groups_in_every_list(client: FlaskClient, world: World) -> None:
    own = linked_group(world, "project-a", ("alice",))
    sibling = linked_group(world, "project-b", ("bob",))
    assert assign(client, world, own, "pi").status_code == 201
    assert assign(client, world, sibling, "siblingpi").status_code == 201
    mine = plans.create_plan(world.pi, PreviewMembers(world.offering, [own]))
    theirs = plans.create_plan(world.manager, PreviewMembers(world.offering, [own]))  # not pi's own plan
    pi = world.headers("pi")

    def names(url: str, key: str) -> list[str]:
        response = client.get(url, headers=pi)
        assert response.status_code == 200, url
        return [item[key] for item in response.get_json()]

    assert names("/api/offering-keycloak-groups/", "name") == ["project-a"]
    offering = world.offering.uuid
    assert names(f"/api/offering-keycloak-groups/?offering_uuid={offering}", "name") == ["project-a"]
    assert names("/api/offering-keycloak-memberships/", "username") == ["alice"]
    assert names("/api/offering-keycloak-plans/", "uuid") == [mine.uuid]
    assert theirs.uuid not in names(f"/api/offering-keycloak-plans/?offering_uuid={offering}", "uuid")
    assert set(names("/api/offering-keycloak-audit/", "actor")) == {"pi"}  # their own events only
    assert names(MANAGERS, "uuid") == []  # delegations are the offering managers' business
    listed = client.get(f"{MANAGERS}?group_uuid={own.uuid}", headers=pi)
    assert listed.status_code == 403 and listed.get_json() == FORBIDDEN
    assert client.get(f"{MANAGERS}?group_uuid={sibling.uuid}", headers=pi).get_json() == {
        "group_uuid": ["Group not found."]
    }
    assert names("/api/offerings/", "uuid") == []


def test_the_offering_managers_see_what_a_group_manager_did(client: FlaskClient, world: World) -> None:
    own = linked_group(world, "project-a")
    assert assign(client, world, own, "pi").status_code == 201
    world.realm.add_user("student", "student@example.org")
    body = {"offering": world.offering.uuid, "role": world.member_role.uuid, "scope_id": "project-a"}
    granted = client.post(
        "/api/offering-keycloak-memberships/", json=body | {"username": "student"}, headers=world.headers("pi")
    )
    assert granted.status_code == 201 and granted.get_json()["state"] == "active"
    assert members_in_keycloak(world, own) == ["student"]
    by_pi = client.get("/api/offering-keycloak-audit/?actor=pi", headers=world.headers("manager")).get_json()
    assert [(event["action"], event["object"]) for event in by_pi] == [("membership.created", "student")]


def test_ending_a_delegation_takes_effect_on_the_next_request(client: FlaskClient, world: World) -> None:
    own = linked_group(world, "project-a", ("alice",))
    delegation = assign(client, world, own, "pi").get_json()
    mine = plans.create_plan(world.pi, PreviewMembers(world.offering, [own]))
    pi = world.headers("pi")
    assert client.get(f"/api/offering-keycloak-groups/{own.uuid}/", headers=pi).status_code == 200
    assert client.get(f"/api/offering-keycloak-plans/{mine.uuid}/", headers=pi).status_code == 200
    assert client.delete(f"{MANAGERS}{delegation['uuid']}/", headers=world.headers("manager")).status_code == 204
    assert client.get(f"/api/offering-keycloak-groups/{own.uuid}/", headers=pi).status_code == 404
    assert client.get(f"/api/offering-keycloak-plans/{mine.uuid}/", headers=pi).status_code == 404
    apply = client.post(f"/api/offering-keycloak-plans/{mine.uuid}/apply/", json={}, headers=pi)
    assert apply.status_code == 404 and members_in_keycloak(world, own) == ["alice"]
    event = db.session.query(AuditEvent).filter_by(action="group_manager.deleted").one()
    assert event.actor_name == "manager" and event.details["username"] == "pi"


def test_a_deleted_group_takes_its_delegations_with_it(client: FlaskClient, world: World) -> None:
    own = linked_group(world, "project-a")
    assert assign(client, world, own, "pi").status_code == 201
    deleted = client.delete(f"/api/offering-keycloak-groups/{own.uuid}/", headers=world.headers("manager"))
    assert deleted.status_code == 204
    assert db.session.query(GroupManager).count() == 0
