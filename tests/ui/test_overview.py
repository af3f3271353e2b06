"""/overview (drift of every visible offering, from stored drift checks) and /metrics (Prometheus, with a token)."""

from __future__ import annotations

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import Job, OfferingKeycloakMembership
from webapp.services.jobs import core as jobs


def drifted(world: World) -> None:
    world.add_group("synced", backend_id=world.realm.add_path("/base/hpc/synced"))
    world.realm.add_path("/base/hpc/remote-only")
    local = world.add_group("local-only", scope_id="l")
    db.session.add(OfferingKeycloakMembership(group=local, username="p", state="pending"))
    db.session.commit()


def test_overview_shows_stored_counts_and_checks_now(manager, world: World) -> None:
    drifted(world)
    before = parse(manager.get("/overview").get_data(as_text=True))
    row = before.find("th", string="HPC Cluster").parent
    assert "never" in text_of(row)  # nothing was checked yet: no live walk on page load
    assert db.session.query(Job).count() == 0

    assert manager.post("/overview/check", {}).status_code == 303
    queued = db.session.query(Job).filter_by(kind="drift_check").all()
    assert [job.offering.name for job in queued] == ["HPC Cluster"]  # only what the manager can see
    jobs.execute(queued[0].uuid)
    after = parse(manager.get("/overview").get_data(as_text=True))
    cells = [text_of(cell) for cell in after.find("th", string="HPC Cluster").parent.find_all("td")]
    assert cells[:6] == ["1", "1", "1", "0", "1", "0"]  # synced, local only, remote only, broken, pending, removed
    link = after.find("a", attrs={"aria-label": "1 Remote only in HPC Cluster"})
    assert link["href"].endswith(f"/offerings/{world.offering.uuid}/groups?status=remote_only")


def test_metrics_need_the_token(app, client, world: World) -> None:
    drifted(world)
    assert client.get("/metrics").status_code == 404  # no token configured: no endpoint
    app.config["METRICS_TOKEN"] = "s3cret-scrape"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    job = jobs.create_job(None, jobs.JobKind.DRIFT_CHECK, world.offering)
    jobs.execute(job.uuid)
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert 'okg_drift{offering="hpc",status="remote_only"} 1.0' in text
    assert 'okg_jobs{kind="drift_check",state="succeeded"} 1.0' in text
