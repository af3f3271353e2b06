"""Base configuration. Every key can be overridden by an environment variable prefixed OKG_
(e.g. OKG_SQLALCHEMY_DATABASE_URI, OKG_SECRET_KEY, OKG_ENCRYPTION_KEY) via from_prefixed_env()."""

from pathlib import Path
from typing import Any

ENV_PREFIX = "OKG"


def base_config(instance_path: Path) -> dict[str, Any]:
    return {
        "SECRET_KEY": "dev-only-change-me",
        "ENCRYPTION_KEY": "dev-only-encryption-key-change-me",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_path / 'offering_keycloak_groups.sqlite'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "PASSWORD_HASH_METHOD": "scrypt",
        # Login throttling: this many failed logins for one username within the window lock it out for a while.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_FAILURE_WINDOW_SECONDS": 900,
        # Keycloak paging and listing defaults (see KEYCLOAK.md).
        "KEYCLOAK_PAGE_SIZE": 200,
        "KEYCLOAK_MEMBERS_PAGE_SIZE": 1000,
        "SEARCH_USERS_DEFAULT_LIMIT": 25,
        "API_DEFAULT_PAGE_SIZE": 10,
        "API_MAX_PAGE_SIZE": 300,
    }
