"""Preview → review → apply → result in the browser-less client (plain forms, CSRF on, no JavaScript)."""

from __future__ import annotations

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership, Plan


def linked_group_with_drift(world: World) -> tuple[OfferingKeycloakGroup, str, dict[str, str]]:
    remote_id = world.realm.add_path("/base/hpc/users")
    group = world.add_group("users", backend_id=remote_id)
    ids = {}
    for name in ("alice", "bob", "<img src=x onerror=alert(1)>"):
        ids[name] = world.realm.add_user(name, f"{name[:5]}@example.org", name.title(), "Tester")
        world.realm.add_member(remote_id, ids[name])
    db.session.add(OfferingKeycloakMembership(group=group, username="carol", state="active", email="c@example.org"))
    db.session.commit()
    return group, remote_id, ids


def preview(manager, world: World, group: OfferingKeycloakGroup):
    return manager.post(f"/offerings/{world.offering.uuid}/plans", {"kind": "members", "group_uuids": group.uuid})


def usernames() -> dict[str, str]:
    db.session.expire_all()
    return {m.username: m.state for m in db.session.query(OfferingKeycloakMembership)}


def test_the_group_page_offers_a_preview_and_the_plan_page_shows_it(manager, world: World) -> None:
    group, _remote_id, _ids = linked_group_with_drift(world)
    page = manager.get(f"/offerings/{world.offering.uuid}/groups/{group.uuid}").get_data(as_text=True)
    assert "Preview sync" in page
    response = preview(manager, world, group)
    assert response.status_code == 303
    plan = db.session.query(Plan).one()
    assert response.headers["Location"].endswith(f"/plans/{plan.uuid}")
    html = manager.get(response.headers["Location"]).get_data(as_text=True)
    doc = parse(html)
    assert text_of(doc.select_one("h2#plan-heading")) == "Preview: pull members into 1 group"
    assert text_of(doc.select_one("#plan-summary")) == "+3 to add · \u22121 missing in Keycloak"
    assert doc.select_one("#apply-button").get_text() == "Apply 4 changes"
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html  # names are text
    labels = [text_of(label) for label in doc.select("label.visually-hidden, legend.visually-hidden")]
    assert "Include: add alice to users here" in labels
    assert usernames() == {"carol": "active"}  # nothing written by the preview


def test_apply_a_partial_selection_without_javascript(manager, world: World) -> None:
    group, remote_id, ids = linked_group_with_drift(world)
    location = preview(manager, world, group).headers["Location"]
    plan = db.session.query(Plan).one()
    keys = {username: f"{group.uuid}:{username}" for username in ("alice", "bob", "carol")}
    form = {
        "shown": list(keys.values()),
        f"pick:{keys['alice']}": "add_local",
        f"pick:{keys['bob']}": "",  # left as is
        f"pick:{keys['carol']}": "flag_removed",
    }
    manager.get(location)
    response = manager.post(f"{location}/apply", form)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/plans/{plan.uuid}/result")
    states = usernames()
    assert states["alice"] == "active" and "bob" not in states and states["carol"] == "removed_remotely"
    assert "<img src=x onerror=alert(1)>" in states  # not shown on the form, so its default applied
    result = parse(manager.get(response.headers["Location"]).get_data(as_text=True))
    assert text_of(result.select_one("h2#result-heading")).startswith("Partly applied: 2 add here, 1 flag as removed")
    assert "Not selected" in text_of(result.select_one("table"))
    assert ids and remote_id


def test_removing_in_keycloak_asks_first_then_applies(manager, world: World) -> None:
    group, remote_id, ids = linked_group_with_drift(world)
    location = preview(manager, world, group).headers["Location"]
    key = f"{group.uuid}:alice"
    manager.get(location)
    form = {"shown": [key], f"pick:{key}": "remove_remote"}
    asked = manager.post(f"{location}/apply", form)
    assert asked.status_code == 200
    doc = parse(asked.get_data(as_text=True))
    dialog = doc.select_one("[role=alertdialog]")
    assert text_of(dialog.select_one("h3")) == "Remove 1 member from Keycloak?"
    assert "remove 1 member" in text_of(dialog)  # one of three members is more than 10 %: the brake trips
    assert ids["alice"] in world.realm.groups[remote_id].members
    wrong = manager.post(f"{location}/apply", form | {"confirmed": "1", "confirm_text": "ok"})
    assert wrong.status_code == 400
    assert "Type 'remove 1 member' to confirm." in text_of(parse(wrong.get_data(as_text=True)))
    done = manager.post(f"{location}/apply", form | {"confirmed": "1", "confirm_text": "remove 1 member"})
    assert done.status_code == 303
    assert ids["alice"] not in world.realm.groups[remote_id].members


def test_a_stale_preview_says_so_and_offers_to_preview_again(manager, world: World) -> None:
    group, remote_id, _ids = linked_group_with_drift(world)
    location = preview(manager, world, group).headers["Location"]
    world.realm.add_member(remote_id, world.realm.add_user("late", "late@example.org"))
    manager.get(location)
    response = manager.post(f"{location}/apply", {})
    assert response.status_code == 409
    html = text_of(parse(response.get_data(as_text=True)))
    assert "Keycloak changed since this preview: users: 4 members in Keycloak, 3 at preview. Preview again." in html
    assert usernames() == {"carol": "active"}
    again = manager.post(f"{location}/again", {})
    assert again.status_code == 303 and db.session.query(Plan).count() == 2
    assert "+4 to add" in manager.get(again.headers["Location"]).get_data(as_text=True)


def test_bulk_import_is_a_preview_first(manager, world: World) -> None:
    first = world.realm.add_path("/base/hpc/team-a")
    second = world.realm.add_path("/base/hpc/team-b")
    response = manager.post(
        f"/offerings/{world.offering.uuid}/groups/bulk-import",
        {
            "bulk-csrf_token": manager.token,
            "bulk-remote_group_ids": [first, second],
            "bulk-role": world.member_role.uuid,
            "bulk-resource": "",
        },
    )
    assert response.status_code == 303 and "/plans/" in response.headers["Location"]
    assert db.session.query(OfferingKeycloakGroup).count() == 0
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "+2 to import" in page and "/base/hpc/team-a" in page
    applied = manager.post(f"{response.headers['Location']}/apply", {})
    assert applied.status_code == 303
    assert sorted(g.name for g in db.session.query(OfferingKeycloakGroup)) == ["team-a", "team-b"]


def test_groups_page_shows_link_suggestions_and_reviews_them(manager, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/gamma")
    group = world.add_group("Gamma", scope_id="g")
    html = manager.get(f"/offerings/{world.offering.uuid}/groups").get_data(as_text=True)
    assert "Suggested:" in html and "/base/hpc/gamma — same name" in html
    assert "Review all 1 link suggestion" in html
    response = manager.post(f"/offerings/{world.offering.uuid}/plans", {"kind": "links"})
    assert response.status_code == 303
    assert manager.post(f"{response.headers['Location']}/apply", {}).status_code == 303
    db.session.expire_all()
    assert db.session.get(OfferingKeycloakGroup, group.id).backend_id == remote_id


def test_discard_and_other_managers(manager, world: World, client) -> None:
    group, _remote_id, _ids = linked_group_with_drift(world)
    location = preview(manager, world, group).headers["Location"]
    assert manager.post(f"{location}/discard", {}).status_code == 303
    assert db.session.query(Plan).one().state == "discarded"
    html = manager.get(location).get_data(as_text=True)
    assert "This preview was discarded." in html and "apply-button" not in html


def test_plan_and_result_pages_are_paged_and_keep_the_filters(manager, world: World, monkeypatch) -> None:
    from webapp.ui import plan_rows

    monkeypatch.setattr(plan_rows, "PAGE_SIZE", 2)
    group, _remote_id, _ids = linked_group_with_drift(world)
    location = preview(manager, world, group).headers["Location"]
    first = parse(manager.get(f"{location}?show_unchanged=1"))
    assert len(first.select("table tbody tr")) == 2 and "Page 1 of 2" in text_of(first.select_one(".pager"))
    following = str(first.select_one('.pager a[rel="next"]')["href"])
    assert "page=2" in following and "show_unchanged=1" in following
    second = parse(manager.get(following))
    assert len(second.select("table tbody tr")) == 2
    assert text_of(second.select_one("#plan-summary")) == "+3 to add · \u22121 missing in Keycloak"  # all pages
