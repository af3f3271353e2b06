"""Access reviews on a real Keycloak (docs/PRODUCT.md §12; in the version matrix): a review of a group's members,
decided keep / remove / unsure, closed into its plan and applied: only the removed member leaves the Keycloak
group, and the evidence says who decided what and what the apply did."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask.testing import FlaskClient

from webapp.models import utcnow

from .conftest import RealWorld

REVIEWS = "/api/offering-keycloak-reviews"
PLANS = "/api/offering-keycloak-plans"


def test_a_review_removes_only_whom_it_decided_to_remove(client: FlaskClient, real: RealWorld) -> None:
    world = real.world
    headers = world.headers("manager")
    group_id = real.realm.add_path("/base/hpc/reviewed")
    group = world.add_group("reviewed", backend_id=group_id, scope_id="reviewed")
    for username in ("alice", "bob", "carol"):
        real.realm.add_member(group_id, real.realm.add_user(username, f"{username}@example.org"))

    due = (utcnow().date() + timedelta(days=7)).isoformat()
    made = client.post(
        f"{REVIEWS}/",
        json={"offering_uuid": world.offering.uuid, "group_uuids": [group.uuid], "due": due},
        headers=headers,
    )
    assert made.status_code == 201, made.json
    review = made.json
    items = {item["username"]: item for item in client.get(review["items_url"], headers=headers).json}
    assert set(items) == {"alice", "bob", "carol"}  # Keycloak's members when it opened
    decided = client.post(
        f"{REVIEWS}/{review['uuid']}/decide/",
        json={
            "decisions": {items["alice"]["key"]: "keep", items["bob"]["key"]: "remove", items["carol"]["key"]: "unsure"}
        },
        headers=headers,
    )
    assert decided.status_code == 200 and decided.json["counts"]["undecided"] == 0

    closed = client.post(f"{REVIEWS}/{review['uuid']}/close/", headers=headers)
    assert closed.status_code == 200, closed.json
    applied = client.post(
        f"{PLANS}/{closed.json['plan_uuid']}/apply/", json={"confirm": "remove 1 member"}, headers=headers
    )
    assert applied.status_code == 200, applied.json
    assert sorted(real.realm.group_members(group_id)) == ["alice", "carol"]

    evidence = client.get(review["items_url"], query_string={"format": "csv"}, headers=headers)
    rows = {row["username"]: row for row in csv.DictReader(io.StringIO(evidence.get_data(as_text=True)))}
    assert (rows["bob"]["decision"], rows["bob"]["decided_by"], rows["bob"]["outcome"]) == (
        "remove",
        "manager",
        "applied",
    )
    assert (rows["alice"]["decision"], rows["alice"]["outcome"]) == ("keep", "")
    assert rows["carol"]["decision"] == "unsure"
