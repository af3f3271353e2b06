"""Flask CLI commands: load-data, create-token, rotate-secrets, sync-pending, reconcile, worker."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from .crypto import SecretDecryptionError
from .extensions import db
from .models import User
from .services.accounts import create_token
from .services.loader import LoadError, load_data
from .services.periodic import RunSummary, reconcile, sync_pending
from .services.plans import expire_open_plans
from .services.secrets import rotate_secrets

INTERVAL = re.compile(r"^(\d+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(value: str) -> int:
    """ "15m", "30s", "1h", "900" -> seconds."""
    match = INTERVAL.match(value.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise click.BadParameter(f"{value!r} is not an interval like 30s, 15m or 1h")
    return int(match.group(1)) * UNITS[match.group(2)]


def _report(name: str, summary: RunSummary) -> None:
    click.echo(
        f"{name}: {summary.offerings} offering(s); activated {summary.activated}, still pending "
        f"{summary.still_pending}, flagged removed {summary.flagged_removed}, restored {summary.restored}, "
        f"errors {len(summary.errors)}"
    )
    for error in summary.errors:
        click.echo(f"  error: {error}", err=True)


def _expire_plans() -> None:
    """The expiry sweep of previews (reads mark them too; this keeps the list filters true)."""
    click.echo(f"plans: {expire_open_plans()} previews expired")


def init_app(app: Flask) -> None:
    @app.cli.command("load-data")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def load_data_command(path: Path) -> None:
        """Upsert users, organizations, offerings, roles and resources from a JSON file."""
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path} is not valid JSON: {exc}") from exc
        try:
            counts = load_data(data)
        except LoadError as exc:
            raise click.ClickException(f"{path}: {exc}. Nothing was changed.") from exc
        click.echo(f"Loaded {path}: {counts['created']} created, {counts['updated']} updated.")

    @app.cli.command("create-token")
    @click.argument("username")
    def create_token_command(username: str) -> None:
        """Print a new API token for USERNAME (stored hashed; shown only now)."""
        user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            raise click.ClickException(f"No user named {username!r}.")
        _token, plain = create_token(user)
        click.echo(plain)

    @app.cli.command("rotate-secrets")
    def rotate_secrets_command() -> None:
        """Re-encrypt every stored Keycloak secret with the first key of OKG_ENCRYPTION_KEY."""
        try:
            count = rotate_secrets()
        except SecretDecryptionError as exc:
            raise click.ClickException(f"{exc}. Nothing was changed.") from exc
        click.echo(f"Re-encrypted {count} stored secret(s) with the first encryption key.")

    @app.cli.command("sync-pending")
    def sync_pending_command() -> None:
        """Retry pending memberships: add users whose Keycloak accounts now exist."""
        _report("sync-pending", sync_pending())

    @app.cli.command("reconcile")
    def reconcile_command() -> None:
        """Flag active members removed in Keycloak, and clear the flag for those who are back."""
        _report("reconcile", reconcile())
        _expire_plans()

    @app.cli.command("worker")
    @click.option("--interval", default="15m", show_default=True, help="Time between runs, e.g. 30s, 15m, 1h.")
    @click.option("--once", is_flag=True, help="Run one round and exit.")
    def worker_command(interval: str, once: bool) -> None:
        """Run sync-pending and reconcile on a schedule, in one process."""
        seconds = parse_interval(interval)
        while True:
            started = time.monotonic()
            _report("sync-pending", sync_pending())
            _report("reconcile", reconcile())
            _expire_plans()
            if once:
                return
            try:
                time.sleep(max(0.0, seconds - (time.monotonic() - started)))
            except KeyboardInterrupt:
                click.echo("worker stopped")
                return
