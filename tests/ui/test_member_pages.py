from __future__ import annotations

from tests.factories import World
from tests.html import parse
from webapp.extensions import db
from webapp.models import OfferingKeycloakMembership


def members_url(world: World) -> str:
    return f"/offerings/{world.offering.uuid}/members"


def add(manager, world: World, username: str, **extra):  # type: ignore[no-untyped-def]
    data = {
        "add-username": username,
        "add-email": "",
        "add-role": world.member_role.uuid,
        "add-resource": "",
        "add-scope_id": "",
    } | extra
    manager.get(members_url(world))
    return manager.client.post(members_url(world), data={"add-csrf_token": manager.token, **data})


def test_add_member_active_and_pending(manager, world: World) -> None:
    world.realm.add_user("alice")
    assert add(manager, world, "alice").status_code == 303
    assert add(manager, world, "nobody-yet").status_code == 303
    html = manager.get(members_url(world)).get_data(as_text=True)
    assert "badge-state-active" in html and "badge-state-pending" in html
    assert "pending until the Keycloak account exists" in html


def test_add_member_errors_in_place(manager, world: World) -> None:
    response = add(manager, world, "alice", **{"add-role": world.cluster_role.uuid})
    assert response.status_code == 400 and "choose a resource" in response.get_data(as_text=True)
    world.realm.down = True
    down = add(manager, world, "alice")
    assert down.status_code == 502 and "Cannot connect" in down.get_data(as_text=True)
    assert db.session.query(OfferingKeycloakMembership).count() == 0


def test_remove_many_with_confirmation(manager, world: World) -> None:
    for name in ("ann", "ben"):
        world.realm.add_user(name)
        add(manager, world, name)
    uuids = [m.uuid for m in db.session.query(OfferingKeycloakMembership)]
    confirm = manager.get(f"{members_url(world)}/remove?m={uuids[0]}&m={uuids[1]}")
    assert "Remove 2 members?" in confirm.get_data(as_text=True)
    assert db.session.query(OfferingKeycloakMembership).count() == 2
    done = manager.post(f"{members_url(world)}/remove", {"memberships": uuids, "confirm": "y"})
    assert done.status_code == 303
    assert db.session.query(OfferingKeycloakMembership).count() == 0
    assert "Removed 2 members." in manager.get(members_url(world)).get_data(as_text=True)


def test_remove_nothing_selected(manager, world: World) -> None:
    response = manager.get(f"{members_url(world)}/remove")
    assert response.status_code == 400 and "Select at least one member" in response.get_data(as_text=True)


def test_error_tooltip_on_state_badge(manager, world: World) -> None:
    group = world.add_group("g", backend_id=world.realm.add_path("/base/hpc/g"))
    db.session.add(
        OfferingKeycloakMembership(group=group, username="pat", state="pending", error_message="Keycloak <down>")
    )
    db.session.commit()
    badge = parse(manager.get(members_url(world))).select_one("[title]:-soup-contains('pending')")
    assert badge is not None and badge["title"] == "Keycloak <down>"  # the error, as text
