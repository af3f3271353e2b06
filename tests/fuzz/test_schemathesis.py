"""Schemathesis over /api/schema/: every documented operation, authenticated as a manager, on the fake Keycloak.

One pytest item per operation. Each gets a fresh database and fake realm from the shared `app` and `world`
fixtures, seeded below with groups, memberships, remote groups and users whose uuids are fixed; hooks steer part
of the generated uuids, Keycloak ids and usernames to those objects, so requests reach past "not found". Every
response must not be a 5xx and must match the document: a documented status code, the documented content type,
headers and body schema. (Schemathesis never calls the operation that serves the document itself, GET
/api/schema/; tests/api/test_openapi.py covers it.)

Bounded and reproducible for CI: a fixed seed, `derandomize`, no example database, 25 fuzzed examples per
operation plus schemathesis' deterministic coverage cases; about a minute on 2 cores.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import World
from webapp import create_app
from webapp.extensions import db
from webapp.models import MembershipState, OfferingKeycloakMembership

SCHEMA_PATH = "/api/schema/"
# 25 keeps `make test` fast; raise it for a deeper local hunt, e.g. OKG_FUZZ_MAX_EXAMPLES=500.
MAX_EXAMPLES = int(os.environ.get("OKG_FUZZ_MAX_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def fixed_uuid(name: str) -> str:
    """The same hex uuid on every run, so a failing request can be replayed by hand."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"okg-fuzz/{name}").hex


# Objects seeded into the world, by the uuid the generated requests may use.
OFFERING = fixed_uuid("offering")
OTHER_OFFERING = fixed_uuid("other-offering")
ORGANIZATION = fixed_uuid("organization")
MEMBER_ROLE = fixed_uuid("member-role")
CLUSTER_ROLE = fixed_uuid("cluster-role")
OTHER_ROLE = fixed_uuid("other-role")
RESOURCE = fixed_uuid("resource")
OTHER_RESOURCE = fixed_uuid("other-resource")
GROUPS = {name: fixed_uuid(f"group-{name}") for name in ("users", "unlinked", "dangling", "scoped", "foreign")}
MEMBERSHIPS = {name: fixed_uuid(f"membership-{name}") for name in ("alice", "bob", "carol", "dave", "erin")}
# The uuids a `{uuid}` path parameter may be steered to, by collection: visible, invisible and deleted objects alike.
PATH_UUIDS = {
    "/api/offering-keycloak-groups/": list(GROUPS.values()),
    "/api/offering-keycloak-memberships/": list(MEMBERSHIPS.values()),
    "/api/offerings/": [OFFERING, OTHER_OFFERING],
    "/api/offering-roles/": [MEMBER_ROLE, CLUSTER_ROLE, OTHER_ROLE],
    "/api/resources/": [RESOURCE, OTHER_RESOURCE],
}
# Keycloak ids are random uuids minted by the fake realm; the seeding fills this in before each operation runs.
REMOTE_IDS: list[str] = []
USERNAMES = ["alice", "bob", "carol", "nosuchuser"]


def _schema_app() -> Flask:
    """A throwaway app that only serves the document (it never touches its database)."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "schema-only",
            "ENCRYPTION_KEY": "schema-only",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SERVER_NAME": "testserver",
        }
    )


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20250101,
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none", "deterministic": True},
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, _schema_app(), config=CONFIG)


# -- steer part of the generated values to objects that exist ---------------------------------------


def _maybe(values: list[str]) -> st.SearchStrategy[str | None]:
    """None keeps the generated value; otherwise one of the seeded ones (the first, the manager's, most often)."""
    return st.one_of(st.just(values[0]), st.sampled_from(values), st.none())


def _field_values() -> dict[str, list[str]]:
    """Query and body fields that name seeded objects, with the values that reach them."""
    remote_ids = REMOTE_IDS or ["unseeded"]
    return {
        "offering_uuid": [OFFERING, OTHER_OFFERING],
        "offering": [OFFERING, OTHER_OFFERING],
        "role_uuid": [MEMBER_ROLE, CLUSTER_ROLE, OTHER_ROLE],
        "role": [MEMBER_ROLE, CLUSTER_ROLE, OTHER_ROLE],
        "resource_uuid": [RESOURCE, OTHER_RESOURCE],
        "resource": [RESOURCE, OTHER_RESOURCE],
        "group_uuid": list(GROUPS.values()),
        "group_id": remote_ids,
        "remote_group_id": remote_ids,
        "backend_id": remote_ids,
        "username": USERNAMES,
        "q": USERNAMES,
    }


def _with_known_values(container: Any) -> st.SearchStrategy[Any]:
    if not isinstance(container, dict):
        return st.just(container)
    choices = _field_values()
    keys = [key for key in container if key in choices]
    if not keys:
        return st.just(container)
    return st.fixed_dictionaries({key: _maybe(choices[key]) for key in keys}).map(
        lambda chosen: {**container, **{key: value for key, value in chosen.items() if value is not None}}
    )


@schema.hook
def flatmap_query(context: schemathesis.HookContext, query: Any) -> st.SearchStrategy[Any]:
    return _with_known_values(query)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return _with_known_values(body)


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: Any) -> st.SearchStrategy[Any]:
    if not isinstance(path_parameters, dict) or "uuid" not in path_parameters or context.operation is None:
        return st.just(path_parameters)
    path = context.operation.path
    values = next((uuids for prefix, uuids in PATH_UUIDS.items() if path.startswith(prefix)), None)
    if values is None:
        return st.just(path_parameters)
    return _maybe(values).map(lambda known: {**path_parameters, "uuid": known or path_parameters["uuid"]})


# -- the world every operation runs against ---------------------------------------------------------


def seed(world: World) -> dict[str, str]:
    """Fixed uuids on the factory's objects, remote groups and users, local groups and memberships."""
    for obj, value in (
        (world.organization, ORGANIZATION),
        (world.offering, OFFERING),
        (world.other_offering, OTHER_OFFERING),
        (world.member_role, MEMBER_ROLE),
        (world.cluster_role, CLUSTER_ROLE),
        (world.other_role, OTHER_ROLE),
        (world.resource, RESOURCE),
        (world.other_resource, OTHER_RESOURCE),
    ):
        obj.uuid = value
    realm = world.realm
    users_id = realm.add_path("/base/hpc/users")
    admins_id = realm.add_path("/base/hpc/admins")
    nested_id = realm.add_path("/base/hpc/admins/nested")
    outside_id = realm.add_path("/elsewhere")
    for name in ("alice", "bob", "carol"):
        user_id = realm.add_user(name, f"{name}@example.org", name.title(), "Tester")
        realm.add_member(users_id, user_id)
    # Unlinked groups of the subtree first (importable), then the linked one, the root and one outside it.
    REMOTE_IDS[:] = [admins_id, nested_id, users_id, world.offering_root_id, outside_id]

    groups = {
        "users": world.add_group("users", backend_id=users_id, origin="imported"),
        "unlinked": world.add_group("unlinked", scope_id="2"),
        "dangling": world.add_group("dangling", backend_id="gone", scope_id="1"),
        "scoped": world.add_group("scoped", role=world.cluster_role, resource=world.resource, scope_id="c-1"),
        "foreign": world.add_group("foreign", role=world.other_role, offering=world.other_offering),
    }
    for name, group in groups.items():
        group.uuid = GROUPS[name]
    states = {
        "alice": ("users", MembershipState.ACTIVE),
        "bob": ("users", MembershipState.REMOVED_REMOTELY),
        "carol": ("scoped", MembershipState.PENDING),
        "dave": ("unlinked", MembershipState.PENDING),
        "erin": ("foreign", MembershipState.ACTIVE),
    }
    for username, (group_name, state) in states.items():
        db.session.add(
            OfferingKeycloakMembership(
                uuid=MEMBERSHIPS[username],
                group=groups[group_name],
                username=username,
                email=f"{username}@example.org",
                state=state.value,
            )
        )
    db.session.commit()
    return world.headers("manager")


@pytest.fixture
def headers(world: World) -> dict[str, str]:
    return seed(world)


# -- the test ---------------------------------------------------------------------------------------


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # `app` and `world` are function-scoped on purpose: one fresh world per operation, shared by its examples
    # (like a real server whose state moves on between requests).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, app: Flask, headers: dict[str, str]) -> None:
    # In production every request has an app context of its own: a fresh `g` (no cached user) and database
    # session. The `app` fixture keeps one context pushed for the whole test, so give each call its own.
    with app.app_context():
        case.call_and_validate(app=app, headers=headers, checks=CHECKS)
