"""Small helpers shared by the page views."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..models import Offering, OfferingKeycloakGroup
from ..services import access
from ..services.errors import ObjectNotFound


def offering_or_404(offering_uuid: str) -> Offering:
    try:
        return access.visible_offering(current_user, offering_uuid)
    except ObjectNotFound:
        abort(404)


def group_or_404(offering: Offering, group_uuid: str) -> OfferingKeycloakGroup:
    try:
        group = access.visible_group(current_user, group_uuid)
    except ObjectNotFound:
        abort(404)
    if group.offering_id != offering.id:
        abort(404)
    return group


def role_choices(offering: Offering) -> list[SelectChoice]:
    return [
        SelectChoice(
            role.uuid, f"{role.name} ({role.scope_type_label or role.scope_type})" if role.scope_type else role.name
        )
        for role in offering.roles
    ]


def resource_choices(offering: Offering) -> list[SelectChoice]:
    return [SelectChoice("", "— none —")] + [
        SelectChoice(resource.uuid, resource.name) for resource in offering.resources
    ]


def local_url(target: str | None) -> str | None:
    """`target` when it is a path on this site (never another host), else None."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return None
