"""Small helpers shared by the page views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from flask import abort
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from ..models import Offering, OfferingKeycloakGroup, OfferingKeycloakMembership
from ..services import access, lookups
from ..services.errors import (
    Conflict,
    Gone,
    NotAllowed,
    ObjectNotFound,
    RemoteFailure,
    ServiceError,
    TooBusy,
    Unavailable,
    ValidationFailed,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """What a service call gave: its value, or the service error to show in place (status 400, or 502 when
    Keycloak failed)."""

    value: T | None = None
    failure: ServiceError | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def error(self) -> str:
        return self.failure.message if self.failure else ""

    @property
    def status(self) -> int:
        return status_of(self.failure) if self.failure else 200


def status_of(failure: ServiceError) -> int:
    """The HTTP status a service error answers with, in pages as in the API."""
    if isinstance(failure, RemoteFailure):
        return 502
    if isinstance(failure, Unavailable):
        return 503
    if isinstance(failure, TooBusy):
        return 429
    if isinstance(failure, Gone):
        return 410
    if isinstance(failure, NotAllowed):
        return 403
    return 409 if isinstance(failure, Conflict) else 400


def attempt(operation: Callable[[], T]) -> Attempted[T]:
    """The one place views catch service errors: pages and dialogs show `outcome.error` where it belongs."""
    try:
        return Attempted(operation())
    except ServiceError as exc:
        return Attempted(failure=exc)


def offering_or_404(offering_uuid: str) -> Offering:
    """An offering the user manages; one where they only manage some groups is 403, any other 404."""
    try:
        return lookups.offering_page(current_user, offering_uuid)
    except ObjectNotFound:
        abort(404)
    except NotAllowed:
        abort(403)


def reached_or_404(offering_uuid: str) -> Offering:
    """An offering the user manages or manages some groups of, for the pages of a group and its members."""
    try:
        return lookups.reached_offering_page(current_user, offering_uuid)
    except ObjectNotFound:
        abort(404)


def group_page_of(offering_uuid: str, group_uuid: str, manage: bool = False) -> tuple[Offering, OfferingKeycloakGroup]:
    """The offering and group of a group page or form: 404 unless the user sees the group (its offering's
    managers, its group managers). `manage`: what only the offering's managers may do (link, unlink, delete),
    403 for a group manager."""
    offering = reached_or_404(offering_uuid)
    group = group_or_404(offering, group_uuid)
    if manage and not access.manages(current_user, offering):
        abort(403)
    return offering, group


def group_or_404(offering: Offering, group_uuid: str) -> OfferingKeycloakGroup:
    try:
        group = lookups.group_page(current_user, group_uuid)
    except ObjectNotFound:
        abort(404)
    if group.offering_id != offering.id:
        abort(404)
    return group


def member_page_of(
    offering_uuid: str, group_uuid: str, membership_uuid: str
) -> tuple[Offering, OfferingKeycloakGroup, OfferingKeycloakMembership]:
    """A group page's member (remove, renew): 404 unless the user sees the group and the membership is of it."""
    offering, group = group_page_of(offering_uuid, group_uuid)
    try:
        membership = lookups.membership_page(current_user, membership_uuid)
    except ObjectNotFound:
        abort(404)
    if membership.group_id != group.id:
        abort(404)
    return offering, group, membership


def role_choices(offering: Offering) -> list[SelectChoice]:
    """The offering's roles after an empty first choice: a role is what access someone gets, so the form asks
    for it instead of preselecting the first one (issue 30, item 7)."""
    return [SelectChoice("", "Choose a role…")] + [
        SelectChoice(
            role.uuid, f"{role.name} ({role.scope_type_label or role.scope_type})" if role.scope_type else role.name
        )
        for role in offering.roles
    ]


def resource_choices(offering: Offering) -> list[SelectChoice]:
    return [SelectChoice("", "— none —")] + [
        SelectChoice(resource.uuid, resource.name) for resource in offering.resources
    ]


def show_field_errors(form: FlaskForm, exc: ValidationFailed) -> None:
    """A service's field errors next to the form's fields of the same name; the rest on the form itself."""
    errors = exc.errors if isinstance(exc.errors, dict) else {"": exc.errors}
    for name, messages in errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)


def local_url(target: str | None) -> str | None:
    """`target` when it is a same-site relative path, else None.

    Refused: a scheme, `//host` (and `/\\host`, which browsers read the same), any backslash, and control
    characters (a tab or newline inside `/\t/evil` is dropped by browsers, leaving `//evil`).
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
