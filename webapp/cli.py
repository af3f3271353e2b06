"""Flask CLI commands: load-data, create-token."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from .extensions import db
from .models import User
from .services.accounts import create_token
from .services.loader import LoadError, load_data


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
