"""Offering Keycloak Groups: Flask app factory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ENV_PREFIX, base_config, host_list, mail_url, reminder_days, session_lifetime, whole_numbers
from .extensions import csrf, db, login_manager, migrate
from .instance_keys import instance_key
from .keycloak.admin_gateway import AdminGateway
from .keycloak.destinations import parse_prefixes
from .keycloak.limits import Limits
from .keycloak.registry import GatewayRegistry

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _asset_folder(name: str) -> str:
    """templates/ and static/ sit beside webapp/ in a checkout, under share/ in an installed wheel."""
    local = PROJECT_ROOT / name
    if local.is_dir():
        return str(local)
    return str(Path(sys.prefix) / "share" / "offering-keycloak-groups" / name)


def create_app(config: dict[str, Any] | None = None, instance_path: str | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=_asset_folder("templates"),
        static_folder=_asset_folder("static"),
        instance_path=instance_path,
        instance_relative_config=True,
    )
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(base_config(instance))
    app.config.from_prefixed_env(ENV_PREFIX)
    if config:
        app.config.from_mapping(config)
    for name in ("SECRET_KEY", "ENCRYPTION_KEY"):
        if not app.config.get(name):
            app.config[name] = instance_key(instance, name.lower())
    app.config["TRUSTED_HOSTS"] = host_list(app.config.get("TRUSTED_HOSTS"))
    app.config["PERMANENT_SESSION_LIFETIME"] = session_lifetime(app.config)
    whole_numbers(app.config)
    app.config["EXPIRY_REMINDER_DAYS"] = reminder_days(app.config["EXPIRY_REMINDER_DAYS"])
    app.config["REVIEW_REMINDER_DAYS"] = reminder_days(app.config["REVIEW_REMINDER_DAYS"], "REVIEW_REMINDER_DAYS")
    app.config["MAIL_URL"] = mail_url(app.config["MAIL_URL"])
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)

    limits = Limits(
        max_groups=int(app.config["KEYCLOAK_MAX_GROUPS"]),
        max_members=int(app.config["KEYCLOAK_MAX_MEMBERS"]),
        deadline_seconds=float(app.config["KEYCLOAK_OPERATION_DEADLINE_SECONDS"]),
    )
    allowed_urls = parse_prefixes(app.config["KEYCLOAK_ALLOWED_URLS"])
    registry = app.config.get("KEYCLOAK_GATEWAY_REGISTRY")
    registry = (
        registry
        if registry is not None
        else GatewayRegistry(
            lambda settings: AdminGateway(
                settings,
                page_size=app.config["KEYCLOAK_PAGE_SIZE"],
                members_page_size=app.config["KEYCLOAK_MEMBERS_PAGE_SIZE"],
                limits=limits,
                allowed_urls=allowed_urls,
            ),
            size=int(app.config["KEYCLOAK_GATEWAY_CACHE_SIZE"]),
        )
    )
    registry.init_app(app)

    from . import auth, cli, errors, input_guard, metrics, oidc, security
    from .api import api_bp
    from .jobs import queue
    from .services.connection import ca_files
    from .services.jobs import core as jobs
    from .ui import ui_bp

    auth.init_app(app)
    oidc.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    input_guard.init_app(app)
    cli.init_app(app)
    # The queue runs the job service's work; it imports nothing of the services itself.
    queue.init_app(app, queue.Handlers(run=jobs.execute, round=jobs.enqueue_periodic_round, local=ca_files.prune))
    metrics.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(ui_bp)
    csrf.exempt(api_bp)  # the API authenticates writes with tokens only, never with the session cookie
    return app


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on; write-ahead logging, so pages keep reading while a worker writes a long pull, and
    commits sync the log only (durable across a crash of the app; a power cut may lose the last commits)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
