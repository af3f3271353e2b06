"""/api/offering-keycloak-audit/: who did what, when, filterable and paginated like the other lists."""

from __future__ import annotations

from flask import Response, g, request
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import joinedload

from ..models import AuditEvent, Offering
from ..services import access, audit, lookups
from . import api_bp
from .docs import declare, list_page_parameters, offering_filter, ordering_parameter, paged_list, query, string
from .formats import list_response
from .ordering import apply_ordering
from .shapes import AuditEventOut

AUDIT_ORDERING = ("created", "action")


def _events() -> Select[AuditEvent]:
    query = select(AuditEvent).options(joinedload(AuditEvent.offering))
    if not g.api_user.is_staff:
        visible = access.visible_offerings(g.api_user).with_only_columns(Offering.id)
        # Managers see their offerings' events and their own account events.
        query = query.where(or_(AuditEvent.offering_id.in_(visible), AuditEvent.actor_id == g.api_user.id))
    if "offering_uuid" in request.args:
        offering = lookups.offering_param(g.api_user, request.args["offering_uuid"], "offering_uuid")
        query = query.where(AuditEvent.offering_id == offering.id)
    if action := request.args.get("action"):
        query = query.where(AuditEvent.action == action)
    if actor := request.args.get("actor"):
        query = query.where(AuditEvent.actor_name == actor.strip().lower())
    first = audit.parse_day(request.args.get("created_from"), "created_from")
    query = audit.between(query, first, audit.parse_day(request.args.get("created_to"), "created_to"))
    return apply_ordering(query, AuditEvent, AUDIT_ORDERING)


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
