"""/api/offering-keycloak-memberships/ (SPEC §4): list and retrieve."""

from __future__ import annotations

from flask import Response, g, jsonify, request
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import MembershipState, OfferingKeycloakGroup, OfferingKeycloakMembership, OfferingRole, Resource
from ..services import access
from ..services.errors import ObjectNotFound, ValidationFailed
from ..services.memberships import MembershipRequest, create_membership, delete_membership
from ..services.uuids import parse_uuid
from . import api_bp
from .inputs import json_body, uuid_param
from .ordering import apply_ordering
from .pagination import paginated_response
from .shapes import OfferingKeycloakMembershipRequest, parse_body, serialize_membership

MEMBERSHIP_ORDERING = ("username", "email", "state", "created", "modified", "last_checked")
STATES = tuple(state.value for state in MembershipState)


def visible_memberships() -> Select[OfferingKeycloakMembership]:
    model = OfferingKeycloakMembership
    return (
        select(model)
        .join(OfferingKeycloakGroup, model.group_id == OfferingKeycloakGroup.id)
        .where(
            OfferingKeycloakGroup.id.in_(access.visible_groups(g.api_user).with_only_columns(OfferingKeycloakGroup.id))
        )
        .options(
            joinedload(model.group).joinedload(OfferingKeycloakGroup.offering),
            joinedload(model.group).joinedload(OfferingKeycloakGroup.role),
            joinedload(model.group).joinedload(OfferingKeycloakGroup.resource),
        )
    )


def _filtered() -> Select[OfferingKeycloakMembership]:
    model = OfferingKeycloakMembership
    query = visible_memberships()
    if group_uuid := uuid_param("group_uuid"):
        query = query.where(OfferingKeycloakGroup.uuid == group_uuid)
    if "offering_uuid" in request.args:
        offering = access.offering_from_param(g.api_user, request.args["offering_uuid"])
        query = query.where(OfferingKeycloakGroup.offering_id == offering.id)
    if role_uuid := uuid_param("role_uuid"):
        query = query.where(
            OfferingKeycloakGroup.role_id.in_(select(OfferingRole.id).where(OfferingRole.uuid == role_uuid))
        )
    if resource_uuid := uuid_param("resource_uuid"):
        query = query.where(
            OfferingKeycloakGroup.resource_id.in_(select(Resource.id).where(Resource.uuid == resource_uuid))
        )
    if username := request.args.get("username"):
        query = query.where(model.username == username.strip().lower())
    if email := request.args.get("email"):
        query = query.where(model.email == email.strip().lower())
    for name in ("first_name", "last_name"):
        if value := request.args.get(name):
            query = query.where(getattr(model, name).icontains(value, autoescape=True))
    states = [value for value in request.args.getlist("state") if value]
    if states:
        bad = [value for value in states if value not in STATES]
        if bad:
            raise ValidationFailed.field(
                "state", f"Select a valid choice. {bad[0]} is not one of the available choices."
            )
        query = query.where(model.state.in_(states))
    return apply_ordering(query, model, MEMBERSHIP_ORDERING)


@api_bp.get("/offering-keycloak-memberships/")
def membership_list() -> Response:
    return paginated_response(_filtered(), lambda item: serialize_membership(item, g.api_user.is_staff))


@api_bp.get("/offering-keycloak-memberships/<uuid>/")
def membership_detail(uuid: str) -> Response:
    membership_uuid = parse_uuid(uuid)
    membership = membership_uuid and db.session.scalar(
        visible_memberships().where(OfferingKeycloakMembership.uuid == membership_uuid)
    )
    if not membership:
        raise ObjectNotFound()
    return jsonify(serialize_membership(membership, g.api_user.is_staff))


@api_bp.post("/offering-keycloak-memberships/")
def membership_create() -> tuple[Response, int]:
    fields = parse_body(OfferingKeycloakMembershipRequest, json_body())
    membership = create_membership(
        g.api_user,
        MembershipRequest(
            offering=fields["offering"],
            role=fields["role"],
            username=fields["username"],
            email=fields.get("email") or "",
            resource=fields.get("resource"),
            scope_id=fields.get("scope_id") or "",
        ),
    )
    return jsonify(serialize_membership(membership, g.api_user.is_staff)), 201


@api_bp.delete("/offering-keycloak-memberships/<uuid>/")
def membership_delete(uuid: str) -> tuple[str, int]:
    membership_uuid = parse_uuid(uuid)
    membership = membership_uuid and db.session.scalar(
        visible_memberships().where(OfferingKeycloakMembership.uuid == membership_uuid)
    )
    if not membership:
        raise ObjectNotFound()
    delete_membership(g.api_user, membership)
    return "", 204
