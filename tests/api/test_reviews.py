"""Access reviews (docs/PRODUCT.md §12) on the fake Keycloak: open, decide, close into a review plan, apply, and
the evidence; who may do what; nothing is removed because nobody answered."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask.testing import FlaskClient

from tests.factories import World
from webapp.extensions import db
from webapp.models import (
    AccessReview,
    AccessReviewItem,
    AuditEvent,
    GroupManager,
    OfferingKeycloakGroup,
    OfferingKeycloakMembership,
    utcnow,
)

REVIEWS = "/api/offering-keycloak-reviews"
PLANS = "/api/offering-keycloak-plans"


def due(days: int = 14) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


def group_with(world: World, name: str, usernames: list[str]) -> OfferingKeycloakGroup:
    group = world.add_group(name, backend_id=world.realm.add_path(f"/base/hpc/{name}"), scope_id=name)
    for username in usernames:
        user_id = world.realm.add_user(username, f"{username}@example.org", username.title(), "Member")
        world.realm.add_member(group.backend_id, user_id)
        db.session.add(
            OfferingKeycloakMembership(group=group, username=username, state="active", keycloak_user_id=user_id)
        )
    db.session.commit()
    return group


def open_review(client: FlaskClient, world: World, who: str = "manager", **body: object) -> dict:
    made = client.post(
        f"{REVIEWS}/",
        json={"offering_uuid": world.offering.uuid, "due": due()} | body,
        headers=world.headers(who),
    )
    assert made.status_code == 201, made.json
    return made.json


def items(client: FlaskClient, world: World, review: dict, who: str = "manager", **query: str) -> dict[str, dict]:
    listed = client.get(review["items_url"], query_string={"page_size": 300} | query, headers=world.headers(who))
    assert listed.status_code == 200, listed.json
    return {item["username"]: item for item in listed.json}


def decide(client: FlaskClient, world: World, review: dict, decisions: dict, who: str = "manager", **extra: object):  # type: ignore[no-untyped-def]
    return client.post(
        f"{REVIEWS}/{review['uuid']}/decide/", json={"decisions": decisions} | extra, headers=world.headers(who)
    )


def test_a_review_decided_closed_and_applied_removes_only_the_removed(client: FlaskClient, world: World) -> None:
    group = group_with(world, "project-a", ["alice", "bob", "carol", "dave"])
    review = open_review(client, world)
    assert review["state"] == "open" and review["reviewers"] == ["manager"]  # the offering's managers by default
    assert review["counts"] == {"total": 4, "keep": 0, "remove": 0, "unsure": 0, "undecided": 4}
    found = items(client, world, review)
    assert set(found) == {"alice", "bob", "carol", "dave"} and found["alice"]["decision"] is None

    decided = decide(
        client,
        world,
        review,
        {found["alice"]["key"]: "keep", found["bob"]["key"]: "remove", found["carol"]["key"]: "unsure"},
        note="left the project in November",
    )
    assert decided.status_code == 200, decided.json
    assert decided.json["counts"] == {"total": 4, "keep": 1, "remove": 1, "unsure": 1, "undecided": 1}
    assert items(client, world, review, decision="remove").keys() == {"bob"}
    assert items(client, world, review, decision="undecided").keys() == {"dave"}
    assert items(client, world, review, q="CAR").keys() == {"carol"}

    closed = client.post(f"{REVIEWS}/{review['uuid']}/close/", headers=world.headers("manager"))
    assert closed.status_code == 200, closed.json
    assert closed.json["state"] == "closed" and closed.json["plan_uuid"] and closed.json["closed_by"] == "manager"
    plan = client.get(f"{PLANS}/{closed.json['plan_uuid']}/", headers=world.headers("manager")).json
    assert plan["kind"] == "review" and plan["summary"] == {"remove_remote": 1}
    plan_items = client.get(plan["items_url"], headers=world.headers("manager")).json
    assert [(item["username"], item["default_action"]) for item in plan_items] == [("bob", "remove_remote")]
    assert plan_items[0]["note"] == "Decided in the access review by manager: remove. left the project in November"

    braked = client.post(f"{PLANS}/{plan['uuid']}/apply/", json={}, headers=world.headers("manager"))
    assert braked.status_code == 400 and "remove 1 member" in braked.json["confirm"][0]  # the usual removal brake
    applied = client.post(
        f"{PLANS}/{plan['uuid']}/apply/", json={"confirm": "remove 1 member"}, headers=world.headers("manager")
    )
    assert applied.status_code == 200, applied.json
    members = {world.realm.users[user_id].username for user_id in world.realm.groups[group.backend_id].members}
    assert members == {"alice", "carol", "dave"}  # undecided and unsure stay
    rows = {row.username: row.state for row in db.session.query(OfferingKeycloakMembership).filter_by(group=group)}
    assert "bob" not in rows and len(rows) == 3  # revoked here too
    assert db.session.query(AuditEvent).filter_by(action="membership.deleted", object_repr="bob").count() == 1

    evidence = client.get(review["items_url"], query_string={"format": "csv"}, headers=world.headers("manager"))
    assert evidence.status_code == 200
    table = {row["username"]: row for row in csv.DictReader(io.StringIO(evidence.get_data(as_text=True)))}
    assert (table["bob"]["decision"], table["bob"]["decided_by"], table["bob"]["outcome"]) == (
        "remove",
        "manager",
        "applied",
    )
    assert table["bob"]["note"] == "left the project in November" and table["bob"]["decided_at"]
    assert (table["dave"]["decision"], table["dave"]["outcome"]) == ("", "")  # undecided, and listed as such
    assert table["carol"]["decision"] == "unsure"


def test_nobody_answered_removes_nobody(client: FlaskClient, world: World) -> None:
    group_with(world, "quiet", ["erin", "frank"])
    review = open_review(client, world)
    closed = client.post(f"{REVIEWS}/{review['uuid']}/close/", headers=world.headers("manager"))
    assert closed.status_code == 200 and closed.json["plan_uuid"] is None
    assert closed.json["counts"]["undecided"] == 2


def test_who_may_decide_and_see(client: FlaskClient, world: World) -> None:
    group = group_with(world, "project-a", ["alice"])
    other = group_with(world, "project-b", ["bob"])
    db.session.add(GroupManager(group=group, username="pi", created_by_name="manager"))
    db.session.commit()
    review = open_review(client, world)  # reviewers: the offering's managers and the groups' managers
    assert review["reviewers"] == ["manager", "pi"]
    key = items(client, world, review)["alice"]["key"]
    bob_key = items(client, world, review)["bob"]["key"]

    assert items(client, world, review, who="pi").keys() == {"alice"}  # a PI reviews their own group's members
    assert decide(client, world, review, {key: "keep"}, who="pi").status_code == 200
    refused = decide(client, world, review, {bob_key: "remove"}, who="pi")
    assert refused.status_code == 400 and "Not items of this review" in str(refused.json)
    assert decide(client, world, review, {key: "keep"}, who="sibling").status_code == 404  # not theirs to see
    other_offering = client.get(f"{REVIEWS}/{review['uuid']}/", headers=world.headers("other"))
    assert other_offering.status_code == 404
    staff = decide(client, world, review, {bob_key: "unsure"}, who="staff")
    assert staff.status_code == 200 and staff.json["counts"]["unsure"] == 1
    assert client.post(f"{REVIEWS}/{review['uuid']}/close/", headers=world.headers("pi")).status_code == 403

    only_manager = open_review(client, world, reviewers=["pi"], group_uuids=[group.uuid])
    not_reviewer = decide(client, world, only_manager, {key: "keep"}, who="manager")
    assert not_reviewer.status_code == 403 and "not one of its reviewers" in not_reviewer.json["detail"]
    assert other  # project-b is not in the second review
    assert items(client, world, only_manager).keys() == {"alice"}


def test_a_closed_review_refuses_decisions(client: FlaskClient, world: World) -> None:
    group_with(world, "project-a", ["alice"])
    review = open_review(client, world)
    key = items(client, world, review)["alice"]["key"]
    assert client.post(f"{REVIEWS}/{review['uuid']}/close/", headers=world.headers("manager")).status_code == 200
    late = decide(client, world, review, {key: "remove"})
    assert late.status_code == 409 and late.json["detail"].startswith("This review is closed")
    again = client.post(f"{REVIEWS}/{review['uuid']}/close/", headers=world.headers("manager"))
    assert again.status_code == 409
    assert db.session.query(AccessReviewItem).filter_by(decision="remove").count() == 0


def test_bad_input_is_a_400_in_words_and_stores_nothing(client: FlaskClient, world: World) -> None:
    group_with(world, "project-a", ["alice"])
    unlinked = world.add_group("unlinked", scope_id="unlinked")
    headers = world.headers("manager")
    body = {"offering_uuid": world.offering.uuid, "due": due()}
    cases = [
        (body | {"due": due(-1)}, "due", "The due date is in the past."),
        (body | {"due": due(400)}, "due", "The due date is more than 366 days away."),
        (body | {"due": "next week"}, "due", None),
        (body | {"reviewers": ["ghost"]}, "reviewers", "No account has these usernames: ghost."),
        (body | {"reviewers": ["nobody"]}, "reviewers", None),
        (body | {"group_uuids": [unlinked.uuid]}, "group_uuids", None),
        (body | {"repeat_months": 0}, "repeat_months", None),
        (body | {"offering_uuid": world.other_offering.uuid}, "offering_uuid", "Offering not found."),
    ]
    for sent, field, words in cases:
        answer = client.post(f"{REVIEWS}/", json=sent, headers=headers)
        assert answer.status_code == 400, (sent, answer.json)
        assert field in answer.json, (sent, answer.json)
        if words:
            assert answer.json[field] == [words], answer.json
    assert db.session.query(AccessReview).count() == 0

    review = open_review(client, world)
    for decisions in ({"nope": "keep"}, {}, {items(client, world, review)["alice"]["key"]: "delete"}):
        answer = decide(client, world, review, decisions)
        assert answer.status_code == 400, (decisions, answer.json)
    assert db.session.query(AccessReviewItem).filter(AccessReviewItem.decision.is_not(None)).count() == 0
    too_long = decide(client, world, review, {items(client, world, review)["alice"]["key"]: "keep"}, note="x" * 2001)
    assert too_long.status_code == 400 and "note" in too_long.json


def test_keycloak_down_when_it_opens_is_a_502_and_nothing_is_stored(client: FlaskClient, world: World) -> None:
    group_with(world, "project-a", ["alice"])
    world.realm.down = True
    answer = client.post(
        f"{REVIEWS}/", json={"offering_uuid": world.offering.uuid, "due": due()}, headers=world.headers("manager")
    )
    assert answer.status_code == 502 and answer.json["detail"].startswith("Reading the members to review failed")
    assert db.session.query(AccessReview).count() == 0


def test_a_group_manager_cannot_open_a_review(client: FlaskClient, world: World) -> None:
    group = group_with(world, "project-a", ["alice"])
    db.session.add(GroupManager(group=group, username="pi", created_by_name="manager"))
    db.session.commit()
    answer = client.post(
        f"{REVIEWS}/",
        json={"offering_uuid": world.offering.uuid, "due": due()},
        headers=world.headers("pi"),
    )
    assert answer.status_code == 403, answer.json
    assert answer.json["detail"] == (
        "Only the offering's managers may do this; you manage members of some of its groups."
    )
    assert db.session.query(AccessReview).count() == 0


def test_the_list_and_its_csv(client: FlaskClient, world: World) -> None:
    group_with(world, "project-a", ["alice", "bob"])
    review = open_review(client, world)
    listed = client.get(
        f"{REVIEWS}/", query_string={"offering_uuid": world.offering.uuid}, headers=world.headers("manager")
    )
    assert listed.status_code == 200 and [row["uuid"] for row in listed.json] == [review["uuid"]]
    assert listed.json[0]["counts"]["total"] == 2
    assert client.get(f"{REVIEWS}/", headers=world.headers("other")).json == []
    exported = client.get(f"{REVIEWS}/", query_string={"format": "csv"}, headers=world.headers("manager"))
    assert exported.status_code == 200 and review["uuid"] in exported.get_data(as_text=True)
    assert (
        client.get(f"{REVIEWS}/", query_string={"state": "shut"}, headers=world.headers("manager")).status_code == 400
    )
