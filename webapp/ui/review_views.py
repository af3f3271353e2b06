"""Access reviews in the browser (docs/PRODUCT.md §12): the offering's Reviews tab (its reviews, a new one), the
reviews a user reviews, and a review's page of members to decide on; closing it leads to its plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import abort, flash, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..htmx import redirect_to, render
from ..models import AccessReview, utcnow
from ..services import lookups
from ..services.errors import ObjectNotFound, ValidationFailed
from ..services.reviews import core as reviews
from . import ui_bp
from .forms import ConfirmForm, ReviewForm
from .helpers import attempt, offering_or_404, show_field_errors
from .paging import page_number, pager

PER_PAGE = 50
FILTERS = {"": "Everyone", "undecided": "Undecided", "keep": "Keep", "remove": "Remove", "unsure": "Unsure"}
DECISIONS = {"keep": "Keep", "remove": "Remove", "unsure": "Unsure"}
DEFAULT_DUE_DAYS = 14
DECISION_PREFIX, NOTE_PREFIX = "decision-", "note-"


@dataclass(frozen=True)
class ReviewRow:
    review: AccessReview
    counts: reviews.Counts
    status: str  # the badge's class
    label: str


def _rows(found: list[AccessReview]) -> list[ReviewRow]:
    counted = reviews.counts_of(found)
    rows = []
    for review in found:
        status, label = reviews.status_of(review)
        rows.append(ReviewRow(review, counted[review.id], status, label))
    return rows


def _review_or_404(review_uuid: str) -> AccessReview:
    try:
        return reviews.review_for(current_user, review_uuid)
    except ObjectNotFound:
        abort(404)


@ui_bp.route("/offerings/<offering_uuid>/reviews", methods=["GET", "POST"])
@login_required
def offering_reviews(offering_uuid: str) -> Response:
    """The offering's reviews, newest first, and the form that opens a new one."""
    offering = offering_or_404(offering_uuid)
    linked = reviews.linked_groups(offering)
    form = ReviewForm()
    form.group_uuids.choices = [(group.uuid, group.name) for group in linked]
    status = 200
    if request.method != "POST":
        form.group_uuids.data = [group.uuid for group in linked]  # a review takes no access away by itself
        form.due.data = utcnow().date() + timedelta(days=DEFAULT_DUE_DAYS)
    elif not form.validate_on_submit():
        status = 400
    else:
        names = [name.strip() for name in (form.reviewers.data or "").split(",") if name.strip()]
        opened = attempt(
            lambda: reviews.open_review(
                current_user,
                offering,
                lookups.groups_of(current_user, offering, list(form.group_uuids.data or [])),
                form.due.data,
                names or None,
                form.repeat_months.data,
            )
        )
        if opened.value is not None:
            flash(f"The review is open: {reviews.counts(opened.value).total:,} members to decide on.", "success")
            return redirect_to(url_for("ui.review_detail", review_uuid=opened.value.uuid))
        if isinstance(opened.failure, ValidationFailed):
            show_field_errors(form, opened.failure)
        else:
            form.form_errors.append(opened.error)
        status = opened.status
    return render(
        "reviews/offering_reviews.html",
        status=status,
        offering=offering,
        tab="reviews",
        form=form,
        reviews=_rows(reviews.recent_reviews(current_user, offering)),
        default_reviewers=", ".join(reviews.default_reviewers(offering, linked)) or "none yet",
    )


@ui_bp.get("/reviews")
@login_required
def my_reviews() -> Response:
    """Every review the user may see: those they review first (open, soonest due), then the rest."""
    return render(
        "reviews/my_reviews.html",
        waiting=_rows(reviews.waiting_for(current_user)),
        reviews=_rows(reviews.recent_reviews(current_user, None)),
    )


@ui_bp.route("/reviews/<review_uuid>", methods=["GET", "POST"])
@login_required
def review_detail(review_uuid: str) -> Response:
    """One page of the review's members: a decision per row (keep / remove / unsure), filters and progress."""
    review = _review_or_404(review_uuid)
    scope = reviews.scope_of(current_user, review)
    decision = request.values.get("decision", "")
    decision = decision if decision in FILTERS else ""
    query = request.values.get("q", "")[:100]
    number = page_number()
    form = ConfirmForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        done = attempt(lambda: _decide(review, scope))
        if done.ok:
            flash(done.value or "Nothing was decided: choose keep, remove or unsure on a row first.", "success")
            return redirect_to(
                url_for(
                    "ui.review_detail",
                    review_uuid=review.uuid,
                    decision=decision or None,
                    q=query or None,
                    page=number if number > 1 else None,
                )
            )
        flash(done.error, "error")
        status = done.status
    shown = attempt(lambda: reviews.items_page(review, scope, decision, query, number, PER_PAGE))
    if shown.value is None:
        abort(shown.status, description=shown.error)
    page = shown.value
    return render(
        "reviews/detail.html",
        status=status,
        review=review,
        scope=scope,
        shown=page,
        form=form,
        filters=FILTERS,
        decisions=DECISIONS,
        decision=decision,
        query=query,
        overdue=reviews.is_overdue(review),
        pager=pager(
            "ui.review_detail",
            {"review_uuid": review.uuid},
            {"decision": decision or None, "q": query or None},
            number,
            total=page.total,
            per_page_=PER_PAGE,
        ),
    )


def _decide(review: AccessReview, scope: reviews.Scope) -> str:
    """The page's chosen decisions (or "keep" for every undecided row shown), in words for the flash."""
    if request.form.get("keep_page"):
        keys = reviews.page_keys(review, scope, request.form.getlist("page_keys"))
        chosen = {key: "keep" for key in keys}
    else:
        chosen = {
            name.removeprefix(DECISION_PREFIX): value
            for name, value in request.form.items()
            if name.startswith(DECISION_PREFIX) and value
        }
    if not chosen:
        return ""
    notes = {key: request.form.get(f"{NOTE_PREFIX}{key}", "") for key in chosen}
    counts = reviews.decide(current_user, review, chosen, notes=notes)
    saved = f"Saved {len(chosen):,} decision{'' if len(chosen) == 1 else 's'}"
    return f"{saved}: {counts.decided:,} of {counts.total:,} decided."


@ui_bp.route("/reviews/<review_uuid>/close", methods=["GET", "POST"])
@login_required
def review_close(review_uuid: str) -> Response:
    """A confirmation that says what closing does; closing makes the plan of the removals (nothing is removed
    until that plan is applied)."""
    review = _review_or_404(review_uuid)
    if not reviews.scope_of(current_user, review).may_close:
        abort(403)
    form = ConfirmForm()
    error, status = "", 200
    if form.validate_on_submit():
        closed = attempt(lambda: reviews.close(current_user, review))
        if closed.ok:
            if closed.value is not None:
                flash("The review is closed. Review the removals it decided, then apply them.", "success")
                return redirect_to(
                    url_for("ui.plan_detail", offering_uuid=review.offering.uuid, plan_uuid=closed.value.uuid)
                )
            flash("The review is closed. Nobody was decided to be removed, so there is nothing to apply.", "success")
            return redirect_to(url_for("ui.review_detail", review_uuid=review.uuid))
        error, status = closed.error, closed.status
    return render(
        "reviews/close.html",
        status=status,
        review=review,
        counts=reviews.counts(review),
        form=form,
        error=error,
    )
