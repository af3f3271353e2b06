"""The Members tab: list with state badges, add a member, remove one or many (with confirmation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import current_app, flash, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import redirect_to, render
from ..models import MembershipState, Offering, OfferingKeycloakMembership
from ..services import lookups
from ..services.commands import GrantAccess
from ..services.memberships import pages as member_pages
from ..services.memberships.grants import create_membership, delete_membership
from ..services.memberships.pages import MAX_QUERY_LENGTH, MemberFilter, PageRequest
from ..services.plans import core as plans
from . import ui_bp
from .forms import AddMemberForm, RemoveMembersForm
from .helpers import attempt, offering_or_404, resource_choices, role_choices
from .paging import MAX_PAGE, pager, per_page

STATE_WORDS = {
    "": "All",
    "active": "Active",
    "pending": "Pending",
    "removed_remotely": "Removed in Keycloak",
    "expired": "Expired",
}
ENDS_WITHIN = (7, 30, 90)  # the "access ends within … days" filter's choices
MEMBER_LIST = "member-list"  # the htmx target of the filters and the pager
CONFIRMATION_ROWS = 50  # the removal confirmation names everyone up to this many, then "and N more"


@dataclass(frozen=True)
class StateChip:
    label: str
    count: int
    url: str
    current: bool


def _filters(source: Mapping[str, str]) -> MemberFilter:
    """The Members tab's filters from a query string (or the removal form that carries them)."""
    paging = PageRequest(
        min(max(_int(source.get("page")), 1), MAX_PAGE), per_page(), (source.get("q") or "").strip()[:MAX_QUERY_LENGTH]
    )
    state = source.get("state", "")
    ends = _int(source.get("ends"), 0)
    return MemberFilter(
        paging,
        (source.get("group") or "").strip()[:64],
        state if state in STATE_WORDS else "",
        ends if ends in ENDS_WITHIN else 0,
    )


def _int(value: str | None, default: int = 1) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def _filter_args(filters: MemberFilter, **changes: str | None) -> dict[str, str | None]:
    args: dict[str, str | None] = {
        "group": filters.group_uuid or None,
        "state": filters.state or None,
        "q": filters.paging.query or None,
        "ends": str(filters.ends_within_days) if filters.ends_within_days else None,
    }
    return args | changes


def _chips(offering: Offering, filters: MemberFilter, counts: dict[str, int]) -> list[StateChip]:
    chips = []
    for state, label in STATE_WORDS.items():
        count = sum(counts.values()) if not state else counts.get(state, 0)
        args: dict[str, Any] = {k: v for k, v in _filter_args(filters, state=state or None).items() if v}
        url = url_for("ui.members", offering_uuid=offering.uuid, **args)
        chips.append(StateChip(f"{label} · {count:,}", count, url, filters.state == state))
    return chips


def _add_form(offering: Offering) -> AddMemberForm:
    form = AddMemberForm(prefix="add")
    form.role.choices = role_choices(offering)
    form.resource.choices = resource_choices(offering)
    form.username.label.text = offering.keycloak_username_label or "Username"
    return form


def _page(offering: Offering, form: AddMemberForm, error: str = "", status: int = 200) -> Response:
    filters = _filters(request.args)
    found = member_pages.offering_members(offering, filters)
    links = pager(
        "ui.members",
        {"offering_uuid": offering.uuid},
        _filter_args(filters),
        filters.paging.page,
        total=found.matching,
        per_page_=filters.paging.per_page,
        target=MEMBER_LIST,
    )
    remove_all_args: dict[str, Any] = {k: v for k, v in _filter_args(filters).items() if v}
    return render(
        "offerings/members.html",
        "offerings/_member_list.html",
        offering=offering,
        found=found,
        filters=filters,
        chips=_chips(offering, filters, found.state_counts),
        groups=member_pages.groups_with_members(offering),
        ends_within=ENDS_WITHIN,
        pager=links,
        remove_all_url=url_for("ui.member_remove", **({"offering_uuid": offering.uuid, "all": "1"} | remove_all_args)),
        summary=f"{found.matching:,} matching of {found.total:,} members.",
        remove_all_label=f"Remove all {found.matching:,} matching…",
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
    state = (
        "added in Keycloak"
        if membership.state == MembershipState.ACTIVE
        else "pending until the Keycloak account exists"
    )
    flash(f"{membership.username} is now a member of “{membership.group.name}” ({state}).", "success")
    return redirect_to(url_for("ui.members", offering_uuid=offering.uuid))


def _removal_limit() -> int:
    return int(current_app.config["BACKGROUND_THRESHOLD"])


@ui_bp.route("/offerings/<offering_uuid>/members/remove", methods=["GET", "POST"])
@login_required
def member_remove(offering_uuid: str) -> Response:
    """First step shows who will be removed from which Keycloak group (the ticked rows, or all N the filters
    match); the second does it. "All matching" is confirmed for the count shown: if it changed, review again."""
    offering = offering_or_404(offering_uuid)
    form = RemoveMembersForm()
    source = request.form if form.is_submitted() else request.args
    everything = source.get("all") == "1"
    filters = _filters(source)
    if everything:
        form.memberships.data = member_pages.matching_uuids(offering, filters)
    elif not form.is_submitted():
        form.memberships.data = request.args.getlist("m")
    uuids = list(dict.fromkeys(form.memberships.data or []))
    error = ""
    if len(uuids) > _removal_limit():
        error = (
            f"{len(uuids):,} members match. Removing more than {_removal_limit():,} at once is not offered here: "
            "narrow the filters (a group, a state, a search) and remove them in parts."
        )
        selected: list[OfferingKeycloakMembership] = []
    else:
        selected = member_pages.memberships_of(offering, uuids)
    expected = source.get("expected", "")
    brake = plans.removal_brake(len(selected))  # the same brake as a plan's removals, with the same phrase
    if everything and request.method == "POST" and expected != str(len(selected)) and not error:
        error = f"The members matching these filters changed since you confirmed: {len(selected):,} now. Check again."
        return _confirm_page(offering, form, selected, filters, everything, error, brake, status=409)
    if request.method == "POST" and not error and form.validate_on_submit() and form.confirm.data and selected:
        phrase = attempt(lambda: plans.check_phrase(brake, form.confirm_text.data or ""))
        if not phrase.ok:  # nothing removed; the typed text stays in the field with the error beside it
            form.confirm_text.errors = [phrase.error]
            return _confirm_page(offering, form, selected, filters, everything, "", brake, status=400)
        removed, failed = 0, []
        for membership in selected:
            outcome = attempt(partial(delete_membership, current_user, membership))
            if outcome.ok:
                removed += 1
            else:
                failed.append(f"{membership.username}: {outcome.error}")
        message = f"Removed {removed:,} member{'s' if removed != 1 else ''}."
        if failed:
            message += (
                " Not removed: "
                + "; ".join(failed[:20])
                + (f"; and {len(failed) - 20} more" if len(failed) > 20 else "")
            )
        flash(message, "warning" if failed else "success")
        return redirect_to(url_for("ui.members", offering_uuid=offering.uuid))
    if not selected and not error:
        error = "No member matches these filters." if everything else "Select at least one member to remove."
    return _confirm_page(offering, form, selected, filters, everything, error, brake, status=400 if error else 200)


def _confirm_page(
    offering: Offering,
    form: RemoveMembersForm,
    selected: list[OfferingKeycloakMembership],
    filters: MemberFilter,
    everything: bool,
    error: str,
    brake: dict[str, str] | None,
    status: int,
) -> Response:
    if brake is not None:
        form.confirm_text.label.text = f"Type “{brake['phrase']}” to confirm"
        form.confirm_text.description = brake["reason"]
    count = len(selected)
    noun = f"member{'' if count == 1 else 's'}"
    heading = f"Remove all {count:,} matching {noun}?" if everything else f"Remove {count:,} {noun}?"
    return render(
        "offerings/remove_members.html",
        offering=offering,
        form=form,
        heading=heading,
        selected=selected[:CONFIRMATION_ROWS],
        more=f"… and {count - CONFIRMATION_ROWS:,} more." if count > CONFIRMATION_ROWS else "",
        count=count,
        button_label=f"Remove {count:,} member{'' if count == 1 else 's'}",
        hidden_uuids=[] if everything else [m.uuid for m in selected],
        everything=everything,
        brake=brake,
        filter_fields={k: v for k, v in _filter_args(filters).items() if v},
        error=error,
        tab="members",
        status=status,
    )
