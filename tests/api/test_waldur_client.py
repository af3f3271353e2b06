"""The published generated client (waldur-api-client 8.0.x) works against this API unchanged."""

from __future__ import annotations

import uuid

import httpx
import pytest
from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.offering_keycloak_groups import (
    offering_keycloak_groups_count,
    offering_keycloak_groups_destroy,
    offering_keycloak_groups_import_remote,
    offering_keycloak_groups_list,
    offering_keycloak_groups_pull_members,
    offering_keycloak_groups_remote_group_members_count,
    offering_keycloak_groups_remote_group_members_list,
    offering_keycloak_groups_remote_groups_count,
    offering_keycloak_groups_remote_groups_list,
    offering_keycloak_groups_retrieve,
    offering_keycloak_groups_search_remote_users_count,
    offering_keycloak_groups_search_remote_users_list,
    offering_keycloak_groups_set_backend_id,
    offering_keycloak_groups_sync_status_count,
    offering_keycloak_groups_sync_status_retrieve,
    offering_keycloak_groups_test_connection,
)
from waldur_api_client.api.offering_keycloak_memberships import (
    offering_keycloak_memberships_count,
    offering_keycloak_memberships_list,
    offering_keycloak_memberships_retrieve,
)
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import ImportRemoteGroupRequest, OfferingUUIDRequest, SetBackendIdRequest

from tests.factories import World


@pytest.fixture
def waldur(app, world: World) -> AuthenticatedClient:
    client = AuthenticatedClient(base_url="http://testserver", token=world.tokens["manager"])
    client.set_httpx_client(
        httpx.Client(
            base_url="http://testserver",
            transport=httpx.WSGITransport(app=app),
            headers={"Authorization": f"Token {world.tokens['manager']}"},
        )
    )
    return client


@pytest.fixture
def seeded(world: World) -> dict[str, str]:
    users_id = world.realm.add_path("/base/hpc/users")
    admins_id = world.realm.add_path("/base/hpc/admins")
    for name in ("alice", "bob", "bobby"):
        world.realm.add_member(users_id, world.realm.add_user(name, f"{name}@example.org", name.title(), "Client"))
    return {"users": users_id, "admins": admins_id}


def test_group_workflow_through_the_client(waldur: AuthenticatedClient, world: World, seeded: dict) -> None:
    offering_uuid = uuid.UUID(world.offering.uuid)

    connection = offering_keycloak_groups_test_connection.sync(
        client=waldur, body=OfferingUUIDRequest(offering_uuid=offering_uuid)
    )
    assert connection.status == "ok" and sorted(connection.groups) == ["admins", "users"]

    remote = offering_keycloak_groups_remote_groups_list.sync(client=waldur, offering_uuid=str(offering_uuid))
    assert {group.name for group in remote} == {"admins", "users"}
    assert offering_keycloak_groups_remote_groups_count.sync(client=waldur, offering_uuid=str(offering_uuid)) == 2
    assert (
        len(offering_keycloak_groups_remote_groups_list.sync_all(client=waldur, offering_uuid=str(offering_uuid))) == 2
    )

    members = offering_keycloak_groups_remote_group_members_list.sync(
        client=waldur, offering_uuid=str(offering_uuid), group_id=seeded["users"]
    )
    assert sorted(member.username for member in members) == ["alice", "bob", "bobby"]
    assert (
        offering_keycloak_groups_remote_group_members_count.sync(
            client=waldur, offering_uuid=str(offering_uuid), group_id=seeded["users"]
        )
        == 3
    )

    found = offering_keycloak_groups_search_remote_users_list.sync(
        client=waldur, offering_uuid=str(offering_uuid), q="bob"
    )
    assert [user.username for user in found] == ["bob", "bobby"]
    assert (
        offering_keycloak_groups_search_remote_users_count.sync(
            client=waldur, offering_uuid=str(offering_uuid), q="bob"
        )
        == 2
    )

    group = offering_keycloak_groups_import_remote.sync(
        client=waldur,
        body=ImportRemoteGroupRequest(
            offering_uuid=offering_uuid,
            role_uuid=uuid.UUID(world.member_role.uuid),
            remote_group_id=seeded["users"],
            resource_uuid=uuid.UUID(world.resource.uuid),
        ),
    )
    assert group.name == "users" and group.backend_id == seeded["users"]
    assert group.resource_uuid == uuid.UUID(world.resource.uuid)

    listed = offering_keycloak_groups_list.sync(client=waldur, offering_uuid=offering_uuid)
    assert [item.uuid for item in listed] == [group.uuid]
    assert offering_keycloak_groups_count.sync(client=waldur, offering_uuid=offering_uuid) == 1
    assert offering_keycloak_groups_retrieve.sync(group.uuid, client=waldur).name == "users"

    pulled = offering_keycloak_groups_pull_members.sync(group.uuid, client=waldur)
    assert (pulled.created, pulled.updated, pulled.total_remote) == (3, 0, 3)
    assert pulled.additional_properties["removed_remotely"] == 0

    memberships = offering_keycloak_memberships_list.sync(client=waldur, group_uuid=group.uuid)
    assert sorted(m.username for m in memberships) == ["alice", "bob", "bobby"]
    assert offering_keycloak_memberships_count.sync(client=waldur, offering_uuid=offering_uuid) == 3
    one = offering_keycloak_memberships_retrieve.sync(memberships[0].uuid, client=waldur)
    assert one.group_name == "users" and one.state.value == "active" and one.error_traceback == ""

    status = offering_keycloak_groups_sync_status_retrieve.sync(client=waldur, offering_uuid=str(offering_uuid))
    assert [(s.local_name, s.backend_id) for s in status.synced] == [("users", seeded["users"])]
    assert status.remote_only == ["admins"] and status.local_only == []
    assert offering_keycloak_groups_sync_status_count.sync(client=waldur, offering_uuid=str(offering_uuid)) == 2

    relinked = offering_keycloak_groups_set_backend_id.sync(
        group.uuid, client=waldur, body=SetBackendIdRequest(backend_id=seeded["admins"])
    )
    assert relinked.backend_id == seeded["admins"]
    unlinked = offering_keycloak_groups_set_backend_id.sync(
        group.uuid, client=waldur, body=SetBackendIdRequest(backend_id=None)
    )
    assert unlinked.backend_id == ""

    response = offering_keycloak_groups_destroy.sync_detailed(group.uuid, client=waldur)
    assert response.status_code == 204
    assert offering_keycloak_groups_count.sync(client=waldur) == 0


def test_client_sees_errors_as_unexpected_status(waldur: AuthenticatedClient, world: World) -> None:
    with pytest.raises(UnexpectedStatus) as info:
        offering_keycloak_groups_retrieve.sync(uuid.uuid4(), client=waldur)
    assert info.value.status_code == 404
    world.realm.down = True
    with pytest.raises(UnexpectedStatus) as info:
        offering_keycloak_groups_test_connection.sync(
            client=waldur, body=OfferingUUIDRequest(offering_uuid=uuid.UUID(world.offering.uuid))
        )
    assert info.value.status_code == 502
    assert b"Cannot connect" in info.value.content
