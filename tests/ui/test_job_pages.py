"""Jobs in the browser-less client: start a background pull, follow it (page and htmx poll), cancel, list."""

from __future__ import annotations

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import Job, OfferingKeycloakMembership
from webapp.services import jobs


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


def test_a_second_pull_is_refused_in_words_and_a_queued_one_cancelled(manager, world: World) -> None:
    group = linked(world)
    base = f"/offerings/{world.offering.uuid}"
    first = manager.post(f"{base}/groups/{group.uuid}/pull-job", {}).headers["Location"]
    refused = manager.post(f"{base}/groups/{group.uuid}/pull-job", {})
    assert refused.status_code == 303 and refused.headers["Location"].endswith(f"/groups/{group.uuid}")
    assert "A pull of users is queued, asked " in manager.get(refused.headers["Location"]).get_data(as_text=True)
    manager.get(first)
    assert manager.post(f"{first}/cancel", {}).status_code == 303
    db.session.expire_all()
    assert db.session.query(Job).one().state == "cancelled"
