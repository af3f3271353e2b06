"""Two instances racing on one grant, revoke or delete: a defined outcome, never a 500, and the register agrees
with Keycloak afterwards. Each race is played either with threads released together or, to make one
interleaving happen every time, with the fake's race switches (`Fault(raced=…, meanwhile=…, afterwards=…)`),
where the other instance's request runs at the exact moment of our Keycloak call."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import text

from tests.factories import World
from webapp.extensions import db
from webapp.keycloak.fake_gateway import Fault
from webapp.models import AuditEvent, OfferingKeycloakGroup, OfferingKeycloakMembership
from webapp.services.memberships.pull import pull_members

BASE = "/api/offering-keycloak-memberships/"
DUPLICATE = ["This keycloak membership already exists."]
# How long our request lets the other one run inside its Keycloak call. Where the other must wait for our
# request (the fix), it is still waiting when this runs out and goes on after our commit; on the old code it
# had finished long before. No assertion depends on the time.
INSIDE = 2.0


def grant_body(world: World, username: str = "alice") -> dict:
    return {"offering": world.offering.uuid, "role": world.member_role.uuid, "username": username}


class Instance:
    """Requests as another instance sends them: from any thread (everything it needs is read up front)."""

    def __init__(self, app: Flask, world: World) -> None:
        self.app = app
        self.bodies = {name: grant_body(world, name) for name in ("alice", "bob")}
        self.headers = world.headers("manager")

    def grant(self, username: str = "alice") -> tuple[int, object]:
        response = self.app.test_client().post(BASE, json=self.bodies[username], headers=self.headers)
        return response.status_code, response.json

    def pull(self, group_uuid: str) -> int:
        url = f"/api/offering-keycloak-groups/{group_uuid}/pull_members/"
        return self.app.test_client().post(url, headers=self.headers).status_code

    def revoke_all(self, username: str = "alice") -> list[int]:
        client = self.app.test_client()
        found = client.get(f"{BASE}?username={username}", headers=self.headers).json
        return [client.delete(f"{BASE}{row['uuid']}/", headers=self.headers).status_code for row in found]


def grant(app: Flask, world: World, username: str = "alice") -> tuple[int, object]:
    return Instance(app, world).grant(username)


def revoke_all(app: Flask, world: World, username: str = "alice") -> list[int]:
    return Instance(app, world).revoke_all(username)


def rows() -> list[tuple[str, str]]:
    db.session.expire_all()
    return sorted((m.username, m.state) for m in db.session.query(OfferingKeycloakMembership))


def members(world: World, group_id: str) -> list[str]:
    return sorted(world.realm.users[uid].username for uid in world.realm.groups[group_id].members)


def in_a_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Start the other instance's request; let it run for up to INSIDE seconds before we go on."""
    results: list[object] = []

    def run() -> None:
        results.append(work())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(INSIDE)
    return thread, results


def linked_group(world: World, created_here: bool = False) -> OfferingKeycloakGroup:
    """A local group linked to its Keycloak group; `created_here`: one this application created (it may delete)."""
    backend_id = world.realm.add_group(f"{world.offering.uuid}_member", world.offering_root_id)
    created = backend_id if created_here else ""
    return world.add_group(f"{world.offering.uuid}_member", backend_id=backend_id, created_backend_id=created)


# -- two grants of one user -----------------------------------------------------------------------------------


def test_two_simultaneous_grants_of_one_user_into_a_new_group(app: Flask, world: World) -> None:
    world.realm.add_user("alice")
    barrier = threading.Barrier(2)
    instance = Instance(app, world)

    def post(_: int) -> tuple[int, object]:
        barrier.wait()
        return instance.grant()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(post, range(2)), key=lambda result: result[0])
    assert [status for status, _ in results] == [201, 400], results
    assert results[1][1] == DUPLICATE
    assert rows() == [("alice", "active")]
    group = db.session.query(OfferingKeycloakGroup).one()
    assert members(world, group.backend_id) == ["alice"]
    assert len(world.realm.groups[world.offering_root_id].children) == 1  # one Keycloak group, not two


def test_two_simultaneous_grants_of_one_user_into_a_linked_group(app: Flask, world: World) -> None:
    world.realm.add_user("alice")
    group = linked_group(world)
    barrier = threading.Barrier(2)
    instance = Instance(app, world)

    def post(_: int) -> tuple[int, object]:
        barrier.wait()
        return instance.grant()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(post, range(2)), key=lambda result: result[0])
    assert [status for status, _ in results] == [201, 400], results
    assert results[1][1] == DUPLICATE
    assert rows() == [("alice", "active")]
    assert members(world, group.backend_id) == ["alice"]


def test_a_second_grant_inside_the_first_ones_keycloak_add_cannot_undo_it(app: Flask, world: World) -> None:
    """The other instance grants the same user while our add is in flight. Before the fix both passed the
    duplicate check, ours lost at the insert, and its compensation removed the user the winner had just added:
    an active row for someone who was no member in Keycloak."""
    world.realm.add_user("alice")
    group = linked_group(world)
    other: list[object] = []
    instance = Instance(app, world)
    world.realm.faults["add_user_to_group"] = Fault(afterwards=lambda: other.append(in_a_thread(instance.grant)))
    ours = grant(app, world)
    thread, theirs = other[0]  # type: ignore[misc]
    thread.join()
    assert sorted([ours[0], theirs[0][0]]) == [201, 400], (ours, theirs)
    assert DUPLICATE in (ours[1], theirs[0][1])
    assert rows() == [("alice", "active")]
    assert members(world, group.backend_id) == ["alice"]


def test_a_grant_and_a_revoke_inside_another_grant_leave_register_and_keycloak_agreeing(
    app: Flask, world: World
) -> None:
    """Three requests: ours adds alice; meanwhile another grants her (and commits) and a third revokes that
    grant (removing her in Keycloak). Before the fix ours then inserted its row: active here, gone there."""
    world.realm.add_user("alice")
    group = linked_group(world)
    other: list[object] = []
    instance = Instance(app, world)

    def grant_then_revoke() -> tuple[object, list[int]]:
        return instance.grant(), instance.revoke_all()

    world.realm.faults["add_user_to_group"] = Fault(afterwards=lambda: other.append(in_a_thread(grant_then_revoke)))
    ours = grant(app, world)
    thread, _results = other[0]  # type: ignore[misc]
    thread.join()
    assert ours[0] in (201, 400)
    registered = [username for username, state in rows() if state == "active"]
    assert registered == members(world, group.backend_id), (ours, _results)


# The pull's autoflush sees our membership object before our request adds it to the session; it is added later.
@pytest.mark.filterwarnings("ignore:Object of type <OfferingKeycloakMembership> not in session")
def test_a_pull_recording_the_user_inside_our_grant_keeps_the_user_in_keycloak(app: Flask, world: World) -> None:
    """Another instance adds alice in Keycloak and pulls her into the register (a pull waits for no grant) while
    our add is in flight; our insert then fails as a duplicate. Our compensation must leave her in Keycloak:
    the pull's row records her. The pull runs in our request's session and commits what it has so far, which is
    the nearest a single SQLite file gets to another instance committing in between."""
    alice = world.realm.add_user("alice")
    group = linked_group(world)

    def another_instance() -> None:
        world.realm.add_member(group.backend_id, alice)
        pull_members(None, db.session.get(OfferingKeycloakGroup, group.id))

    world.realm.faults["add_user_to_group"] = Fault(meanwhile=another_instance)
    status, payload = grant(app, world)
    assert (status, payload) == (400, DUPLICATE)
    assert rows() == [("alice", "active")]
    assert members(world, group.backend_id) == ["alice"]


def test_a_racing_keycloak_add_is_done(client, world: World) -> None:
    """Keycloak's 409 to a simultaneous add (the fake's `raced`): the grant is an ordinary 201."""
    alice = world.realm.add_user("alice")
    world.realm.faults["add_user_to_group"] = Fault(raced=True)
    response = client.post(BASE, json=grant_body(world), headers=world.headers("manager"))
    assert response.status_code == 201 and response.json["state"] == "active"
    group = db.session.query(OfferingKeycloakGroup).one()
    assert world.realm.groups[group.backend_id].members == [alice]


# -- pulls, the reconcile, and a group busy for long --------------------------------------------------------------


def test_a_pull_inside_a_grant_waits_for_it(app: Flask, world: World) -> None:
    """A pull of the group starts while our grant is in flight. It used to insert the user's row and then wait
    for the group row, while our grant waited for that row's index entry: PostgreSQL killed one of the two as a
    deadlock (a 500, or a failed pull job). Now the pull takes the group's lock first and goes after us."""
    world.realm.add_user("alice")
    group = linked_group(world)
    other: list[object] = []
    instance = Instance(app, world)
    group_uuid = group.uuid
    world.realm.faults["add_user_to_group"] = Fault(
        afterwards=lambda: other.append(in_a_thread(lambda: instance.pull(group_uuid)))
    )
    ours = grant(app, world)
    thread, pulled = other[0]  # type: ignore[misc]
    thread.join()
    assert ours[0] == 201 and pulled == [200], (ours, pulled)
    assert rows() == [("alice", "active")]
    assert members(world, group.backend_id) == ["alice"]


def test_a_revoke_during_the_reconcile_waits_for_it(app: Flask, world: World) -> None:
    """The reconcile reads the group's members while a revoke deletes one of its rows. It used to write that
    row's check time afterwards and fail on the row being gone; now the revoke waits for the group's lock."""
    from webapp.services.memberships.periodic import reconcile

    for name in ("alice", "bob"):
        world.realm.add_user(name)
    group = linked_group(world)
    instance = Instance(app, world)
    for name in ("alice", "bob"):
        assert instance.grant(name)[0] == 201
    other: list[object] = []
    world.realm.faults["iter_group_members"] = Fault(meanwhile=lambda: other.append(in_a_thread(instance.revoke_all)))
    summary = reconcile()
    thread, revoked = other[0]  # type: ignore[misc]
    thread.join()
    assert summary.errors == [] and revoked == [[204]]
    assert rows() == [("bob", "active")]
    assert members(world, group.backend_id) == ["bob"]


def test_a_grant_or_revoke_into_a_group_busy_for_long_is_a_409_in_words(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.services import locks

    monkeypatch.setattr(locks, "GROUP_WAIT_SECONDS", 1)  # PostgreSQL; SQLite gives up after its busy timeout
    world.realm.add_user("alice")
    world.realm.add_user("bob")
    group = linked_group(world)
    instance = Instance(app, world)
    assert instance.grant("bob")[0] == 201
    with db.engine.connect() as holder:  # another instance in the middle of a long pull of this group
        holder.execute(text("UPDATE offering_keycloak_group SET modified = modified WHERE id = :id"), {"id": group.id})
        response = app.test_client().post(BASE, json=instance.bodies["alice"], headers=instance.headers)
        assert response.status_code == 409 and response.json == {"detail": locks.BUSY}
        assert instance.revoke_all("bob") == [409]
        holder.rollback()
    assert rows() == [("bob", "active")]
    assert members(world, group.backend_id) == ["bob"]


# -- groups created and deleted by two instances ----------------------------------------------------------------


def test_a_group_created_by_another_instance_at_the_same_moment_is_adopted(client, world: World) -> None:
    world.realm.add_user("alice")
    world.realm.faults["create_group"] = Fault(raced=True)
    response = client.post(BASE, json=grant_body(world), headers=world.headers("manager"))
    assert response.status_code == 201, response.json
    group = db.session.query(OfferingKeycloakGroup).one()
    children = world.realm.groups[world.offering_root_id].children
    assert children == [group.backend_id]  # theirs, linked; no second group of that name


def test_an_adopted_group_is_never_compensated_away(client, world: World) -> None:
    """Ours fails after Keycloak said the group exists (another instance made it): the rollback deletes
    nothing of theirs."""
    world.realm.add_user("alice")
    world.realm.faults["create_group"] = Fault(raced=True)
    world.realm.faults["add_user_to_group"] = Fault()
    response = client.post(BASE, json=grant_body(world), headers=world.headers("manager"))
    assert response.status_code == 502
    assert [world.realm.groups[gid].name for gid in world.realm.groups[world.offering_root_id].children] == [
        f"{world.offering.uuid}_member"
    ]
    assert rows() == []


def test_compensation_keeps_a_parent_another_instance_built_on(client, world: World) -> None:
    """Ours creates a fresh base group; another instance adopts it at once and puts its own group under it;
    then ours fails. Deleting our base would delete theirs with it, so it stays; what only we use goes."""
    world.realm.add_user("alice")
    world.offering.keycloak_base_group = "fresh-base"
    db.session.commit()
    theirs: list[str] = []

    def another_instance() -> None:
        base = world.realm._child_named(None, "fresh-base")
        theirs.append(world.realm.add_group("their-group", base))

    world.realm.faults["create_group"] = Fault(afterwards=another_instance)  # after /fresh-base is made
    world.realm.faults["add_user_to_group"] = Fault()
    response = client.post(BASE, json=grant_body(world), headers=world.headers("manager"))
    assert response.status_code == 502
    assert world.realm.path_of(theirs[0]) == "/fresh-base/their-group"
    base = world.realm._child_named(None, "fresh-base")
    assert base is not None and world.realm.groups[base].children == theirs  # /fresh-base/hpc and ours are gone
    assert rows() == []


def test_deleting_a_group_another_instance_deletes_at_the_same_moment(client, world: World) -> None:
    group = linked_group(world, created_here=True)
    world.realm.faults["delete_group"] = Fault(raced=True)
    response = client.delete(
        f"/api/offering-keycloak-groups/{group.uuid}/?delete_remote=true", headers=world.headers("manager")
    )
    assert response.status_code == 204
    assert group.backend_id not in world.realm.groups
    assert db.session.query(OfferingKeycloakGroup).count() == 0
    event = db.session.query(AuditEvent).filter_by(action="group.deleted").one()
    assert event.details["remote_deleted"] is False  # theirs did it


# -- revokes ------------------------------------------------------------------------------------------------


def test_revoking_while_another_instance_revokes_or_deletes_the_group(app: Flask, world: World) -> None:
    alice = world.realm.add_user("alice")
    bob = world.realm.add_user("bob")
    group = linked_group(world)
    for username in ("alice", "bob"):
        assert grant(app, world, username)[0] == 201
    world.realm.faults["remove_user_from_group"] = Fault(raced=True)
    assert revoke_all(app, world, "alice") == [204]
    assert alice not in world.realm.groups[group.backend_id].members
    # The Keycloak group is deleted meanwhile: nothing is left to revoke, the row goes.
    world.realm.faults["remove_user_from_group"] = Fault(meanwhile=lambda: world.realm.delete_group(group.backend_id))
    assert revoke_all(app, world, "bob") == [204]
    assert rows() == [] and bob in world.realm.users


def test_unknown_uuid_revoke_is_404_not_500(client, world: World) -> None:
    response = client.delete(f"{BASE}{uuid.uuid4().hex}/", headers=world.headers("manager"))
    assert response.status_code == 404
