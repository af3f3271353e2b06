"""The pages of a group manager (docs/PRODUCT.md §13): My groups, their group's page with Grant access and
Remove, and the offering managers' Group managers section."""

from __future__ import annotations

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import GroupManager, OfferingKeycloakGroup, OfferingKeycloakMembership

from .conftest import Browser


def delegated_group(world: World, name: str = "project-a", username: str = "pi") -> OfferingKeycloakGroup:
    group = world.add_group(name, backend_id=world.realm.add_path(f"/base/hpc/{name}"), scope_id=name)
    db.session.add(GroupManager(group=group, username=username, created_by_name="manager"))
    db.session.commit()
    return group


def group_url(world: World, group: OfferingKeycloakGroup) -> str:
    return f"/offerings/{world.offering.uuid}/groups/{group.uuid}"


def members_in_keycloak(world: World, group: OfferingKeycloakGroup) -> list[str]:
    return sorted(world.realm.users[user_id].username for user_id in world.realm.groups[group.backend_id].members)


def signed_in(browser: Browser, username: str) -> Browser:
    assert browser.login(username).status_code == 303
    browser.get("/")
    return browser


def test_my_groups_lists_the_delegated_groups_and_links_their_pages(browser: Browser, world: World) -> None:
    own = delegated_group(world)
    delegated_group(world, "project-b", username="siblingpi")
    page = parse(signed_in(browser, "pi").get("/my-groups"))
    rows = page.select("tbody tr")
    assert [text_of(row.select_one("td")) for row in rows] == ["project-a"]
    assert rows[0].select_one("a")["href"] == group_url(world, own)
    assert "HPC Cluster" in text_of(rows[0])


def test_my_groups_says_when_nothing_is_delegated(manager: Browser) -> None:
    assert "No group is delegated to you" in text_of(parse(manager.get("/my-groups")))


def test_a_group_managers_page_offers_members_work_only(browser: Browser, world: World) -> None:
    own = delegated_group(world)
    page = parse(signed_in(browser, "pi").get(group_url(world, own)))
    assert page.select_one("nav.tabs") is None  # the offering's tabs are its managers'
    assert page.select_one(".crumbs a")["href"] == "/my-groups"
    assert page.select_one("#grant-heading") is not None
    assert page.select_one("#managers-heading") is None
    assert "Preview sync" in text_of(page) and "Pull members" in text_of(page)


def test_a_group_manager_grants_and_removes_on_the_group_page(browser: Browser, world: World) -> None:
    own = delegated_group(world)
    world.realm.add_user("student", "student@example.org")
    pi = signed_in(browser, "pi")
    pi.get(group_url(world, own))
    granted = pi.post(
        f"{group_url(world, own)}/members",
        {"grant-csrf_token": pi.token, "grant-username": "Student", "grant-email": ""},
    )
    assert granted.status_code == 303 and granted.headers["Location"] == group_url(world, own)
    assert members_in_keycloak(world, own) == ["student"]
    page = parse(pi.get(group_url(world, own)))
    assert "student is now a member (added in Keycloak)." in text_of(page)
    membership = db.session.query(OfferingKeycloakMembership).one()
    remove_url = f"{group_url(world, own)}/members/{membership.uuid}/remove"
    assert page.select_one(f'a[href="{remove_url}"]') is not None
    confirm = parse(pi.get(remove_url))
    assert "Remove student from “project-a”?" in text_of(confirm)
    assert members_in_keycloak(world, own) == ["student"]  # asking changes nothing
    removed = pi.post(remove_url)
    assert removed.status_code == 303 and members_in_keycloak(world, own) == []
    assert db.session.query(OfferingKeycloakMembership).count() == 0


def test_a_grant_that_fails_says_why_on_the_group_page(browser: Browser, world: World) -> None:
    own = delegated_group(world)
    world.realm.down = True
    pi = signed_in(browser, "pi")
    pi.get(group_url(world, own))
    pi.post(f"{group_url(world, own)}/members", {"grant-csrf_token": pi.token, "grant-username": "student"})
    world.realm.down = False
    assert "Access was not granted:" in text_of(parse(pi.get(group_url(world, own))))
    assert db.session.query(OfferingKeycloakMembership).count() == 0


def test_the_offering_manager_adds_and_removes_group_managers(manager: Browser, world: World) -> None:
    group = world.add_group("project-a", backend_id=world.realm.add_path("/base/hpc/project-a"), scope_id="a")
    page = parse(manager.get(group_url(world, group)))
    assert "Nobody but the offering's managers manages this group." in text_of(
        page.select_one("#managers-heading").parent
    )
    added = manager.post(
        f"{group_url(world, group)}/managers", {"delegate-csrf_token": manager.token, "delegate-username": "pi"}
    )
    assert added.status_code == 303
    page = parse(manager.get(group_url(world, group)))
    assert "pi now manages the members of “project-a”." in text_of(page)
    delegation = db.session.query(GroupManager).one()
    remove_url = f"{group_url(world, group)}/managers/{delegation.uuid}/remove"
    assert page.select_one(f'a[href="{remove_url}"]') is not None
    manager.post(
        f"{group_url(world, group)}/managers", {"delegate-csrf_token": manager.token, "delegate-username": "ghost"}
    )
    assert "Not added as a group manager: No account and no Keycloak user is named ghost." in text_of(
        parse(manager.get(group_url(world, group)))
    )
    assert "no longer sees this group" in text_of(parse(manager.get(remove_url)))
    assert db.session.query(GroupManager).count() == 1  # asking changes nothing
    assert manager.post(remove_url).status_code == 303
    assert db.session.query(GroupManager).count() == 0


def test_ending_a_delegation_closes_the_pages_on_the_next_request(browser: Browser, world: World) -> None:
    own = delegated_group(world)
    pi = signed_in(browser, "pi")
    assert pi.get(group_url(world, own)).status_code == 200
    db.session.query(GroupManager).delete()
    db.session.commit()
    assert pi.get(group_url(world, own)).status_code == 404
    assert pi.get("/my-groups").status_code == 200


def test_the_home_page_leads_a_group_manager_to_their_groups(browser: Browser, world: World) -> None:
    delegated_group(world)
    page = parse(signed_in(browser, "pi").get("/"))
    assert "You do not manage any offering yet" not in text_of(page)
    assert "You manage the members of 1 group: My groups" in text_of(page)
    assert page.select_one('main a[href="/my-groups"], #main a[href="/my-groups"]') is not None


def test_the_group_page_grants_until_a_date_renews_and_sets_the_policy(manager: Browser, world: World) -> None:
    group = delegated_group(world)
    world.realm.add_user("student", "student@example.org")
    manager.get(group_url(world, group))
    saved = manager.post(
        f"{group_url(world, group)}/policy",
        {"policy-csrf_token": manager.token, "policy-default_days": "30", "policy-max_days": "400"},
    )
    assert saved.status_code == 303
    db.session.expire_all()
    assert (group.default_days, group.max_days) == (30, 400)
    manager.post(
        f"{group_url(world, group)}/members",
        {"grant-csrf_token": manager.token, "grant-username": "student", "grant-expires_on": "2999-01-01"},
    )
    assert db.session.query(OfferingKeycloakMembership).count() == 0  # 2999 is past the maximum: refused
    page = parse(manager.get(group_url(world, group)))
    assert "Access was not granted: At most 400 days from now in project-a" in text_of(page)
    manager.post(
        f"{group_url(world, group)}/members",
        {"grant-csrf_token": manager.token, "grant-username": "student", "grant-expires_on": ""},
    )
    membership = db.session.query(OfferingKeycloakMembership).one()
    assert membership.expires_at is not None  # the default, 30 days
    renew_url = f"{group_url(world, group)}/members/{membership.uuid}/renew"
    page = parse(manager.get(group_url(world, group)))
    assert page.select_one(f'a[href="{renew_url}"]') is not None
    assert "How long access lasts" in text_of(page)
    manager.get(renew_url)
    renewed = manager.post(renew_url, {"expires_on": "2027-06-30"})
    assert renewed.status_code == 303
    db.session.expire_all()
    assert membership.expires_at is not None and f"{membership.expires_at:%Y-%m-%d %H:%M}" == "2027-06-30 23:59"
    refused = manager.post(renew_url, {"expires_on": "2020-01-01"})
    assert refused.status_code == 400 and "Choose a time in the future." in text_of(parse(refused))


def test_the_members_tab_shows_when_access_ends_and_filters_by_it(manager: Browser, world: World) -> None:
    from datetime import timedelta

    from webapp.models import utcnow

    group = world.add_group("course", backend_id=world.realm.add_path("/base/hpc/course"), scope_id="course")
    for username, ends_in, state in (
        ("soon", timedelta(days=3), "active"),
        ("later", timedelta(days=60), "active"),
        ("forever", None, "active"),
        ("gone", timedelta(days=-1), "expired"),
    ):
        expires = utcnow() + ends_in if ends_in is not None else None
        db.session.add(OfferingKeycloakMembership(group=group, username=username, state=state, expires_at=expires))
    db.session.commit()
    base = f"/offerings/{world.offering.uuid}/members"
    page = parse(manager.get(base))
    headings = [text_of(cell) for cell in page.select("#member-list thead th")]
    assert "Access ends" in headings
    assert "Expired · 1" in [text_of(chip) for chip in page.select("#member-list a.chip")]
    soon = parse(manager.get(f"{base}?ends=7"))
    assert [text_of(row.select("td")[1]) for row in soon.select("#member-list tbody tr")] == ["soon"]
    month = parse(manager.get(f"{base}?ends=90"))
    assert sorted(text_of(row.select("td")[1]) for row in month.select("#member-list tbody tr")) == ["later", "soon"]
    ignored = parse(manager.get(f"{base}?ends=12"))  # not one of the choices: no filter
    assert len(ignored.select("#member-list tbody tr")) == 4
