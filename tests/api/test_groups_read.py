"""GET list/detail, filters, pagination, visibility, 405s for /api/offering-keycloak-groups/."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import World

LIST = "/api/offering-keycloak-groups/"


def test_anonymous_gets_401(client, world: World) -> None:
    response = client.get(LIST)
    assert response.status_code == 401
    assert response.json == {"detail": "Authentication credentials were not provided."}


def test_bad_token_gets_401(client, world: World) -> None:
    response = client.get(LIST, headers={"Authorization": "Token nope"})
    assert response.status_code == 401
    assert response.json == {"detail": "Invalid token."}


def test_list_representation_has_every_key(client, world: World) -> None:
    group = world.add_group("alpha", backend_id="", resource=world.resource)
    response = client.get(LIST, headers=world.headers("manager"))
    assert response.status_code == 200
    (item,) = response.json
    assert set(item) == {
        "uuid",
        "url",
        "name",
        "backend_id",
        "offering",
        "offering_uuid",
        "offering_name",
        "role",
        "role_name",
        "role_scope_type",
        "resource",
        "resource_uuid",
        "resource_name",
        "scope_id",
        "default_days",
        "max_days",
        "created",
        "modified",
    }
    assert item["uuid"] == group.uuid and len(item["uuid"]) == 32
    assert item["resource_uuid"] == world.resource.uuid
    assert item["offering_name"] == "HPC Cluster"
    assert item["url"].endswith(f"/api/offering-keycloak-groups/{group.uuid}/")


def test_group_without_resource_renders_nulls(client, world: World) -> None:
    world.add_group("alpha")
    (item,) = client.get(LIST, headers=world.headers("manager")).json
    assert item["resource"] is None and item["resource_uuid"] is None and item["resource_name"] is None


def test_visibility_staff_manager_other(client, world: World) -> None:
    world.add_group("mine")
    world.add_group("theirs", role=world.other_role, offering=world.other_offering)
    names = lambda who: sorted(g["name"] for g in client.get(LIST, headers=world.headers(who)).json)  # noqa: E731
    assert names("staff") == ["mine", "theirs"]
    assert names("manager") == ["mine"]
    assert names("other") == ["theirs"]
    assert names("nobody") == []


def test_detail_200_404_and_hyphenated_uuid(client, world: World) -> None:
    group = world.add_group("mine")
    ok = client.get(f"{LIST}{group.uuid}/", headers=world.headers("manager"))
    assert ok.status_code == 200 and ok.json["name"] == "mine"
    hyphenated = client.get(f"{LIST}{uuid.UUID(group.uuid)}/", headers=world.headers("manager"))
    assert hyphenated.status_code == 200
    assert client.get(f"{LIST}{group.uuid}/", headers=world.headers("other")).status_code == 404
    assert client.get(f"{LIST}{uuid.uuid4().hex}/", headers=world.headers("staff")).status_code == 404
    assert client.get(f"{LIST}not-a-uuid/", headers=world.headers("staff")).json == {"detail": "Not found."}


def test_filters(client, world: World) -> None:
    world.add_group("linked-one", backend_id="abc", resource=world.resource)
    world.add_group("Unlinked-Two", role=world.cluster_role, resource=world.resource, scope_id="c-1")
    headers = world.headers("manager")

    def names(query: str) -> list[str]:
        response = client.get(f"{LIST}?{query}", headers=headers)
        assert response.status_code == 200, response.json
        return sorted(g["name"] for g in response.json)

    assert names("linked=true") == ["linked-one"]
    assert names("linked=false") == ["Unlinked-Two"]
    assert names("name=unlinked") == ["Unlinked-Two"]
    assert names("backend_id=abc") == ["linked-one"]
    assert names(f"role_uuid={uuid.UUID(world.cluster_role.uuid)}") == ["Unlinked-Two"]
    assert names(f"resource_uuid={world.resource.uuid}") == ["Unlinked-Two", "linked-one"]
    assert names(f"offering_uuid={world.offering.uuid}") == ["Unlinked-Two", "linked-one"]


def test_filter_errors(client, world: World) -> None:
    headers = world.headers("manager")
    assert client.get(f"{LIST}?linked=maybe", headers=headers).json == {"linked": ["Must be true or false."]}
    assert client.get(f"{LIST}?role_uuid=zzz", headers=headers).json == {"role_uuid": ["Must be a valid UUID."]}
    hidden = client.get(f"{LIST}?offering_uuid={world.other_offering.uuid}", headers=headers)
    assert hidden.status_code == 400 and hidden.json == {"offering_uuid": ["Offering not found."]}


def test_pagination_headers_and_head(client, world: World) -> None:
    for index in range(12):
        world.add_group(f"g{index:02d}", scope_id=str(index))
    headers = world.headers("manager")
    first = client.get(f"{LIST}?o=name", headers=headers)
    assert [g["name"] for g in first.json] == [f"g{i:02d}" for i in range(10)]
    assert first.headers["X-Result-Count"] == "12"
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    second = client.get(f"{LIST}?o=name&page=2", headers=headers)
    assert [g["name"] for g in second.json] == ["g10", "g11"]
    assert 'rel="prev"' in second.headers["Link"] and 'rel="next"' not in second.headers["Link"]
    big = client.get(f"{LIST}?page_size=1000", headers=headers)
    assert len(big.json) == 12
    head = client.head(LIST, headers=headers)
    assert head.status_code == 200 and head.data == b"" and head.headers["X-Result-Count"] == "12"
    assert client.get(f"{LIST}?page=9", headers=headers).status_code == 404
    assert client.get(f"{LIST}?page=abc", headers=headers).json == {"detail": "Invalid page."}


def test_default_order_is_newest_first(client, world: World) -> None:
    world.add_group("older", scope_id="1")
    world.add_group("newer", scope_id="2")
    assert [g["name"] for g in client.get(LIST, headers=world.headers("manager")).json] == ["newer", "older"]
    assert [g["name"] for g in client.get(f"{LIST}?o=-name", headers=world.headers("manager")).json] == [
        "older",
        "newer",
    ]


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_writes_on_collection_and_detail_are_405(client, world: World, method: str) -> None:
    group = world.add_group("mine")
    headers = world.headers("staff")
    assert getattr(client, method)(LIST, headers=headers, json={}).status_code == 405
    detail = getattr(client, method)(f"{LIST}{group.uuid}/", headers=headers, json={})
    assert detail.status_code == 405
    assert detail.json == {"detail": f'Method "{method.upper()}" not allowed.'}
