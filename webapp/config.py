"""Base configuration. Every key can be overridden by an environment variable prefixed OKG_
(e.g. OKG_SQLALCHEMY_DATABASE_URI, OKG_SECRET_KEY, OKG_ENCRYPTION_KEY) via from_prefixed_env()."""

from datetime import timedelta
from pathlib import Path
from typing import Any

ENV_PREFIX = "OKG"


def base_config(instance_path: Path) -> dict[str, Any]:
    return {
        # Unset: random keys generated into the instance folder on first start (webapp/instance_keys.py).
        "SECRET_KEY": None,
        "ENCRYPTION_KEY": None,  # one or more comma-separated keys: the first encrypts, all decrypt
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_path / 'offering_keycloak_groups.sqlite'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "SESSION_LIFETIME_SECONDS": 12 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,
        "PASSWORD_HASH_METHOD": "scrypt",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Requests: how many proxies stand in front (X-Forwarded-*), and which Host headers are ours.
        "TRUSTED_PROXIES": 0,
        "TRUSTED_HOSTS": None,  # comma-separated host names; unset accepts any Host
        # Login throttling (webapp/services/accounts/throttle.py): a slowed attempt is a 429 with Retry-After,
        # never a wait.
        "LOGIN_FAILURE_WINDOW_SECONDS": 900,
        "LOGIN_ADDRESS_SLOW_AFTER": 5,  # failures from one address before its next attempt must wait
        "LOGIN_ADDRESS_MAX_FAILURES": 20,  # failures from one address before it is refused for the window
        "LOGIN_USERNAME_SLOW_AFTER": 5,  # failures on one username, from any address, before attempts must wait
        "LOGIN_DELAY_SECONDS": 1.0,  # the first wait; it doubles with each further failure
        "LOGIN_MAX_DELAY_SECONDS": 300.0,
        "LOGIN_DEVICE_COOKIE_DAYS": 180,  # a browser that signed in is known (its own budget) this long
        # Keycloak: where it may be, paging, and bounds on walks and pulls (see docs/KEYCLOAK.md).
        "KEYCLOAK_ALLOWED_URLS": "",  # comma-separated URL prefixes; empty allows any http(s) URL
        "KEYCLOAK_CA_BUNDLE": "",  # a CA file trusted for every Keycloak (an offering's own CA field wins)
        "KEYCLOAK_PAGE_SIZE": 200,
        "KEYCLOAK_MEMBERS_PAGE_SIZE": 1000,
        "KEYCLOAK_MAX_GROUPS": 20_000,
        "KEYCLOAK_MAX_MEMBERS": 500_000,
        "KEYCLOAK_OPERATION_DEADLINE_SECONDS": 600,
        "KEYCLOAK_GATEWAY_CACHE_SIZE": 128,
        "SEARCH_USERS_DEFAULT_LIMIT": 25,
        "MEMBERS_PAGE_SIZE": 50,  # rows per page of members (group page, Members tab), activity and plan items
        # Plan -> apply (docs/PLAN-APPLY.md): how long a preview stays valid, the removal brake, a stuck apply.
        "PLAN_TTL_SECONDS": 900,
        "PLAN_REMOVAL_BRAKE": 5,  # removing more members than this from Keycloak (or >10 % of a group) needs a phrase
        "PLAN_APPLY_TIMEOUT_SECONDS": 900,
        "PLAN_RETENTION_DAYS": 30,  # ended plans lose their items this long after they ended (the row stays)
        # Jobs (webapp/jobs): the queue's storage, the periodic round, when a silent job counts as dead.
        "JOBS_URL": "",  # redis://host:port/db for several workers and hosts; empty: SQLite in the instance folder
        "SYNC_INTERVAL": "15m",
        "BACKGROUND_THRESHOLD": 2000,  # pulls, previews and applies of this many members or items run as jobs
        "JOB_STALE_SECONDS": 120,  # no heartbeat for this long: the worker died, the job is marked failed
        "JOBS_MAX_WAITING": 3,  # queued jobs per offering; one more is refused (429)
        "METRICS_TOKEN": "",  # /metrics answers only "Authorization: Bearer <this>"; empty: no /metrics
        # Signing in with Keycloak (OIDC authorization code + PKCE); off while OIDC_ISSUER is empty. See README.
        "OIDC_ISSUER": "",  # the realm's issuer URL, e.g. https://sso.example.org/realms/staff
        "OIDC_CLIENT_ID": "",
        "OIDC_CLIENT_SECRET": "",
        "OIDC_SCOPES": "openid email profile",
        "OIDC_STAFF_ROLE": "okg-staff",  # a client role of OIDC_CLIENT_ID, read from the ID token at every sign-in
        "OIDC_LINK_BY_USERNAME": False,  # link an unlinked local account by preferred_username (opt-in)
        "OIDC_CREATE_USERS": False,  # create a local account for a Keycloak user who has none
        "OIDC_TIMEOUT_SECONDS": 10,
        # Asking Keycloak whether a linked account is still enabled (and still staff): a service account of the
        # sign-in realm with view-users and view-clients; unset, nobody asks (see README).
        "OIDC_ADMIN_CLIENT_ID": "",
        "OIDC_ADMIN_CLIENT_SECRET": "",
        "OIDC_RECHECK_SECONDS": 300,  # how old Keycloak's last answer may be; down: one more interval, then refuse
        "LOCAL_LOGIN": True,  # the username/password form; false leaves "Sign in with Keycloak" only
        # Memberships that end (docs/PRODUCT.md §11): reminders this many days before, each sent once.
        "EXPIRY_REMINDER_DAYS": "30,7,1",
        # Access reviews (docs/PRODUCT.md §12): reviewers are reminded this many days before the due date.
        "REVIEW_REMINDER_DAYS": "7,1",
        "MAIL_URL": "",  # smtp://host:port (smtps:// for TLS; user:password@ for auth); empty: in-app notices only
        "MAIL_FROM": "offering-keycloak-groups@localhost",
        "MAIL_TIMEOUT_SECONDS": 10,
        # Who changed it (docs/PRODUCT.md §10): membership changes read from Keycloak's admin events, kept days.
        "KEYCLOAK_EVENTS_DAYS": 90,
        "API_DEFAULT_PAGE_SIZE": 10,
        "API_MAX_PAGE_SIZE": 300,
    }


def session_lifetime(config: dict[str, Any]) -> timedelta:
    return timedelta(seconds=float(config["SESSION_LIFETIME_SECONDS"]))


WHOLE_NUMBERS = {
    "JOBS_MAX_WAITING": 1,
    "PLAN_RETENTION_DAYS": 1,
    "KEYCLOAK_EVENTS_DAYS": 1,
}  # setting -> its smallest allowed value


def whole_numbers(config: dict[str, Any]) -> None:
    """Bounds that keep work bounded must be numbers: a typo fails at start in words, not at the first job."""
    for name, minimum in WHOLE_NUMBERS.items():
        value = config.get(name)
        try:
            number = int(str(value).strip())
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise ValueError(f"{ENV_PREFIX}_{name} must be a whole number of at least {minimum}, not {value!r}.")
        config[name] = number


def reminder_days(value: str | list[int] | int, name: str = "EXPIRY_REMINDER_DAYS") -> list[int]:
    """OKG_EXPIRY_REMINDER_DAYS (or `name`) as whole days from 1 to 365, largest first; a typo fails at start in
    words."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    days = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not text.isdigit() or not 1 <= int(text) <= 365:
            raise ValueError(f"{ENV_PREFIX}_{name} must be days from 1 to 365 separated by commas, not {value!r}.")
        days.append(int(text))
    return sorted(set(days), reverse=True)


def mail_url(value: str) -> str:
    """OKG_MAIL_URL: empty, or smtp:// / smtps:// with a host (a typo fails at start in words)."""
    from urllib.parse import urlsplit

    text = (value or "").strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"{ENV_PREFIX}_MAIL_URL must look like smtp://host:port or smtps://host:port, not {text!r}.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"{ENV_PREFIX}_MAIL_URL has a port that is not a number: {text!r}.") from None
    return text


def host_list(value: str | list[str] | None) -> list[str] | None:
    """OKG_TRUSTED_HOSTS as Flask's TRUSTED_HOSTS: a list, or None for any host."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [item.strip() for item in items if item.strip()] or None
