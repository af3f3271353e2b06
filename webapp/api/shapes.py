"""Every shape the API sends or accepts, declared once.

A response shape is a pydantic model whose fields say, beside their type and description, where the value
comes from (`From(...)`; by default the attribute of the same name). The same declaration serializes objects
(`Shape.dump`), is what pydantic validates request bodies against (inputs.parse_body) and becomes the OpenAPI
components (`component_schemas`). Adding a field to a response is one line here (plus the model).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Annotated, Any, Literal

from flask import url_for
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from ..models import AccessReview, MembershipState, OfferingKeycloakMembership, Plan, PlanItem
from ..services.jobs.core import JobKindName, live_progress
from ..services.plans import core as plans
from ..services.reviews import core as reviews
from ..services.uuids import parse_uuid
from .inputs import MAX_LENGTH, MAX_LIST, invalid

Getter = Callable[[Any], Any]

# -- field kinds ----------------------------------------------------------------------------------------


class From:
    """Where a response field's value comes from: a dotted attribute path or a function of the object."""

    def __init__(self, source: str | Getter) -> None:
        self.get: Getter = attrgetter(source) if isinstance(source, str) else source


def _uuid(value: Any, _handler: ValidatorFunctionWrapHandler) -> str:
    parsed = parse_uuid(value)
    if parsed is None:
        raise invalid("uuid")
    return parsed


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


UUID_HELP = "32-character hex (input also accepts the hyphenated form)."
# Requests accept hex with or without hyphens and get the 32-character form.
Uuid = Annotated[str, WrapValidator(_uuid), Field(description=UUID_HELP, json_schema_extra={"format": "uuid"})]
MaybeUuid = Annotated[Uuid | None, BeforeValidator(_empty_is_none)]
# Request text: numbers are taken as their text (Request's config), booleans and objects are not.
Text = Annotated[str, Field(max_length=MAX_LENGTH)]
Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LENGTH, strict=True)]
Items = Annotated[list[Item], Field(max_length=MAX_LIST)]
Choices = Annotated[dict[str, Annotated[str, StringConstraints(strict=True)] | None], Field(max_length=10 * MAX_LIST)]
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we always store UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat().replace("+00:00", "Z")


def when(path: str, attribute: str) -> Getter:
    """`obj.<path>.<attribute>`, or None when `obj.<path>` is None."""
    get = attrgetter(path)
    return lambda obj: getattr(related, attribute) if (related := get(obj)) is not None else None


def link(endpoint: str, path: str = "") -> Getter:
    """The API URL of the object, or of the related object at `path` (None when that is None)."""
    related = attrgetter(path) if path else (lambda obj: obj)

    def build(obj: Any) -> str | None:
        target = related(obj)
        return url_for(endpoint, uuid=target.uuid, _external=True) if target is not None else None

    return build


def at(path: str, make: Callable[[Any], Any]) -> Getter:
    get = attrgetter(path)
    return lambda obj: make(get(obj))


_GETTERS: dict[type[BaseModel], list[tuple[str, Getter]]] = {}


class Shape(BaseModel):
    @classmethod
    def getters(cls) -> list[tuple[str, Getter]]:
        getters = _GETTERS.get(cls)
        if getters is None:  # built once per shape
            getters = []
            for name, info in cls.model_fields.items():
                source = next((item for item in info.metadata if isinstance(item, From)), None)
                getters.append((name, source.get if source else attrgetter(name)))
            _GETTERS[cls] = getters
        return getters

    @classmethod
    def dump(cls, obj: Any) -> dict[str, Any]:
        """The response for `obj`, field by field, without validation (our own objects are trusted)."""
        return {name: get(obj) for name, get in cls.getters()}


# -- responses --------------------------------------------------------------------------------------------


class OfferingKeycloakGroupOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.group_detail"))]
    name: str
    backend_id: Annotated[str, Field(description="Keycloak group id; empty when the group is not linked.")]
    offering: Annotated[Url, From(link("api.offering_detail", "offering"))]
    offering_uuid: Annotated[Uuid, From("offering.uuid")]
    offering_name: Annotated[str, From("offering.name")]
    role: Annotated[Url, From(link("api.role_detail", "role"))]
    role_name: Annotated[str, From("role.name")]
    role_scope_type: Annotated[str, From("role.scope_type"), Field(description="Empty for offering-wide roles.")]
    resource: Annotated[Url | None, From(link("api.resource_detail", "resource"))]
    resource_uuid: Annotated[
        Uuid | None, From(when("resource", "uuid")), Field(description="Null when the group is not tied to a resource.")
    ]
    resource_name: Annotated[str | None, From(when("resource", "name"))]
    scope_id: str
    default_days: Annotated[int | None, Field(description="A grant's expiry by default, in days; null: none.")]
    max_days: Annotated[int | None, Field(description="A grant's longest duration, in days; null: no maximum.")]
    created: Annotated[Timestamp, From(at("created", iso))]
    modified: Annotated[Timestamp, From(at("modified", iso))]


class OfferingKeycloakMembershipOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.membership_detail"))]
    username: Annotated[str, Field(description="Stored lower-case.")]
    email: str
    first_name: str
    last_name: str
    group: Annotated[Url, From(link("api.group_detail", "group"))]
    group_name: Annotated[str, From("group.name")]
    group_role_name: Annotated[str, From("group.role.name")]
    group_offering_uuid: Annotated[Uuid, From("group.offering.uuid")]
    group_offering_name: Annotated[str, From("group.offering.name")]
    group_resource_name: Annotated[str | None, From(when("group.resource", "name"))]
    group_resource_uuid: Annotated[
        Uuid | None,
        From(when("group.resource", "uuid")),
        Field(description="Null when the group is not tied to a resource."),
    ]
    group_scope_id: Annotated[str, From("group.scope_id")]
    group_role_scope_type: Annotated[str, From("group.role.scope_type")]
    group_role_scope_type_label: Annotated[str, From("group.role.scope_type_label")]
    user: Annotated[
        str | None, From(lambda _m: None), Field(description="Always null: marketplace users are not mirrored here.")
    ]
    state: MembershipState
    created: Annotated[Timestamp, From(at("created", iso))]
    modified: Annotated[Timestamp, From(at("modified", iso))]
    last_checked: Annotated[Timestamp, From(at("last_checked", iso))]
    expires_at: Annotated[
        Timestamp | None, From(at("expires_at", iso)), Field(description="When access ends; null: never.")
    ]
    error_message: str
    error_traceback: Annotated[str, Field(description="Staff only; empty for everyone else.")]


class RemoteGroupOut(Shape):
    id: Annotated[str, Field(description="Keycloak group id.")]
    name: str
    path: str
    sub_group_count: Annotated[int, Field(description="Keycloak's own count of direct subgroups.")]


class RemoteGroupMemberOut(Shape):
    id: Annotated[str, Field(description="Keycloak user id.")]
    username: str
    email: Annotated[str, Field(description="Empty when Keycloak has none.")]
    first_name: Annotated[str, Field(description="Empty when Keycloak has none.")]
    last_name: Annotated[str, Field(description="Empty when Keycloak has none.")]


class GroupManagerOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.group_manager_detail"))]
    group_uuid: Annotated[Uuid, From("group.uuid")]
    group_name: Annotated[str, From("group.name")]
    username: Annotated[str, Field(description="Who manages the group's members (lower case).")]
    created: Annotated[Timestamp, From(at("created", iso))]
    created_by: Annotated[str, From("created_by_name")]


class AuditEventOut(Shape):
    uuid: Uuid
    created: Annotated[Timestamp, From(at("created", iso))]
    actor: Annotated[str, From("actor_name"), Field(description="Username, or system for background jobs.")]
    offering_uuid: Annotated[Uuid | None, From(when("offering", "uuid"))]
    offering_name: Annotated[str | None, From(when("offering", "name"))]
    action: str
    object_type: str
    object: Annotated[str, From("object_repr")]
    details: Annotated[dict[str, Any], From(lambda event: event.details or {})]


class OfferingRoleOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.role_detail"))]
    name: str
    scope_type: str
    scope_type_label: str


class ScopeOut(BaseModel):
    scope_type: str = ""
    scope_id: str = ""
    label: str = ""


class ResourceOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.resource_detail"))]
    name: str
    project_name: str
    keycloak_available_scopes: Annotated[list[ScopeOut], From(lambda r: r.keycloak_available_scopes or [])]


class KeycloakSettingsOut(Shape):
    """Secrets are never returned, only whether one is stored."""

    enabled: Annotated[bool, From("keycloak_enabled")]
    url: Annotated[str, From("keycloak_url")]
    realm: Annotated[str, From("keycloak_realm")]
    auth_realm: Annotated[str, From("keycloak_auth_realm")]
    username: Annotated[str, From("keycloak_username")]
    password_set: Annotated[bool, From(lambda o: bool(o.keycloak_password_encrypted))]
    client_id: Annotated[str, From("keycloak_client_id")]
    client_secret_set: Annotated[bool, From(lambda o: bool(o.keycloak_client_secret_encrypted))]
    verify_ssl: Annotated[bool, From("keycloak_verify_ssl")]
    ca_certificate: Annotated[str, From("keycloak_ca_certificate"), Field(description="PEM; empty: system trust.")]
    timeout: Annotated[float, From("keycloak_timeout")]
    base_group: Annotated[str, From("keycloak_base_group")]
    group_name_template: Annotated[str, From("keycloak_group_name_template")]
    username_label: Annotated[str, From("keycloak_username_label")]


class OfferingOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.offering_detail"))]
    name: str
    slug: str
    organization_uuid: Annotated[Uuid, From("organization.uuid")]
    organization_name: Annotated[str, From("organization.name")]
    keycloak: Annotated[KeycloakSettingsOut, From(KeycloakSettingsOut.dump)]
    roles: Annotated[list[OfferingRoleOut], From(lambda o: [OfferingRoleOut.dump(role) for role in o.roles])]
    resources: Annotated[list[ResourceOut], From(lambda o: [ResourceOut.dump(item) for item in o.resources])]


class AdminEventsOut(BaseModel):
    enabled: Annotated[
        bool | None, Field(description="The realm records admin events; null: our account may not read its settings.")
    ]
    readable: Annotated[bool, Field(description="Our account may read them (view-events).")]
    details: Annotated[bool | None, Field(description="They include the representation; null as for enabled.")]
    words: Annotated[str, Field(description="What attribution is possible, and what is missing for it.")]


class TestConnectionOut(BaseModel):
    status: Literal["ok"]
    groups_count: int
    groups: list[str]
    keycloak_version: Annotated[str | None, Field(description="The server's version; null when it does not say.")]
    missing_offering_group: Annotated[
        str, Field(description="Present when the offering's group does not exist in Keycloak.")
    ] = ""
    admin_events: Annotated[AdminEventsOut, Field(description="What attribution of Keycloak changes is possible.")]


class TestConnectionErrorOut(BaseModel):
    status: Literal["error"]
    error: Annotated[str, Field(description="What failed, short and secret-free.")]


class PullMembersOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    removed_remotely: Annotated[int, Field(description="Local members no longer in the Keycloak group (kept, marked).")]
    total_remote: int


class SyncedOut(Shape):  # dumps a (local group, remote group) pair
    local_name: Annotated[str, From(lambda pair: pair[0].name)]
    remote_name: Annotated[str, From(lambda pair: pair[1].name)]
    backend_id: Annotated[str, From(lambda pair: pair[1].id)]
    local_uuid: Annotated[Uuid, From(lambda pair: pair[0].uuid)]
    remote_path: Annotated[str, From(lambda pair: pair[1].path)]


class GroupChangeOut(Shape):
    """docs/PRODUCT.md §10: what Keycloak's admin events say about one group difference of the diff."""

    source: Literal["keycloak_admin", "this_app", "unknown"]
    operation: Annotated[
        Literal["created", "deleted", "moved"] | None, Field(description="What the event did (null: unknown).")
    ]
    by: Annotated[str | None, Field(description="The acting user's username, or who they are in words.")]
    client: Annotated[str | None, Field(description="The client (clientId) the change was made through.")]
    at: Annotated[Timestamp | None, Field(description="When Keycloak recorded it.")]
    event_id: Annotated[str | None, Field(description="The admin event's id (Keycloak 26; null before).")]
    reason: Annotated[str | None, Field(description="Why it is unknown, in words.")]


_CHANGE_OF_LINK = Field(
    description="A dangling link: who deleted the group in Keycloak or moved it out (null: the link is not broken, "
    "or the diff was read without attribution)."
)


class LocalOnlyOut(Shape):  # dumps a (local group, whether its link dangles, its keycloak_change) triple
    uuid: Annotated[Uuid, From(lambda pair: pair[0].uuid)]
    name: Annotated[str, From(lambda pair: pair[0].name)]
    backend_id: Annotated[str, From(lambda pair: pair[0].backend_id)]
    broken_link: Annotated[bool, From(lambda pair: pair[1])]
    keycloak_change: Annotated[GroupChangeOut | None, From(lambda pair: pair[2]), _CHANGE_OF_LINK]


class RemoteOnlyOut(Shape):  # dumps a (remote group, its keycloak_change) pair
    id: Annotated[str, From(lambda pair: pair[0].id)]
    name: Annotated[str, From(lambda pair: pair[0].name)]
    path: Annotated[str, From(lambda pair: pair[0].path)]
    keycloak_change: Annotated[
        GroupChangeOut | None,
        From(lambda pair: pair[1]),
        Field(description="Who made the group in Keycloak or moved it into the offering's subtree."),
    ]


class SyncStatusOut(Shape):
    """Waldur's three keys (matched by Keycloak id, sorted by name), then the extra keys the UI uses."""

    local_only: Annotated[
        list[str],
        From(lambda status: [group.name for group, _broken in status.unlinked]),
        Field(description="Names of local groups with no (or a dangling) backend_id."),
    ]
    remote_only: Annotated[
        list[str],
        From(lambda status: [group.name for group in status.remote_only]),
        Field(description="Names of remote groups in the offering subtree no local group links."),
    ]
    synced: Annotated[list[SyncedOut], From(lambda status: [SyncedOut.dump(pair) for pair in status.synced])]
    local_only_groups: Annotated[
        list[LocalOnlyOut],
        From(
            lambda status: [
                LocalOnlyOut.dump((group, broken, status.change_of(group.backend_id) if broken else None))
                for group, broken in status.unlinked
            ]
        ),
    ]
    remote_only_groups: Annotated[
        list[RemoteOnlyOut],
        From(lambda status: [RemoteOnlyOut.dump((group, status.change_of(group.id))) for group in status.remote_only]),
    ]
    hierarchy_root: Annotated[
        str | None,
        From(lambda status: status.root.path if status.root else None),
        Field(description="Path of the offering's group in Keycloak; null when it does not exist."),
    ]


def _group_uuid(item: Any) -> str | None:
    return item.group_uuid or None


class PlanOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.plan_detail"))]
    kind: Literal["members", "import", "links", "expiry", "review"]
    offering_uuid: Annotated[Uuid, From("offering.uuid")]
    state: Literal["open", "applying", "applied", "partially_applied", "failed", "stale", "expired", "discarded"]
    created: Annotated[Timestamp, From(at("created", iso))]
    expires: Annotated[Timestamp, From(at("expires", iso))]
    created_by: Annotated[str, From("created_by_name"), Field(description="Username of who asked for the preview.")]
    summary: Annotated[
        dict[str, int],
        Field(description='Items per default action, plus "unchanged", "optional" (no default) and "skipped".'),
    ]
    brake: Annotated[
        dict[str, str] | None,
        Field(description="The phrase to type when every removal is selected, and why; null when none is needed."),
    ]
    items_url: Annotated[Url, From(lambda plan: url_for("api.plan_items", uuid=plan.uuid, _external=True))]
    result: Annotated[
        dict[str, Any],
        Field(
            description="While applying: progress (done, total). After apply: counts, selected, partial, progress, "
            "and error saying how far it got when it stopped midway; after a refusal: error."
        ),
    ]
    items_removed: Annotated[
        Timestamp | None,
        From(at("items_removed", iso)),
        Field(
            description="When the items were removed, OKG_PLAN_RETENTION_DAYS after the plan ended (items_url "
            "then answers 410); summary and result stay. Null while the items are kept."
        ),
    ]


class KeycloakChangeOut(Shape):
    """docs/PRODUCT.md §10: what Keycloak's admin events say about one membership difference."""

    source: Literal["keycloak_admin", "this_app", "unknown"]
    by: Annotated[str | None, Field(description="The acting user's username, or who they are in words.")]
    client: Annotated[str | None, Field(description="The client (clientId) the change was made through.")]
    at: Annotated[Timestamp | None, Field(description="When Keycloak recorded it.")]
    event_id: Annotated[str | None, Field(description="The admin event's id (Keycloak 26; null before).")]
    reason: Annotated[str | None, Field(description="Why it is unknown, in words.")]
    audit_event: Annotated[
        str | None, Field(description="this_app: the uuid of our audit event that made it, where one matches.")
    ]


class PlanItemOut(Shape):
    key: Annotated[str, Field(description="Stable within the plan; use it in the apply selection.")]
    actions: list[str]
    default_action: Annotated[str | None, Field(description="Null: not applied unless chosen.")]
    destructive: Annotated[bool, Field(description="One of its actions removes something in Keycloak.")]
    where: Annotated[Literal["local", "keycloak"], Field(description="Where the default (or only) action writes.")]
    unchanged: bool
    group_uuid: Annotated[Uuid | None, From(_group_uuid)]
    group_name: str
    username: str
    email: str
    first_name: str
    last_name: str
    remote_group_id: str
    remote_path: str
    changes: Annotated[dict[str, list[str]], Field(description='{"email": ["old", "new"]}')]
    note: str
    action: Annotated[str | None, From("chosen_action"), Field(description="After apply: the action taken.")]
    outcome: Annotated[Literal["applied", "failed", "not_selected"] | None, Field(description="After apply.")]
    message: str
    keycloak_change: Annotated[
        KeycloakChangeOut | None,
        From(lambda _item: None),  # needs the page's admin events: filled by dump_plan_items
        Field(description="Who made this membership difference in Keycloak (null: not a membership difference)."),
    ]


def dump_plan_items(plan: Plan) -> Callable[[list[PlanItem]], list[dict[str, Any]]]:
    """A page of the plan's items, each with its `keycloak_change` (one explanation per page, not per row)."""

    def dump_page(items: list[PlanItem]) -> list[dict[str, Any]]:
        found = plans.keycloak_changes(plan, items)
        none = plans.Attribution()
        return [PlanItemOut.dump(item) | {"keycloak_change": found.get(item.id, none).change} for item in items]

    return dump_page


class ReviewCountsOut(BaseModel):
    total: int
    keep: int
    remove: int
    unsure: int
    undecided: int


class AccessReviewOut(Shape):
    """docs/PRODUCT.md §12."""

    uuid: Uuid
    url: Annotated[Url, From(link("api.review_detail"))]
    offering_uuid: Annotated[Uuid, From("offering.uuid")]
    offering_name: Annotated[str, From("offering.name")]
    state: Literal["open", "closed"]
    due: Annotated[str, From(lambda review: review.due.isoformat()), Field(json_schema_extra={"format": "date"})]
    overdue: Annotated[bool, From(reviews.is_overdue), Field(description="Open and past its due date.")]
    created: Annotated[Timestamp, From(at("created", iso))]
    created_by: Annotated[str, From("created_by_name")]
    group_uuids: Annotated[list[str], Field(description="The reviewed groups.")]
    reviewers: Annotated[list[str], From(lambda review: [reviewer.username for reviewer in review.reviewers])]
    repeat_months: Annotated[
        int | None, Field(description="The periodic round opens the next review this many months after this one.")
    ]
    counts: Annotated[
        ReviewCountsOut,
        From(lambda _review: None),  # counted for a page of reviews at once: filled by dump_reviews
        Field(description="Items per decision (undecided: none yet)."),
    ]
    plan_uuid: Annotated[
        Uuid | None,
        From(when("plan", "uuid")),
        Field(description="The review plan of the removals, made when it closed (null: open, or nobody to remove)."),
    ]
    closed_at: Annotated[Timestamp | None, From(at("closed_at", iso))]
    closed_by: Annotated[str, From("closed_by_name")]
    items_url: Annotated[Url, From(lambda review: url_for("api.review_items", uuid=review.uuid, _external=True))]


def dump_reviews(found: list[AccessReview]) -> list[dict[str, Any]]:
    """Reviews with their counts (one statement for the page)."""
    counted = reviews.counts_of(found)
    return [AccessReviewOut.dump(review) | {"counts": counted[review.id].as_dict()} for review in found]


def dump_review(review: AccessReview) -> dict[str, Any]:
    return dump_reviews([review])[0]


class ReviewItemOut(Shape):
    key: Annotated[str, Field(description="Stable within the review: what decide/ names.")]
    group_uuid: str
    group_name: str
    username: str
    email: str
    first_name: str
    last_name: str
    decision: Annotated[
        Literal["keep", "remove", "unsure"] | None,
        From(lambda item: item.decision.value if item.decision else None),
        Field(description="Null: undecided (nobody is removed for want of an answer)."),
    ]
    note: str
    decided_by: Annotated[str, Field(description="Username of who decided; empty while undecided.")]
    decided_at: Annotated[Timestamp | None, From(at("decided_at", iso))]
    outcome: Annotated[
        Literal["applied", "failed", "not_selected"] | None,
        From(reviews.outcome_of),
        Field(description="A removal's outcome once the review plan was applied: applied, failed or not_selected."),
    ]
    outcome_message: Annotated[str, Field(description="Why it failed, in words.")]


class PlanItemOutcomeOut(Shape):
    key: str
    action: Annotated[str | None, From("chosen_action")]
    outcome: Literal["applied", "failed", "not_selected"]
    message: str


class PlanApplyOut(Shape):
    plan_uuid: Annotated[Uuid, From("plan.uuid")]
    state: Annotated[str, From("plan.state")]
    counts: dict[str, int]
    items: Annotated[
        list[PlanItemOutcomeOut],
        From(lambda result: [PlanItemOutcomeOut.dump(item) for item in result.items]),
        Field(description="The first 200 items with an outcome."),
    ]


class LinkSuggestionOut(Shape):
    group_uuid: Annotated[Uuid, From("group.uuid")]
    group_name: Annotated[str, From("group.name")]
    remote_group_id: Annotated[str, From("remote.id")]
    remote_path: Annotated[str, From("remote.path")]
    reason: Literal["same_path", "template_name", "same_name_ignoring_case"]


class JobOut(Shape):
    uuid: Uuid
    url: Annotated[Url, From(link("api.job_detail"))]
    kind: JobKindName
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    offering_uuid: Annotated[Uuid | None, From(when("offering", "uuid"))]
    group_uuid: Annotated[Uuid | None, From(when("group", "uuid"))]
    plan_uuid: Annotated[Uuid | None, From(when("plan", "uuid"))]
    progress: Annotated[
        dict[str, Any],
        From(lambda job: live_progress(job)),
        Field(description="{done, total, unit}; live while running."),
    ]
    created: Annotated[Timestamp, From(at("created", iso))]
    started: Annotated[Timestamp | None, From(at("started", iso))]
    finished: Annotated[Timestamp | None, From(at("finished", iso))]
    created_by: Annotated[str, From("created_by_name")]
    result: dict[str, Any]
    error: Annotated[str, Field(description="Why it failed or was cancelled, in words.")]


class Request(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)


class JobCreateRequest(Request):
    kind: JobKindName
    offering_uuid: MaybeUuid = None
    group_uuid: MaybeUuid = None
    plan_uuid: MaybeUuid = None


class Detail(BaseModel):
    detail: str


# -- requests ---------------------------------------------------------------------------------------------


class OfferingUUIDRequest(Request):
    offering_uuid: Uuid


class ImportRemoteGroupRequest(Request):
    offering_uuid: Uuid
    role_uuid: Uuid
    remote_group_id: Annotated[Text, Field(min_length=1, description="Keycloak group id.")]
    resource_uuid: MaybeUuid = None
    scope_id: Text | None = ""


class SetBackendIdRequest(Request):
    backend_id: Annotated[Text | None, Field(description="Empty or null unlinks without calling Keycloak.")] = None
    resource_uuid: Annotated[
        MaybeUuid, Field(description="A uuid sets the resource, null clears it, absent keeps it.")
    ] = None
    scope_id: Annotated[Text | None, Field(description="Absent keeps the current value.")] = None


class OfferingKeycloakMembershipRequest(Request):
    offering: Annotated[Text, Field(min_length=1, description="Offering URL or uuid (with or without hyphens).")]
    role: Annotated[Text, Field(min_length=1, description="Role URL or uuid.")]
    resource: Annotated[Text | None, Field(description="Resource URL or uuid.")] = None
    scope_id: Text | None = ""
    username: Annotated[Text, Field(min_length=1, description="Exact Keycloak username; stored lower-case.")]
    email: Text | None = None
    expires_at: Annotated[
        datetime | None,
        Field(
            description="ISO time (UTC when it has no zone): not in the past, at most the group's max_days from "
            "now. Absent or null: the group's default_days (none: never)."
        ),
    ] = None
    user: Annotated[str | None, SkipValidation, Field(description="Accepted for compatibility; ignored.")] = None


class GroupManagerRequest(Request):
    group_uuid: Uuid
    username: Annotated[
        Text,
        Field(
            min_length=1,
            description="An account here or a user of the offering's Keycloak realm; stored lower-case.",
        ),
    ]


class RenewRequest(Request):
    expires_at: Annotated[
        datetime | None,
        Field(description="The new end: not in the past, at most max_days from now; null: the group's default."),
    ] = None


Days = Annotated[int | None, Field(ge=1, le=3650, description="Days from 1 to 3650, or null.")]


class MembershipPolicyRequest(Request):
    default_days: Days = None
    max_days: Days = None


class PlanCreateRequest(Request):
    kind: Annotated[Literal["members", "import", "links"], Field(description="What to preview.")]
    offering_uuid: Uuid
    group_uuids: Annotated[
        Items | None, Field(description="members: the linked groups to compare; links: limit to these groups.")
    ] = None
    role_uuid: Annotated[MaybeUuid, Field(description="import: the role of the new local groups.")] = None
    resource_uuid: Annotated[MaybeUuid, Field(description="import: optional resource.")] = None
    scope_id: Annotated[Text | None, Field(description="import: empty gives each group its name as scope id.")] = ""
    remote_group_ids: Annotated[Items | None, Field(description="import: Keycloak group ids.")] = None


Note = Annotated[str, Field(max_length=2000)]


class ReviewCreateRequest(Request):
    offering_uuid: Uuid
    group_uuids: Annotated[Items | None, Field(description="The linked groups to review; absent: every one.")] = None
    due: Annotated[date, Field(description="YYYY-MM-DD: not in the past, within a year.")]
    reviewers: Annotated[
        Items | None,
        Field(description="Usernames; absent: the offering's managers and the groups' managers."),
    ] = None
    repeat_months: Annotated[
        int | None, Field(ge=1, le=36, description="Open the next review this many months later; null: once.")
    ] = None


class ReviewDecideRequest(Request):
    decisions: Annotated[
        dict[str, Literal["keep", "remove", "unsure"]],
        Field(min_length=1, max_length=5000, description="Item key -> keep, remove or unsure."),
    ]
    note: Annotated[Note | None, Field(description="Kept on each of these items; absent keeps their notes.")] = None


class PlanApplyRequest(Request):
    selection: Annotated[
        Choices | None,
        Field(description="Item key -> action, or null for not applied; absent keys take their default."),
    ] = None
    confirm: Annotated[Text | None, Field(description="The brake's phrase, when the selection trips it.")] = None


# -- OpenAPI components -----------------------------------------------------------------------------------

RESPONSES: dict[str, type[BaseModel]] = {
    "OfferingKeycloakGroup": OfferingKeycloakGroupOut,
    "OfferingKeycloakMembership": OfferingKeycloakMembershipOut,
    "AuditEvent": AuditEventOut,
    "GroupManager": GroupManagerOut,
    "AccessReview": AccessReviewOut,
    "AccessReviewItem": ReviewItemOut,
    "ReviewCounts": ReviewCountsOut,
    "RemoteGroup": RemoteGroupOut,
    "RemoteGroupMember": RemoteGroupMemberOut,
    "SyncStatusResponse": SyncStatusOut,
    "TestConnectionResponse": TestConnectionOut,
    "TestConnectionError": TestConnectionErrorOut,
    "PullMembersResponse": PullMembersOut,
    "Plan": PlanOut,
    "PlanItem": PlanItemOut,
    "PlanApplyResponse": PlanApplyOut,
    "LinkSuggestion": LinkSuggestionOut,
    "Job": JobOut,
    "Offering": OfferingOut,
    "OfferingRole": OfferingRoleOut,
    "Resource": ResourceOut,
    "Detail": Detail,
}
REQUESTS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (
        OfferingUUIDRequest,
        ImportRemoteGroupRequest,
        SetBackendIdRequest,
        OfferingKeycloakMembershipRequest,
        GroupManagerRequest,
        ReviewCreateRequest,
        ReviewDecideRequest,
        RenewRequest,
        MembershipPolicyRequest,
        PlanCreateRequest,
        PlanApplyRequest,
        JobCreateRequest,
    )
}
NAMES = {model.__name__: name for name, model in RESPONSES.items()} | {
    "AdminEventsOut": "AdminEvents",
    "MembershipState": "MembershipState",
    "PlanItemOutcomeOut": "PlanItemOutcome",
}


def openapi30(schema: Any) -> Any:
    """JSON Schema from pydantic as OpenAPI 3.0 wants it: `nullable` instead of a null branch, no titles."""
    if isinstance(schema, list):
        return [openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: openapi30(value) for key, value in schema.items() if key != "title"}
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [option for option in options if option.get("type") != "null"]
        merged = dict(kept[0]) if len(kept) == 1 else {"anyOf": kept}
        if "$ref" in merged:  # OpenAPI 3.0 ignores siblings of $ref
            merged = {"allOf": [merged]}
        schema = {**merged, **schema, **({"nullable": True} if len(kept) < len(options) else {})}
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema["$ref"] = f"#/components/schemas/{NAMES.get(name, name)}"
    return schema


def component_schemas() -> dict[str, Any]:
    """Every shape above (and the shapes inside them) as OpenAPI 3.0 components, under their API names."""
    components: dict[str, Any] = {}
    for name, model in {**RESPONSES, **REQUESTS}.items():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        for inner, definition in schema.pop("$defs", {}).items():
            components[NAMES.get(inner, inner)] = openapi30(definition)
        components[name] = openapi30(schema)
    return components


def serialize_membership(membership: OfferingKeycloakMembership, viewer_is_staff: bool) -> dict[str, Any]:
    data = OfferingKeycloakMembershipOut.dump(membership)
    if not viewer_is_staff:  # tracebacks are for staff only
        data["error_traceback"] = ""
    return data
