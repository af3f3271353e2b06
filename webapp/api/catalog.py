"""Read-only offerings, roles and resources, so that the URLs in group representations resolve."""

from __future__ import annotations

from typing import TypeVar

from flask import Response, g, jsonify
from sqlalchemy import select

from ..extensions import db
from ..models import Offering, OfferingRole, Resource
from ..services import access, lookups
from ..services.errors import ObjectNotFound
from ..services.uuids import parse_uuid
from . import api_bp
from .docs import declare, detail, list_page_parameters, paged_list
from .pagination import paginated_response
from .shapes import OfferingOut, OfferingRoleOut, ResourceOut

TAG = "offerings"


@declare(lambda: paged_list("offerings", TAG, "Offering", list_page_parameters(), (404,)))
@api_bp.get("/offerings/")
def offering_list() -> Response:
    return paginated_response(
        access.visible_offerings(g.api_user).order_by(Offering.name, Offering.id), OfferingOut.dump
    )


@declare(lambda: detail("offerings", TAG, "Offering"))
@api_bp.get("/offerings/<uuid>/")
def offering_detail(uuid: str) -> Response:
    return jsonify(OfferingOut.dump(lookups.offering_page(g.api_user, uuid)))


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


@declare(lambda: detail("offering_roles", TAG, "OfferingRole"))
@api_bp.get("/offering-roles/<uuid>/")
def role_detail(uuid: str) -> Response:
    return jsonify(OfferingRoleOut.dump(_owned(OfferingRole, uuid)))


@declare(lambda: detail("resources", TAG, "Resource"))
@api_bp.get("/resources/<uuid>/")
def resource_detail(uuid: str) -> Response:
    return jsonify(ResourceOut.dump(_owned(Resource, uuid)))
