from __future__ import annotations

from tests.factories import World
from tests.html import parse, row_showing, status_counts, text_of
from webapp.extensions import db
from webapp.models import AuditEvent, Offering, OfferingKeycloakGroup, OfferingKeycloakMembership


def groups_url(world: World) -> str:
    return f"/offerings/{world.offering.uuid}/groups"


def test_groups_view_shows_aligned_rows_and_counts(manager, world: World) -> None:
    synced = world.realm.add_path("/base/hpc/synced-remote")
    world.realm.add_path("/base/hpc/only-remote")
    world.add_group("synced-local", backend_id=synced, scope_id="1")
    world.add_group("only-local", scope_id="2")
    world.add_group("broken-local", backend_id="gone", scope_id="3")
    page = parse(manager.get(groups_url(world)))
    assert status_counts(page) == {"synced": "1", "local_only": "1", "remote_only": "1", "broken": "1"}
    row = row_showing(page, "synced-local")
    assert "synced-remote" in text_of(row) and "Synced" in text_of(row.select_one(".badge-synced"))


def test_search_fragment_filters_both_sides(manager, world: World) -> None:
    world.realm.add_path("/base/hpc/alpha-remote")
    world.realm.add_path("/base/hpc/beta-remote")
    world.add_group("alpha-local", scope_id="1")
    response = manager.get(f"{groups_url(world)}?q=ALPHA", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and "alpha-remote" in html and "alpha-local" in html and "beta-remote" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_keycloak_down_still_shows_local_groups_with_a_message(manager, world: World) -> None:
    world.add_group("only-local")
    world.realm.down = True
    html = manager.get(groups_url(world)).get_data(as_text=True)
    assert "only-local" in html and "Keycloak could not be read" in html and "Cannot connect" in html


def test_import_dialog_and_post(manager, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/to-import")
    dialog = manager.get(f"{groups_url(world)}/import?remote_group_id={remote_id}", headers={"HX-Request": "true"})
    assert "to-import" in dialog.get_data(as_text=True) and "<html" not in dialog.get_data(as_text=True)
    response = manager.post(
        f"{groups_url(world)}/import",
        {"remote_group_id": remote_id, "role": world.member_role.uuid, "resource": "", "scope_id": ""},
    )
    assert response.status_code == 303
    group = db.session.query(OfferingKeycloakGroup).one()
    assert group.backend_id == remote_id and group.origin == "imported"
    assert "Imported Keycloak group" in manager.get(groups_url(world)).get_data(as_text=True)


def test_import_errors_shown_in_place(manager, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/scoped")
    response = manager.post(
        f"{groups_url(world)}/import",
        {"remote_group_id": remote_id, "role": world.cluster_role.uuid, "resource": "", "scope_id": ""},
    )
    assert response.status_code == 400
    assert "choose a resource" in response.get_data(as_text=True)
    assert db.session.query(OfferingKeycloakGroup).count() == 0


def test_bulk_import_two_groups_with_one_role(manager, world: World) -> None:
    first = world.realm.add_path("/base/hpc/team-a")
    second = world.realm.add_path("/base/hpc/team-b")
    response = manager.client.post(
        f"{groups_url(world)}/bulk-import",
        data={
            "bulk-csrf_token": manager.token,
            "bulk-remote_group_ids": [first, second],
            "bulk-role": world.member_role.uuid,
            "bulk-resource": "",
        },
    )
    assert response.status_code == 303 and "/plans/" in response.headers["Location"]  # a preview first
    assert db.session.query(OfferingKeycloakGroup).count() == 0
    manager.get(response.headers["Location"])
    assert manager.post(f"{response.headers['Location']}/apply", {}).status_code == 303
    names = sorted(g.name for g in db.session.query(OfferingKeycloakGroup))
    assert names == ["team-a", "team-b"]


def test_link_unlink_pull_and_delete(manager, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/linked")
    world.realm.add_member(remote_id, world.realm.add_user("zed"))
    group = world.add_group("local")
    base = f"{groups_url(world)}/{group.uuid}"
    link_page = manager.get(f"{base}/link").get_data(as_text=True)
    assert "/base/hpc/linked" in link_page
    assert manager.post(f"{base}/link", {"backend_id": remote_id}).status_code == 303
    db.session.refresh(group)
    assert group.backend_id == remote_id

    pulled = manager.post(f"{base}/pull", headers={"HX-Request": "true"})
    assert "1 new" in pulled.get_data(as_text=True) and "toast" in pulled.headers["HX-Trigger"]

    assert "Nothing is changed in Keycloak" in manager.get(f"{base}/unlink").get_data(as_text=True)
    assert manager.post(f"{base}/unlink").status_code == 303
    db.session.refresh(group)
    assert group.backend_id == ""

    assert "never deleted" not in manager.get(f"{base}/delete").get_data(as_text=True)
    assert manager.post(f"{base}/delete").status_code == 303
    assert db.session.query(OfferingKeycloakGroup).count() == 0
    assert db.session.query(OfferingKeycloakMembership).count() == 0
    actions = {e.action for e in db.session.query(AuditEvent)}
    assert {"group.linked", "group.unlinked", "group.members_pulled", "group.deleted"} <= actions
    assert "group.deleted" in manager.get(f"/offerings/{world.offering.uuid}/activity").get_data(as_text=True)


def test_pull_failure_shown_in_place(manager, world: World) -> None:
    group = world.add_group("local", backend_id="x")
    world.realm.down = True
    response = manager.post(f"{groups_url(world)}/{group.uuid}/pull", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Pull failed: Pulling members from Keycloak failed: Cannot connect" in response.get_data(as_text=True)


def test_delete_dialog_explains_remote_effect(manager, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/imported")
    imported = world.add_group("imported", backend_id=remote_id, origin="imported")
    page = parse(manager.get(f"{groups_url(world)}/{imported.uuid}/delete"))
    assert "imported groups are never deleted in Keycloak" in text_of(page)
    assert page.select_one('input[name="delete_remote"]') is None  # no way to ask for it


def test_html_in_names_is_escaped(manager, world: World) -> None:
    evil = "<img src=x onerror=alert(1)>"
    world.realm.add_path(f"/base/hpc/{evil}")
    world.add_group(evil, scope_id="1")
    for url in (groups_url(world), f"{groups_url(world)}?q=img"):
        html = manager.get(url).get_data(as_text=True)
        assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_settings_keep_secret_when_blank_and_never_render_it(manager, world: World) -> None:
    url = f"/offerings/{world.offering.uuid}/settings"
    html = manager.get(url).get_data(as_text=True)
    assert "admin-password" not in html
    form = {
        "enabled": "y",
        "url": "http://fake-keycloak/",
        "realm": "demo",
        "auth_realm": "master",
        "auth_mode": "password",
        "username": "admin",
        "password": "",
        "client_id": "",
        "client_secret": "",
        "verify_ssl": "y",
        "timeout": "5",
        "base_group": "base",
        "group_name_template": "$offering_slug-$role_name",
        "username_label": "Login",
    }
    assert manager.post(url, form).status_code == 303
    offering = db.session.get(Offering, world.offering.id)
    db.session.refresh(offering)
    from webapp.crypto import decrypt

    assert decrypt(offering.keycloak_password_encrypted) == "admin-password"
    assert offering.keycloak_timeout == 5 and offering.keycloak_username_label == "Login"
    bad = manager.post(url, form | {"group_name_template": "$nope"})
    assert bad.status_code == 400 and "Unknown variable $nope" in bad.get_data(as_text=True)


def test_test_connection_inline(manager, world: World) -> None:
    world.realm.add_path("/base/hpc/one")
    url = f"/offerings/{world.offering.uuid}/test-connection"
    ok = manager.post(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Connected." in ok and "one" in ok and "<html" not in ok
    world.realm.reject_credentials = True
    failed = manager.post(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Connection failed." in failed and "Authentication failed" in failed


def test_group_detail_and_user_search(manager, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/detail")
    world.realm.add_member(remote_id, world.realm.add_user("remoteonly", "r@example.org"))
    group = world.add_group("detail", backend_id=remote_id)
    html = manager.get(f"{groups_url(world)}/{group.uuid}").get_data(as_text=True)
    assert "remoteonly" in html and "not recorded here" in html
    results = manager.get(f"/offerings/{world.offering.uuid}/users/search?q=remote", headers={"HX-Request": "true"})
    assert "remoteonly" in results.get_data(as_text=True) and "1 user match" in results.get_data(as_text=True)


def test_tree_children_fragment(manager, world: World) -> None:
    parent = world.realm.add_path("/base/hpc/parent")
    world.realm.add_path("/base/hpc/parent/kid")
    html = manager.get(f"/offerings/{world.offering.uuid}/tree/{parent}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "kid" in html and "<html" not in html
    missing = manager.get(f"/offerings/{world.offering.uuid}/tree/nope", headers={"HX-Request": "true"})
    assert "Remote group not found in Keycloak." in missing.get_data(as_text=True)


def test_with_javascript_the_page_comes_first_and_rows_follow(manager, world: World) -> None:
    world.realm.add_path("/base/hpc/later")
    world.realm.down = True  # the first response must not wait for Keycloak at all
    manager.client.set_cookie("okg_js", "1", domain="testserver")
    shell = parse(manager.get(groups_url(world)))
    deferred = shell.select_one('[hx-trigger="load"]')
    assert deferred is not None and "Comparing with Keycloak" in text_of(shell) and "later" not in text_of(shell)
    world.realm.down = False
    rows = parse(manager.get(str(deferred["hx-get"]), headers={"HX-Request": "true"}))
    assert "later" in text_of(rows)
    counts = rows.select_one("#status-counts")
    assert counts is not None and counts.get("hx-swap-oob") == "true"  # the header counts come along
    assert status_counts(rows)["remote_only"] == "1"
    # A search swaps the rows only, whichever element triggered it.
    search = manager.get(groups_url(world), headers={"HX-Request": "true", "HX-Trigger": "diff-rows"})
    assert "later" in search.get_data(as_text=True) and "hx-swap-oob" not in search.get_data(as_text=True)


def test_pull_from_the_group_page_returns_to_it(manager, world: World) -> None:
    remote_id = world.realm.add_path("/base/hpc/back")
    group = world.add_group("back", backend_id=remote_id)
    page = f"{groups_url(world)}/{group.uuid}"
    response = manager.post(f"{page}/pull", {"next": page})
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    offsite = manager.post(f"{page}/pull", {"next": "https://evil.example/"})
    assert offsite.headers["Location"].endswith(groups_url(world))


def test_no_role_is_preselected_and_the_form_asks_for_one(manager, world) -> None:  # type: ignore[no-untyped-def]
    """Issue 30, item 7: a role is the access someone gets; the import, bulk import and Add member forms ask."""
    from tests.html import parse as parse_page

    remote_id = world.realm.add_path("/base/hpc/unchosen")
    base = f"/offerings/{world.offering.uuid}"
    for url in (f"{base}/groups/import?remote_group_id={remote_id}", f"{base}/groups", f"{base}/members"):
        page = parse_page(manager.get(url))
        for select in page.select("select[name$=role]"):
            chosen = select.select_one("option[selected]") or select.select_one("option")
            assert chosen is not None and chosen.get("value") == "", (url, str(select)[:200])
    answer = manager.post(f"{base}/groups/import", {"remote_group_id": remote_id, "role": "", "resource": ""})
    assert answer.status_code == 400 and "Choose a role." in answer.get_data(as_text=True)
