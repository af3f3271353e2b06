"""The route table shared by the security tests: one row per (endpoint, method) with the exact status each
persona must get, plus the helpers that sign a persona in and send a row's request.

Personas: anonymous, nobody (no grants), other (manages world.other_offering only), manager (of
world.offering), staff, pi (a group manager of the groups the row creates, docs/PRODUCT.md §13) and sibling
(a group manager of another group of world.offering). Every row acts on objects of world.offering unless its
label says otherwise, and each row's builder creates the objects it needs (fresh per call), so mutating rows
can run in any cell. `build_as` runs a builder as a persona: for pi, the groups it creates are delegated to
them and the plans it makes are theirs; pi and sibling each also manage a group of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import PASSWORD, World
from tests.signin import csrf_token_of, log_in, send
from webapp.extensions import db
from webapp.models import (
    AccessReview,
    AccessReviewItem,
    ApiToken,
    GroupManager,
    Job,
    JobKind,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    Plan,
    utcnow,
)
from webapp.services.accounts.core import create_token
from webapp.services.commands import ApplySelection, PreviewMembers
from webapp.services.jobs import core as jobs
from webapp.services.plans import core as plans
from webapp.services.reviews import core as reviews

PERSONAS = ("anonymous", "nobody", "other", "manager", "staff", "pi", "sibling")
USERNAMES = {
    "nobody": "nobody",
    "other": "othermanager",
    "manager": "manager",
    "staff": "staff",
    "pi": "pi",
    "sibling": "siblingpi",
}
GROUP_MANAGERS = ("pi", "sibling")
ACTING: ContextVar[str] = ContextVar("acting", default="")  # the persona whose cell is being built


# -- expectations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """An exact status, and where relevant the redirect target's path or the exact JSON body."""

    status: int
    location: str | None = None  # "{offering}" is replaced by world.offering.uuid
    body: Any = None

    def __str__(self) -> str:
        extra = f" -> {self.location}" if self.location else ""
        return f"{self.status}{extra}" + (f" {self.body}" if self.body is not None else "")


def expect(value: int | Expect) -> Expect:
    return value if isinstance(value, Expect) else Expect(value)


# API
UNAUTHENTICATED = Expect(401, body={"detail": "Authentication credentials were not provided."})
NOT_FOUND = Expect(404, body={"detail": "Not found."})
NO_OFFERING = Expect(400, body={"offering_uuid": ["Offering not found."]})  # an offering_uuid parameter
NO_OFFERING_REF = Expect(400, body={"offering": ["Offering not found."]})  # the "offering" body field
NO_GROUP = Expect(400, body={"group_uuid": ["Group not found."]})
# A group manager asking for what only the offering's managers may do
FORBIDDEN = Expect(
    403, body={"detail": "Only the offering's managers may do this; you manage members of some of its groups."}
)
FOREIGN_ROLE = Expect(400, body={"role_uuid": ["Role not found for this offering."]})
FOREIGN_RESOURCE = Expect(400, body={"resource_uuid": ["Resource not found for this offering."]})
FOREIGN_RESOURCE_REF = Expect(400, body={"resource": ["Resource not found for this offering."]})
# UI
LOGIN = Expect(302, location="/login")  # login_required: to the login page (with ?next=)
HOME = Expect(302, location="/")  # an already signed-in user opening /login
GROUPS_TAB = Expect(302, location="/offerings/{offering}/groups")  # the offering page opens its Groups tab
# Post/Redirect/Get after a successful form POST: 303 See Other
SEE_HOME = Expect(303, location="/")
SEE_LOGIN = Expect(303, location="/login")
SEE_GROUPS = Expect(303, location="/offerings/{offering}/groups")
SEE_MEMBERS = Expect(303, location="/offerings/{offering}/members")
SEE_SETTINGS = Expect(303, location="/offerings/{offering}/settings")
SEE_TOKENS = Expect(303, location="/tokens")
SEE_ACCOUNT = Expect(303, location="/account")
SEE_PLAN = Expect(303, location="/offerings/{offering}/plans/*")
SEE_GROUP = Expect(303, location="/offerings/{offering}/groups/*")  # a group's page
SEE_JOB = Expect(303, location="/offerings/{offering}/jobs/*")
SEE_OVERVIEW = Expect(303, location="/overview")
SEE_REVIEW = Expect(303, location="/reviews/*")  # "*": a new plan's page (or its result)


# -- requests ----------------------------------------------------------------------------------------


@dataclass
class Call:
    """What a row sends: the URL, a JSON body (API) or form fields (UI, the CSRF token is added)."""

    url: str
    json: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    csrf_fields: tuple[str, ...] = ("csrf_token",)  # prefixed forms name their token "<prefix>-csrf_token"


Builder = Callable[[World, str], Call]


@dataclass(frozen=True)
class Row:
    endpoint: str
    method: str
    build: Builder
    expected: dict[str, Expect] = field(repr=False)
    label: str = ""

    @property
    def is_api(self) -> bool:
        return self.endpoint.startswith("api.")

    @property
    def id(self) -> str:
        return f"{self.endpoint}:{self.method}" + (f"[{self.label}]" if self.label else "")


def row(
    endpoint: str, method: str, build: Builder, *statuses: int | Expect, label: str = "", **by_persona: int | Expect
) -> Row:
    """Statuses in PERSONAS order, or by persona name (the tables give the first five in order, then pi and
    sibling by name)."""
    expected = dict(zip(PERSONAS, statuses, strict=False)) | by_persona
    assert sorted(expected) == sorted(PERSONAS) and len(statuses) in (0, 5, len(PERSONAS)), f"{endpoint} {method}"
    return Row(endpoint, method, build, {who: expect(expected[who]) for who in PERSONAS}, label)


# -- fresh objects -----------------------------------------------------------------------------------


def tag() -> str:
    return uuid.uuid4().hex[:8]


def remote_group(w: World, slug: str = "hpc") -> str:
    """A new Keycloak group in the offering's subtree."""
    return w.realm.add_path(f"/base/{slug}/sec-{tag()}")


def remote_user(w: World, prefix: str = "kc") -> tuple[str, str]:
    username = f"{prefix}-{tag()}"
    return username, w.realm.add_user(username, f"{username}@example.org")


def delegate(group: OfferingKeycloakGroup, username: str) -> None:
    db.session.add(GroupManager(group=group, username=username, created_by_name="manager"))
    db.session.commit()


def local_group(w: World, linked: bool = True, other: bool = False) -> OfferingKeycloakGroup:
    """A new local group (linked to a new remote group with one member), in world.offering or the other one;
    built for pi, a group of world.offering is delegated to them."""
    name = f"sec-{tag()}"
    backend_id = ""
    if linked:
        backend_id = remote_group(w, "other-svc" if other else "hpc")
        w.realm.add_member(backend_id, remote_user(w)[1])
    group = w.add_group(
        name,
        backend_id=backend_id,
        scope_id=name,
        role=w.other_role if other else None,
        offering=w.other_offering if other else None,
    )
    if ACTING.get() == "pi" and not other:
        delegate(group, "pi")
    return group


@contextmanager
def acting(w: World, who: str) -> Iterator[None]:
    """While a cell is built: pi and sibling each manage a group of world.offering of their own, and what the
    builder creates is made as `who` sees it (see local_group and plan)."""
    if who in GROUP_MANAGERS:
        home = w.add_group(f"{who}-home-{tag()}", scope_id=f"{who}-home-{tag()}")
        delegate(home, USERNAMES[who])
    token = ACTING.set(who)
    try:
        yield
    finally:
        ACTING.reset(token)


def build_as(row: Row, w: World, who: str) -> Call:
    with acting(w, who):
        return row.build(w, who)


def membership(w: World, other: bool = False) -> OfferingKeycloakMembership:
    group = local_group(w, other=other)
    username, user_id = remote_user(w, "member")
    w.realm.add_member(group.backend_id, user_id)
    item = OfferingKeycloakMembership(group=group, username=username, state="active", keycloak_user_id=user_id)
    db.session.add(item)
    db.session.commit()
    return item


def token_of(w: World, who: str) -> ApiToken:
    users = {"nobody": w.nobody, "other": w.other_manager, "manager": w.manager, "staff": w.staff}
    user = (users | {"pi": w.pi, "sibling": w.sibling_pi}).get(who, w.manager)
    return create_token(user)[0]


def settings_form(**changes: str) -> dict[str, str]:
    """The settings form as the world's offering holds it (password left blank = keep it)."""
    form = {
        "enabled": "y",
        "url": "http://fake-keycloak/",
        "realm": "demo",
        "auth_realm": "master",
        "auth_mode": "password",
        "username": "admin",
        "password": "",
        "client_id": "",
        "client_secret": "",
        "verify_ssl": "y",
        "timeout": "10",
        "base_group": "base",
        "group_name_template": "",
        "username_label": "Username",
    }
    return form | changes


# -- request builders: (world, persona) -> Call, creating whatever the request acts on -----------------

GROUPS = "/api/offering-keycloak-groups"
MEMBERSHIPS = "/api/offering-keycloak-memberships"


def fixed(url: str, form: dict[str, Any] | None = None) -> Builder:
    return lambda _w, _who: Call(url, form=form)


def of_offering(suffix: str, form: dict[str, Any] | None = None, other: bool = False) -> Builder:
    """/offerings/<uuid>/<suffix> of world.offering (or of the other offering)."""

    def build(w: World, _who: str) -> Call:
        offering = w.other_offering if other else w.offering
        return Call(f"/offerings/{offering.uuid}/{suffix}", form=dict(form) if form is not None else None)

    return build


def of_group(suffix: str = "", linked: bool = True, form: dict[str, Any] | None = None) -> Builder:
    """A page or form of a fresh group of world.offering."""

    def build(w: World, _who: str) -> Call:
        group = local_group(w, linked=linked)
        url = f"/offerings/{w.offering.uuid}/groups/{group.uuid}" + (f"/{suffix}" if suffix else "")
        return Call(url, form=dict(form) if form is not None else None)

    return build


def with_query(path: str, **params: str) -> str:
    return path + "?" + "&".join(f"{key}={value}" for key, value in params.items())


def api_offering(w: World, _who: str) -> Call:
    return Call(f"/api/offerings/{w.offering.uuid}/")


def api_other_offering(w: World, _who: str) -> Call:
    return Call(f"/api/offerings/{w.other_offering.uuid}/")


def api_role(w: World, _who: str) -> Call:
    return Call(f"/api/offering-roles/{w.member_role.uuid}/")


def api_resource(w: World, _who: str) -> Call:
    return Call(f"/api/resources/{w.resource.uuid}/")


def api_group(w: World, _who: str) -> Call:
    return Call(f"{GROUPS}/{local_group(w).uuid}/")


def api_test_connection(w: World, _who: str) -> Call:
    return Call(f"{GROUPS}/test_connection/", json={"offering_uuid": w.offering.uuid})


def api_remote_groups(w: World, _who: str) -> Call:
    return Call(with_query(f"{GROUPS}/remote_groups/", offering_uuid=w.offering.uuid))


def api_remote_members(w: World, _who: str) -> Call:
    group = local_group(w)
    url = f"{GROUPS}/remote_group_members/"
    return Call(with_query(url, offering_uuid=w.offering.uuid, group_id=group.backend_id))


def api_user_search(w: World, _who: str) -> Call:
    username, _ = remote_user(w, "searchable")
    return Call(with_query(f"{GROUPS}/search_remote_users/", offering_uuid=w.offering.uuid, q=username))


def api_sync_status(w: World, _who: str) -> Call:
    return Call(with_query(f"{GROUPS}/sync_status/", offering_uuid=w.offering.uuid))


def api_import_remote(w: World, _who: str) -> Call:
    body = {"offering_uuid": w.offering.uuid, "role_uuid": w.member_role.uuid, "remote_group_id": remote_group(w)}
    return Call(f"{GROUPS}/import_remote/", json=body)


def api_set_backend_id(w: World, _who: str) -> Call:
    group = local_group(w, linked=False)
    return Call(f"{GROUPS}/{group.uuid}/set_backend_id/", json={"backend_id": remote_group(w)})


def api_import_foreign_role(w: World, _who: str) -> Call:
    """Into the other offering, with a role of world.offering."""
    remote_id = remote_group(w, "other-svc")
    body = {"offering_uuid": w.other_offering.uuid, "role_uuid": w.member_role.uuid, "remote_group_id": remote_id}
    return Call(f"{GROUPS}/import_remote/", json=body)


def api_set_foreign_resource(w: World, _who: str) -> Call:
    group = local_group(w)
    return Call(f"{GROUPS}/{group.uuid}/set_backend_id/", json={"resource_uuid": w.other_resource.uuid})


def api_pull_members(w: World, _who: str) -> Call:
    return Call(f"{GROUPS}/{local_group(w).uuid}/pull_members/", json={})


def api_membership(w: World, _who: str) -> Call:
    return Call(f"{MEMBERSHIPS}/{membership(w).uuid}/")


def api_new_membership(w: World, _who: str) -> Call:
    """Into an existing linked group of world.offering (a group manager creates none)."""
    username, _ = remote_user(w, "new")
    group = local_group(w)
    body = {"offering": w.offering.uuid, "role": w.member_role.uuid, "scope_id": group.scope_id}
    return Call(f"{MEMBERSHIPS}/", json=body | {"username": username})


def api_membership_foreign_resource(w: World, _who: str) -> Call:
    username, _ = remote_user(w, "new")
    body = {"offering": w.offering.uuid, "role": w.member_role.uuid, "resource": w.other_resource.uuid}
    return Call(f"{MEMBERSHIPS}/", json=body | {"username": username})


PLANS = "/api/offering-keycloak-plans"


def plan(w: World) -> Plan:
    """A fresh open members plan of world.offering, by the manager (a linked group with one member to add);
    built for pi, by pi, of a group delegated to them."""
    author = w.pi if ACTING.get() == "pi" else w.manager
    return plans.create_plan(author, PreviewMembers(w.offering, [local_group(w)]))


def applied_plan(w: World) -> Plan:
    fresh = plan(w)
    plans.apply_plan(w.pi if ACTING.get() == "pi" else w.manager, fresh, ApplySelection({}))
    return fresh


def api_new_plan(w: World, _who: str) -> Call:
    body = {"kind": "members", "offering_uuid": w.offering.uuid, "group_uuids": [local_group(w).uuid]}
    return Call(f"{PLANS}/", json=body)


def api_new_links_plan(w: World, _who: str) -> Call:
    body = {"kind": "links", "offering_uuid": w.offering.uuid, "group_uuids": [local_group(w).uuid]}
    return Call(f"{PLANS}/", json=body)


def api_plan(w: World, _who: str) -> Call:
    return Call(f"{PLANS}/{plan(w).uuid}/")


def api_plan_items(w: World, _who: str) -> Call:
    return Call(f"{PLANS}/{plan(w).uuid}/items/")


def api_plan_apply(w: World, _who: str) -> Call:
    return Call(f"{PLANS}/{plan(w).uuid}/apply/", json={})


def api_plan_discard(w: World, _who: str) -> Call:
    return Call(f"{PLANS}/{plan(w).uuid}/discard/", json={})


JOBS = "/api/offering-keycloak-jobs"


def job(w: World) -> Job:
    """A fresh queued pull of a new group of world.offering (no worker runs in these tests). A row asks for one
    per persona, so the offering's waiting limit (tested in test_bounded_work.py) is lifted here."""
    current_app.config["JOBS_MAX_WAITING"] = 1000
    return jobs.create_job(w.manager, JobKind.PULL_MEMBERS, group=local_group(w), wait_if_busy=True)


def api_new_job(w: World, _who: str) -> Call:
    return Call(f"{JOBS}/", json={"kind": "pull_members", "group_uuid": local_group(w).uuid})


def api_new_offering_job(w: World, _who: str) -> Call:
    current_app.config["JOBS_MAX_WAITING"] = 1000
    return Call(f"{JOBS}/", json={"kind": "drift_check", "offering_uuid": w.offering.uuid})


MANAGERS = "/api/offering-keycloak-group-managers"


def delegation(w: World) -> GroupManager:
    """A new group of world.offering with a delegation to a new Keycloak user (built for pi: pi manages it too)."""
    manager = GroupManager(group=local_group(w), username=remote_user(w, "delegate")[0], created_by_name="manager")
    db.session.add(manager)
    db.session.commit()
    return manager


def api_renew(w: World, _who: str) -> Call:
    return Call(f"{MEMBERSHIPS}/{membership(w).uuid}/renew/", json={"expires_at": "2999-01-01T00:00:00Z"})


def api_policy(w: World, _who: str) -> Call:
    return Call(f"{GROUPS}/{local_group(w).uuid}/set_membership_policy/", json={"default_days": 30, "max_days": 90})


def form_policy(w: World, _who: str) -> Call:
    group = local_group(w)
    form = {"policy-default_days": "30", "policy-max_days": "90"}
    return Call(
        f"/offerings/{w.offering.uuid}/groups/{group.uuid}/policy", form=form, csrf_fields=("policy-csrf_token",)
    )


REVIEWS = "/api/offering-keycloak-reviews"


def review(w: World) -> AccessReview:
    """A fresh open access review of one new linked group of world.offering (one member), by the manager; its
    reviewers are the defaults: the offering's managers, and pi when built for pi (the group is delegated)."""
    due = utcnow().date() + timedelta(days=7)
    return reviews.open_review(w.manager, w.offering, [local_group(w)], due, None)


def first_key(item: AccessReview) -> str:
    return (
        db.session.query(AccessReviewItem.key)
        .filter_by(review_id=item.id)
        .order_by(AccessReviewItem.position)
        .first()[0]
    )


def api_new_review(w: World, _who: str) -> Call:
    local_group(w)
    return Call(
        f"{REVIEWS}/", json={"offering_uuid": w.offering.uuid, "due": (utcnow().date() + timedelta(days=7)).isoformat()}
    )


def api_review(w: World, _who: str) -> Call:
    return Call(f"{REVIEWS}/{review(w).uuid}/")


def api_review_items(w: World, _who: str) -> Call:
    return Call(f"{REVIEWS}/{review(w).uuid}/items/")


def api_review_decide(w: World, _who: str) -> Call:
    made = review(w)
    return Call(f"{REVIEWS}/{made.uuid}/decide/", json={"decisions": {first_key(made): "keep"}})


def api_review_close(w: World, _who: str) -> Call:
    return Call(f"{REVIEWS}/{review(w).uuid}/close/", json={})


def form_new_review(w: World, _who: str) -> Call:
    group = local_group(w)
    due = (utcnow().date() + timedelta(days=7)).isoformat()
    return Call(f"/offerings/{w.offering.uuid}/reviews", form={"group_uuids": group.uuid, "due": due})


def of_review(suffix: str = "", decide: bool = False, form: dict[str, Any] | None = None) -> Builder:
    def build(w: World, _who: str) -> Call:
        made = review(w)
        fields = dict(form) if form is not None else None
        if decide:
            fields = {f"decision-{first_key(made)}": "keep"}
        return Call(f"/reviews/{made.uuid}" + (f"/{suffix}" if suffix else ""), form=fields)

    return build


def api_new_group_manager(w: World, _who: str) -> Call:
    return Call(f"{MANAGERS}/", json={"group_uuid": local_group(w).uuid, "username": remote_user(w, "delegate")[0]})


def api_group_manager(w: World, _who: str) -> Call:
    return Call(f"{MANAGERS}/{delegation(w).uuid}/")


def of_group_member(suffix: str = "", form: dict[str, Any] | None = None) -> Builder:
    def build(w: World, _who: str) -> Call:
        item = membership(w)
        url = f"/offerings/{w.offering.uuid}/groups/{item.group.uuid}/members/{item.uuid}/{suffix}"
        return Call(url, form=dict(form) if form is not None else None)

    return build


def of_delegation(suffix: str = "", form: dict[str, Any] | None = None) -> Builder:
    def build(w: World, _who: str) -> Call:
        item = delegation(w)
        url = f"/offerings/{w.offering.uuid}/groups/{item.group.uuid}/managers/{item.uuid}/{suffix}"
        return Call(url, form=dict(form) if form is not None else None)

    return build


def form_grant(w: World, _who: str) -> Call:
    group = local_group(w)
    form = {"grant-username": remote_user(w, "new")[0], "grant-email": ""}
    return Call(
        f"/offerings/{w.offering.uuid}/groups/{group.uuid}/members", form=form, csrf_fields=("grant-csrf_token",)
    )


def form_new_group_manager(w: World, _who: str) -> Call:
    group = local_group(w)
    form = {"delegate-username": remote_user(w, "delegate")[0]}
    return Call(
        f"/offerings/{w.offering.uuid}/groups/{group.uuid}/managers", form=form, csrf_fields=("delegate-csrf_token",)
    )


def api_job(w: World, _who: str) -> Call:
    return Call(f"{JOBS}/{job(w).uuid}/")


def api_job_cancel(w: World, _who: str) -> Call:
    return Call(f"{JOBS}/{job(w).uuid}/cancel/", json={})


def api_link_suggestions(w: World, _who: str) -> Call:
    return Call(with_query(f"{GROUPS}/link_suggestions/", offering_uuid=w.offering.uuid))


def form_new_plan(w: World, _who: str) -> Call:
    return Call(f"/offerings/{w.offering.uuid}/plans", form={"kind": "members", "group_uuids": local_group(w).uuid})


def of_plan(suffix: str = "", form: dict[str, Any] | None = None, applied: bool = False) -> Builder:
    def build(w: World, _who: str) -> Call:
        target = applied_plan(w) if applied else plan(w)
        url = f"/offerings/{w.offering.uuid}/plans/{target.uuid}" + (f"/{suffix}" if suffix else "")
        return Call(url, form=dict(form) if form is not None else None)

    return build


def of_job(suffix: str = "", form: dict[str, Any] | None = None) -> Builder:
    def build(w: World, _who: str) -> Call:
        url = f"/offerings/{w.offering.uuid}/jobs/{job(w).uuid}" + (f"/{suffix}" if suffix else "")
        return Call(url, form=dict(form) if form is not None else None)

    return build


def page_tree(w: World, _who: str) -> Call:
    return Call(f"/offerings/{w.offering.uuid}/tree/{w.offering_root_id}")


def page_import(w: World, _who: str) -> Call:
    return Call(f"/offerings/{w.offering.uuid}/groups/import?remote_group_id={remote_group(w)}")


def form_import(w: World, _who: str) -> Call:
    form = {"remote_group_id": remote_group(w), "role": w.member_role.uuid, "resource": "", "scope_id": ""}
    return Call(f"/offerings/{w.offering.uuid}/groups/import", form=form)


def form_bulk_import(w: World, _who: str) -> Call:
    form = {"bulk-remote_group_ids": [remote_group(w)], "bulk-role": w.member_role.uuid, "bulk-resource": ""}
    return Call(f"/offerings/{w.offering.uuid}/groups/bulk-import", form=form, csrf_fields=("bulk-csrf_token",))


def form_link(w: World, _who: str) -> Call:
    group = local_group(w, linked=False)
    return Call(f"/offerings/{w.offering.uuid}/groups/{group.uuid}/link", form={"backend_id": remote_group(w)})


def page_foreign_group(w: World, _who: str) -> Call:
    """The other offering's group addressed under this offering's URL: a mismatch is 404 for everyone."""
    group = local_group(w, other=True)
    return Call(f"/offerings/{w.offering.uuid}/groups/{group.uuid}")


def page_user_search(w: World, _who: str) -> Call:
    return Call(f"/offerings/{w.offering.uuid}/users/search?q={remote_user(w, 'searchable')[0]}")


def form_add_member(w: World, _who: str) -> Call:
    username, _ = remote_user(w, "new")
    form = {"add-username": username, "add-email": "", "add-role": w.member_role.uuid, "add-resource": ""}
    form["add-scope_id"] = ""
    return Call(f"/offerings/{w.offering.uuid}/members", form=form, csrf_fields=("add-csrf_token",))


def page_remove(w: World, _who: str) -> Call:
    return Call(f"/offerings/{w.offering.uuid}/members/remove?m={membership(w).uuid}")


def form_remove(w: World, _who: str) -> Call:
    form = {"memberships": [membership(w).uuid], "confirm": "y"}
    return Call(f"/offerings/{w.offering.uuid}/members/remove", form=form)


def form_remove_foreign(w: World, _who: str) -> Call:
    """The other offering's membership posted to this offering's remove form: nothing of it is selected."""
    form = {"memberships": [membership(w, other=True).uuid], "confirm": "y"}
    return Call(f"/offerings/{w.offering.uuid}/members/remove", form=form)


def form_delete_foreign(w: World, _who: str) -> Call:
    group = local_group(w, other=True)
    return Call(f"/offerings/{w.offering.uuid}/groups/{group.uuid}/delete", form={})


def form_revoke_own(w: World, who: str) -> Call:
    """The persona's own token (anonymous: the manager's)."""
    return Call(f"/tokens/{token_of(w, who).uuid}/revoke", form={})


def form_revoke_managers(w: World, _who: str) -> Call:
    return Call(f"/tokens/{token_of(w, 'manager').uuid}/revoke", form={})


def form_settings(w: World, _who: str) -> Call:
    return Call(f"/offerings/{w.offering.uuid}/settings", form=settings_form())


# Builders that are just a fixed or offering-relative URL.
api_schema = fixed("/api/schema/")
api_offerings = fixed("/api/offerings/")
api_audit = fixed("/api/offering-keycloak-audit/")
api_groups = fixed(f"{GROUPS}/")
api_memberships = fixed(f"{MEMBERSHIPS}/")
page_login = fixed("/login")
form_login = fixed("/login", {"username": "manager", "password": PASSWORD})
form_logout = fixed("/logout", {})
page_home = fixed("/")
page_tokens = fixed("/tokens")
form_new_token = fixed("/tokens", {})
page_account = fixed("/account")
# The same password again: a real change, yet every later cell can still sign the persona in.
form_password = fixed(
    "/account/password", {"current_password": PASSWORD, "new_password": PASSWORD, "confirm_password": PASSWORD}
)
form_sign_out_everywhere = fixed("/account/sign-out-everywhere", {})
page_offering = of_offering("")
page_groups = of_offering("groups")
page_other_groups = of_offering("groups", other=True)
page_group = of_group()
page_link = of_group("link", linked=False)
page_unlink = of_group("unlink")
form_unlink = of_group("unlink", form={})
form_pull = of_group("pull", form={})
page_delete = of_group("delete")
form_delete = of_group("delete", form={})
page_members = of_offering("members")
page_settings = of_offering("settings")
form_test_connection = of_offering("test-connection", {})
form_create_offering_group = of_offering("groups/create-offering-group", {})
page_catalog = of_offering("catalog")
page_activity = of_offering("activity")
api_plans = fixed(f"{PLANS}/")
api_group_managers = fixed(f"{MANAGERS}/")
page_my_groups = fixed("/my-groups")
page_remove_member = of_group_member("remove")
page_admin_events = of_offering("admin-events")
form_admin_events = of_offering("admin-events", {})
page_renew = of_group_member("renew")
form_renew = of_group_member("renew", form={"expires_on": "2999-01-01"})
form_remove_member = of_group_member("remove", form={})
page_remove_manager = of_delegation("remove")
form_remove_manager = of_delegation("remove", form={})
api_jobs = fixed(f"{JOBS}/")
form_pull_job = of_group("pull-job", form={})
page_job = of_job()
form_cancel_job = of_job("cancel", form={})
page_jobs = of_offering("jobs")
form_start_job = of_offering("jobs", {"kind": "drift_check"})
csv_groups = of_offering("groups.csv")
csv_members = of_group("members.csv")
csv_plan_items = of_plan("items.csv")
csv_activity = of_offering("activity.csv")
page_keycloak_changes = of_offering("activity/keycloak")
csv_keycloak_changes = of_offering("activity/keycloak.csv")
page_overview = fixed("/overview")
page_reviews = of_offering("reviews")
page_my_reviews = fixed("/reviews")
page_review = of_review()
form_decide = of_review(decide=True)
page_close_review = of_review("close")
form_close_review = of_review("close", form={})
csv_review = of_review("items.csv")
page_keycloak_login = fixed("/auth/keycloak/login")
page_keycloak_back = fixed("/auth/keycloak/callback?code=x&state=y")
form_overview_check = fixed("/overview/check", {})
page_plan = of_plan()
form_apply_plan = of_plan("apply", form={})
page_plan_result = of_plan("result", applied=True)
form_plan_again = of_plan("again", form={})
form_discard_plan = of_plan("discard", form={})


def api(endpoint: str, method: str, build: Builder, *statuses: int | Expect, **kwargs: Any) -> Row:
    return row(f"api.{endpoint}", method, build, *statuses, **kwargs)


def ui(endpoint: str, method: str, build: Builder, *statuses: int | Expect, **kwargs: Any) -> Row:
    return row(f"ui.{endpoint}", method, build, *statuses, **kwargs)


# Short names for the cells.
E401 = UNAUTHENTICATED
E404 = NOT_FOUND

# -- the tables: one row per route; a route may have extra rows (label) for other objects ------------
# Columns: endpoint, method, request builder, then the exact result for each persona.
# fmt: off
API_ROWS: list[Row] = [
    #   endpoint                      method    request              anon  nobody           other            mgr   staff
    api("schema",                     "GET",    api_schema,          200,  200,             200,             200, 200,
        pi=200, sibling=200),
    api("offering_list",              "GET",    api_offerings,       E401, 200,             200,             200, 200,
        pi=200, sibling=200),
    api("offering_detail",            "GET",    api_offering,        E401, E404,            E404,            200, 200,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("offering_detail",            "GET",    api_other_offering,  E401, E404,            200,             E404, 200,
        label="other offering", pi=E404, sibling=E404),
    api("role_detail",                "GET",    api_role,            E401, E404,            E404,            200, 200,
        pi=E404, sibling=E404),
    api("resource_detail",            "GET",    api_resource,        E401, E404,            E404,            200, 200,
        pi=E404, sibling=E404),
    api("audit_list",                 "GET",    api_audit,           E401, 200,             200,             200, 200,
        pi=200, sibling=200),
    api("group_list",                 "GET",    api_groups,          E401, 200,             200,             200, 200,
        pi=200, sibling=200),
    api("group_detail",               "GET",    api_group,           E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("group_delete",               "DELETE", api_group,           E401, E404,            E404,            204, 204,
        pi=FORBIDDEN, sibling=E404),
    api("group_test_connection",      "POST",   api_test_connection, E401, NO_OFFERING,     NO_OFFERING,     200, 200,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("group_remote_groups",        "GET",    api_remote_groups,   E401, NO_OFFERING,     NO_OFFERING,     200, 200,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("group_remote_group_members", "GET",    api_remote_members,  E401, NO_OFFERING,     NO_OFFERING,     200, 200,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("group_search_remote_users",  "GET",    api_user_search,     E401, NO_OFFERING,     NO_OFFERING,     200, 200,
        pi=200, sibling=200),
    api("group_sync_status",          "GET",    api_sync_status,     E401, NO_OFFERING,     NO_OFFERING,     200, 200,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("group_import_remote",        "POST",   api_import_remote,   E401, NO_OFFERING,     NO_OFFERING,     201, 201,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("group_set_backend_id",       "POST",   api_set_backend_id,  E401, E404,            E404,            200, 200,
        pi=FORBIDDEN, sibling=E404),
    api("group_pull_members",         "POST",   api_pull_members,    E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("membership_list",            "GET",    api_memberships,     E401, 200,             200,             200, 200,
        pi=200, sibling=200),
    api("membership_detail",          "GET",    api_membership,      E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("membership_create",          "POST",   api_new_membership,  E401, NO_OFFERING_REF, NO_OFFERING_REF, 201, 201,
        pi=201, sibling=E404),
    api("membership_delete",          "DELETE", api_membership,      E401, E404,            E404,            204, 204,
        pi=204, sibling=E404),
    api("plan_list",                  "POST",   api_new_plan,        E401, NO_OFFERING,     NO_OFFERING,     201, 201,
        pi=201, sibling=E404),
    api("plan_list",                  "GET",    api_plans,           E401, 200,             200,             200, 200,
        pi=200, sibling=200),
    api("plan_detail",                "GET",    api_plan,            E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("plan_items",                 "GET",    api_plan_items,      E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("plan_apply",                 "POST",   api_plan_apply,      E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("plan_discard",               "POST",   api_plan_discard,    E401, E404,            E404,            204, 204,
        pi=204, sibling=E404),
    api("group_link_suggestions",     "GET",    api_link_suggestions, E401, NO_OFFERING,    NO_OFFERING,     200, 200,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("job_list",                   "POST",   api_new_job,         E401, E404,            E404,            202, 202,
        pi=202, sibling=E404),
    api("job_list",                   "GET",    api_jobs,            E401, 200,             200,             200, 200,
        pi=200, sibling=200),
    api("job_detail",                 "GET",    api_job,             E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("job_cancel",                 "POST",   api_job_cancel,      E401, E404,            E404,            202, 202,
        pi=202, sibling=E404),
    api("plan_list",                  "POST",   api_new_links_plan,  E401, NO_OFFERING,     NO_OFFERING,     201, 201,
        label="links plan", pi=FORBIDDEN, sibling=FORBIDDEN),
    api("job_list",                   "POST",   api_new_offering_job, E401, NO_OFFERING,    NO_OFFERING,     202, 202,
        label="offering job", pi=FORBIDDEN, sibling=FORBIDDEN),
    api("membership_renew",           "POST",   api_renew,           E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("group_set_membership_policy", "POST",  api_policy,          E401, E404,            E404,            200, 200,
        pi=FORBIDDEN, sibling=E404),
    api("group_manager_list",         "GET",    api_group_managers,  E401, 200,             200,             200, 200,
        pi=200, sibling=200),
    api("group_manager_list",         "POST",   api_new_group_manager, E401, NO_GROUP,      NO_GROUP,        201, 201,
        pi=FORBIDDEN, sibling=NO_GROUP),
    api("group_manager_detail",       "GET",    api_group_manager,   E401, E404,            E404,            200, 200,
        pi=FORBIDDEN, sibling=E404),
    api("group_manager_delete",       "DELETE", api_group_manager,   E401, E404,            E404,            204, 204,
        pi=FORBIDDEN, sibling=E404),
    api("review_list",                "GET",    fixed(f"{REVIEWS}/"), E401, 200,            200,             200, 200,
        pi=200, sibling=200),
    api("review_list",                "POST",   api_new_review,      E401, NO_OFFERING,     NO_OFFERING,     201, 201,
        pi=FORBIDDEN, sibling=FORBIDDEN),
    api("review_detail",              "GET",    api_review,          E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("review_items",               "GET",    api_review_items,    E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("review_decide",              "POST",   api_review_decide,   E401, E404,            E404,            200, 200,
        pi=200, sibling=E404),
    api("review_close",               "POST",   api_review_close,    E401, E404,            E404,            200, 200,
        pi=FORBIDDEN, sibling=E404),
]

UI_ROWS: list[Row] = [
    #  endpoint             method  request               anon      nobody      other       manager       staff
    ui("login",             "GET",  page_login,           200,      HOME,       HOME,       HOME,         HOME,
       pi=HOME, sibling=HOME),
    ui("login",             "POST", form_login,           SEE_HOME, HOME,       HOME,       HOME,         HOME,
       pi=HOME, sibling=HOME),
    ui("logout",            "POST", form_logout,          LOGIN,    SEE_LOGIN,  SEE_LOGIN,  SEE_LOGIN,    SEE_LOGIN,
       pi=SEE_LOGIN, sibling=SEE_LOGIN),
    # Signing in with Keycloak is off in this world (no OKG_OIDC_ISSUER): both ends are 404 for everyone.
    ui("keycloak_login",    "GET",  page_keycloak_login,  404,      404,        404,        404,          404,
       pi=404, sibling=404),
    ui("keycloak_callback", "GET",  page_keycloak_back,   404,      404,        404,        404,          404,
       pi=404, sibling=404),
    ui("offerings",         "GET",  page_home,            LOGIN,    200,        200,        200,          200,
       pi=200, sibling=200),
    ui("tokens",            "GET",  page_tokens,          LOGIN,    200,        200,        200,          200,
       pi=200, sibling=200),
    ui("token_create",      "POST", form_new_token,       LOGIN,    200,        200,        200,          200,
       pi=200, sibling=200),
    ui("token_revoke",      "POST", form_revoke_own,      LOGIN,    SEE_TOKENS, SEE_TOKENS, SEE_TOKENS,   SEE_TOKENS,
       pi=SEE_TOKENS, sibling=SEE_TOKENS),
    ui("token_revoke",      "POST", form_revoke_managers, LOGIN,    404,        404,        SEE_TOKENS,   404,
       label="manager's token", pi=404, sibling=404),
    ui("account",           "GET",  page_account,         LOGIN,    200,        200,        200,          200,
       pi=200, sibling=200),
    ui("account_password",  "POST", form_password,        LOGIN,    SEE_ACCOUNT, SEE_ACCOUNT, SEE_ACCOUNT, SEE_ACCOUNT,
       pi=SEE_ACCOUNT, sibling=SEE_ACCOUNT),
    ui("account_sign_out_everywhere", "POST", form_sign_out_everywhere,
       LOGIN, SEE_ACCOUNT, SEE_ACCOUNT, SEE_ACCOUNT, SEE_ACCOUNT, pi=SEE_ACCOUNT, sibling=SEE_ACCOUNT),
    ui("offering_detail",   "GET",  page_offering,        LOGIN,    404,        404,        GROUPS_TAB,   GROUPS_TAB,
       pi=403, sibling=403),
    ui("groups",            "GET",  page_groups,          LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("groups",            "GET",  page_other_groups,    LOGIN,    404,        200,        404,          200,
       label="other offering", pi=404, sibling=404),
    ui("tree_children",     "GET",  page_tree,            LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("group_import",      "GET",  page_import,          LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("group_import",      "POST", form_import,          LOGIN,    404,        404,        SEE_GROUPS,   SEE_GROUPS,
       pi=403, sibling=403),
    ui("group_bulk_import", "POST", form_bulk_import,     LOGIN,    404,        404,        SEE_PLAN,     SEE_PLAN,
       pi=403, sibling=403),
    ui("group_detail",      "GET",  page_group,           LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("group_detail",      "GET",  page_foreign_group,   LOGIN,    404,        404,        404,          404,
       label="other offering's group", pi=404, sibling=404),
    ui("group_link",        "GET",  page_link,            LOGIN,    404,        404,        200,          200,
       pi=403, sibling=404),
    ui("group_link",        "POST", form_link,            LOGIN,    404,        404,        SEE_GROUPS,   SEE_GROUPS,
       pi=403, sibling=404),
    ui("group_unlink",      "GET",  page_unlink,          LOGIN,    404,        404,        200,          200,
       pi=403, sibling=404),
    ui("group_unlink",      "POST", form_unlink,          LOGIN,    404,        404,        SEE_GROUPS,   SEE_GROUPS,
       pi=403, sibling=404),
    ui("group_pull",        "POST", form_pull,            LOGIN,    404,        404,        SEE_GROUPS,   SEE_GROUPS,
       pi=SEE_GROUPS, sibling=404),
    ui("group_delete",      "GET",  page_delete,          LOGIN,    404,        404,        200,          200,
       pi=403, sibling=404),
    ui("group_delete",      "POST", form_delete,          LOGIN,    404,        404,        SEE_GROUPS,   SEE_GROUPS,
       pi=403, sibling=404),
    ui("user_search",       "GET",  page_user_search,     LOGIN,    404,        404,        200,          200,
       pi=200, sibling=200),
    ui("members",           "GET",  page_members,         LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("member_add",        "POST", form_add_member,      LOGIN,    404,        404,        SEE_MEMBERS,  SEE_MEMBERS,
       pi=403, sibling=403),
    ui("member_remove",     "GET",  page_remove,          LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("member_remove",     "POST", form_remove,          LOGIN,    404,        404,        SEE_MEMBERS,  SEE_MEMBERS,
       pi=403, sibling=403),
    ui("settings",          "GET",  page_settings,        LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("settings",          "POST", form_settings,        LOGIN,    404,        404,        SEE_SETTINGS, SEE_SETTINGS,
       pi=403, sibling=403),
    ui("test_connection",   "POST", form_test_connection, LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("create_offering_group", "POST", form_create_offering_group,
       LOGIN, 404, 404, SEE_GROUPS, SEE_GROUPS, pi=403, sibling=403),
    ui("catalog",           "GET",  page_catalog,         LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("activity",          "GET",  page_activity,        LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("plan_create",       "POST", form_new_plan,        LOGIN,    404,        404,        SEE_PLAN,     SEE_PLAN,
       pi=SEE_PLAN, sibling=404),
    ui("plan_detail",       "GET",  page_plan,            LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("plan_apply",        "POST", form_apply_plan,      LOGIN,    404,        404,        SEE_PLAN,     SEE_PLAN,
       pi=SEE_PLAN, sibling=404),
    ui("plan_result",       "GET",  page_plan_result,     LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("plan_again",        "POST", form_plan_again,      LOGIN,    404,        404,        SEE_PLAN,     SEE_PLAN,
       pi=SEE_PLAN, sibling=404),
    ui("plan_discard",      "POST", form_discard_plan,    LOGIN,    404,        404,        SEE_GROUPS,   SEE_GROUPS,
       pi=SEE_GROUPS, sibling=404),
    ui("group_pull_job",    "POST", form_pull_job,        LOGIN,    404,        404,        SEE_JOB,      SEE_JOB,
       pi=SEE_JOB, sibling=404),
    ui("job_detail",        "GET",  page_job,             LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("job_cancel",        "POST", form_cancel_job,      LOGIN,    404,        404,        SEE_JOB,      SEE_JOB,
       pi=SEE_JOB, sibling=404),
    ui("job_list",          "GET",  page_jobs,            LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("job_start",         "POST", form_start_job,       LOGIN,    404,        404,        SEE_JOB,      SEE_JOB,
       pi=403, sibling=403),
    ui("groups_csv",        "GET",  csv_groups,           LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("group_members_csv", "GET",  csv_members,          LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("plan_items_csv",    "GET",  csv_plan_items,       LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("activity_csv",      "GET",  csv_activity,         LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("keycloak_changes",  "GET",  page_keycloak_changes, LOGIN,   404,        404,        200,          200,
       pi=403, sibling=403),
    ui("keycloak_changes_csv", "GET", csv_keycloak_changes, LOGIN,  404,        404,        200,          200,
       pi=403, sibling=403),
    ui("overview",          "GET",  page_overview,        LOGIN,    200,        200,        200,          200,
       pi=200, sibling=200),
    ui("overview_check", "POST", form_overview_check,
       LOGIN, SEE_OVERVIEW, SEE_OVERVIEW, SEE_OVERVIEW, SEE_OVERVIEW, pi=SEE_OVERVIEW, sibling=SEE_OVERVIEW),
    ui("group_member_renew", "GET", page_renew,           LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("group_member_renew", "POST", form_renew,          LOGIN,    404,        404,        SEE_GROUP,    SEE_GROUP,
       pi=SEE_GROUP, sibling=404),
    ui("group_policy",      "POST", form_policy,          LOGIN,    404,        404,        SEE_GROUP,    SEE_GROUP,
       pi=403, sibling=404),
    ui("admin_events_enable", "GET", page_admin_events,   LOGIN,    404,        404,        403,          200,
       pi=403, sibling=403),
    ui("admin_events_enable", "POST", form_admin_events,  LOGIN,    404,        404,        403,          SEE_SETTINGS,
       pi=403, sibling=403),
    ui("my_groups",         "GET",  page_my_groups,       LOGIN,    200,        200,        200,          200,
       pi=200, sibling=200),
    ui("group_member_add",  "POST", form_grant,           LOGIN,    404,        404,        SEE_GROUP,    SEE_GROUP,
       pi=SEE_GROUP, sibling=404),
    ui("group_member_remove", "GET", page_remove_member,  LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("group_member_remove", "POST", form_remove_member, LOGIN,    404,        404,        SEE_GROUP,    SEE_GROUP,
       pi=SEE_GROUP, sibling=404),
    ui("group_manager_add", "POST", form_new_group_manager, LOGIN,  404,        404,        SEE_GROUP,    SEE_GROUP,
       pi=403, sibling=404),
    ui("group_manager_remove", "GET", page_remove_manager, LOGIN,   404,        404,        200,          200,
       pi=403, sibling=404),
    ui("group_manager_remove", "POST", form_remove_manager, LOGIN,  404,        404,        SEE_GROUP,    SEE_GROUP,
       pi=403, sibling=404),
    ui("offering_reviews",  "GET",  page_reviews,         LOGIN,    404,        404,        200,          200,
       pi=403, sibling=403),
    ui("offering_reviews",  "POST", form_new_review,      LOGIN,    404,        404,        SEE_REVIEW,   SEE_REVIEW,
       pi=403, sibling=403),
    ui("my_reviews",        "GET",  page_my_reviews,      LOGIN,    200,        200,        200,          200,
       pi=200, sibling=200),
    ui("review_detail",     "GET",  page_review,          LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
    ui("review_detail",     "POST", form_decide,          LOGIN,    404,        404,        SEE_REVIEW,   SEE_REVIEW,
       pi=SEE_REVIEW, sibling=404),
    ui("review_close",      "GET",  page_close_review,    LOGIN,    404,        404,        200,          200,
       pi=403, sibling=404),
    ui("review_close",      "POST", form_close_review,    LOGIN,    404,        404,        SEE_REVIEW,   SEE_REVIEW,
       pi=403, sibling=404),
    ui("review_items_csv",  "GET",  csv_review,           LOGIN,    404,        404,        200,          200,
       pi=200, sibling=404),
]

# A reference to another offering's role, resource, group or membership is refused, whoever asks.
CROSS_OFFERING_ROWS: list[Row] = [
    api("group_import_remote", "POST", api_import_foreign_role, label="this offering's role, other offering",
        anonymous=E401, nobody=NO_OFFERING, other=FOREIGN_ROLE, manager=NO_OFFERING, staff=FOREIGN_ROLE,
        pi=NO_OFFERING, sibling=NO_OFFERING),
    api("group_set_backend_id", "POST", api_set_foreign_resource, label="resource of the other offering",
        anonymous=E401, nobody=E404, other=E404, manager=FOREIGN_RESOURCE, staff=FOREIGN_RESOURCE,
        pi=FORBIDDEN, sibling=E404),
    api("membership_create", "POST", api_membership_foreign_resource, label="resource of the other offering",
        anonymous=E401, nobody=NO_OFFERING_REF, other=NO_OFFERING_REF,
        manager=FOREIGN_RESOURCE_REF, staff=FOREIGN_RESOURCE_REF,
        pi=FOREIGN_RESOURCE_REF, sibling=FOREIGN_RESOURCE_REF),
    ui("group_delete", "POST", form_delete_foreign, label="group of the other offering",
       anonymous=LOGIN, nobody=404, other=404, manager=404, staff=404, pi=404, sibling=404),
    ui("member_remove", "POST", form_remove_foreign, label="membership of the other offering",
       anonymous=LOGIN, nobody=404, other=404, manager=400, staff=400, pi=403, sibling=403),
]
# fmt: on
ROWS = API_ROWS + UI_ROWS + CROSS_OFFERING_ROWS


def served_routes(app: Flask) -> set[tuple[str, str]]:
    """Every (endpoint, method) of the api and ui blueprints (HEAD and OPTIONS are Flask's automatic extras)."""
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.partition(".")[0] in ("api", "ui")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def endpoint_of(app: Flask, url: str, method: str) -> str:
    parts = urlsplit(url)
    endpoint, _ = app.url_map.bind("testserver").match(parts.path, method=method, query_args=parts.query)
    return str(endpoint)


def first_rows(method: str, api: bool) -> list[Row]:
    """The main row of every route with this method (rows for other objects excluded), API or UI."""
    found: dict[str, Row] = {}
    for item in API_ROWS + UI_ROWS:
        if item.method == method and item.is_api is api and not item.label:
            found.setdefault(item.endpoint, item)
    return list(found.values())


# -- sending requests as a persona -------------------------------------------------------------------


def sign_in(client: FlaskClient, who: str) -> str:
    """Log the persona in through the login form (anonymous just opens it); return the page's CSRF token."""
    if who == "anonymous":
        return csrf_token_of(send(client, "GET", "/login"))
    response = log_in(client, USERNAMES[who], PASSWORD)
    assert response.status_code == 303, f"{who} could not log in: {response.status_code}"
    return csrf_token_of(send(client, "GET", "/tokens"))


def api_headers(w: World, who: str) -> dict[str, str]:
    return {} if who == "anonymous" else w.headers(who)


def send_api(client: FlaskClient, w: World, who: str, method: str, call: Call, **extra: Any) -> TestResponse:
    headers = api_headers(w, who) | extra.pop("headers", {})
    return send(client, method, call.url, json=call.json, headers=headers, **extra)


def send_ui(client: FlaskClient, method: str, call: Call, csrf: str | None, **extra: Any) -> TestResponse:
    """A page request; a POST carries the form's CSRF token (csrf=None sends none)."""
    if method == "GET":
        return send(client, "GET", call.url, **extra)
    data = dict(call.form or {})
    if csrf is not None:
        data |= {name: csrf for name in call.csrf_fields}
    return send(client, method, call.url, data=data, **extra)


def describe(response: TestResponse) -> str:
    text = response.get_data(as_text=True)
    location = response.headers.get("Location")
    return f"{response.status_code}" + (f" -> {location}" if location else "") + f" {text[:300]!r}"


def check(response: TestResponse, wanted: Expect, w: World, context: str) -> None:
    got = describe(response)
    assert response.status_code == wanted.status, f"{context}: expected {wanted}, got {got}"
    if wanted.location is not None:
        target = wanted.location.format(offering=w.offering.uuid)
        path = urlsplit(response.headers.get("Location", "")).path
        same = path.startswith(target[:-1]) if target.endswith("*") else path == target
        assert same, f"{context}: expected {wanted}, got {got}"
    if wanted.body is not None:
        assert response.get_json(silent=True) == wanted.body, f"{context}: expected {wanted}, got {got}"
