"""Offering tabs: Keycloak settings (+ connection test), Members, Roles & resources, Activity."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import FRAGMENT_PAGE, redirect_to, render
from ..models import Offering
from ..services import audit
from ..services.attribution import admin_events, events
from ..services.connection.settings import (
    STAFF_ONLY_FIELDS,
    KeycloakSettingsInput,
    overlapping_offering_names,
    update_keycloak_settings,
)
from ..services.errors import RemoteFailure, ValidationFailed
from ..services.groups import remote
from . import ui_bp
from .audit_rows import activity_rows
from .forms import ConfirmForm, KeycloakSettingsForm
from .helpers import attempt, offering_or_404, show_field_errors
from .paging import page_number, pager, per_page


@ui_bp.get("/offerings/<offering_uuid>/")
@login_required
def offering_detail(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    return redirect(url_for("ui.groups", offering_uuid=offering.uuid))


def _settings_form(offering: Offering) -> KeycloakSettingsForm:
    form = KeycloakSettingsForm()
    if not form.is_submitted():
        form.enabled.data = offering.keycloak_enabled
        form.url.data = offering.keycloak_url
        form.realm.data = offering.keycloak_realm
        form.auth_realm.data = offering.keycloak_auth_realm
        form.auth_mode.data = "client" if offering.keycloak_client_id else "password"
        form.username.data = offering.keycloak_username
        form.client_id.data = offering.keycloak_client_id
        form.verify_ssl.data = offering.keycloak_verify_ssl
        form.ca_certificate.data = offering.keycloak_ca_certificate
        form.timeout.data = offering.keycloak_timeout
        form.base_group.data = offering.keycloak_base_group
        form.group_name_template.data = offering.keycloak_group_name_template
        form.username_label.data = offering.keycloak_username_label
    elif not current_user.is_staff:
        # Staff-only fields are read-only for managers; one left out of a post means "as it is".
        for name, column in STAFF_ONLY_FIELDS.items():
            if not form[name].raw_data:
                form[name].data = getattr(offering, column)
    return form


@ui_bp.route("/offerings/<offering_uuid>/settings", methods=["GET", "POST"])
@login_required
def settings(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    form = _settings_form(offering)
    if form.validate_on_submit():
        data = KeycloakSettingsInput(
            enabled=form.enabled.data,
            url=form.url.data or "",
            realm=form.realm.data or "",
            auth_realm=form.auth_realm.data or "",
            use_service_account=form.auth_mode.data == "client",
            username=form.username.data or "",
            password=form.password.data or "",
            client_id=form.client_id.data or "",
            client_secret=form.client_secret.data or "",
            verify_ssl=form.verify_ssl.data,
            ca_certificate=form.ca_certificate.data or "",
            timeout=form.timeout.data or 10.0,
            base_group=form.base_group.data or "",
            group_name_template=form.group_name_template.data or "",
            username_label=form.username_label.data or "",
        )
        saved = attempt(lambda: update_keycloak_settings(current_user, offering, data))
        if isinstance(saved.failure, ValidationFailed):
            show_field_errors(form, saved.failure)
        else:
            flash("Keycloak settings saved.", "success")
            return redirect_to(url_for("ui.settings", offering_uuid=offering.uuid))
    return render(
        "offerings/settings.html",
        offering=offering,
        form=form,
        test_form=ConfirmForm(),
        tab="settings",
        password_set=bool(offering.keycloak_password_encrypted),
        secret_set=bool(offering.keycloak_client_secret_encrypted),
        staff_only_readonly=not current_user.is_staff,
        # Only staff learn which other offerings stand in this one's way.
        overlapping=overlapping_offering_names(offering) if current_user.is_staff else [],
        status=400 if form.errors or form.form_errors else 200,
    )


@ui_bp.post("/offerings/<offering_uuid>/test-connection")
@login_required
def test_connection(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    check = attempt(lambda: remote.test_connection(offering))
    failure = check.failure
    result = {
        "ok": check.value is not None,
        # Keycloak's reason alone: the page already says "Connection failed".
        "error": failure.reason if isinstance(failure, RemoteFailure) else check.error,
        "groups": check.value.groups if check.value else [],
        "missing_root": check.value.missing_root if check.value else None,
        "summary": check.value.summary if check.value else "",
        "admin_events": check.value.admin_events if check.value else None,
    }
    return render(
        FRAGMENT_PAGE,
        "offerings/_connection_result.html",
        offering=offering,
        result=result,
        tab="settings",
        page_heading="Connection test",
        events_form=ConfirmForm() if current_user.is_staff else None,
        back_url=url_for("ui.settings", offering_uuid=offering.uuid),
        back_label="Back to settings",
    )


@ui_bp.get("/offerings/<offering_uuid>/catalog")
@login_required
def catalog(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    return render("offerings/catalog.html", offering=offering, tab="catalog")


@ui_bp.get("/offerings/<offering_uuid>/activity")
@login_required
def activity(offering_uuid: str) -> Response:
    """The latest events, or those of a date range (from/to, UTC days), with its CSV download."""
    offering = offering_or_404(offering_uuid)
    first, last = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    errors: dict[str, list[str]] = {}
    days: list[date | None] = []
    for name, value in (("from", first), ("to", last)):
        try:
            days.append(audit.parse_day(value, name))
        except ValidationFailed as exc:
            errors |= exc.errors if isinstance(exc.errors, dict) else {}
            days.append(None)
    number, size = page_number(), per_page()
    total, events = audit.offering_activity_page(offering, days[0], days[1], number, size)
    range_args: dict[str, str] = {key: value for key, value in (("from", first), ("to", last)) if value}
    links = pager("ui.activity", {"offering_uuid": offering.uuid}, dict(range_args), number, total=total)
    csv_url = url_for("ui.activity_csv", offering_uuid=offering.uuid) + (
        f"?{urlencode(range_args)}" if range_args else ""
    )
    return render(
        "offerings/activity.html",
        offering=offering,
        events=activity_rows(offering, events),
        pager=links,
        summary=f"{total:,} event{'' if total == 1 else 's'}" + (" in this range" if range_args else ""),
        tab="activity",
        form=ConfirmForm(),
        first=first,
        last=last,
        errors=errors,
        csv_url=csv_url,
        status=400 if errors else 200,
    )


@ui_bp.get("/offerings/<offering_uuid>/activity/keycloak")
@login_required
def keycloak_changes(offering_uuid: str) -> Response:
    """Activity's "Changes made in Keycloak": the membership changes read from the realm's admin events."""
    offering = offering_or_404(offering_uuid)
    number, size = page_number(), per_page()
    total, changes = events.changes_page(offering, number, size)
    return render(
        "offerings/keycloak_changes.html",
        offering=offering,
        changes=changes,
        status_words=events.status_words(offering),
        summary=f"{total:,} change{'' if total == 1 else 's'}",
        pager=pager("ui.keycloak_changes", {"offering_uuid": offering.uuid}, {}, number, total=total),
        tab="activity",
    )


@ui_bp.route("/offerings/<offering_uuid>/admin-events", methods=["GET", "POST"])
@login_required
def admin_events_enable(offering_uuid: str) -> Response:
    """Staff turn on the realm's admin events (with details) after confirming; the page says what changed."""
    offering = offering_or_404(offering_uuid)
    if not current_user.is_staff:
        abort(403)
    form = ConfirmForm()
    done = attempt(lambda: admin_events.enable(current_user, offering)) if form.validate_on_submit() else None
    if done is not None and done.value is not None:
        flash(f"Turned on admin events in realm {offering.keycloak_realm}. {done.value.words}", "success")
        return redirect_to(url_for("ui.settings", offering_uuid=offering.uuid))
    return render(
        "offerings/admin_events.html",
        offering=offering,
        form=form,
        error=done.error if done is not None else "",
        tab="settings",
        status=done.status if done is not None else 200,
    )
