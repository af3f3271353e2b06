"""Read-only offerings, roles and resources, so that the URLs in group representations resolve."""

from __future__ import annotations

from typing import TypeVar

from flask import Response, g, jsonify
from sqlalchemy import select

from ..extensions import db
from ..models import Offering, OfferingRole, Resource
from ..services import access
from ..services.errors import ObjectNotFound
from ..services.uuids import parse_uuid
from . import api_bp
from .pagination import paginated_response
from .serializers import serialize_offering, serialize_resource, serialize_role


@api_bp.get("/offerings/")
def offering_list() -> Response:
    return paginated_response(
        access.visible_offerings(g.api_user).order_by(Offering.name, Offering.id), serialize_offering
    )


@api_bp.get("/offerings/<uuid>/")
def offering_detail(uuid: str) -> Response:
    return jsonify(serialize_offering(access.visible_offering(g.api_user, uuid)))


OwnedT = TypeVar("OwnedT", OfferingRole, Resource)


def _owned(model: type[OwnedT], uuid: str) -> OwnedT:
    object_uuid = parse_uuid(uuid)
    visible = access.visible_offerings(g.api_user).with_only_columns(Offering.id)
    found = object_uuid and db.session.scalar(
        select(model).where(model.uuid == object_uuid, model.offering_id.in_(visible))
    )
    if not found:
        raise ObjectNotFound()
    return found


@api_bp.get("/offering-roles/<uuid>/")
def role_detail(uuid: str) -> Response:
    return jsonify(serialize_role(_owned(OfferingRole, uuid)))


@api_bp.get("/resources/<uuid>/")
def resource_detail(uuid: str) -> Response:
    return jsonify(serialize_resource(_owned(Resource, uuid)))
