"""Query parameters are declared once (webapp/api/queries.py): pydantic validates them and the OpenAPI document
lists exactly the model's fields, so the two cannot disagree."""

from __future__ import annotations

import pytest

from tests.factories import World
from webapp.api import queries

# path in the document -> the model its GET handler parses
ENDPOINTS = {
    "/api/offering-keycloak-groups/": queries.GroupListQuery,
    "/api/offering-keycloak-groups/remote_groups/": queries.RemoteGroupsQuery,
    "/api/offering-keycloak-groups/remote_group_members/": queries.RemoteGroupMembersQuery,
    "/api/offering-keycloak-groups/search_remote_users/": queries.RemoteUsersQuery,
    "/api/offering-keycloak-groups/sync_status/": queries.OfferingQuery,
    "/api/offering-keycloak-groups/link_suggestions/": queries.OfferingQuery,
    "/api/offering-keycloak-memberships/": queries.MembershipListQuery,
    "/api/offering-keycloak-plans/": queries.PlanListQuery,
    "/api/offering-keycloak-plans/{uuid}/items/": queries.PlanItemsQuery,
    "/api/offering-keycloak-jobs/": queries.JobListQuery,
    "/api/offering-keycloak-audit/": queries.AuditQuery,
}
SHARED = {"page", "page_size", "o", "format"}  # pagination.py, ordering.py, formats.py


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_the_document_lists_the_model_fields(client, path: str) -> None:
    document = client.get("/api/schema/").json
    parameters = document["paths"][path]["get"]["parameters"]
    documented = {parameter["name"]: parameter for parameter in parameters if parameter["in"] == "query"}
    model = ENDPOINTS[path]
    assert set(documented) - SHARED == set(model.model_fields)
    for name, field in model.model_fields.items():
        assert documented[name]["required"] == field.is_required(), name
        assert documented[name]["description"] == field.description, name


def test_the_delete_parameter_is_documented_from_its_model(client) -> None:
    document = client.get("/api/schema/").json
    parameters = document["paths"]["/api/offering-keycloak-groups/{uuid}/"]["delete"]["parameters"]
    (parameter,) = [parameter for parameter in parameters if parameter["in"] == "query"]
    assert parameter["name"] == "delete_remote" and parameter["schema"]["type"] == "boolean"


@pytest.mark.parametrize(
    ("url", "errors"),
    [
        ("/api/offering-keycloak-groups/?role_uuid=nope", {"role_uuid": ["Must be a valid UUID."]}),
        ("/api/offering-keycloak-groups/?linked=perhaps", {"linked": ["Must be true or false."]}),
        ("/api/offering-keycloak-groups/sync_status/?offering_uuid=", {"offering_uuid": ["This field is required."]}),
        ("/api/offering-keycloak-groups/sync_status/", {"offering_uuid": ["This field is required."]}),
        (
            "/api/offering-keycloak-memberships/?state=active&state=gone",
            {"state": ["Select a valid choice. gone is not one of the available choices."]},
        ),
        ("/api/offering-keycloak-memberships/?q=" + "x" * 101, {"q": ["Search for at most 100 characters."]}),
        (
            "/api/offering-keycloak-audit/?created_from=May",
            {"created_from": ["Enter a date as YYYY-MM-DD, not 'May'."]},
        ),
        (
            "/api/offering-keycloak-jobs/?kind=dance",
            {"kind": ['"dance" is not one of: ' + ", ".join(queries.job_kinds.names()) + "."]},
        ),
    ],
)
def test_each_parameter_is_refused_in_words(client, world: World, url: str, errors: dict[str, list[str]]) -> None:
    response = client.get(url, headers=world.headers("manager"))
    assert response.status_code == 400
    assert response.json == errors


def test_several_bad_parameters_are_all_reported(client, world: World) -> None:
    response = client.get(
        "/api/offering-keycloak-groups/?role_uuid=x&resource_uuid=y&linked=z", headers=world.headers("manager")
    )
    assert response.status_code == 400
    assert set(response.json) == {"role_uuid", "resource_uuid", "linked"}


def test_a_blank_filter_filters_nothing(client, world: World) -> None:
    world.add_group("alpha", backend_id="")
    response = client.get(
        "/api/offering-keycloak-groups/?offering_uuid=&name=&linked=", headers=world.headers("manager")
    )
    assert response.status_code == 200
    assert [item["name"] for item in response.json] == ["alpha"]
