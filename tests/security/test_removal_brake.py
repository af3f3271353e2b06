"""The Members tab's bulk removal obeys the removal brake like a plan apply does (item 9 of the security issue).

"Remove all N matching" used to take everyone the filters matched out of their Keycloak groups after one
click on a confirmation page, however many they were, while a plan that removes more than
OKG_PLAN_REMOVAL_BRAKE members asks for a typed phrase. Here the form is posted as a script (or a
forged click) would, straight to the removal, without the phrase or with a wrong one.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World
from tests.signin import send
from webapp.extensions import db
from webapp.models import OfferingKeycloakMembership

from .matrix import sign_in


@pytest.fixture
def team(world: World) -> str:
    """Twelve active members of one linked group, each in the Keycloak group too; the Keycloak group's id."""
    remote_id = world.realm.add_path("/base/hpc/team")
    group = world.add_group("team", backend_id=remote_id, scope_id="team")
    for index in range(12):
        user_id = world.realm.add_user(f"t{index:02d}", f"t{index:02d}@example.org")
        world.realm.add_member(remote_id, user_id)
        db.session.add(
            OfferingKeycloakMembership(group=group, username=f"t{index:02d}", state="active", keycloak_user_id=user_id)
        )
    db.session.commit()
    return remote_id


@pytest.mark.parametrize("typed", [None, "", "yes", "remove 5 members", "REMOVE 12 MEMBERS"])
def test_remove_all_matching_without_the_phrase_removes_nobody(
    app: Flask, client: FlaskClient, world: World, team: str, typed: str | None
) -> None:
    app.config["PLAN_REMOVAL_BRAKE"] = 5
    csrf = sign_in(client, "manager")
    form = {"csrf_token": csrf, "all": "1", "expected": "12", "confirm": "y"}
    if typed is not None:
        form["confirm_text"] = typed
    response = send(client, "POST", f"/offerings/{world.offering.uuid}/members/remove", data=form)
    assert response.status_code == 400
    assert "Type &#39;remove 12 members&#39; to confirm." in response.get_data(as_text=True)
    assert len(world.realm.groups[team].members) == 12
    db.session.expire_all()
    assert db.session.query(OfferingKeycloakMembership).count() == 12


def test_the_phrase_is_the_plans_and_follows_the_setting(
    app: Flask, client: FlaskClient, world: World, team: str
) -> None:
    csrf = sign_in(client, "manager")
    url = f"/offerings/{world.offering.uuid}/members/remove"
    app.config["PLAN_REMOVAL_BRAKE"] = 12  # twelve at once is allowed now: no phrase asked
    page = send(client, "GET", f"{url}?all=1").get_data(as_text=True)
    assert 'name="confirm_text"' not in page
    app.config["PLAN_REMOVAL_BRAKE"] = 11
    page = send(client, "GET", f"{url}?all=1").get_data(as_text=True)
    assert "Type “remove 12 members” to confirm" in page and "more than 11 at once" in page
    form = {"csrf_token": csrf, "all": "1", "expected": "12", "confirm": "y", "confirm_text": "remove 12 members"}
    assert send(client, "POST", url, data=form).status_code == 303
    assert world.realm.groups[team].members == []
