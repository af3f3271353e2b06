"""/api/offering-keycloak-audit/: who did what, when, filterable and paginated like the other lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, g

from ..models import AuditEvent
from ..services import audit, lookups
from . import api_bp
from .docs import declare, list_page_parameters, ordering_parameter, paged_list, query_parameters
from .formats import list_response
from .inputs import parse_query
from .ordering import apply_ordering
from .queries import AuditQuery
from .shapes import AuditEventOut

if TYPE_CHECKING:
    from sqlalchemy import Select

AUDIT_ORDERING = ("created", "action")


def _events() -> Select[AuditEvent]:
    asked = parse_query(AuditQuery)
    offering = lookups.optional_offering(g.api_user, asked.offering_uuid, "offering_uuid")
    filters = audit.EventFilter(offering, asked.action, asked.actor, asked.created_from, asked.created_to)
    return apply_ordering(audit.events(g.api_user, filters), AuditEvent, AUDIT_ORDERING)


@declare(
    lambda: paged_list(
        "offering_keycloak_audit",
        "offering-keycloak-audit",
        "AuditEvent",
        [
            *query_parameters(AuditQuery),
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
