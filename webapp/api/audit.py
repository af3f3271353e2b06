"""/api/offering-keycloak-audit/: who did what, when, filterable and paginated like the other lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, g, request

from ..models import AuditEvent
from ..services import audit, lookups
from . import api_bp
from .docs import declare, list_page_parameters, offering_filter, ordering_parameter, paged_list, query, string
from .formats import list_response
from .ordering import apply_ordering
from .shapes import AuditEventOut

if TYPE_CHECKING:
    from sqlalchemy import Select

AUDIT_ORDERING = ("created", "action")


def _events() -> Select[AuditEvent]:
    offering = (
        lookups.offering_param(g.api_user, request.args["offering_uuid"], "offering_uuid")
        if "offering_uuid" in request.args
        else None
    )
    first = audit.parse_day(request.args.get("created_from"), "created_from")
    last = audit.parse_day(request.args.get("created_to"), "created_to")
    filters = audit.EventFilter(offering, request.args.get("action", ""), request.args.get("actor", ""), first, last)
    return apply_ordering(audit.events(g.api_user, filters), AuditEvent, AUDIT_ORDERING)


@declare(
    lambda: paged_list(
        "offering_keycloak_audit",
        "offering-keycloak-audit",
        "AuditEvent",
        [
            offering_filter(),
            query("action", string(), "Exact action name, e.g. group.imported."),
            query("actor", string(), "Username of who did it."),
            query("created_from", string(format="date"), "First day (UTC, YYYY-MM-DD), included."),
            query("created_to", string(format="date"), "Last day (UTC, YYYY-MM-DD), included."),
            ordering_parameter(AUDIT_ORDERING),
            *list_page_parameters(),
        ],
        (400, 404),
        csv=True,
    )
)
@api_bp.get("/offering-keycloak-audit/")
def audit_list() -> Response:
    return list_response(_events(), AuditEventOut, "activity.csv")
