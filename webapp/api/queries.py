"""Every list's query parameters, declared once.

A query model is a pydantic model whose fields are the parameters of one endpoint (paging and ordering, shared
by every list, are pagination.py's and ordering.py's). The same declaration is what pydantic validates
`request.args` against (inputs.parse_query: errors in the Waldur words of inputs.MESSAGES) and what the OpenAPI
document lists (docs.query_parameters). Adding a filter is one line here plus the service's filter field.

As django-filter does, a blank value (`?name=`) is no filter: parse_query drops it before validation, so a
required parameter left blank is "This field is required.".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..models import JobState, MembershipState, PlanState, ReviewDecision, ReviewState
from ..services.jobs import kinds as job_kinds
from ..services.memberships.pages import MAX_QUERY_LENGTH
from .shapes import UUID_HELP, Text, Uuid


def _true_or_false(value: Any) -> Any:
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise PydanticCustomError("boolean_words", "Must be true or false.")


def one_of(choices: Iterable[str]) -> Any:
    """A parameter that must be one of `choices` (given once, also the document's enum)."""
    allowed = tuple(choices)

    def check(value: Any) -> Any:
        if value not in allowed:
            raise PydanticCustomError(
                "one_of",
                '"{value}" is not one of: {allowed}.',
                {"value": str(value)[:40], "allowed": ", ".join(allowed)},
            )
        return value

    return Annotated[str, BeforeValidator(check), WithJsonSchema({"type": "string", "enum": list(allowed)})]


def _states(value: Any) -> Any:
    for state in value:
        if state not in MembershipState._value2member_map_:
            raise PydanticCustomError(
                "many_of",
                "Select a valid choice. {value} is not one of the available choices.",
                {"value": str(state)[:40]},
            )
    return value


def _day(value: Any) -> date:
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            "day", "Enter a date as YYYY-MM-DD, not {shown}.", {"shown": repr(text[:40])}
        ) from None


def _search(value: Any) -> Any:
    text = str(value).strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise PydanticCustomError(
            "search_length", "Search for at most {limit} characters.", {"limit": MAX_QUERY_LENGTH}
        )
    return text


Flag = Annotated[bool, BeforeValidator(_true_or_false), Field(description="true or false; also 1/0, yes/no.")]
Day = Annotated[date, BeforeValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]
Search = Annotated[str, BeforeValidator(_search), WithJsonSchema({"type": "string", "maxLength": MAX_QUERY_LENGTH})]
Stripped = Annotated[Text, BeforeValidator(lambda value: str(value).strip())]
KeycloakId = Annotated[str, BeforeValidator(lambda value: str(value).strip())]  # its own check says what is wrong
States = Annotated[list[MembershipState], BeforeValidator(_states)]
if TYPE_CHECKING:
    PlanStateName = str
    JobStateName = str
    JobKindChoice = str
    ReviewStateName = str
    ReviewDecisionFilter = str
else:  # the choices are the enums' values and the job kinds registered when this is imported
    ReviewStateName = one_of(state.value for state in ReviewState)
    ReviewDecisionFilter = one_of([*(decision.value for decision in ReviewDecision), "undecided"])
    PlanStateName = one_of(state.value for state in PlanState)
    JobStateName = one_of(state.value for state in JobState)
    JobKindChoice = one_of(job_kinds.names())
OFFERING_HELP = 'Unknown or not visible is 400 {"offering_uuid": ["Offering not found."]}.'
OfferingFilter = Annotated[str | None, Field(description=OFFERING_HELP, json_schema_extra={"format": "uuid"})]
RequiredOffering = Annotated[str, Field(description=OFFERING_HELP, json_schema_extra={"format": "uuid"})]
UuidFilter = Annotated[Uuid | None, Field(description=f'{UUID_HELP} Malformed is 400 ["Must be a valid UUID."].')]


class Query(BaseModel):
    """Parameters this model does not name (page, page_size, o, format) are other modules' and ignored here."""

    model_config = ConfigDict(coerce_numbers_to_str=True, extra="ignore")


class OfferingQuery(Query):
    offering_uuid: RequiredOffering


class GroupListQuery(Query):
    offering_uuid: OfferingFilter = None
    role_uuid: UuidFilter = None
    resource_uuid: UuidFilter = None
    backend_id: Annotated[Text, Field(description="Exact Keycloak group id.")] = ""
    name: Annotated[Text, Field(description="Case-insensitive substring of the name.")] = ""
    linked: Annotated[Flag | None, Field(description="true: has a backend_id; false: unlinked. Also 1/0, yes/no.")] = (
        None
    )


class GroupManagerListQuery(Query):
    group_uuid: Annotated[
        UuidFilter, Field(description='Unknown or not visible is 400 {"group_uuid": ["Group not found."]}.')
    ] = None
    username: Annotated[Stripped, Field(description="Exact username (case-insensitive).")] = ""


class GroupDeleteQuery(Query):
    delete_remote: Annotated[
        Flag,
        Field(
            description="Also delete the Keycloak group: only the very group this application created for it "
            "(imported, adopted or re-linked groups: 400, nothing deleted)."
        ),
    ] = False


class RemoteGroupsQuery(OfferingQuery):
    search: Annotated[Text, Field(description="Case-insensitive substring of the name.")] = ""


class RemoteGroupMembersQuery(OfferingQuery):
    group_id: Annotated[KeycloakId, Field(min_length=1, description="Keycloak group id; unknown is 400 on group_id.")]


class RemoteUsersQuery(OfferingQuery):
    q: Annotated[
        Stripped, Field(min_length=1, description="Matches username, email, first or last name; blank is 400.")
    ]


class MembershipListQuery(Query):
    group_uuid: UuidFilter = None
    offering_uuid: OfferingFilter = None
    role_uuid: UuidFilter = None
    resource_uuid: UuidFilter = None
    username: Annotated[Text, Field(description="Exact, case-insensitive.")] = ""
    email: Annotated[Text, Field(description="Exact, case-insensitive.")] = ""
    first_name: Annotated[Text, Field(description="Case-insensitive substring.")] = ""
    last_name: Annotated[Text, Field(description="Case-insensitive substring.")] = ""
    q: Annotated[Search, Field(description="Username, email, first or last name contains it (ignoring case).")] = ""
    state: Annotated[States, Field(description="Repeatable; any of the given states.")] = []


class PlanListQuery(Query):
    offering_uuid: OfferingFilter = None
    state: Annotated[PlanStateName | None, Field(description="Only plans in this state.")] = None


class PlanItemsQuery(Query):
    action: Annotated[
        Stripped,
        Field(
            description="A default action (add_local, …), unchanged, optional, skipped, or after apply an outcome "
            "(applied, failed, not_selected). Absent: every item except the unchanged ones."
        ),
    ] = ""
    q: Annotated[Text, Field(description="Substring of username, email, names, group name or remote path.")] = ""


class JobListQuery(Query):
    offering_uuid: OfferingFilter = None
    kind: Annotated[JobKindChoice | None, Field(description="Only jobs of this kind.")] = None
    state: Annotated[JobStateName | None, Field(description="Only jobs in this state.")] = None


class AuditQuery(Query):
    offering_uuid: OfferingFilter = None
    action: Annotated[Text, Field(description="Exact action name, e.g. group.imported.")] = ""
    actor: Annotated[Text, Field(description="Username of who did it.")] = ""
    created_from: Annotated[Day | None, Field(description="First day (UTC, YYYY-MM-DD), included.")] = None
    created_to: Annotated[Day | None, Field(description="Last day (UTC, YYYY-MM-DD), included.")] = None


class ReviewListQuery(Query):
    offering_uuid: OfferingFilter = None
    state: Annotated[ReviewStateName | None, Field(description="Only reviews in this state.")] = None


class ReviewItemsQuery(Query):
    decision: Annotated[
        ReviewDecisionFilter | None,
        Field(description="Only the items with this decision (undecided: none yet)."),
    ] = None
    q: Annotated[Search, Field(description="Username, email, names or group name contains it (ignoring case).")] = ""
