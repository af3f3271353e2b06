"""Simultaneous requests: exactly one winner, clear 400s for the rest, never a 500 or a duplicate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.factories import World
from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership

BASE = "/api/offering-keycloak-groups"


def test_twenty_simultaneous_imports_make_one_group(app, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/popular")
    body = {"offering_uuid": world.offering.uuid, "role_uuid": world.member_role.uuid, "remote_group_id": remote_id}
    headers = world.headers("manager")

    def post(_: int) -> tuple[int, object]:
        response = app.test_client().post(f"{BASE}/import_remote/", json=body, headers=headers)
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(post, range(20)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 19, results
    assert all(
        payload == ["A local group already exists for this remote Keycloak group."]
        for status, payload in results
        if status == 400
    )
    db.session.expire_all()
    assert db.session.query(OfferingKeycloakGroup).count() == 1


def test_ten_simultaneous_pulls_make_no_duplicates(app, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/crowd")
    for index in range(60):
        world.realm.add_member(remote_id, world.realm.add_user(f"member{index:02d}"))
    group_uuid = world.add_group("crowd", backend_id=remote_id).uuid
    headers = world.headers("manager")

    def pull(_: int) -> int:
        return app.test_client().post(f"{BASE}/{group_uuid}/pull_members/", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(pull, range(10)))
    assert statuses == [200] * 10
    db.session.expire_all()
    usernames = [m.username for m in db.session.query(OfferingKeycloakMembership)]
    assert len(usernames) == 60 and len(set(usernames)) == 60
