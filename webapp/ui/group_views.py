"""The Groups tab: side-by-side diff, lazy remote tree, import, bulk import, link, unlink, pull, delete,
and the group page with members and remote user search."""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from ..htmx import FRAGMENT_PAGE, add_toast, redirect_to, render, wants_fragment
from ..models import JobKind, Offering
from ..services import lookups
from ..services.commands import ChangeLink, ImportGroup, ImportParams, PreviewImport
from ..services.groups import hierarchy, remote
from ..services.groups import register as group_service
from ..services.jobs import core as jobs
from ..services.memberships import pages as member_pages
from ..services.memberships import pull as pull_service
from ..services.memberships.pages import PageRequest, RemotePage
from ..services.plans import core as plans
from . import ui_bp
from .delegation_views import group_page_context
from .diff_rows import STATUS_LABELS, build_diff_page
from .forms import BulkImportForm, ConfirmForm, DeleteGroupForm, ImportForm, LinkForm
from .helpers import (
    Attempted,
    attempt,
    group_page_of,
    local_url,
    offering_or_404,
    reached_or_404,
    resource_choices,
    role_choices,
)
from .job_views import start_job
from .member_rows import KEYCLOAK_PANEL, LOCAL_PANEL, keycloak_panel, local_panel, remote_size
from .paging import page_number, page_request

USER_SEARCH_LIMIT = 25
JS_COOKIE = "okg_js"  # set by static/js/app.js
BULK_PREFIX = "bulk"  # the bulk form shares the page with dialogs: keep its field ids apart


def _back_to_groups(offering_uuid: str, message: str, level: str = "success") -> Response:
    """Flash and go back to where the form came from (a hidden `next`), by default the Groups view."""
    flash(message, level)
    return redirect_to(local_url(request.form.get("next")) or url_for("ui.groups", offering_uuid=offering_uuid))


@ui_bp.get("/offerings/<offering_uuid>/groups")
@login_required
def groups(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    status_filter = request.args.get("status", "")
    query = request.args.get("q", "")
    page_number = request.args.get("page", 1, type=int) or 1
    # Browsers that run our script get the page at once and the Keycloak comparison right after it; everyone
    # else (no JavaScript, scripts, tests) gets everything in one response.
    lazy = request.cookies.get(JS_COOKIE) == "1" and not wants_fragment()
    diff = None if lazy else build_diff_page(offering, status_filter=status_filter, query=query, page=page_number)
    bulk_form = BulkImportForm(prefix=BULK_PREFIX)
    bulk_form.role.choices = role_choices(offering)
    bulk_form.resource.choices = resource_choices(offering)
    rows_url = url_for(
        "ui.groups",
        offering_uuid=offering.uuid,
        status=status_filter or None,
        q=query or None,
        page=page_number if page_number > 1 else None,
        parts="all",  # the deferred first load fills the header counts, notes and tree too
    )
    return render(
        "groups/diff.html",
        "groups/_diff_rows.html",
        offering=offering,
        diff=diff,
        labels=STATUS_LABELS,
        status_filter=status_filter,
        query=query,
        rows_url=rows_url,
        # The deferred first load (rows_url) also fills the header counts, notes and tree; searches swap rows only.
        oob=wants_fragment() and request.args.get("parts") == "all",
        bulk_form=bulk_form,
        action_form=ConfirmForm(),
        tab="groups",
    )


@ui_bp.get("/offerings/<offering_uuid>/tree/<group_id>")
@login_required
def tree_children(offering_uuid: str, group_id: str) -> Response:
    offering = offering_or_404(offering_uuid)
    children = attempt(lambda: remote.remote_children(offering, group_id))
    return render(
        FRAGMENT_PAGE,
        "groups/_tree_nodes.html",
        offering=offering,
        nodes=children.value or [],
        error=children.error,
        parent_id=group_id,
        tab="groups",
        page_heading="Subgroups",
        wrap_in_tree=True,
        back_url=url_for("ui.groups", offering_uuid=offering.uuid),
        back_label="Back to groups",
    )


def _import_form(offering: Offering) -> ImportForm:
    form = ImportForm()
    form.role.choices = role_choices(offering)
    form.resource.choices = resource_choices(offering)
    return form


@ui_bp.route("/offerings/<offering_uuid>/groups/import", methods=["GET", "POST"])
@login_required
def group_import(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    form = _import_form(offering)
    if not form.is_submitted():
        form.remote_group_id.data = request.args.get("remote_group_id", "")
    wanted = form.remote_group_id.data or ""
    remote_info = attempt(lambda: remote.remote_group(offering, wanted) if wanted else None)
    error = remote_info.error
    if form.validate_on_submit() and not error:
        imported = attempt(
            lambda: group_service.import_remote(
                current_user,
                ImportGroup(
                    offering,
                    lookups.role_of(offering, form.role.data),
                    lookups.resource_of(offering, form.resource.data),
                    (form.scope_id.data or "").strip(),
                    wanted,
                ),
            )
        )
        if imported.value is not None:
            return _back_to_groups(offering.uuid, f"Imported Keycloak group “{imported.value.name}”.")
        error = imported.error
    status = 400 if (request.method == "POST" and (error or form.errors)) else 200
    return render(
        FRAGMENT_PAGE,
        "groups/_import_dialog.html",
        offering=offering,
        form=form,
        remote=remote_info.value,
        error=error,
        tab="groups",
        status=status,
    )


@ui_bp.post("/offerings/<offering_uuid>/groups/bulk-import")
@login_required
def group_bulk_import(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    form = BulkImportForm(prefix=BULK_PREFIX)
    form.role.choices = role_choices(offering)
    form.resource.choices = resource_choices(offering)
    if not form.validate_on_submit():
        return _back_to_groups(offering.uuid, " ".join(e for errs in form.errors.values() for e in errs), "error")
    role_and_resource = attempt(
        lambda: (lookups.role_of(offering, form.role.data), lookups.resource_of(offering, form.resource.data))
    )
    if role_and_resource.value is None:
        return _back_to_groups(offering.uuid, role_and_resource.error, "error")
    role, resource = role_and_resource.value
    params = ImportParams(role, resource, "", form.remote_group_ids.data or [])
    created = attempt(lambda: plans.create_plan(current_user, PreviewImport(offering, params)))
    if created.value is None:
        return _back_to_groups(offering.uuid, f"The import preview could not be made: {created.error}", "error")
    return redirect_to(url_for("ui.plan_detail", offering_uuid=offering.uuid, plan_uuid=created.value.uuid))


@ui_bp.route("/offerings/<offering_uuid>/groups/<group_uuid>/link", methods=["GET", "POST"])
@login_required
def group_link(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid, manage=True)
    form = LinkForm()
    candidates = attempt(lambda: remote.remote_groups(offering))
    error = candidates.error
    form.backend_id.choices = [SelectChoice("", "— choose a Keycloak group —")] + [
        SelectChoice(g.id, g.path) for g in candidates.value or []
    ]
    if not form.is_submitted():  # a suggestion's "Link" comes with the suggested group chosen
        form.backend_id.data = request.args.get("backend_id") or group.backend_id
    if form.validate_on_submit() and not error:
        linked = attempt(
            lambda: group_service.set_backend_id(current_user, group, ChangeLink(backend_id=form.backend_id.data))
        )
        if linked.value is not None:
            return _back_to_groups(offering.uuid, f"Linked “{group.name}” to its Keycloak group.")
        error = linked.error
    status = 400 if (request.method == "POST" and (error or form.errors)) else 200
    return render(
        FRAGMENT_PAGE,
        "groups/_link_dialog.html",
        offering=offering,
        group=group,
        form=form,
        error=error,
        tab="groups",
        status=status,
    )


@ui_bp.route("/offerings/<offering_uuid>/groups/<group_uuid>/unlink", methods=["GET", "POST"])
@login_required
def group_unlink(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid, manage=True)
    form = ConfirmForm()
    if form.validate_on_submit():
        group_service.set_backend_id(current_user, group, ChangeLink(backend_id=None))
        return _back_to_groups(offering.uuid, f"Unlinked “{group.name}”. Keycloak was not changed.")
    return render(FRAGMENT_PAGE, "groups/_unlink_dialog.html", offering=offering, group=group, form=form, tab="groups")


@ui_bp.post("/offerings/<offering_uuid>/groups/<group_uuid>/pull")
@login_required
def group_pull(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if jobs.runs_in_background(jobs.expected_members(group)):
        return start_job(offering, lambda: jobs.ask_job(current_user, JobKind.PULL_MEMBERS, group=group))
    pulled = attempt(lambda: pull_service.pull_members(current_user, group))
    result, error = pulled.value, pulled.error
    if not wants_fragment():
        if result is None:
            return _back_to_groups(offering.uuid, f"Pulling members of “{group.name}” failed: {error}", "error")
        return _back_to_groups(
            offering.uuid,
            f"Pulled members of “{group.name}”: {result.created} new, {result.updated} updated, "
            f"{result.removed_remotely} removed in Keycloak, {result.total_remote} in Keycloak.",
        )
    response = render("groups/_pull_result.html", group=group, result=result, error=error)
    return add_toast(response, error or f"Pulled members of “{group.name}”.", "error" if error else "success")


@ui_bp.route("/offerings/<offering_uuid>/groups/<group_uuid>/delete", methods=["GET", "POST"])
@login_required
def group_delete(offering_uuid: str, group_uuid: str) -> Response:
    offering, group = group_page_of(offering_uuid, group_uuid, manage=True)
    form = DeleteGroupForm()
    error = ""
    if form.validate_on_submit():
        name = group.name
        deleted = attempt(
            lambda: group_service.delete_group(current_user, group, delete_remote=bool(form.delete_remote.data))
        )
        error = deleted.error
        if deleted.ok:
            where = " and in Keycloak" if form.delete_remote.data else "; Keycloak was not changed"
            return _back_to_groups(offering.uuid, f"Deleted “{name}” locally{where}.")
    return render(
        FRAGMENT_PAGE,
        "groups/_delete_dialog.html",
        offering=offering,
        group=group,
        form=form,
        error=error,
        can_delete_remote=group.remote_created_here,
        members_count=len(group.memberships),
        tab="groups",
        status=400 if error else 200,
    )


@ui_bp.get("/offerings/<offering_uuid>/groups/<group_uuid>")
@login_required
def group_detail(offering_uuid: str, group_uuid: str) -> Response:
    """Local and Keycloak members side by side, a page of each (`?page=`, `?kpage=`), searched with `?q=`.

    An htmx pager or search asks for one panel (or both) by its id, sent as HX-Target; Keycloak is not read
    when only the local panel is wanted."""
    offering, group = group_page_of(offering_uuid, group_uuid)
    local_paging = page_request("page")
    remote_paging = PageRequest(page_number("kpage"), local_paging.per_page, local_paging.query)
    wanted = request.headers.get("HX-Target", "") if wants_fragment() else ""
    local = remote = None
    remote_error = about = ""
    # Keycloak is asked first and answers while the local page is read.
    reading = (
        attempt(lambda: member_pages.start_remote_members(offering, group, remote_paging))
        if (wanted != LOCAL_PANEL and group.backend_id)
        else None
    )
    if wanted != KEYCLOAK_PANEL:
        found = member_pages.local_members(group, local_paging)
        local = local_panel(offering, group, found, local_paging, remote_paging.page)
    if reading is not None:
        read = attempt(reading.value) if reading.value is not None else Attempted[RemotePage](failure=reading.failure)
        if read.value is not None:
            remote = keycloak_panel(offering, group, read.value, remote_paging, local_paging.page)
            about = remote_size(read.value)
        remote_error = read.error
    fragments = {LOCAL_PANEL: "groups/_local_members.html", KEYCLOAK_PANEL: "groups/_keycloak_members.html"}
    return render(
        "groups/detail.html",
        fragments.get(wanted, "groups/_member_panels.html"),
        offering=offering,
        group=group,
        local=local,
        remote=remote,
        remote_error=remote_error,
        query=local_paging.query,
        preview_label=f"Preview sync of {about} members" if about else "Preview sync",
        action_form=ConfirmForm(),
        tab="groups",
        **group_page_context(offering, group),
    )


@ui_bp.get("/offerings/<offering_uuid>/users/search")
@login_required
def user_search(offering_uuid: str) -> Response:
    offering = reached_or_404(offering_uuid)  # a group manager searches whom to add too
    query = request.args.get("q", "").strip()
    found = attempt(lambda: remote.search_remote_users(offering, query, 0, USER_SEARCH_LIMIT) if query else (0, []))
    total, users = found.value or (0, [])
    return render(
        "groups/user_search_page.html",
        "groups/_user_results.html",
        offering=offering,
        users=users,
        total=total,
        query=query,
        error=found.error,
        tab="groups",
    )


@ui_bp.post("/offerings/<offering_uuid>/groups/create-offering-group")
@login_required
def create_offering_group(offering_uuid: str) -> Response:
    offering = offering_or_404(offering_uuid)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    created = attempt(lambda: hierarchy.create_offering_group(current_user, offering))
    if created.value is None:
        return _back_to_groups(offering.uuid, created.error, "error")
    path = created.value.group.path
    if not created.value.created:
        return _back_to_groups(offering.uuid, f"{path} already exists in Keycloak; nothing was created.")
    return _back_to_groups(offering.uuid, f"Created {path} in Keycloak.")
