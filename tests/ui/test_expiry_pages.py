"""Memberships that end on the pages (docs/PRODUCT.md §11): /overview counts what ends soon and what is overdue
and lists the expiry plans waiting; the group page leads to its expiry plan."""

from __future__ import annotations

from datetime import timedelta

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import OfferingKeycloakMembership, utcnow
from webapp.services.plans.expiry_run import expire_due

from .conftest import Browser


def test_overview_and_group_page_show_what_ends_and_what_waits(manager: Browser, world: World) -> None:
    group = world.add_group("course", backend_id=world.realm.add_path("/base/hpc/course"), scope_id="course")
    for index in range(7):  # more than the removal brake (5): an expiry plan
        user_id = world.realm.add_user(f"due{index}", f"due{index}@example.org")
        world.realm.add_member(group.backend_id, user_id)
        db.session.add(
            OfferingKeycloakMembership(
                group=group,
                username=f"due{index}",
                state="active",
                keycloak_user_id=user_id,
                expires_at=utcnow() - timedelta(minutes=1),
            )
        )
    db.session.add(
        OfferingKeycloakMembership(
            group=group, username="soon", state="active", expires_at=utcnow() + timedelta(days=2)
        )
    )
    db.session.commit()
    before = parse(manager.get("/overview"))
    row = next(tr for tr in before.select("#expiry-counts tbody tr") if "HPC Cluster" in text_of(tr))
    assert [text_of(cell) for cell in row.select("td")] == ["1", "7 (tried again each round)"]

    run = expire_due()
    assert len(run.planned) == 1
    after = parse(manager.get("/overview"))
    notice = after.select_one("#expiry-plans")
    assert notice is not None and "HPC Cluster: remove 7 expired members" in text_of(notice)
    link = notice.select_one("a")
    assert link is not None and link["href"].endswith(f"/plans/{run.planned[0]}")
    page = parse(manager.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}"))
    assert "An expiry plan waits: 7 expired members of this group to remove from Keycloak" in text_of(page)
    assert "Access ends soon for 1 member: soon" in text_of(page.select_one("#expiring-soon"))
    plan_page = parse(manager.get(link["href"]))
    assert "Preview: remove the expired members of 1 group from Keycloak" in text_of(plan_page)
