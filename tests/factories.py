"""A small seeded world: one organization, two offerings, roles, a resource, users with each kind of grant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.crypto import encrypt
from webapp.extensions import db
from webapp.keycloak.fake_gateway import FakeRealm
from webapp.models import (
    Offering,
    OfferingKeycloakGroup,
    OfferingManager,
    OfferingRole,
    Organization,
    Resource,
    User,
)
from webapp.services.accounts.core import create_token, set_password

PASSWORD = "correct horse battery"


@dataclass
class World:
    realm: FakeRealm
    organization: Organization
    offering: Offering
    other_offering: Offering
    member_role: OfferingRole
    cluster_role: OfferingRole
    other_role: OfferingRole
    resource: Resource
    other_resource: Resource
    staff: User
    manager: User
    other_manager: User
    nobody: User
    pi: User  # no grant; the security tests make them a group manager (docs/PRODUCT.md §13)
    sibling_pi: User  # the same, of another group of world.offering
    tokens: dict[str, str]
    offering_root_id: str

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[who]}"}

    def add_group(
        self,
        name: str = "g",
        backend_id: str = "",
        role: OfferingRole | None = None,
        resource: Resource | None = None,
        scope_id: str = "",
        origin: str = "created",
        offering: Offering | None = None,
        created_backend_id: str = "",
    ) -> OfferingKeycloakGroup:
        group = OfferingKeycloakGroup(
            offering=offering or self.offering,
            role=role or self.member_role,
            resource=resource,
            scope_id=scope_id,
            name=name,
            backend_id=backend_id,
            origin=origin,
            created_backend_id=created_backend_id,
        )
        db.session.add(group)
        db.session.commit()
        return group


def _user(username: str, is_staff: bool = False) -> User:
    user = User(username=username, email=f"{username}@example.org", is_staff=is_staff)
    set_password(user, PASSWORD)
    db.session.add(user)
    return user


def _offering(organization: Organization, name: str, slug: str, **keycloak: Any) -> Offering:
    offering = Offering(
        organization=organization,
        name=name,
        slug=slug,
        keycloak_enabled=True,
        keycloak_url="http://fake-keycloak",
        keycloak_realm="demo",
        keycloak_username="admin",
        keycloak_password_encrypted=encrypt("admin-password"),
        keycloak_base_group="base",
        **keycloak,
    )
    db.session.add(offering)
    return offering


@dataclass(frozen=True)
class WorldRows:
    """What `seed_world` wrote: the rows' ids and the plain API tokens (stored hashed, shown only once)."""

    ids: dict[str, int]
    tokens: dict[str, str]


_MODELS: dict[str, type] = {
    "organization": Organization,
    "offering": Offering,
    "other_offering": Offering,
    "member_role": OfferingRole,
    "cluster_role": OfferingRole,
    "other_role": OfferingRole,
    "resource": Resource,
    "other_resource": Resource,
    "staff": User,
    "manager": User,
    "other_manager": User,
    "nobody": User,
    "pi": User,
    "sibling_pi": User,
}


def seed_world() -> WorldRows:
    """Write the world's rows (and commit); `load_world` reads them back as a World."""
    organization = Organization(name="Research Org", slug="research")
    other_org = Organization(name="Other Org", slug="other")
    offering = _offering(organization, "HPC Cluster", "hpc")
    other_offering = _offering(other_org, "Other Service", "other-svc")
    member_role = OfferingRole(offering=offering, name="member")
    cluster_role = OfferingRole(
        offering=offering, name="cluster-admin", scope_type="cluster", scope_type_label="Cluster"
    )
    other_role = OfferingRole(offering=other_offering, name="member")
    resource = Resource(
        offering=offering,
        name="Alpha allocation",
        project_name="Alpha",
        keycloak_available_scopes=[{"scope_type": "cluster", "scope_id": "c-1", "label": "Cluster one"}],
    )
    other_resource = Resource(offering=other_offering, name="Other allocation")
    staff, manager, other_manager, nobody, pi, sibling_pi = (
        _user("staff", is_staff=True),
        _user("manager"),
        _user("othermanager"),
        _user("nobody"),
        _user("pi"),
        _user("siblingpi"),
    )
    db.session.add_all([member_role, cluster_role, other_role, resource, other_resource])
    db.session.flush()
    db.session.add_all(
        [
            OfferingManager(user_id=manager.id, offering_id=offering.id),
            OfferingManager(user_id=other_manager.id, organization_id=other_org.id),
        ]
    )
    db.session.commit()
    tokens = {
        name: create_token(user)[1]
        for name, user in [
            ("staff", staff),
            ("manager", manager),
            ("other", other_manager),
            ("nobody", nobody),
            ("pi", pi),
            ("sibling", sibling_pi),
        ]
    }
    objects = {
        "organization": organization,
        "offering": offering,
        "other_offering": other_offering,
        "member_role": member_role,
        "cluster_role": cluster_role,
        "other_role": other_role,
        "resource": resource,
        "other_resource": other_resource,
        "staff": staff,
        "manager": manager,
        "other_manager": other_manager,
        "nobody": nobody,
        "pi": pi,
        "sibling_pi": sibling_pi,
    }
    return WorldRows({name: obj.id for name, obj in objects.items()}, tokens)


def load_world(realm: FakeRealm, rows: WorldRows) -> World:
    """The World over rows that `seed_world` wrote (in this database or in the template it was copied from)."""
    objects = {name: db.session.get(_MODELS[name], row_id) for name, row_id in rows.ids.items()}
    assert all(obj is not None for obj in objects.values()), "the world's rows are missing"
    root_id = realm.add_path("/base/hpc")
    return World(realm=realm, tokens=dict(rows.tokens), offering_root_id=root_id, **objects)  # type: ignore[arg-type]


def build_world(realm: FakeRealm) -> World:
    return load_world(realm, seed_world())
