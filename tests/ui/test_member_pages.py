"""A group page of any size: a page of local members and a page of Keycloak members, searched, with counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import event, insert

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import OfferingKeycloakGroup, OfferingKeycloakMembership, new_uuid, utcnow

PER_PAGE = 10


@pytest.fixture(autouse=True)
def small_pages(app: Flask) -> None:
    app.config["MEMBERS_PAGE_SIZE"] = PER_PAGE


def crowd(world: World, remote: int, local: int, name: str = "crowd") -> OfferingKeycloakGroup:
    """A linked group with `remote` members in Keycloak (u000…) and `local` of them recorded here."""
    group_id = world.realm.add_path(f"/base/hpc/{name}")
    world.realm.add_users_bulk(
        [{"username": f"u{i:03d}", "email": f"u{i:03d}@example.org", "first_name": f"F{i}"} for i in range(remote)],
        [f"/base/hpc/{name}"],
    )
    group = world.add_group(name, backend_id=group_id, scope_id=name)
    rows = [
        {
            "uuid": new_uuid(),
            "group_id": group.id,
            "username": f"u{i:03d}",
            "email": f"u{i:03d}@example.org",
            "state": "active",
        }
        for i in range(local)
    ]
    if rows:
        db.session.execute(insert(OfferingKeycloakMembership), rows)
        db.session.commit()
    return group


def group_url(world: World, group: OfferingKeycloakGroup, query: str = "") -> str:
    return f"/offerings/{world.offering.uuid}/groups/{group.uuid}{query}"


@contextmanager
def counted_sql(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, many):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db.engines[None]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def headings(html: str) -> list[str]:
    return [text_of(h3) for h3 in parse(html).select("#member-panels h3")]


def test_both_sides_are_paged_with_counts_in_the_headings(manager, world: World) -> None:
    group = crowd(world, remote=25, local=23)
    never_pulled = parse(manager.get(group_url(world, group)))
    assert [text_of(h) for h in never_pulled.select("#member-panels h3")] == ["Local members · 23", "In Keycloak"]
    assert "this group was never pulled" in text_of(never_pulled.select_one("#keycloak-members"))
    assert manager.post(f"{group_url(world, group)}/pull", {}).status_code == 303  # the pull counts them
    page = parse(manager.get(group_url(world, group)))
    assert [text_of(h) for h in page.select("#member-panels h3")] == ["Local members · 25", "In Keycloak · about 25"]
    assert "its size at the last pull" in text_of(page.select_one("#keycloak-members"))
    assert len(page.select("#local-members tbody tr")) == PER_PAGE
    assert len(page.select("#keycloak-members tbody tr")) == PER_PAGE
    assert "Page 1 of 3" in text_of(page.select_one("#local-members .pager"))
    assert "recorded here" in text_of(page.select_one("#keycloak-members tbody tr"))
    assert "Preview sync of about 25 members" in text_of(page)

    last = parse(manager.get(group_url(world, group, "?kpage=3")))
    rows = last.select("#keycloak-members tbody tr")
    assert [text_of(row.select_one("td")) for row in rows] == ["u020", "u021", "u022", "u023", "u024"]
    assert "In Keycloak · 25" in text_of(last)  # the end is in sight: the count is exact
    assert [text_of(row) for row in last.select("#keycloak-members tbody tr td:last-child")][-1] == "recorded here"
    nav = last.select_one("#keycloak-members .pager")
    assert nav is not None and nav.select_one('a[rel="next"]') is None
    assert "kpage=2" in str(nav.select_one('a[rel="prev"]')["href"])


def test_each_pager_link_keeps_the_other_side_and_the_search_in_the_url(manager, world: World) -> None:
    group = crowd(world, remote=40, local=40)
    page = parse(manager.get(group_url(world, group, "?q=u0&page=2&kpage=3")))
    local_next = str(page.select_one('#local-members a[rel="next"]')["href"])
    remote_next = str(page.select_one('#keycloak-members a[rel="next"]')["href"])
    assert "page=3" in local_next and "kpage=3" in local_next and "q=u0" in local_next
    assert "kpage=4" in remote_next and "page=2" in remote_next and "q=u0" in remote_next
    assert page.select_one('#local-members a[rel="next"]')["hx-push-url"] == "true"


def test_search_filters_local_rows_and_lists_matching_keycloak_accounts(manager, world: World) -> None:
    group = crowd(world, remote=30, local=12)
    world.realm.add_user("u015-twin", "twin@example.org")  # in the realm, not in the group
    html = manager.get(group_url(world, group, "?q=U01")).get_data(as_text=True)
    assert headings(html) == ["Local members · 12 · 2 match “U01”", "Keycloak accounts · 11 match “U01”"]
    page = parse(html)
    local = [text_of(row.select_one("td")) for row in page.select("#local-members tbody tr")]
    assert local == ["u010", "u011"]
    remote = {
        text_of(row.select("td")[0]): text_of(row.select("td")[3]) for row in page.select("#keycloak-members tbody tr")
    }
    assert remote["u011"] == "recorded here" and remote["u015"] == "not recorded here"
    assert "cannot search inside a group" in text_of(page.select_one("#keycloak-members"))
    assert page.select_one("#member-search")["value"] == "U01"


def test_htmx_search_answers_the_panels_only(manager, world: World) -> None:
    group = crowd(world, remote=5, local=5)
    response = manager.get(
        group_url(world, group, "?q=u003"), headers={"HX-Request": "true", "HX-Target": "member-panels"}
    )
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="member-panels"' in html and "u003" in html and "u004" not in html


def test_a_local_pager_does_not_read_keycloak(manager, world: World) -> None:
    group = crowd(world, remote=15, local=15)
    world.realm.down = True
    response = manager.get(
        group_url(world, group, "?page=2"), headers={"HX-Request": "true", "HX-Target": "local-members"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="keycloak-members"' not in html
    assert "u010" in html and "Cannot connect" not in html


def test_keycloak_down_keeps_the_local_side(manager, world: World) -> None:
    group = crowd(world, remote=3, local=3)
    world.realm.down = True
    page = parse(manager.get(group_url(world, group)))
    assert "u001" in text_of(page.select_one("#local-members"))
    assert "Cannot connect to Keycloak" in text_of(page.select_one("#keycloak-members"))


def test_work_per_view_does_not_grow_with_the_group(app: Flask, manager, world: World) -> None:
    small = crowd(world, remote=12, local=12, name="small")
    big = crowd(world, remote=300, local=300, name="big")
    urls = [group_url(world, group) for group in (small, big)]
    costs = []
    for url in urls:
        db.session.expunge_all()  # the tests share one session: start each view as a fresh request would
        before = world.realm.calls
        with counted_sql(app) as statements:
            assert manager.get(url).status_code == 200
        costs.append((len(statements), world.realm.calls - before))
    assert costs[0] == costs[1]


def test_page_past_the_end_and_nonsense_pages(manager, world: World) -> None:
    group = crowd(world, remote=5, local=5)
    page = parse(manager.get(group_url(world, group, "?page=9&kpage=9")))
    assert "past the last one" in text_of(page.select_one("#local-members"))
    assert "past the last one" in text_of(page.select_one("#keycloak-members"))
    prev = page.select_one('#local-members a[rel="prev"]')
    assert prev is not None and "page=8" in str(prev["href"])
    for nonsense in ("?page=-4", "?page=abc", "?kpage=99999999999999999999", "?q=" + "x" * 5000):
        assert manager.get(group_url(world, group, nonsense)).status_code == 200


def test_history_restore_gets_the_whole_page(manager, world: World) -> None:
    group = crowd(world, remote=3, local=3)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Target": "local-members"}
    assert "<html" in manager.get(group_url(world, group, "?page=1"), headers=headers).get_data(as_text=True)


def test_unlinked_group_shows_local_members_only(manager, world: World) -> None:
    group = world.add_group("unlinked")
    db.session.add(OfferingKeycloakMembership(group_id=group.id, username="solo", state="pending"))
    db.session.commit()
    page = parse(manager.get(group_url(world, group)))
    assert "Local members · 1" in text_of(page) and "Link this group to see its Keycloak members." in text_of(page)


# ------------------------------------------------------------------------------------------ Members tab


def members_url(world: World, query: str = "") -> str:
    return f"/offerings/{world.offering.uuid}/members{query}"


def chips(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [text_of(chip) for chip in page.select('nav[aria-label="Member states"] a')]


def test_members_tab_is_paged_with_state_counts_from_the_database(manager, world: World) -> None:
    group = crowd(world, remote=0, local=23)
    db.session.add(OfferingKeycloakMembership(group_id=group.id, username="waiting", state="pending"))
    db.session.commit()
    page = parse(manager.get(members_url(world)))
    assert chips(page) == ["All · 24", "Active · 23", "Pending · 1", "Removed in Keycloak · 0", "Expired · 0"]
    assert len(page.select("#member-list tbody tr")) == PER_PAGE
    assert "Page 1 of 3" in text_of(page.select_one("#member-list .pager"))
    pending = parse(manager.get(members_url(world, "?state=pending")))
    assert [text_of(row.select("td")[1]) for row in pending.select("#member-list tbody tr")] == ["waiting"]
    assert chips(pending)[2] == "Pending · 1" and pending.select_one('a[aria-current="true"]') is not None
    searched = parse(manager.get(members_url(world, "?q=u01")))
    assert chips(searched)[:2] == ["All · 10", "Active · 10"]  # counts follow the search, over all pages
    assert "10 matching of 24 members." in text_of(searched)


def test_members_tab_filters_by_group(manager, world: World) -> None:
    first = crowd(world, remote=0, local=3, name="first")
    other = world.add_group("other", scope_id="other")
    db.session.add(OfferingKeycloakMembership(group_id=other.id, username="elsewhere", state="active"))
    db.session.commit()
    page = parse(manager.get(members_url(world, f"?group={other.uuid}")))
    assert [text_of(row.select("td")[1]) for row in page.select("#member-list tbody tr")] == ["elsewhere"]
    options = [text_of(option) for option in page.select("#members-group option")]
    assert options == ["All groups", "first", "other"]
    assert first.uuid in str(page)


def test_members_htmx_filter_answers_the_list_only(manager, world: World) -> None:
    crowd(world, remote=0, local=12)
    html = manager.get(members_url(world, "?q=u011"), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in html and 'id="member-list"' in html and "u011" in html and "u010" not in html


def test_remove_all_matching_names_the_count_and_checks_it(manager, world: World) -> None:
    group = crowd(world, remote=0, local=60)
    confirm = parse(manager.get(f"/offerings/{world.offering.uuid}/members/remove?all=1&q=u0"))
    assert text_of(confirm.select_one("h2")) == "Remove all 60 matching members?"
    assert "… and 10 more." in text_of(confirm)
    assert "Remove 60 members" in text_of(confirm.select_one("main button.button-danger"))
    form = {"all": "1", "q": "u0", "confirm": "y", "confirm_text": "remove 60 members"}
    changed = manager.post(f"/offerings/{world.offering.uuid}/members/remove", {**form, "expected": "59"})
    assert changed.status_code == 409 and "changed since you confirmed: 60 now" in changed.get_data(as_text=True)
    assert db.session.query(OfferingKeycloakMembership).filter_by(group_id=group.id).count() == 60
    done = manager.post(f"/offerings/{world.offering.uuid}/members/remove", {**form, "expected": "60"})
    assert done.status_code == 303
    assert db.session.query(OfferingKeycloakMembership).filter_by(group_id=group.id).count() == 0


def phrase_field(page):  # type: ignore[no-untyped-def]
    return page.select_one('main input[name="confirm_text"]')


@pytest.mark.parametrize("how", ["all matching", "selected"])
def test_removing_more_than_the_brake_needs_the_typed_phrase(app: Flask, manager, world: World, how: str) -> None:
    app.config["PLAN_REMOVAL_BRAKE"] = 5
    remote_id = world.realm.add_path("/base/hpc/braked")
    ids = [world.realm.add_user(f"b{i:02d}", f"b{i:02d}@example.org") for i in range(12)]
    for user_id in ids:
        world.realm.add_member(remote_id, user_id)
    group = world.add_group("braked", backend_id=remote_id, scope_id="braked")
    for index, user_id in enumerate(ids):
        db.session.add(
            OfferingKeycloakMembership(group=group, username=f"b{index:02d}", state="active", keycloak_user_id=user_id)
        )
    db.session.commit()
    url = f"/offerings/{world.offering.uuid}/members/remove"
    uuids = [m.uuid for m in db.session.query(OfferingKeycloakMembership).order_by("username")]
    if how == "all matching":
        confirm, form = parse(manager.get(f"{url}?all=1&q=b")), {"all": "1", "q": "b", "expected": "12"}
    else:
        confirm, form = parse(manager.get(f"{url}?" + "&".join(f"m={u}" for u in uuids))), {"memberships": uuids}
    field = phrase_field(confirm)
    assert field is not None and field.has_attr("required")
    label = confirm.select_one(f'label[for="{field["id"]}"]')
    assert text_of(label) == "Type “remove 12 members” to confirm"
    assert "more than 5 at once" in text_of(confirm)

    for typed in ("", "remove 11 members", "yes"):
        refused = manager.post(url, {**form, "confirm": "y", "confirm_text": typed})
        assert refused.status_code == 400
        page = parse(refused)
        kept = phrase_field(page)
        assert kept is not None and kept.get("value", "") == typed and kept["aria-invalid"] == "true"
        error = page.select_one(f"#{kept['id']}-error")
        assert text_of(error).startswith("Type 'remove 12 members' to confirm.")
        assert db.session.query(OfferingKeycloakMembership).count() == 12
        assert len(world.realm.groups[remote_id].members) == 12

    done = manager.post(url, {**form, "confirm": "y", "confirm_text": "  remove 12 members "})
    assert done.status_code == 303
    assert db.session.query(OfferingKeycloakMembership).count() == 0
    assert world.realm.groups[remote_id].members == []


def test_removing_up_to_the_brake_asks_no_phrase(app: Flask, manager, world: World) -> None:
    app.config["PLAN_REMOVAL_BRAKE"] = 5
    crowd(world, remote=0, local=5)
    confirm = parse(manager.get(f"/offerings/{world.offering.uuid}/members/remove?all=1"))
    assert text_of(confirm.select_one("h2")) == "Remove all 5 matching members?"
    assert phrase_field(confirm) is None


def test_remove_all_is_refused_above_the_limit(app: Flask, manager, world: World) -> None:
    crowd(world, remote=0, local=12)
    app.config["BACKGROUND_THRESHOLD"] = 10
    response = manager.post(
        f"/offerings/{world.offering.uuid}/members/remove", {"all": "1", "confirm": "y", "expected": "12"}
    )
    assert response.status_code == 400 and "narrow the filters" in response.get_data(as_text=True)
    assert db.session.query(OfferingKeycloakMembership).count() == 12


def test_remove_selection_of_the_page(manager, world: World) -> None:
    crowd(world, remote=0, local=3)
    uuids = [m.uuid for m in db.session.query(OfferingKeycloakMembership).order_by("username")][:2]
    query = "&".join(f"m={uuid}" for uuid in uuids)
    confirm = parse(manager.get(f"/offerings/{world.offering.uuid}/members/remove?{query}"))
    assert text_of(confirm.select_one("h2")) == "Remove 2 members?"
    response = manager.post(f"/offerings/{world.offering.uuid}/members/remove", {"memberships": uuids, "confirm": "y"})
    assert response.status_code == 303
    assert [m.username for m in db.session.query(OfferingKeycloakMembership)] == ["u002"]


def test_activity_is_paged_and_keeps_its_range(manager, world: World) -> None:
    from webapp.models import AuditEvent

    db.session.add_all(
        AuditEvent(offering_id=world.offering.id, action="membership.created", object_repr=f"event-{i:02d}")
        for i in range(23)
    )
    db.session.commit()
    page = parse(manager.get(f"/offerings/{world.offering.uuid}/activity"))
    assert len(page.select("tbody tr")) == PER_PAGE and "23 events" in text_of(page)
    assert "Page 1 of 3" in text_of(page.select_one(".pager"))
    last = parse(manager.get(f"/offerings/{world.offering.uuid}/activity?page=3&from=2000-01-01"))
    assert len(last.select("tbody tr")) == 3 and "23 events in this range" in text_of(last)
    assert "from=2000-01-01" in str(last.select_one('.pager a[rel="prev"]')["href"])


def test_wildcards_in_a_search_are_plain_characters(manager, world: World) -> None:
    group = crowd(world, remote=0, local=12)
    db.session.add(OfferingKeycloakMembership(group_id=group.id, username="under_score", email="x%y@example.org"))
    db.session.commit()
    for query, expected in (("_", ["under_score"]), ("%", ["under_score"]), ("U00", [f"u00{i}" for i in range(10)])):
        page = parse(manager.get(group_url(world, group, f"?q={quote(query)}")))
        assert [text_of(row.select_one("td")) for row in page.select("#local-members tbody tr")] == expected


def test_activity_says_what_happened_in_sentences_with_the_raw_details_a_click_away(manager, world: World) -> None:
    """Issue 30, item 9: no `counts: {...}` or `job: None` for people; the details stay behind a disclosure."""
    from webapp.models import AuditEvent, Plan

    plan = Plan(offering=world.offering, kind="members", created_by_name="manager", expires=utcnow(), params={})
    db.session.add(plan)
    db.session.flush()
    db.session.add_all(
        [
            AuditEvent(
                offering_id=world.offering.id,
                actor_name="manager",
                action="plan.applied",
                object_type="Plan",
                details={
                    "plan": plan.uuid,
                    "kind": "members",
                    "selected": 4,
                    "counts": {"applied": 1, "failed": 3},
                    "partial": True,
                },
            ),
            AuditEvent(
                offering_id=world.offering.id,
                actor_name="manager",
                action="membership.created",
                object_repr="alice",
                details={"group": "hpc-users", "state": "active"},
            ),
            AuditEvent(offering_id=world.offering.id, actor_name="system", action="something.new", object_repr="x"),
        ]
    )
    db.session.commit()
    page = parse(manager.get(f"/offerings/{world.offering.uuid}/activity"))
    said = [text_of(row.select("td")[1]) for row in page.select("tbody tr")]
    assert (
        "Manager applied 1 of 4 selected changes of a members plan; 3 changes failed (partly: it stopped midway). "
        "Open the plan"
    ) in said
    assert "Manager granted alice access to hpc-users." in said
    assert "System: something new x" in said  # an action without words yet is still said plainly
    link = page.select_one(f"a[href='/offerings/{world.offering.uuid}/plans/{plan.uuid}']")
    assert link is not None and text_of(link) == "Open the plan"
    assert page.select_one("tbody details summary") is not None and "counts" not in " ".join(said)
