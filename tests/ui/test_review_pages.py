"""Access reviews in the browser (docs/PRODUCT.md §12), server side: the Reviews tab opens one, the review page
decides per row (each with its note) or keeps a page, closing confirms and leads to the plan of the removals."""

from __future__ import annotations

from datetime import timedelta

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import AccessReview, AccessReviewItem, GroupManager, OfferingKeycloakGroup, Plan, utcnow

from .conftest import Browser


def linked(world: World, name: str, usernames: list[str]) -> OfferingKeycloakGroup:
    group = world.add_group(name, backend_id=world.realm.add_path(f"/base/hpc/{name}"), scope_id=name)
    for username in usernames:
        world.realm.add_member(group.backend_id, world.realm.add_user(username, f"{username}@example.org"))
    return group


def opened(manager: Browser, world: World, **fields: str) -> AccessReview:
    base = f"/offerings/{world.offering.uuid}/reviews"
    form = parse(manager.get(base))
    assert form.select_one("input[name=group_uuids][checked]") is not None  # every linked group by default
    due = (utcnow().date() + timedelta(days=10)).isoformat()
    groups = [box["value"] for box in form.select("input[name=group_uuids]")]
    answer = manager.post(base, {"group_uuids": groups, "due": due} | fields)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    return db.session.query(AccessReview).one()


def test_a_review_is_opened_decided_row_by_row_and_closed_into_its_plan(manager: Browser, world: World) -> None:
    linked(world, "project-a", ["alice", "bob", "carol"])
    review = opened(manager, world)
    page = parse(manager.get(f"/reviews/{review.uuid}"))
    assert "0 of 3 decided" in text_of(page.select_one("#progress-words"))
    assert page.select("input[type=radio][checked]") == []  # nothing preselected
    keys = {item.username: item.key for item in db.session.query(AccessReviewItem)}

    saved = manager.post(
        f"/reviews/{review.uuid}",
        {
            f"decision-{keys['alice']}": "keep",
            f"decision-{keys['bob']}": "remove",
            f"note-{keys['bob']}": "left in June",
            f"note-{keys['alice']}": "",
        },
    )
    assert saved.status_code == 303
    page = parse(manager.get(f"/reviews/{review.uuid}"))
    assert "2 of 3 decided: 1 keep, 1 remove, 0 unsure; 1 undecided." in text_of(page.select_one("#progress-words"))
    bob = db.session.query(AccessReviewItem).filter_by(username="bob").one()
    assert (bob.decision.value, bob.note, bob.decided_by) == ("remove", "left in June", "manager")
    only = parse(manager.get(f"/reviews/{review.uuid}", query_string={"decision": "undecided"}))
    assert [text_of(row.select_one("th")).split()[0] for row in only.select("tbody tr")] == ["carol"]

    kept = manager.post(f"/reviews/{review.uuid}", {"keep_page": "1", "page_keys": list(keys.values())})
    assert kept.status_code == 303
    assert db.session.query(AccessReviewItem).filter_by(username="bob").one().decision.value == "remove"  # as it was
    assert db.session.query(AccessReviewItem).filter_by(username="carol").one().decision.value == "keep"

    confirm = parse(manager.get(f"/reviews/{review.uuid}/close"))
    assert "1 member decided “remove”" in text_of(confirm)
    closed = manager.post(f"/reviews/{review.uuid}/close", {})
    assert closed.status_code == 303
    plan = db.session.query(Plan).one()
    assert plan.kind == "review" and closed.headers["Location"].endswith(f"/plans/{plan.uuid}")
    plan_page = parse(manager.get(closed.headers["Location"]))
    assert "Decided in the access review by manager: remove. left in June" in text_of(plan_page)
    evidence = manager.get(f"/reviews/{review.uuid}/items.csv").get_data(as_text=True).splitlines()
    assert evidence[0].startswith("key,group_uuid,group_name,username,email,first_name,last_name,decision,note")
    assert any(",bob," in line and ",remove,left in June,manager," in line for line in evidence)


def test_a_bad_form_says_so_at_its_fields(manager: Browser, world: World) -> None:
    linked(world, "project-a", ["alice"])
    base = f"/offerings/{world.offering.uuid}/reviews"
    answer = manager.post(base, {"due": (utcnow().date() - timedelta(days=1)).isoformat(), "reviewers": "ghost"})
    assert answer.status_code == 400
    page = parse(answer)
    assert "Choose at least one group." in text_of(page)
    assert db.session.query(AccessReview).count() == 0
    group_uuid = db.session.query(OfferingKeycloakGroup).one().uuid
    answer = manager.post(base, {"group_uuids": group_uuid, "due": (utcnow().date()).isoformat(), "reviewers": "ghost"})
    assert answer.status_code == 400 and "No account has these usernames: ghost." in text_of(parse(answer))


def test_a_pi_reviews_their_own_group_from_the_reviews_list(manager: Browser, world: World) -> None:
    group = linked(world, "project-a", ["alice"])
    linked(world, "project-b", ["bob"])
    db.session.add(GroupManager(group=group, username="pi", created_by_name="manager"))
    db.session.commit()
    review = opened(manager, world)
    pi = manager
    pi.post("/logout", {})
    assert pi.login("pi").status_code == 303
    listed = parse(pi.get("/reviews"))
    link = listed.select_one(f"a[href='/reviews/{review.uuid}']")
    assert link is not None
    page = parse(pi.get(f"/reviews/{review.uuid}"))
    assert [text_of(row.select_one("th")).split()[0] for row in page.select("tbody tr")] == ["alice"]
    assert page.select_one(f"a[href='/reviews/{review.uuid}/close']") is None  # closing is the managers'
    assert pi.get(f"/reviews/{review.uuid}/close").status_code == 403
    assert pi.get(f"/offerings/{world.offering.uuid}/reviews").status_code == 403


def test_overview_counts_open_and_overdue_reviews_and_says_what_waits(manager: Browser, world: World) -> None:
    linked(world, "project-a", ["alice"])
    review = opened(manager, world)
    review.due = utcnow().date() - timedelta(days=2)
    db.session.commit()
    page = parse(manager.get("/overview"))
    cells = [text_of(cell) for cell in page.select("#review-counts tbody tr")[0].select("td")]
    assert cells == ["1", "1 overdue"]
    waiting = page.select_one("#reviews-waiting")
    assert waiting is not None and f"/reviews/{review.uuid}" in str(waiting)
