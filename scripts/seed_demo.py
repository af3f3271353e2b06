"""Prepare the `make run` demo: a realm in the local Keycloak, then the app's users and offering, then
(`seed_demo.py drift`, after load-data) local groups and members that differ from Keycloak both ways, so a
newcomer has something to review at once.

Idempotent: an existing demo realm only gets the users it lacks, load-data upserts by uuid, and the drift
is seeded only into an offering that has no groups yet.
Reads KEYCLOAK_URL / KEYCLOAK_ADMIN / KEYCLOAK_ADMIN_PASSWORD (printed by scripts/keycloak-dev start).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

REALM = "okg-demo"
DEMO_ADMIN = "admin"
DEMO_PASSWORD = os.environ.get("OKG_DEMO_PASSWORD", "demo-admin")
DEMO_MANAGER = "manager"
DEMO_MANAGER_PASSWORD = os.environ.get("OKG_DEMO_MANAGER_PASSWORD", "demo-manager")
DEMO_PI = "pi"  # a project's PI: manages the members of hpc-users only (docs/PRODUCT.md §13)
DEMO_PI_PASSWORD = os.environ.get("OKG_DEMO_PI_PASSWORD", "demo-pi")
OFFERING_UUID = "0b9d2a4c6e8f4a1b9c3d5e7f9a1b3c5d"
ROOT = "/offerings/hpc-cluster"
DATA_FILE = Path(__file__).resolve().parent.parent / "instance" / "demo-data.json"
# Signing in with Keycloak: the app's login client in the demo realm, and a Keycloak account to try it with.
APP_URL = os.environ.get("OKG_DEMO_APP_URL", "http://127.0.0.1:5000").rstrip("/")
SIGN_IN_CLIENT = "okg-app"
SIGN_IN_SECRET = os.environ.get("OKG_DEMO_OIDC_SECRET", "demo-sign-in-secret")
HELPDESK, HELPDESK_PASSWORD = "helpdesk", os.environ.get("OKG_DEMO_HELPDESK_PASSWORD", "demo-helpdesk")
KEYCLOAK_USER, KEYCLOAK_PASSWORD = "mia", os.environ.get("OKG_DEMO_KEYCLOAK_PASSWORD", "demo-keycloak")
SIGN_IN_CLIENT_REPRESENTATION = {
    "clientId": SIGN_IN_CLIENT,
    "name": "Offering Keycloak Groups (sign-in)",
    "enabled": True,
    "protocol": "openid-connect",
    "publicClient": False,
    "clientAuthenticatorType": "client-secret",
    "secret": SIGN_IN_SECRET,
    "standardFlowEnabled": True,
    "implicitFlowEnabled": False,
    "directAccessGrantsEnabled": False,
    "serviceAccountsEnabled": False,
    "frontchannelLogout": False,
    "redirectUris": [f"{APP_URL}/auth/keycloak/callback"],
    "webOrigins": [],
    "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": f"{APP_URL}/login"},
    "protocolMappers": [
        {
            "name": "client roles in the ID token",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-usermodel-client-role-mapper",
            "config": {
                "usermodel.clientRoleMapping.clientId": SIGN_IN_CLIENT,
                "claim.name": f"resource_access.{SIGN_IN_CLIENT}.roles",
                "multivalued": "true",
                "jsonType.label": "String",
                "id.token.claim": "true",
                "access.token.claim": "true",
            },
        }
    ],
}

REALM_REPRESENTATION = {
    "realm": REALM,
    "enabled": True,
    "groups": [
        {
            "name": "offerings",
            "path": "/offerings",
            "subGroups": [
                {
                    "name": "hpc-cluster",
                    "path": "/offerings/hpc-cluster",
                    "subGroups": [
                        {"name": "hpc-users", "path": "/offerings/hpc-cluster/hpc-users", "subGroups": []},
                        {
                            "name": "hpc-admins",
                            "path": "/offerings/hpc-cluster/hpc-admins",
                            "subGroups": [
                                {
                                    "name": "cluster-a-admins",
                                    "path": "/offerings/hpc-cluster/hpc-admins/cluster-a-admins",
                                    "subGroups": [],
                                }
                            ],
                        },
                        {"name": "gpu-users", "path": "/offerings/hpc-cluster/gpu-users", "subGroups": []},
                    ],
                }
            ],
        },
        {"name": "unrelated", "path": "/unrelated", "subGroups": []},
    ],
    "users": [
        {
            "username": name,
            "email": f"{name}@example.org",
            "firstName": name.title(),
            "lastName": "Demo",
            "enabled": True,
            "groups": groups,
        }
        for name, groups in [
            ("alice", ["/offerings/hpc-cluster/hpc-users"]),
            ("bob", ["/offerings/hpc-cluster/hpc-users", "/offerings/hpc-cluster/hpc-admins"]),
            ("bobby", ["/offerings/hpc-cluster/gpu-users"]),
            ("carol", ["/offerings/hpc-cluster/hpc-admins/cluster-a-admins"]),
            ("dave", []),
            ("erin", ["/offerings/hpc-cluster/hpc-users"]),  # in Keycloak, not registered here
            ("grace", []),  # registered here as pending; her account exists now
            ("ivan", ["/offerings/hpc-cluster/hpc-users"]),  # flagged as removed here, back in the group
            ("judy", []),  # added to hpc-users by helpdesk through admin-cli (seed_drift): an attributed change
        ]
    ]
    + [
        {  # a realm-local admin with manage-users, whose changes the admin events attribute
            "username": HELPDESK,
            "email": "helpdesk@example.org",
            "firstName": "Help",
            "lastName": "Desk",
            "enabled": True,
            "credentials": [{"type": "password", "value": HELPDESK_PASSWORD, "temporary": False}],
            "clientRoles": {"realm-management": ["manage-users"]},
        }
    ]
    + [
        {  # signs in as the local "manager" (linked by this verified email on the first sign-in)
            "username": KEYCLOAK_USER,
            "email": "manager@example.org",
            "emailVerified": True,
            "firstName": "Mia",
            "lastName": "Manager",
            "enabled": True,
            "credentials": [{"type": "password", "value": KEYCLOAK_PASSWORD, "temporary": False}],
            "requiredActions": [],
        }
    ],
    "clients": [SIGN_IN_CLIENT_REPRESENTATION],
    "adminEventsEnabled": True,  # who changed it (docs/PRODUCT.md §10): membership changes are attributed
    "adminEventsDetailsEnabled": True,
    "roles": {"client": {SIGN_IN_CLIENT: [{"name": "okg-staff", "description": "Staff in Offering Keycloak Groups"}]}},
}


def demo_data(url: str, admin: str, password: str) -> dict:
    return {
        "users": [
            {"username": DEMO_ADMIN, "password": DEMO_PASSWORD, "email": "admin@example.org", "is_staff": True},
            {"username": DEMO_MANAGER, "password": DEMO_MANAGER_PASSWORD, "email": "manager@example.org"},
            {"username": DEMO_PI, "password": DEMO_PI_PASSWORD, "email": "pi@example.org"},
        ],
        "organizations": [
            {"uuid": "5f0c6d8e9a7b4c1d8e2f3a4b5c6d7e8f", "name": "Demo University", "slug": "demo-uni", "managers": []}
        ],
        "offerings": [
            {
                "uuid": "0b9d2a4c6e8f4a1b9c3d5e7f9a1b3c5d",
                "organization": "5f0c6d8e9a7b4c1d8e2f3a4b5c6d7e8f",
                "name": "HPC Cluster",
                "slug": "hpc-cluster",
                "managers": [DEMO_MANAGER],
                "keycloak": {
                    "enabled": True,
                    "url": url,
                    "realm": REALM,
                    "auth_realm": "master",
                    "username": admin,
                    "password": password,
                    "verify_ssl": False,
                    "base_group": "offerings",
                    "group_name_template": "${offering_slug}-${role_name}",
                },
                "roles": [
                    {
                        "uuid": "1c2d3e4f5a6b4c7d8e9f0a1b2c3d4e5f",
                        "name": "user",
                        "scope_type": "",
                        "scope_type_label": "",
                    },
                    {
                        "uuid": "2d3e4f5a6b7c4d8e9f0a1b2c3d4e5f6a",
                        "name": "admin",
                        "scope_type": "",
                        "scope_type_label": "",
                    },
                    {
                        "uuid": "3e4f5a6b7c8d4e9f0a1b2c3d4e5f6a7b",
                        "name": "cluster-admin",
                        "scope_type": "cluster",
                        "scope_type_label": "Cluster",
                    },
                ],
                "resources": [
                    {
                        "uuid": "4f5a6b7c8d9e4f0a1b2c3d4e5f6a7b8c",
                        "name": "Project Alpha allocation",
                        "project_name": "Alpha",
                        "keycloak_available_scopes": [
                            {"scope_type": "cluster", "scope_id": "cluster-a", "label": "Cluster A"},
                            {"scope_type": "cluster", "scope_id": "cluster-b", "label": "Cluster B"},
                        ],
                    },
                ],
            }
        ],
    }


def ensure_realm(url: str, admin: str, password: str) -> None:
    token = requests.post(
        f"{url}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": admin, "password": password},
        timeout=30,
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    if requests.get(f"{url}/admin/realms/{REALM}", headers=headers, timeout=30).status_code == 200:
        body = {
            "ifResourceExists": "SKIP",
            "users": REALM_REPRESENTATION["users"],
            "clients": REALM_REPRESENTATION["clients"],
            "roles": REALM_REPRESENTATION["roles"],
        }
        added = requests.post(f"{url}/admin/realms/{REALM}/partialImport", json=body, headers=headers, timeout=60)
        added.raise_for_status()
        print(f"Demo realm {REALM!r} already exists; added the demo users it lacked.", file=sys.stderr)
        return
    response = requests.post(f"{url}/admin/realms", json=REALM_REPRESENTATION, headers=headers, timeout=60)
    response.raise_for_status()
    print(f"Created demo realm {REALM!r} with nested groups and users.", file=sys.stderr)


def seed_drift() -> None:
    """Local groups and members that differ from the demo realm in every way a plan knows about."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from webapp import create_app
    from webapp.extensions import db
    from webapp.keycloak import gateway_for
    from webapp.models import (
        GroupManager,
        GroupOrigin,
        Offering,
        OfferingKeycloakGroup,
        OfferingKeycloakMembership,
        OfferingRole,
        utcnow,
    )
    from webapp.services.connection.gateway import connection_settings

    app = create_app()
    with app.app_context():
        offering = db.session.query(Offering).filter_by(uuid=OFFERING_UUID).one()
        if db.session.query(OfferingKeycloakGroup).filter_by(offering_id=offering.id).count():
            print("The demo offering already has groups; drift left as it is.", file=sys.stderr)
            delegate_to_pi(db, GroupManager, OfferingKeycloakGroup, offering)
            return
        gateway = gateway_for(connection_settings(offering))
        roles = {role.name: role for role in db.session.query(OfferingRole).filter_by(offering_id=offering.id)}
        user_ids = {name: (gateway.find_user_by_username(name) or None) for name in ("alice", "bob", "ivan")}

        def group(name: str, role: str, linked: bool, origin: GroupOrigin) -> OfferingKeycloakGroup:
            backend_id = gateway.get_group_by_path(f"{ROOT}/{name}").id if linked else ""
            item = OfferingKeycloakGroup(
                offering=offering,
                role=roles[role],
                scope_id=name if role == "user" else "",
                name=name,
                backend_id=backend_id,
                origin=origin.value,
            )
            db.session.add(item)
            return item

        users = group("hpc-users", "user", True, GroupOrigin.IMPORTED)
        admins = group("hpc-admins", "admin", True, GroupOrigin.IMPORTED)
        group("gpu-users", "user", False, GroupOrigin.CREATED)  # its same-name twin in Keycloak is remote only

        def member(target: OfferingKeycloakGroup, name: str, state: str, email: str = "") -> None:
            remote = user_ids.get(name)
            db.session.add(
                OfferingKeycloakMembership(
                    group=target,
                    username=name,
                    state=state,
                    email=email or f"{name}@example.org",
                    first_name=name.title(),
                    last_name="Demo",
                    keycloak_user_id=remote.id if remote else "",
                )
            )

        member(users, "alice", "active", email="alice@old.example.org")  # Keycloak has another email
        member(users, "bob", "active")
        member(users, "frank", "active")  # left the Keycloak group
        member(users, "grace", "pending")  # her account exists now
        member(users, "heidi", "pending")  # no Keycloak account yet
        member(users, "ivan", "removed_remotely")  # back in the Keycloak group
        member(admins, "bob", "active")
        member(admins, "carol", "active")  # only in a subgroup in Keycloak
        users.default_days, users.max_days = 180, 365  # hpc-users: access lasts half a year, a year at most
        soon = db.session.query(OfferingKeycloakMembership).filter_by(group=users, username="bob").one()
        soon.expires_at = utcnow() + timedelta(days=5)  # Renew it on the group page, or let it end
        db.session.commit()
        root_id = gateway.get_group_by_path(ROOT).id
        helpdesk_changes(
            offering.keycloak_url.rstrip("/"), root_id, users.backend_id, gateway.find_user_by_username("judy")
        )
        delegate_to_pi(db, GroupManager, OfferingKeycloakGroup, offering)
        open_demo_review(offering, [users, admins])
        print("Seeded local groups and members that differ from Keycloak: open Groups → Preview sync.", file=sys.stderr)


def helpdesk_changes(url: str, root_id: str, group_id: str, judy: Any) -> None:
    """Changes made in Keycloak by someone else, through admin-cli, which the realm's admin events record:
    helpdesk adds judy to hpc-users (the group page and the preview say who and when) and makes a group
    `helpdesk-made` under the offering's group (the Groups page's remote-only row says who made it)."""
    if judy is None:
        return
    token = requests.post(
        f"{url}/realms/{REALM}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": HELPDESK, "password": HELPDESK_PASSWORD},
        timeout=30,
    )
    if token.status_code != 200:
        print(f"helpdesk could not sign in ({token.status_code}); judy is not added.", file=sys.stderr)
        return
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    added = requests.put(f"{url}/admin/realms/{REALM}/users/{judy.id}/groups/{group_id}", headers=headers, timeout=30)
    print(f"helpdesk added judy to hpc-users in Keycloak (HTTP {added.status_code}).", file=sys.stderr)
    made = requests.post(
        f"{url}/admin/realms/{REALM}/groups/{root_id}/children",
        json={"name": "helpdesk-made"},
        headers=headers,
        timeout=30,
    )
    print(f"helpdesk made the group helpdesk-made in Keycloak (HTTP {made.status_code}).", file=sys.stderr)


def open_demo_review(offering: Any, groups: list[Any]) -> None:
    """An access review of the linked groups, due in ten days, with alice kept: something to decide on (§12)."""
    from webapp.extensions import db
    from webapp.models import AccessReviewItem, User, utcnow
    from webapp.services.errors import ServiceError
    from webapp.services.reviews import core as reviews

    manager = db.session.query(User).filter_by(username=DEMO_MANAGER).one()
    try:
        review = reviews.open_review(manager, offering, groups, utcnow().date() + timedelta(days=10), None)
    except ServiceError as exc:
        print(f"The demo review was not opened: {exc.message}", file=sys.stderr)
        return
    kept = [item.key for item in db.session.query(AccessReviewItem).filter_by(review_id=review.id, username="alice")]
    if kept:
        reviews.decide(manager, review, {key: "keep" for key in kept}, "Still runs jobs every week.")
    print(f"Opened an access review of {len(groups)} groups: open Reviews.", file=sys.stderr)


def delegate_to_pi(db: Any, manager_model: Any, group_model: Any, offering: Any) -> None:
    """The demo PI manages the members of hpc-users (once; an older demo database gets it too)."""
    group = db.session.query(group_model).filter_by(offering_id=offering.id, name="hpc-users").one_or_none()
    if group is None or db.session.query(manager_model).filter_by(group_id=group.id).count():
        return
    db.session.add(manager_model(group=group, username=DEMO_PI, created_by_name=DEMO_MANAGER))
    db.session.commit()
    print(f"{DEMO_PI} manages the members of hpc-users: sign in as {DEMO_PI} and open My groups.", file=sys.stderr)


def sign_in_settings(url: str) -> None:
    """The app's OKG_OIDC_* settings for the demo realm, as lines for `eval`."""
    print(f"OKG_OIDC_ISSUER={url}/realms/{REALM}")
    print(f"OKG_OIDC_CLIENT_ID={SIGN_IN_CLIENT}")
    print(f"OKG_OIDC_CLIENT_SECRET={SIGN_IN_SECRET}")


def main() -> None:
    if sys.argv[1:] == ["drift"]:
        seed_drift()
        return
    if sys.argv[1:] == ["sign-in"]:
        sign_in_settings(os.environ["KEYCLOAK_URL"].rstrip("/"))
        return
    url = os.environ["KEYCLOAK_URL"].rstrip("/")
    admin = os.environ.get("KEYCLOAK_ADMIN", "admin")
    password = os.environ.get("KEYCLOAK_ADMIN_PASSWORD", "admin")
    ensure_realm(url, admin, password)
    DATA_FILE.parent.mkdir(parents=True, exist_ok=True)
    DATA_FILE.write_text(json.dumps(demo_data(url, admin, password), indent=2))
    print(DATA_FILE)


if __name__ == "__main__":
    main()
