"""Memberships that end, on the group page (docs/PRODUCT.md §11): renewing a member, and the group's policy (a
default and a longest duration) for the offering's managers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import redirect_to, render
from ..models import OfferingKeycloakGroup
from ..services.memberships import expiry
from ..services.plans import expiry as expiry_plans
from . import ui_bp
from .forms import MembershipPolicyForm, RenewForm
from .helpers import attempt, group_page_of, member_page_of

POLICY_PREFIX = "policy"


def end_of_day(day: date | None) -> datetime | None:
    """A date chosen in a form as the last second of that day, UTC."""
    return None if day is None else datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def policy_context(group: OfferingKeycloakGroup, manages: bool) -> dict[str, Any]:
    form = None
    if manages:
        form = MembershipPolicyForm(
            prefix=POLICY_PREFIX, data={"default_days": group.default_days, "max_days": group.max_days}
        )
    return {"policy_form": form, "expiry_plans": expiry_plans.waiting_plans([group.offering_id], group)}


def _group_url(offering_uuid: str, group_uuid: str) -> str:
    return url_for("ui.group_detail", offering_uuid=offering_uuid, group_uuid=group_uuid)


@ui_bp.route("/offerings/<offering_uuid>/groups/<group_uuid>/members/<membership_uuid>/renew", methods=["GET", "POST"])
@login_required
def group_member_renew(offering_uuid: str, group_uuid: str, membership_uuid: str) -> Response:
    offering, group, membership = member_page_of(offering_uuid, group_uuid, membership_uuid)
    form = RenewForm()
    error = ""
    if form.validate_on_submit():
        renewed = attempt(lambda: expiry.renew(current_user, membership, end_of_day(form.expires_on.data)))
        if renewed.ok:
            flash(f"Renewed {membership.username}: access now ends {_ends(membership.expires_at)}.", "success")
            return redirect_to(_group_url(offering.uuid, group.uuid))
        error = renewed.error
    status = 400 if form.is_submitted() and (error or form.errors) else 200
    return render(
        "groups/renew_member.html",
        offering=offering,
        group=group,
        membership=membership,
        form=form,
        error=error,
        tab="groups",
        status=status,
    )


def _ends(value: datetime | None) -> str:
    return "never" if value is None else f"on {value:%Y-%m-%d %H:%M} UTC"


@ui_bp.post("/offerings/<offering_uuid>/groups/<group_uuid>/policy")
@login_required
def group_policy(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid, manage=True)
    form = MembershipPolicyForm(prefix=POLICY_PREFIX)
    if not form.validate_on_submit():
        words = "; ".join(message for messages in form.errors.values() for message in messages)
        flash(f"The policy was not saved: {words or 'the form expired, try again'}.", "error")
        return redirect_to(_group_url(offering.uuid, group.uuid))
    saved = attempt(
        lambda: expiry.set_policy(current_user, group, expiry.Policy(form.default_days.data, form.max_days.data))
    )
    if not saved.ok:
        flash(f"The policy was not saved: {saved.error}", "error")
    else:
        flash(f"Saved how long access to “{group.name}” lasts.", "success")
    return redirect_to(_group_url(offering.uuid, group.uuid))
