"""Read-only offerings, roles and resources, so that the URLs in group representations resolve."""

from __future__ import annotations

from flask import Response, g, jsonify

from ..services import access, lookups
from . import api_bp
from .docs import declare, detail, list_page_parameters, paged_list
from .pagination import paginated_response
from .shapes import OfferingOut, OfferingRoleOut, ResourceOut

TAG = "offerings"


@declare(lambda: paged_list("offerings", TAG, "Offering", list_page_parameters(), (404,)))
@api_bp.get("/offerings/")
def offering_list() -> Response:
    return paginated_response(access.offerings_by_name(g.api_user), OfferingOut.dump)


@declare(lambda: detail("offerings", TAG, "Offering"))
@api_bp.get("/offerings/<uuid>/")
def offering_detail(uuid: str) -> Response:
    return jsonify(OfferingOut.dump(lookups.offering_page(g.api_user, uuid)))


@declare(lambda: detail("offering_roles", TAG, "OfferingRole"))
@api_bp.get("/offering-roles/<uuid>/")
def role_detail(uuid: str) -> Response:
    return jsonify(OfferingRoleOut.dump(lookups.role_page(g.api_user, uuid)))


@declare(lambda: detail("resources", TAG, "Resource"))
@api_bp.get("/resources/<uuid>/")
def resource_detail(uuid: str) -> Response:
    return jsonify(ResourceOut.dump(lookups.resource_page(g.api_user, uuid)))
