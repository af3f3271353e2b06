"""Signing in with Keycloak: Authlib's Flask client, one per app (OKG_OIDC_ISSUER unset: none).

The client does the authorization code flow with PKCE (S256), state and nonce; the ID token's issuer and audience
are checked by the claims options passed at every callback (Authlib checks neither `aud` by itself nor `iss` once
options are given). The discovery document must name OKG_OIDC_ISSUER as its issuer, or a server answering at
that address could send the browser, and have us trust tokens, from another (the mix-up attack). Nothing is
fetched at start: the app starts while Keycloak is down.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, request
from joserfc.errors import JoseError

from .services.accounts import checks as account_checks
from .services.accounts.sign_in import KeycloakIdentity

EXTENSION_KEY = "okg_oidc"
FAILURES: tuple[type[Exception], ...] = (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError)


class SignInFailed(Exception):
    """The sign-in cannot go on; `args[0]` says why in words, `status` is the page's status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def init_app(app: Flask) -> None:
    issuer = str(app.config.get("OIDC_ISSUER") or "").rstrip("/")
    if not issuer:
        return
    account_checks.init_app(app)
    oauth = OAuth(app)  # per app: Authlib caches clients per OAuth object
    verify = app.config.get("KEYCLOAK_CA_BUNDLE") or True
    app.extensions[EXTENSION_KEY] = oauth.register(
        "keycloak",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config["OIDC_SCOPES"],
            "code_challenge_method": "S256",
            "default_timeout": float(app.config["OIDC_TIMEOUT_SECONDS"]),
            "verify": verify,
        },
    )


def enabled() -> bool:
    return EXTENSION_KEY in current_app.extensions


def _client() -> Any:
    return current_app.extensions[EXTENSION_KEY]


def _metadata() -> dict[str, Any]:
    """The discovery document, once its issuer is the one configured (exactly, as OpenID Connect Discovery
    asks); SignInFailed otherwise, and it is fetched again next time (a corrected server is then believed)."""
    client = _client()
    metadata: dict[str, Any] = client.load_server_metadata()
    expected = str(current_app.config["OIDC_ISSUER"]).rstrip("/")
    found = metadata.get("issuer")
    if found != expected:
        client.server_metadata.clear()
        named = repr(found[:200]) if isinstance(found, str) else "no issuer"
        raise SignInFailed(
            f"Keycloak's discovery document names {named} as its issuer, not {expected} as configured here "
            "(OKG_OIDC_ISSUER). Nothing was changed; ask an administrator.",
            502,
        )
    return metadata


def start(redirect_uri: str) -> Any:
    """The redirect to Keycloak's login page."""
    try:
        _metadata()
        return _client().authorize_redirect(redirect_uri)
    except FAILURES as exc:
        raise SignInFailed(f"Keycloak cannot be reached to sign in ({_reason(exc)}). Try again later.", 502) from exc


def finish() -> tuple[KeycloakIdentity, str]:
    """Check the callback (state, code, PKCE verifier, ID token: signature, iss, aud, exp, nonce) and return who
    signed in, with the raw ID token for the logout hint."""
    client = _client()
    refused = request.args.get("error")
    if refused:  # Keycloak said no (consent refused, login cancelled): nothing to exchange
        # Only the code is read: the description is text anyone can put into a link to this page.
        raise SignInFailed(_callback_words(OAuthError(error=refused)))
    try:
        issuer = _metadata()["issuer"]
        token = client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "values": [issuer]},
                "aud": {"essential": True, "values": [client.client_id]},
            }
        )
    except FAILURES as exc:
        raise SignInFailed(_callback_words(exc), 502 if isinstance(exc, requests.RequestException) else 400) from exc
    claims = token.get("userinfo") or {}
    if not claims or claims.get("typ", "ID") != "ID":
        raise SignInFailed("Keycloak's answer held no ID token. Nothing was changed; try again.")
    roles = ((claims.get("resource_access") or {}).get(client.client_id) or {}).get("roles") or []
    identity = KeycloakIdentity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        username=str(claims.get("preferred_username") or ""),
        email=str(claims.get("email") or ""),
        email_verified=claims.get("email_verified") is True,
        roles=tuple(str(role) for role in roles),
    )
    return identity, str(token.get("id_token") or "")


def logout_url(id_token: str, after: str) -> str | None:
    """Keycloak's end-session URL (RP-initiated logout), or None when Keycloak cannot be asked for it."""
    try:
        endpoint = _metadata().get("end_session_endpoint")
    except FAILURES:
        return None
    except SignInFailed:
        return None
    if not endpoint:
        return None
    query = {"id_token_hint": id_token, "post_logout_redirect_uri": after, "client_id": _client().client_id}
    return f"{endpoint}?{urlencode(query)}"


# Our words for the error codes of OAuth 2.0 (RFC 6749 4.1.2.1, 5.2) and OpenID Connect (Core 3.1.2.6). A code
# not listed here is not shown at all: like the description, it may be anything a link to our callback carries.
_ERROR_WORDS = {
    "access_denied": "Keycloak did not let you sign in (access denied). Nothing was changed.",
    "login_required": "Keycloak needs you to sign in there first. Start again.",
    "interaction_required": "Keycloak needs you to sign in there first. Start again.",
    "consent_required": "Keycloak needs your consent for this application first. Start again.",
    "account_selection_required": "Keycloak needs you to choose an account first. Start again.",
    "temporarily_unavailable": "Keycloak cannot sign you in just now. Try again later.",
    "server_error": "Keycloak failed while signing you in. Try again later.",
    "invalid_grant": "This sign-in link has expired or was already used. Start again.",
    "invalid_client": "Keycloak did not accept this application's credentials; ask an administrator.",
    "unauthorized_client": "Keycloak does not allow this application to sign you in; ask an administrator.",
    **{
        code: f"Keycloak refused the sign-in request ({code}); ask an administrator."
        for code in ("invalid_request", "unsupported_response_type", "unsupported_grant_type", "invalid_scope")
    },
}


def _callback_words(exc: Exception) -> str:
    error = getattr(exc, "error", "")
    if error == "mismatching_state":
        return "This sign-in link was already used or does not belong to this browser. Start again."
    if isinstance(exc, JoseError):  # the ID token (joserfc checks it for Authlib): signature, iss, aud, exp, nonce
        return f"Keycloak's answer could not be trusted ({_reason(exc)}). Nothing was changed; start again."
    if error:
        return _ERROR_WORDS.get(str(error), "Keycloak refused the sign-in. Nothing was changed; start again.")
    if isinstance(exc, requests.RequestException):
        return f"Keycloak cannot be reached to finish signing in ({_reason(exc)}). Try again later."
    return f"Keycloak's answer could not be trusted ({_reason(exc)}). Nothing was changed; start again."


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
