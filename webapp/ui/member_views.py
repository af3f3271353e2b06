"""The Members tab: list with state badges, add a member, remove one or many (with confirmation)."""

from __future__ import annotations

from functools import partial

from flask import flash, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import Offering, OfferingKeycloakGroup, OfferingKeycloakMembership
from ..services import lookups
from ..services.commands import GrantAccess
from ..services.grants import create_membership, delete_membership
from . import ui_bp
from .forms import AddMemberForm, RemoveMembersForm
from .helpers import attempt, offering_or_404, resource_choices, role_choices
from .htmx import redirect_to, render

MEMBERS_LIMIT = 1000


def _memberships(offering: Offering, uuids: list[str] | None = None) -> list[OfferingKeycloakMembership]:
    query = (
        select(OfferingKeycloakMembership)
        .join(OfferingKeycloakGroup)
        .where(OfferingKeycloakGroup.offering_id == offering.id)
        .options(joinedload(OfferingKeycloakMembership.group))
        .order_by(OfferingKeycloakMembership.username, OfferingKeycloakGroup.name)
    )
    if uuids is not None:
        query = query.where(OfferingKeycloakMembership.uuid.in_(uuids))
    return list(db.session.scalars(query.limit(MEMBERS_LIMIT)))


def _add_form(offering: Offering) -> AddMemberForm:
    form = AddMemberForm(prefix="add")
    form.role.choices = role_choices(offering)
    form.resource.choices = resource_choices(offering)
    form.username.label.text = offering.keycloak_username_label or "Username"
    return form


def _page(offering: Offering, form: AddMemberForm, error: str = "", status: int = 200) -> Response:
    return render(
        "offerings/members.html",
        offering=offering,
        memberships=_memberships(offering),
        form=form,
        error=error,
        tab="members",
        status=status,
    )


@ui_bp.get("/offerings/<offering_uuid>/members")
@login_required
def members(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    return _page(offering, _add_form(offering))


@ui_bp.post("/offerings/<offering_uuid>/members")
@login_required
def member_add(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    form = _add_form(offering)
    if not form.validate_on_submit():
        return _page(offering, form, status=400)
    created = attempt(
        lambda: create_membership(
            current_user,
            GrantAccess(
                offering,
                lookups.role_of(offering, form.role.data),
                lookups.resource_of(offering, form.resource.data),
                form.scope_id.data or "",
                form.username.data or "",
                form.email.data or "",
            ),
        )
    )
    membership = created.value
    if membership is None:
        return _page(offering, form, created.error, created.status)
    state = "added in Keycloak" if membership.state == "active" else "pending until the Keycloak account exists"
    flash(f"{membership.username} is now a member of “{membership.group.name}” ({state}).", "success")
    return redirect_to(url_for("ui.members", offering_uuid=offering.uuid))


@ui_bp.route("/offerings/<offering_uuid>/members/remove", methods=["GET", "POST"])
@login_required
def member_remove(offering_uuid: str) -> Response:
    """First step shows exactly who will be removed from which Keycloak group; the second does it."""
    offering = offering_or_404(offering_uuid)
    form = RemoveMembersForm()
    if not form.is_submitted():
        form.memberships.data = request.args.getlist("m")
    selected = _memberships(offering, form.memberships.data or [])
    error = ""
    if request.method == "POST" and form.validate_on_submit() and form.confirm.data and selected:
        removed, failed = 0, []
        for membership in selected:
            outcome = attempt(partial(delete_membership, current_user, membership))
            if outcome.ok:
                removed += 1
            else:
                failed.append(f"{membership.username}: {outcome.error}")
        message = f"Removed {removed} member{'s' if removed != 1 else ''}."
        if failed:
            message += " Not removed: " + "; ".join(failed)
        flash(message, "warning" if failed else "success")
        return redirect_to(url_for("ui.members", offering_uuid=offering.uuid))
    if not selected:
        error = "Select at least one member to remove."
    return render(
        "offerings/remove_members.html",
        offering=offering,
        form=form,
        selected=selected,
        error=error,
        tab="members",
        status=400 if error else 200,
    )
