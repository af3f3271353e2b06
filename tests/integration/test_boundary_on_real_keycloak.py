"""The offering's place in the realm and what "created here" means, attacked on a real Keycloak (see
tests/security/test_boundary.py for the same on the fake, and for the checks that need no Keycloak)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.html import parse
from tests.security.matrix import Call, send_ui, settings_form, sign_in
from webapp.extensions import db
from webapp.models import Offering, OfferingKeycloakGroup
from webapp.services.groups.register import NOT_CREATED_HERE
from webapp.services.naming import render_group_name

from .conftest import RealWorld

GROUPS = "/api/offering-keycloak-groups"
MEMBERSHIPS = "/api/offering-keycloak-memberships/"
OVERLAP = "would be inside, equal to or above"


def post_settings(app: Flask, real: RealWorld, who: str, **changes: str) -> Any:
    client = app.test_client()
    token = sign_in(client, who)
    offering = real.world.offering
    form = settings_form(
        url=offering.keycloak_url, realm=offering.keycloak_realm, username=offering.keycloak_username, **changes
    )
    return send_ui(client, "POST", Call(f"/offerings/{offering.uuid}/settings", form=form), token)


def grant(client: Any, real: RealWorld, username: str, **extra: str) -> Any:
    body = {"offering": real.world.offering.uuid, "role": real.world.member_role.uuid, "username": username} | extra
    return client.post(MEMBERSHIPS, json=body, headers=real.world.headers("manager"))


def child_names(real: RealWorld, path: str) -> list[str]:
    group = real.realm.group_by_path(path)
    assert group is not None, path
    return sorted(child["name"] for child in real.realm.children(group["id"]))


def groups() -> list[OfferingKeycloakGroup]:
    db.session.expire_all()
    return list(db.session.query(OfferingKeycloakGroup).order_by(OfferingKeycloakGroup.id))


def test_a_manager_cannot_move_the_subtree_onto_unrelated_groups(app: Flask, client: Any, real: RealWorld) -> None:
    real.realm.add_path("/unrelated/keep")
    real.realm.add_user("newbie", "newbie@example.org")
    refused = post_settings(app, real, "manager", base_group="unrelated")
    assert refused.status_code == 400 and "Only staff can change the base group" in parse(refused).get_text()
    assert grant(client, real, "newbie").status_code == 201
    (group,) = groups()
    assert real.realm.group_by_path(f"/base/hpc/{group.name}")["id"] == group.backend_id
    assert real.realm.group_members(group.backend_id) == ["newbie"]
    assert child_names(real, "/unrelated") == ["keep"]  # nothing was created there, nobody was added


def test_another_offerings_tree_cannot_be_taken(app: Flask, client: Any, real: RealWorld) -> None:
    """Another offering's tree holds a group named like this offering's slug: with the base group pointed at
    that tree, the next grant would fill the other offering's groups."""
    world = real.world
    name = render_group_name(world.offering, world.member_role, None, "")
    theirs = real.realm.add_path(f"/base/other-svc/hpc/{name}")
    real.realm.add_member(theirs, real.realm.add_user("victim", "victim@example.org"))
    real.realm.add_user("newbie", "newbie@example.org")
    refused = post_settings(app, real, "staff", base_group="base/other-svc")
    assert refused.status_code == 400 and OVERLAP in refused.get_data(as_text=True)
    assert "Other Service" in refused.get_data(as_text=True)
    # The same place given some other way (straight into the database): refused before any Keycloak call.
    db.session.get(Offering, world.offering.id).keycloak_base_group = "base/other-svc"  # type: ignore[union-attr]
    db.session.commit()
    response = grant(client, real, "newbie")
    assert response.status_code == 400 and OVERLAP in response.json[0]
    assert real.realm.group_members(theirs) == ["victim"]
    assert child_names(real, "/base/other-svc/hpc") == [name] and groups() == []


def test_adopted_and_relinked_groups_survive_a_remote_delete(client: Any, real: RealWorld) -> None:
    world, realm = real.world, real.realm
    headers = world.headers("manager")
    adopted_path = f"/base/hpc/{render_group_name(world.offering, world.member_role, None, '')}"
    adopted_id = realm.add_path(adopted_path)
    realm.add_group("precious-sub", adopted_id)
    precious_id = realm.add_path("/base/hpc/precious")
    realm.add_group("precious-sub", precious_id)

    assert grant(client, real, "newbie").status_code == 201  # adopts the existing group
    adopted = groups()[0]
    assert (adopted.backend_id, adopted.origin) == (adopted_id, "imported")
    refused = client.delete(f"{GROUPS}/{adopted.uuid}/?delete_remote=true", headers=headers)
    assert refused.status_code == 400 and refused.json == {"delete_remote": [NOT_CREATED_HERE]}
    assert child_names(real, adopted_path) == ["precious-sub"]

    scoped = {"role": world.cluster_role.uuid, "resource": world.resource.uuid, "scope_id": "c-1"}
    assert grant(client, real, "newbie", **scoped).status_code == 201  # creates its group
    made = groups()[1]
    made_id = made.backend_id
    assert made.origin == "created" and made.created_backend_id == made_id
    relink = client.post(f"{GROUPS}/{made.uuid}/set_backend_id/", json={"backend_id": precious_id}, headers=headers)
    assert relink.status_code == 200
    refused = client.delete(f"{GROUPS}/{made.uuid}/?delete_remote=true", headers=headers)
    assert refused.status_code == 400 and refused.json == {"delete_remote": [NOT_CREATED_HERE]}
    assert child_names(real, "/base/hpc/precious") == ["precious-sub"]

    back = client.post(f"{GROUPS}/{made.uuid}/set_backend_id/", json={"backend_id": made_id}, headers=headers)
    assert back.status_code == 200
    assert client.delete(f"{GROUPS}/{made.uuid}/?delete_remote=true", headers=headers).status_code == 204
    remaining = child_names(real, "/base/hpc")
    assert made.name not in remaining and "precious" in remaining and adopted_path.rsplit("/", 1)[1] in remaining
