"""Jobs in the browser-less client: start a background pull, follow it (page and htmx poll), cancel, list; large
pulls, previews and applies go to a worker; sync now."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.jobs.queue import job_queue
from webapp.models import Job, OfferingKeycloakMembership, Plan
from webapp.services.commands import PreviewMembers
from webapp.services.jobs import core as jobs
from webapp.services.plans import core as plans
from webapp.ui.job_rows import JobView


def linked(world: World):  # type: ignore[no-untyped-def]
    remote_id = world.realm.add_path("/base/hpc/users")
    for name in ("ann", "ben"):
        world.realm.add_member(remote_id, world.realm.add_user(name, f"{name}@example.org"))
    return world.add_group("users", backend_id=remote_id)


def test_a_background_pull_is_followed_until_it_ends(manager, world: World) -> None:
    group = linked(world)
    base = f"/offerings/{world.offering.uuid}"
    assert "Pull in the background" in manager.get(f"{base}/groups/{group.uuid}").get_data(as_text=True)
    response = manager.post(f"{base}/groups/{group.uuid}/pull-job", {})
    assert response.status_code == 303 and f"{base}/jobs/" in response.headers["Location"]
    job = db.session.query(Job).one()
    page = parse(manager.get(response.headers["Location"]).get_data(as_text=True))
    assert text_of(page.select_one("#job-heading")) == "Pull members: users"
    assert text_of(page.select_one("#job-status [role=status]")) == "Queued 0 members"
    poll = manager.get(response.headers["Location"], headers={"HX-Request": "true"})
    assert poll.status_code == 200 and "every 1s" in poll.get_data(as_text=True)  # still polling

    jobs.execute(job.uuid)  # what a worker does with the queued uuid
    ended = manager.get(response.headers["Location"], headers={"HX-Request": "true"})
    assert ended.status_code == 286  # htmx stops polling
    assert "2 new · 0 updated · 0 removed in Keycloak · 2 in Keycloak" in text_of(parse(ended.get_data(as_text=True)))
    assert db.session.query(OfferingKeycloakMembership).count() == 2
    listed = text_of(parse(manager.get(f"{base}/jobs").get_data(as_text=True)))
    assert "Pull members: users" in listed and "Succeeded" in listed


def test_the_same_pull_again_is_the_queued_one_and_a_queued_one_can_be_cancelled(manager, world: World) -> None:
    # The same work asked for twice is one job: the second press shows the first job, saying so (it used to be
    # refused with "A pull of users is queued"; the bounded-work rule answers with that job instead).
    group = linked(world)
    base = f"/offerings/{world.offering.uuid}"
    first = manager.post(f"{base}/groups/{group.uuid}/pull-job", {}).headers["Location"]
    again = manager.post(f"{base}/groups/{group.uuid}/pull-job", {})
    assert again.status_code == 303 and again.headers["Location"] == first
    assert "A pull of users is already queued, asked " in manager.get(first).get_data(as_text=True)
    assert db.session.query(Job).count() == 1
    assert manager.post(f"{first}/cancel", {}).status_code == 303
    db.session.expire_all()
    assert db.session.query(Job).one().state == "cancelled"


def test_another_pull_while_one_runs_is_refused_in_words(manager, world: World) -> None:
    group = linked(world)
    other = world.add_group("others", backend_id=world.realm.add_path("/base/hpc/others"), scope_id="others")
    base = f"/offerings/{world.offering.uuid}"
    manager.post(f"{base}/groups/{group.uuid}/pull-job", {})
    running = db.session.query(Job).one()
    running.state, running.started = "running", running.created  # a worker took it
    db.session.commit()
    job_queue().set_live(running.uuid, "heartbeat", time.time())
    refused = manager.post(f"{base}/groups/{other.uuid}/pull-job", {})
    assert refused.status_code == 303 and refused.headers["Location"].endswith(f"/groups/{other.uuid}")
    assert "A pull of users is running, started " in manager.get(refused.headers["Location"]).get_data(as_text=True)
    assert db.session.query(Job).count() == 1


@pytest.fixture
def small_threshold(app: Flask) -> Iterator[None]:
    """Groups and plans of two or more members count as large here, so they go to a worker."""
    before = app.config["BACKGROUND_THRESHOLD"]
    app.config["BACKGROUND_THRESHOLD"] = 2
    yield
    app.config["BACKGROUND_THRESHOLD"] = before


def test_a_large_pull_button_runs_as_a_job(manager, world: World, small_threshold: None) -> None:
    group = linked(world)
    db.session.add(OfferingKeycloakMembership(group=group, username="ann", state="active"))
    db.session.add(OfferingKeycloakMembership(group=group, username="old", state="active"))
    db.session.commit()
    base = f"/offerings/{world.offering.uuid}"
    response = manager.post(f"{base}/groups/{group.uuid}/pull", {})
    assert response.status_code == 303 and f"{base}/jobs/" in response.headers["Location"]
    job = db.session.query(Job).one()
    assert (job.kind, job.progress["total"]) == ("pull_members", 2)  # the members recorded here, as the estimate


def test_a_large_preview_and_its_apply_run_as_jobs_and_lead_to_their_pages(
    manager, world: World, small_threshold: None
) -> None:
    group = linked(world)  # ann and ben in Keycloak
    db.session.add(OfferingKeycloakMembership(group=group, username="cat", state="active"))
    db.session.add(OfferingKeycloakMembership(group=group, username="dan", state="active"))
    db.session.commit()
    base = f"/offerings/{world.offering.uuid}"
    response = manager.post(f"{base}/plans", {"kind": "members", "group_uuids": group.uuid})
    assert response.status_code == 303 and f"{base}/jobs/" in response.headers["Location"]
    preview_job = db.session.query(Job).one()
    assert db.session.query(Plan).count() == 0  # nothing computed in the request
    jobs.execute(preview_job.uuid)
    page = parse(manager.get(response.headers["Location"]).get_data(as_text=True))
    link = page.select_one("#job-status a.button")
    assert link is not None and text_of(link) == "Open the preview"
    plan = db.session.query(Plan).one()
    assert link["href"] == f"{base}/plans/{plan.uuid}"
    assert plan.summary == {"add_local": 2, "flag_removed": 2}

    plan_page = parse(manager.get(link["href"]).get_data(as_text=True))
    form = {"shown": [node["value"] for node in plan_page.select("input[name=shown]")], "preset": "safe"}
    form |= {node["name"]: node["value"] for node in plan_page.select("input[name^='pick:'][checked]")}
    applied = manager.post(f"{base}/plans/{plan.uuid}/apply", form)
    assert applied.status_code == 303 and f"{base}/jobs/" in applied.headers["Location"]
    apply_job = db.session.query(Job).filter_by(kind="apply_plan").one()
    assert apply_job.progress["total"] == 4 and apply_job.params["confirm"] == ""
    assert db.session.query(OfferingKeycloakMembership).filter_by(state="active").count() == 2  # not yet
    jobs.execute(apply_job.uuid)
    page = parse(manager.get(applied.headers["Location"]).get_data(as_text=True))
    assert text_of(page.select_one("#job-status [role=status]")) == "Succeeded 4 of 4 items"
    link = page.select_one("#job-status a.button")
    assert text_of(link) == "See the result" and link["href"] == f"{base}/plans/{plan.uuid}/result"
    db.session.expire_all()
    states = {row.username: row.state for row in db.session.query(OfferingKeycloakMembership)}
    assert states == {"ann": "active", "ben": "active", "cat": "removed_remotely", "dan": "removed_remotely"}


def test_an_apply_job_is_refused_before_it_is_queued_when_nothing_is_selected(
    manager, world: World, small_threshold: None
) -> None:
    group = linked(world)
    plan = plans.create_plan(world.manager, PreviewMembers(world.offering, [group]))
    base = f"/offerings/{world.offering.uuid}"
    shown = [f"{group.uuid}:ann", f"{group.uuid}:ben"]
    refused = manager.post(f"{base}/plans/{plan.uuid}/apply", {"shown": shown, "preset": "safe"})  # boxes unticked
    assert refused.status_code == 400
    assert "Nothing is selected" in text_of(parse(refused.get_data(as_text=True)))
    assert db.session.query(Job).count() == 0


def test_sync_now_starts_the_offerings_periodic_work_by_hand(manager, world: World) -> None:
    base = f"/offerings/{world.offering.uuid}"
    page = parse(manager.get(f"{base}/jobs").get_data(as_text=True))
    labels = [text_of(button) for button in page.select("form.page-actions button")]
    assert labels == [
        "Sync pending now",
        "Reconcile now",
        "Check drift now",
        "Expire due memberships now",
        "Read Keycloak's admin events now",
        "Send review reminders now",
    ]
    response = manager.post(f"{base}/jobs", {"kind": "sync_pending"})
    assert response.status_code == 303 and f"{base}/jobs/" in response.headers["Location"]
    assert db.session.query(Job).one().kind == "sync_pending"
    assert manager.post(f"{base}/jobs", {"kind": "pull_members"}).status_code == 400
    again = manager.post(f"{base}/jobs", {"kind": "sync_pending"})  # the same work again: that job, not a new one
    assert again.status_code == 303 and again.headers["Location"] == response.headers["Location"]
    assert "A pending sync of HPC Cluster is already queued" in manager.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert db.session.query(Job).count() == 1


def test_running_progress_reads_page_of_about_total(app: Flask, world: World) -> None:
    group = linked(world)
    job = Job(kind="pull_members", offering=world.offering, group=group, state="running", created_by_name="ann")
    job.progress = {"done": 0, "total": 50_004, "unit": "members"}
    db.session.add(job)
    db.session.commit()
    job_queue().set_live(job.uuid, "heartbeat", time.time())
    job_queue().set_live(job.uuid, "progress", {"done": 12_000, "total": 50_004, "unit": "members", "pages": 12})
    assert JobView(job).progress_words == "page 12 of about 51 · 12,000 of about 50,004 members"
    job_queue().set_live(job.uuid, "progress", {"done": 60_000, "total": 50_004, "unit": "members", "pages": 60})
    assert JobView(job).progress_words == "page 60 · 60,000 members"  # the group grew since its last pull


def test_periodic_jobs_say_their_outcome_in_words(app, world) -> None:  # type: ignore[no-untyped-def]
    """Issue 30, item 9: no `local_only: 1` on the Jobs pages."""
    from webapp.services.groups.drift import DRIFT_CHECK
    from webapp.services.memberships.jobs import RECONCILE

    checked = {"synced": 3, "local_only": 1, "remote_only": 2, "broken": 0, "pending": 1, "removed_remotely": 0}
    assert DRIFT_CHECK.outcome is not None and DRIFT_CHECK.outcome(checked) == (
        "3 synced, 1 local only, 2 remote only, 0 broken links; 1 pending, 0 removed in Keycloak"
    )
    rounded = {"offerings": 1, "activated": 2, "still_pending": 1, "flagged_removed": 0, "restored": 0, "errors": []}
    assert RECONCILE.outcome is not None and RECONCILE.outcome(rounded) == (
        "2 added in Keycloak, 1 still pending, 0 flagged as removed in Keycloak, 0 back in Keycloak"
    )
    failed = rounded | {"errors": ["bob: Keycloak did not answer"]}
    assert RECONCILE.outcome(failed).endswith("; 1 not done: bob: Keycloak did not answer")
