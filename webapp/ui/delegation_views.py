"""A group's own members and managers: "My groups", granting and revoking on the group page, and assigning the
group's managers (docs/PRODUCT.md §13). A group manager uses these pages for their groups; the offering's
managers use them for every group of the offering."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import redirect_to, render
from ..models import MembershipState, Offering, OfferingKeycloakGroup
from ..services import access
from ..services.commands import GrantAccess
from ..services.delegation import managers
from ..services.errors import ObjectNotFound
from ..services.memberships import reminders
from ..services.memberships.grants import create_membership, delete_membership
from . import ui_bp
from .expiry_views import end_of_day, policy_context
from .forms import ConfirmForm, GrantForm, GroupManagerForm
from .helpers import attempt, group_page_of, member_page_of

GRANT_PREFIX = "grant"
MANAGER_PREFIX = "delegate"


def group_page_context(offering: Offering, group: OfferingKeycloakGroup) -> dict[str, Any]:
    """What the group page shows beside its members: the grant form, and for the offering's managers the
    group's managers with their form."""
    manages = access.manages(current_user, offering)
    return {
        "manages_offering": manages,
        "grant_form": GrantForm(prefix=GRANT_PREFIX),
        "group_managers": managers.managers_of(group) if manages else [],
        "manager_form": GroupManagerForm(prefix=MANAGER_PREFIX) if manages else None,
        **policy_context(group, manages),
        "expiring_soon": reminders.expiring_soon(group),
    }


def _back_to_group(offering: Offering, group: OfferingKeycloakGroup, message: str, level: str) -> Response:
    flash(message, level)
    return redirect_to(url_for("ui.group_detail", offering_uuid=offering.uuid, group_uuid=group.uuid))


@ui_bp.get("/my-groups")
@login_required
def my_groups() -> Response:
    return render("groups/my_groups.html", groups=access.delegated_groups(current_user))


@ui_bp.post("/offerings/<offering_uuid>/groups/<group_uuid>/members")
@login_required
def group_member_add(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid)
    form = GrantForm(prefix=GRANT_PREFIX)
    if not form.validate_on_submit():
        abort(400)
    command = GrantAccess(
        offering,
        group.role,
        group.resource,
        group.scope_id,
        form.username.data or "",
        form.email.data or "",
        end_of_day(form.expires_on.data),
    )
    granted = attempt(lambda: create_membership(current_user, command))
    if granted.value is None:
        return _back_to_group(offering, group, f"Access was not granted: {granted.error}", "error")
    membership = granted.value
    state = "added in Keycloak" if membership.state == MembershipState.ACTIVE else "pending until the account exists"
    return _back_to_group(offering, group, f"{membership.username} is now a member ({state}).", "success")


@ui_bp.route("/offerings/<offering_uuid>/groups/<group_uuid>/members/<membership_uuid>/remove", methods=["GET", "POST"])
@login_required
def group_member_remove(offering_uuid: str, group_uuid: str, membership_uuid: str) -> Response:
    """Asks first (who, from which Keycloak group); the confirmed POST removes."""
    offering, group, membership = member_page_of(offering_uuid, group_uuid, membership_uuid)
    form = ConfirmForm()
    if form.validate_on_submit():
        removed = attempt(lambda: delete_membership(current_user, membership))
        if not removed.ok:
            return _back_to_group(offering, group, f"{membership.username} was not removed: {removed.error}", "error")
        return _back_to_group(offering, group, f"Removed {membership.username} from “{group.name}”.", "success")
    return render(
        "groups/remove_member.html", offering=offering, group=group, membership=membership, form=form, tab="groups"
    )


@ui_bp.post("/offerings/<offering_uuid>/groups/<group_uuid>/managers")
@login_required
def group_manager_add(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid, manage=True)
    form = GroupManagerForm(prefix=MANAGER_PREFIX)
    if not form.validate_on_submit():
        abort(400)
    assigned = attempt(lambda: managers.assign(current_user, group, form.username.data or ""))
    if assigned.value is None:
        return _back_to_group(offering, group, f"Not added as a group manager: {assigned.error}", "error")
    name = assigned.value.username
    return _back_to_group(offering, group, f"{name} now manages the members of “{group.name}”.", "success")


@ui_bp.route("/offerings/<offering_uuid>/groups/<group_uuid>/managers/<manager_uuid>/remove", methods=["GET", "POST"])
@login_required
def group_manager_remove(offering_uuid: str, group_uuid: str, manager_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid, manage=True)
    try:
        manager = managers.manager_page(current_user, manager_uuid)
    except ObjectNotFound:
        abort(404)
    if manager.group_id != group.id:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = manager.username
        managers.remove(current_user, manager)
        return _back_to_group(offering, group, f"{name} no longer manages “{group.name}”.", "success")
    return render(
        "groups/remove_manager.html", offering=offering, group=group, manager=manager, form=form, tab="groups"
    )
