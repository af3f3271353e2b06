"""Who a Keycloak sign-in is here: the local account linked to its (issuer, sub), linked on the first sign-in
by verified email (or by username when allowed), or created when allowed; staff recomputed every time."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from . import audit
from .accounts import set_password
from .errors import Refused


@dataclass(frozen=True)
class KeycloakIdentity:
    """The validated ID token's claims that matter here."""

    issuer: str
    subject: str
    username: str
    email: str
    email_verified: bool
    roles: tuple[str, ...]  # client roles of our client

    @property
    def name(self) -> str:
        return self.username or self.email or self.subject


def user_for(identity: KeycloakIdentity) -> User:
    """The local account this identity signs in as. Raises Refused in words (nothing changes) when there is
    none, when the account is disabled here, or when a new account's username is taken."""
    user = db.session.scalar(
        select(User).where(User.oidc_issuer == identity.issuer, User.oidc_subject == identity.subject)
    )
    action = "user.signed_in_with_keycloak"
    if user is None:
        user = _linkable(identity)
        action = "user.linked_to_keycloak"
        if user is None:
            user = _created(identity)
            action = "user.created_from_keycloak"
        user.oidc_issuer, user.oidc_subject = identity.issuer, identity.subject
    if not user.active:
        db.session.rollback()
        raise Refused(f"The account {user.username} is disabled here; ask an administrator.")
    user.is_staff = current_app.config["OIDC_STAFF_ROLE"] in identity.roles
    audit.record(user, None, action, user, {"issuer": identity.issuer, "staff": user.is_staff})
    db.session.commit()
    return user


def _linkable(identity: KeycloakIdentity) -> User | None:
    """An account not linked yet, with the identity's verified email, or its username when allowed."""
    unlinked = select(User).where(User.oidc_subject.is_(None))
    if identity.email and identity.email_verified:
        matches = list(db.session.scalars(unlinked.where(func.lower(User.email) == identity.email.lower()).limit(2)))
        if len(matches) == 1:  # two accounts with one email: neither is linked, an administrator decides
            return matches[0]
    if identity.username and current_app.config["OIDC_LINK_BY_USERNAME"]:
        return db.session.scalar(unlinked.where(User.username == identity.username.lower()))
    return None


def _created(identity: KeycloakIdentity) -> User:
    if not current_app.config["OIDC_CREATE_USERS"]:
        raise Refused(f"No account here for {identity.name}; ask an administrator.")
    username = identity.username.lower()
    if not username or db.session.scalar(select(User.id).where(User.username == username)):
        raise Refused(f"No account here for {identity.name}, and the name is taken; ask an administrator.")
    user = User(username=username, email=identity.email if identity.email_verified else "")
    set_password(user, secrets.token_urlsafe(32))  # nobody knows it: this account signs in with Keycloak
    db.session.add(user)
    return user
