"""TLS to Keycloak: verified by default, a private CA given per offering or for the whole server, and a
certificate nobody vouches for said in words. The server here is a loopback impostor with a throwaway CA;
tests/integration has the same against a real Keycloak started with KEYCLOAK_TLS=1."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import World
from tests.impostor import Impostor, impostor, json_answer, offering_root_answers, token_answer
from tests.security.matrix import Call, send_api, send_ui, sign_in
from tests.signin import send
from tests.throwaway_ca import ThrowawayCA, make_ca
from webapp.extensions import db
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.registry import EXTENSION_KEY, GatewayRegistry

TOKEN_PATH = "/realms/master/protocol/openid-connect/token"
ADMIN = "/admin/realms/demo/"


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return make_ca(tmp_path / "tls")


@pytest.fixture
def https_keycloak(app: Flask, world: World, ca: ThrowawayCA):  # type: ignore[no-untyped-def]
    app.extensions[EXTENSION_KEY] = GatewayRegistry(lambda settings: AdminGateway(settings))
    answers = {
        TOKEN_PATH: token_answer,
        "/admin/serverinfo": lambda _r: json_answer({"systemInfo": {"version": "24.0.5"}}),
        **offering_root_answers(ADMIN),
        f"{ADMIN}groups/root-2/children": lambda _r: json_answer([{"id": "g-1", "name": "users", "subGroupCount": 0}]),
    }
    with impostor(answers, tls=(ca.cert_file, ca.key_file)) as server:
        world.offering.keycloak_url = server.url
        db.session.commit()
        yield server


def connection_test(client: FlaskClient, world: World):  # type: ignore[no-untyped-def]
    body = {"offering_uuid": world.offering.uuid}
    return send_api(client, world, "manager", "POST", Call("/api/offering-keycloak-groups/test_connection/", json=body))


def test_unknown_ca_is_not_trusted_in_words(client: FlaskClient, world: World, https_keycloak: Impostor) -> None:
    api = connection_test(client, world)
    assert api.status_code == 502
    assert api.json == {
        "status": "error",
        "error": f"The certificate of {https_keycloak.url} is not trusted: give its CA certificate in the settings",
    }
    token = sign_in(client, "manager")
    page = send_ui(client, "POST", Call(f"/offerings/{world.offering.uuid}/test-connection", form={}), token)
    assert page.status_code == 200 and "is not trusted" in page.get_data(as_text=True)
    assert https_keycloak.received == []  # nothing, not even the password, went over the untrusted connection


def test_the_offerings_ca_field_makes_it_work(
    client: FlaskClient, world: World, https_keycloak: Impostor, ca: ThrowawayCA
) -> None:
    world.offering.keycloak_ca_certificate = ca.ca_pem
    db.session.commit()
    api = connection_test(client, world)
    assert api.status_code == 200 and api.json["groups"] == ["users"] and api.json["keycloak_version"] == "24.0.5"


def test_the_server_wide_ca_bundle_makes_it_work(
    app: Flask, client: FlaskClient, world: World, https_keycloak: Impostor, ca: ThrowawayCA
) -> None:
    app.config["KEYCLOAK_CA_BUNDLE"] = str(ca.ca_file)
    assert connection_test(client, world).status_code == 200


def test_verification_off_works_and_the_settings_page_warns(
    client: FlaskClient, world: World, https_keycloak: Impostor
) -> None:
    world.offering.keycloak_verify_ssl = False
    db.session.commit()
    assert connection_test(client, world).status_code == 200
    sign_in(client, "manager")
    page = send(client, "GET", f"/offerings/{world.offering.uuid}/settings").get_data(as_text=True)
    assert "Certificates are" in page and "not verified." in page


def test_a_ca_field_that_is_not_pem_is_refused(client: FlaskClient, world: World) -> None:
    from tests.security.matrix import settings_form

    token = sign_in(client, "manager")
    url = f"/offerings/{world.offering.uuid}/settings"
    response = send_ui(client, "POST", Call(url, form=settings_form(ca_certificate="not a certificate")), token)
    assert response.status_code == 400 and "PEM form" in response.get_data(as_text=True)
