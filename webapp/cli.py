"""Flask CLI commands: load-data, create-token, rotate-secrets, sync-pending, reconcile, expire-memberships,
prune-plans, worker."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask

from .crypto import SecretDecryptionError
from .jobs.queue import job_queue
from .services.accounts.core import MAX_TOKEN_DAYS, create_token, user_named
from .services.connection.secrets import rotate_secrets
from .services.jobs import core as jobs
from .services.loader import LoadError, load_data
from .services.memberships.periodic import RunSummary, reconcile, sync_pending
from .services.memberships.reminders import send_reminders
from .services.plans.core import expire_open_plans, remove_old_items
from .services.plans.expiry_run import expire_due


def _report(name: str, summary: RunSummary) -> None:
    click.echo(
        f"{name}: {summary.offerings} offering(s); activated {summary.activated}, still pending "
        f"{summary.still_pending}, flagged removed {summary.flagged_removed}, restored {summary.restored}, "
        f"errors {len(summary.errors)}"
    )
    for error in summary.errors:
        click.echo(f"  error: {error}", err=True)


def _expire_plans() -> None:
    """The expiry sweep of previews (reads mark them too; this keeps the list filters true), and the retention
    sweep of ended plans' items."""
    click.echo(f"plans: {expire_open_plans()} previews expired, {remove_old_items()} ended plans lost their items")


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
    @click.option(
        "--expires-days",
        type=click.IntRange(1, MAX_TOKEN_DAYS),
        default=None,
        help="The token stops working this many days from now (default: until revoked).",
    )
    def create_token_command(username: str, expires_days: int | None) -> None:
        """Print a new API token for USERNAME (stored hashed; shown only now)."""
        user = user_named(username)
        if user is None:
            raise click.ClickException(f"No user named {username!r}.")
        token, plain = create_token(user, expires_days)
        click.echo(plain)
        if token.expires is not None:
            click.echo(f"It expires on {token.expires:%Y-%m-%d %H:%M} UTC.", err=True)

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

    @app.cli.command("expire-memberships")
    def expire_memberships_command() -> None:
        """Send the reminders that are due, then remove the members whose time is up from Keycloak and mark
        them expired (an expiry plan instead, above the removal brake, for a manager to apply); what Keycloak or
        the mail server refused is tried again next time."""
        reminded = send_reminders()
        click.echo(f"reminders: {reminded.reminded} sent ({reminded.mailed} by mail)")
        for error in reminded.errors:
            click.echo(f"  error: {error}", err=True)
        run = expire_due()
        click.echo(
            f"expire-memberships: {run.groups} group(s); expired {run.expired}, expiry plans {len(run.planned)}, "
            f"overdue {run.overdue}, errors {len(run.errors)}"
        )
        for error in run.errors:
            click.echo(f"  error: {error}", err=True)
        if run.errors or reminded.errors:
            raise SystemExit(1)

    @app.cli.command("prune-plans")
    def prune_plans_command() -> None:
        """Expire old previews and delete the items of plans that ended OKG_PLAN_RETENTION_DAYS ago (the plan
        rows stay, with their counts and outcome). The periodic round does the same."""
        _expire_plans()

    @app.cli.command("worker")
    @click.option("--workers", default=1, show_default=True, help="Jobs run at once by this process (threads).")
    @click.option("--once", is_flag=True, help="Run one periodic round here, in this process, and exit.")
    def worker_command(workers: int, once: bool) -> None:
        """Run queued jobs and the periodic round (every OKG_SYNC_INTERVAL) until stopped (SIGINT or SIGTERM
        lets the running jobs finish their current page and roll back). Run as many as you like, on any host
        that shares the database and OKG_JOBS_URL."""
        if once:
            for job in jobs.enqueue_periodic_round():
                jobs.execute(job.uuid)
                job = jobs.reloaded(job)
                click.echo(f"{job.kind} of {job.offering.name if job.offering else 'all'}: {job.state} {job.error}")
            return
        jobs.mark_dead_jobs()
        queue = job_queue()
        click.echo(f"worker: {workers} thread(s) on {queue.storage} storage")
        queue.worker(workers).run()
