"""Who a Keycloak sign-in is here: the local account linked to its (issuer, sub), linked on the first sign-in
by verified email (or by username when allowed), or created when allowed; staff recomputed every time.

A username already held here is never handed to someone else: an account is only created under a name that no
account here has or resembles (the same letters once case, width, accents and invisible characters are set
aside, or letters of several scripts mixed), and linking by username never takes an account whose email says it
is someone else's. Otherwise a Keycloak user could claim "alice" before (or beside) the alice that load-data
and the manager grants name, and sign in with her grants.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...models import User
from .. import audit
from ..errors import Refused
from . import checks as account_checks
from .core import set_password


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
    account_checks.signed_in_now(user)
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
        user = db.session.scalar(unlinked.where(User.username == identity.username.lower()))
        if user is not None and user.email and identity.email and user.email.lower() != identity.email.lower():
            raise Refused(
                f"The account {user.username} here belongs to someone with another email than {identity.name} has "
                "in Keycloak; it was not linked. Ask an administrator."
            )
        return user
    return None


def _created(identity: KeycloakIdentity) -> User:
    if not current_app.config["OIDC_CREATE_USERS"]:
        raise Refused(f"No account here for {identity.name}; ask an administrator.")
    username = identity.username.lower()
    taken = Refused(f"No account here for {identity.name}, and the name is taken; ask an administrator.")
    if not username or db.session.scalar(select(User.id).where(User.username == username)):
        raise taken
    if not plain_name(username):
        raise Refused(
            f"No account here for {identity.name}, and none is made for a username with invisible characters, "
            "compatibility forms or letters of several scripts; ask an administrator."
        )
    key = lookalike_key(username)
    if any(lookalike_key(name) == key for name in db.session.scalars(select(User.username))):
        raise Refused(
            f"No account here for {identity.name}, and an account with a name that looks the same exists; "
            "ask an administrator."
        )
    # Column defaults only apply at the INSERT: `active` must be set here, or the check below reads None.
    user = User(username=username, email=identity.email if identity.email_verified else "", active=True)
    set_password(user, secrets.token_urlsafe(32))  # nobody knows it: this account signs in with Keycloak
    db.session.add(user)
    return user


def lookalike_key(name: str) -> str:
    """What a name looks like to a reader: compatibility forms folded (fullwidth letters, ligatures), accents,
    invisible characters and spaces dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", name)
    kept = (ch for ch in decomposed if unicodedata.category(ch) not in _INVISIBLE)
    return unicodedata.normalize("NFKC", "".join(kept)).casefold()


_INVISIBLE = {"Mn", "Me", "Cf", "Cc", "Co", "Cn", "Cs", "Zs", "Zl", "Zp"}


def plain_name(name: str) -> bool:
    """A name that shows what it is: printable, already in its normal (NFKC) form, letters of one script."""
    if unicodedata.normalize("NFKC", name) != name:
        return False
    if any(unicodedata.category(ch) in {"Cf", "Cc", "Co", "Cn", "Cs", "Zs", "Zl", "Zp"} for ch in name):
        return False
    scripts = {unicodedata.name(ch, "?").split(" ")[0] for ch in name if ch.isalpha()}
    return len(scripts) <= 1
