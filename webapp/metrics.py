"""/metrics in Prometheus' text format: each offering's drift (from its last drift check) and job counts.

Readable only with `Authorization: Bearer <OKG_METRICS_TOKEN>` (what Prometheus scrape configs send); without
that setting the endpoint does not exist (404).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from .extensions import db
from .models import Job, Offering
from .secret_compare import secrets_equal
from .services.groups import drift

metrics_bp = Blueprint("metrics", __name__)


def _authorized() -> bool:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if not token:
        abort(404)
    sent = request.headers.get("Authorization", "")
    return sent.startswith("Bearer ") and secrets_equal(sent.removeprefix("Bearer ").strip(), token)


@metrics_bp.get("/metrics")
def metrics() -> Response:
    if not _authorized():
        return Response("Send Authorization: Bearer <OKG_METRICS_TOKEN>.\n", 401, {"WWW-Authenticate": "Bearer"})
    registry = CollectorRegistry()
    groups = Gauge(
        "okg_drift",
        "Groups and memberships by status at the last drift check",
        ["offering", "status"],
        registry=registry,
    )
    checked = Gauge(
        "okg_drift_checked_timestamp_seconds", "When the offering was last checked", ["offering"], registry=registry
    )
    jobs = Gauge("okg_jobs", "Jobs by kind and state", ["kind", "state"], registry=registry)
    for row in drift.overview(list(db.session.scalars(select(Offering).order_by(Offering.name)))):
        if row.counts is None or row.checked is None:
            continue
        for status, count in row.counts.items():
            groups.labels(row.offering.slug, status).set(count)
        checked.labels(row.offering.slug).set(row.checked.timestamp())
    for kind, state, count in db.session.execute(
        select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
    ):
        jobs.labels(kind, state).set(count)
    return Response(generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app: Flask) -> None:
    app.register_blueprint(metrics_bp)
