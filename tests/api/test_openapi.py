"""GET /api/schema/: a valid OpenAPI 3.0.3 document, in step with app.url_map, and true to real responses."""

from __future__ import annotations

import copy
import datetime
import importlib
import pkgutil
import re
import uuid
from typing import Any
from urllib.parse import urlparse

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec

from tests.factories import World
from webapp.extensions import db

SCHEMA = "/api/schema/"
GROUPS = "/api/offering-keycloak-groups/"
MEMBERSHIPS = "/api/offering-keycloak-memberships/"
HTTP_METHODS = {"get", "head", "post", "put", "patch", "delete", "options", "trace"}
JSON = "application/json"

Document = dict[str, Any]


@pytest.fixture
def document(client) -> Document:
    return client.get(SCHEMA).json


# -- OpenAPI 3.0 schema -> JSON Schema --------------------------------------------------------------

FORMATS = FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or datetime.datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("uri")
def _is_url(value: object) -> bool:
    return not isinstance(value, str) or bool(urlparse(value).scheme and urlparse(value).netloc)


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema 2020-12: `nullable` becomes a "null" type, refs point at $defs, and objects
    with listed properties reject undocumented keys (so the document must name every key that is served)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items()}
    if isinstance(converted.get("$ref"), str):
        converted["$ref"] = converted["$ref"].replace("#/components/schemas/", "#/$defs/")
    if converted.pop("nullable", False) and "type" not in converted:  # {"allOf": [{"$ref": ...}], nullable}
        converted = {"anyOf": [converted, {"type": "null"}]}
    elif "type" in converted and node.get("nullable"):
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    if "properties" in converted and "additionalProperties" not in converted:
        converted["additionalProperties"] = False
    return converted


def validator(document: Document, schema: Any) -> Draft202012Validator:
    root = {"$defs": to_json_schema(document["components"]["schemas"]), **to_json_schema(schema)}
    return Draft202012Validator(root, format_checker=FORMATS)


def documented_response(document: Document, path: str, method: str, status: int) -> dict[str, Any]:
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, which is not documented"
    response = responses[str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def assert_conforms(document: Document, path: str, method: str, response: Any, status: int) -> None:
    """The status is the one expected and documented; the body and headers are as documented."""
    assert response.status_code == status, response.data
    documented = documented_response(document, path, method, status)
    for name in documented.get("headers", {}):
        assert name in response.headers, f"{method.upper()} {path} {status}: missing header {name}"
    content = documented.get("content")
    if content is None:
        assert response.data == b"", f"{method.upper()} {path} {status} should have no body"
        return
    schema = content[JSON]["schema"]
    errors = sorted(validator(document, schema).iter_errors(response.json), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


# -- 1. a valid OpenAPI document --------------------------------------------------------------------


def test_schema_is_public_json_and_valid_openapi(client, world: World) -> None:
    response = client.get(SCHEMA)
    assert response.status_code == 200 and response.is_json
    document = response.json
    assert document["openapi"] == "3.0.3"
    validate_spec(copy.deepcopy(document))
    scheme = document["components"]["securitySchemes"]["TokenAuth"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <key>"}
    head = client.head(SCHEMA)
    assert head.status_code == 200 and head.data == b""


def test_operation_ids_are_unique_and_match_the_published_client(document: Document, app) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for m, op in item.items() if m in HTTP_METHODS]
    assert len(ids) == len(set(ids))
    by_route = {
        (path, method): op["operationId"]
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }
    published = published_operations()
    assert len(published) >= 20
    for (path, method), operation_id in published.items():
        if (path, method) in served_operations(app):
            assert by_route[(path, method)] == operation_id, f"{method.upper()} {path}"


def published_operations() -> dict[tuple[str, str], str]:
    """(path, method) -> operation id of every call of the Waldur client for our two collections."""
    found = {}
    for package in ("offering_keycloak_groups", "offering_keycloak_memberships"):
        module = importlib.import_module(f"waldur_api_client.api.{package}")
        for info in pkgutil.iter_modules(module.__path__):
            source = open(importlib.import_module(f"{module.__name__}.{info.name}").__file__).read()  # noqa: SIM115
            method = re.search(r'"method": "(\w+)"', source).group(1)  # type: ignore[union-attr]
            path = re.search(r'"url": f?"([^"]+)"', source).group(1)  # type: ignore[union-attr]
            found[(path, method)] = info.name
    return found


# -- 2. in step with the routes ---------------------------------------------------------------------


def served_operations(app) -> set[tuple[str, str]]:
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] != "api":
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        served |= {(path, method.lower()) for method in rule.methods - {"OPTIONS"}}
    return served


def test_document_lists_exactly_the_served_routes(document: Document, app) -> None:
    documented = {
        (path, method) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }
    served = served_operations(app)
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def test_list_endpoints_document_head_count_and_paging(document: Document) -> None:
    for path in (GROUPS, MEMBERSHIPS, *(f"{GROUPS}{name}/" for name in ("remote_groups", "remote_group_members"))):
        item = document["paths"][path]
        assert item["head"]["operationId"].endswith("_count")
        assert {"X-Result-Count", "Link"} <= set(item["head"]["responses"]["200"]["headers"])
        assert "content" not in item["head"]["responses"]["200"]
        assert {"page", "page_size"} <= {p["name"] for p in item["get"]["parameters"]}
    assert "X-Result-Count" in document["paths"][f"{GROUPS}sync_status/"]["head"]["responses"]["200"]["headers"]


def test_nullable_fields_are_marked(document: Document) -> None:
    schemas = document["components"]["schemas"]
    for name, fields in {
        "OfferingKeycloakGroup": ("resource", "resource_uuid", "resource_name"),
        "OfferingKeycloakMembership": ("group_resource_name", "group_resource_uuid", "user"),
    }.items():
        for field in fields:
            assert schemas[name]["properties"][field].get("nullable") is True, f"{name}.{field}"
        assert "nullable" not in schemas[name]["properties"]["uuid"]


# -- 3. real responses conform ----------------------------------------------------------------------


def test_group_reads_conform(client, world: World, document: Document) -> None:
    headers = world.headers("manager")
    group = world.add_group("plain")
    world.add_group("with-resource", resource=world.resource, backend_id="x")
    listed = client.get(GROUPS, headers=headers)
    assert len(listed.json) == 2
    assert_conforms(document, GROUPS, "get", listed, 200)
    assert_conforms(document, GROUPS, "head", client.head(GROUPS, headers=headers), 200)
    assert_conforms(document, GROUPS, "get", client.get(f"{GROUPS}?linked=maybe", headers=headers), 400)
    assert_conforms(document, GROUPS, "get", client.get(f"{GROUPS}?page=9", headers=headers), 404)
    assert_conforms(document, GROUPS, "get", client.get(GROUPS), 401)

    detail = f"{GROUPS}{{uuid}}/"
    assert_conforms(document, detail, "get", client.get(f"{GROUPS}{group.uuid}/", headers=headers), 200)
    assert_conforms(document, detail, "head", client.head(f"{GROUPS}{group.uuid}/", headers=headers), 200)
    assert_conforms(document, detail, "get", client.get(f"{GROUPS}{uuid.uuid4()}/", headers=headers), 404)


def test_proxy_reads_conform(client, world: World, document: Document) -> None:
    headers = world.headers("manager")
    users_id = world.realm.add_path("/base/hpc/users")
    world.realm.add_path("/base/hpc/admins")
    world.realm.add_member(users_id, world.realm.add_user("alice", "alice@example.org", "Alice", ""))
    world.add_group("users", backend_id=users_id)
    world.add_group("unlinked", scope_id="2")
    world.add_group("dangling", backend_id="gone", scope_id="1")
    offering = f"offering_uuid={world.offering.uuid}"

    def check(name: str, query: str, status: int = 200) -> None:
        path = f"{GROUPS}{name}/"
        assert_conforms(document, path, "get", client.get(f"{path}?{query}", headers=headers), status)
        assert_conforms(document, path, "head", client.head(f"{path}?{query}", headers=headers), status)

    check("remote_groups", offering)
    check("remote_groups", "", 400)
    check("remote_group_members", f"{offering}&group_id={users_id}")
    check("remote_group_members", f"{offering}&group_id=nope", 400)
    check("search_remote_users", f"{offering}&q=ali")
    check("search_remote_users", f"{offering}&q=ali&page=4", 404)
    check("sync_status", offering)
    status = client.get(f"{GROUPS}sync_status/?{offering}", headers=headers).json
    assert status["local_only"] == ["dangling", "unlinked"] and status["remote_only"] == ["admins"]

    world.offering.keycloak_enabled = False  # the list-shaped 400
    db.session.commit()
    check("sync_status", offering, 400)
    world.offering.keycloak_enabled = True
    db.session.commit()
    world.realm.down = True
    check("remote_groups", offering, 502)
    check("sync_status", offering, 502)


def test_group_writes_conform(client, world: World, document: Document) -> None:
    headers = world.headers("manager")
    remote_id = world.realm.add_path("/base/hpc/users")
    world.realm.add_member(remote_id, world.realm.add_user("bob", "bob@example.org", "Bob", "Builder"))
    body = {"offering_uuid": world.offering.uuid, "role_uuid": world.member_role.uuid, "remote_group_id": remote_id}
    path = f"{GROUPS}import_remote/"

    assert_conforms(document, path, "post", client.post(path, json={}, headers=headers), 400)
    assert_conforms(document, path, "post", client.post(path, json={**body, "resource_uuid": None}), 401)
    created = client.post(path, json={**body, "resource_uuid": world.resource.uuid}, headers=headers)
    assert_conforms(document, path, "post", created, 201)
    again = client.post(path, json=body, headers=headers)
    assert_conforms(document, path, "post", again, 400)
    assert isinstance(again.json, list)
    group_uuid = created.json["uuid"]

    relink = f"{GROUPS}{{uuid}}/set_backend_id/"
    url = f"{GROUPS}{group_uuid}/set_backend_id/"
    assert_conforms(document, relink, "post", client.post(url, json={"backend_id": "nope"}, headers=headers), 400)
    assert_conforms(
        document,
        relink,
        "post",
        client.post(url, json={"backend_id": remote_id, "resource_uuid": None}, headers=headers),
        200,
    )

    pull = f"{GROUPS}{{uuid}}/pull_members/"
    assert_conforms(document, pull, "post", client.post(f"{GROUPS}{group_uuid}/pull_members/", headers=headers), 200)

    test_connection = f"{GROUPS}test_connection/"
    ok = client.post(test_connection, json={"offering_uuid": world.offering.uuid}, headers=headers)
    assert_conforms(document, test_connection, "post", ok, 200)
    world.realm.down = True
    down = client.post(test_connection, json={"offering_uuid": world.offering.uuid}, headers=headers)
    assert_conforms(document, test_connection, "post", down, 502)
    assert set(down.json) == {"status", "error"}
    world.realm.down = False

    detail = f"{GROUPS}{{uuid}}/"
    delete = client.delete(f"{GROUPS}{group_uuid}/?delete_remote=true", headers=headers)
    assert_conforms(document, detail, "delete", delete, 400)  # imported groups are never deleted remotely
    assert_conforms(document, detail, "delete", client.delete(f"{GROUPS}{group_uuid}/", headers=headers), 204)
    assert_conforms(document, detail, "delete", client.delete(f"{GROUPS}{group_uuid}/", headers=headers), 404)


def test_membership_reads_conform(client, world: World, document: Document) -> None:
    remote_id = world.realm.add_path("/base/hpc/users")
    for name in ("carol", "dave"):
        world.realm.add_member(remote_id, world.realm.add_user(name, f"{name}@example.org"))
    group = world.add_group("users", backend_id=remote_id, resource=world.resource)
    world.add_group("unscoped-empty", backend_id="")
    for who in ("manager", "staff"):
        assert client.post(f"{GROUPS}{group.uuid}/pull_members/", headers=world.headers(who)).status_code == 200
    world.realm.groups[remote_id].members.clear()
    client.post(f"{GROUPS}{group.uuid}/pull_members/", headers=world.headers("manager"))  # -> removed_remotely

    for who in ("manager", "staff"):
        headers = world.headers(who)
        listed = client.get(f"{MEMBERSHIPS}?state=removed_remotely&state=active&o=-username", headers=headers)
        assert [item["username"] for item in listed.json] == ["dave", "carol"]
        assert_conforms(document, MEMBERSHIPS, "get", listed, 200)
        assert_conforms(document, MEMBERSHIPS, "head", client.head(MEMBERSHIPS, headers=headers), 200)
        item = listed.json[0]
        detail = f"{MEMBERSHIPS}{{uuid}}/"
        assert_conforms(document, detail, "get", client.get(f"{MEMBERSHIPS}{item['uuid']}/", headers=headers), 200)
    headers = world.headers("manager")
    assert_conforms(document, MEMBERSHIPS, "get", client.get(f"{MEMBERSHIPS}?state=bogus", headers=headers), 400)
    missing = client.get(f"{MEMBERSHIPS}{uuid.uuid4().hex}/", headers=headers)
    assert_conforms(document, f"{MEMBERSHIPS}{{uuid}}/", "get", missing, 404)


def test_catalog_reads_conform(client, world: World, document: Document) -> None:
    headers = world.headers("manager")
    assert_conforms(document, "/api/offerings/", "get", client.get("/api/offerings/", headers=headers), 200)
    for path, object_uuid in (
        ("/api/offerings/{uuid}/", world.offering.uuid),
        ("/api/offering-roles/{uuid}/", world.cluster_role.uuid),
        ("/api/resources/{uuid}/", world.resource.uuid),
    ):
        url = path.replace("{uuid}", object_uuid)
        assert_conforms(document, path, "get", client.get(url, headers=headers), 200)
        assert_conforms(document, path, "get", client.get(path.replace("{uuid}", "x"), headers=headers), 404)


def test_method_not_allowed_matches_its_component(client, world: World, document: Document) -> None:
    response = client.put(GROUPS, json={}, headers=world.headers("manager"))
    assert response.status_code == 405
    schema = document["components"]["responses"]["MethodNotAllowed"]["content"][JSON]["schema"]
    validator(document, schema).validate(response.json)
    assert "405" in document["paths"][GROUPS]["description"]
