"""Response headers that make the browser enforce our rules: no inline scripts, no framing, no sniffing, no
copies of pages or API answers in caches."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request


def content_security_policy(sign_in_origin: str = "") -> str:
    """`sign_in_origin`: Keycloak's, when signing in with it is on; logging out is a form whose answer redirects
    there, and form-action covers such redirects."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action 'self' {sign_in_origin}".strip(),
            "frame-ancestors 'none'",
        ]
    )


HSTS = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store"


def init_app(app: Flask) -> None:
    hsts = bool(app.config.get("SESSION_COOKIE_SECURE"))
    issuer = urlsplit(str(app.config.get("OIDC_ISSUER") or ""))
    policy = content_security_policy(f"{issuer.scheme}://{issuer.netloc}" if issuer.netloc else "")

    @app.after_request
    def security_headers(response: Response) -> Response:
        if hsts:  # cookies only over HTTPS means the site is HTTPS-only: tell the browser to keep it so
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint != "static":
            # Pages show members, e-mail addresses and settings, and API answers carry them: neither a shared
            # proxy nor the browser's cache (Back after logging out, a shared computer) may keep a copy.
            # Only the static files, which are the same for everyone, keep their caching.
            response.headers["Cache-Control"] = NO_STORE
        return response
