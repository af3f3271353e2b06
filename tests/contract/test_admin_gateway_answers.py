"""What the real gateway makes of the answers Keycloak gives the losers of a race, each answer scripted on a
loopback server (tests/impostor.py) so that every case is played every time; test_gateway_races.py has the
races themselves on a real Keycloak."""

from __future__ import annotations

import pytest

from tests.impostor import Received, impostor, json_answer, token_answer
from webapp.keycloak import errors
from webapp.keycloak.admin_gateway import AdminGateway
from webapp.keycloak.types import ConnectionSettings

TOKEN_PATH = "/realms/master/protocol/openid-connect/token"
ADMIN = "/admin/realms/demo/"
USER = "11111111-1111-4111-8111-111111111111"
GROUP = "22222222-2222-4222-8222-222222222222"
DUPLICATE = json_answer({"error": "conflict", "error_description": "Duplicate resource error"}, status=409)
SERVER_ERROR = json_answer({"error": "unknown_error"}, status=500)
GROUP_JSON = {"id": GROUP, "name": "team", "path": "/team", "subGroupCount": 0}


def gateway_on(url: str) -> AdminGateway:
    return AdminGateway(ConnectionSettings(url, "demo", username="admin", password="secret", timeout=5))


def test_a_409_to_adding_a_member_is_done() -> None:
    answers = {TOKEN_PATH: token_answer, f"{ADMIN}users/{USER}/groups/{GROUP}": lambda _r: DUPLICATE}
    with impostor(answers) as server:
        assert gateway_on(server.url).add_user_to_group(USER, GROUP) is None
        assert [r.method for r in server.received if "/groups/" in r.path] == ["PUT"]


def test_a_404_to_adding_or_removing_a_member_is_not_found() -> None:
    answers = {
        TOKEN_PATH: token_answer,
        f"{ADMIN}users/{USER}/groups/{GROUP}": lambda _r: json_answer({"error": "User not found"}, status=404),
    }
    with impostor(answers) as server:
        gateway = gateway_on(server.url)
        with pytest.raises(errors.NotFound, match="User not found"):
            gateway.add_user_to_group(USER, GROUP)
        with pytest.raises(errors.NotFound, match="User not found"):
            gateway.remove_user_from_group(USER, GROUP)


def test_a_409_to_creating_a_group_is_already_exists() -> None:
    clash = json_answer({"errorMessage": "Top level group named 'team' already exists."}, status=409)
    answers = {TOKEN_PATH: token_answer, f"{ADMIN}groups": lambda _r: clash}
    with impostor(answers) as server, pytest.raises(errors.AlreadyExists, match="already exists"):
        gateway_on(server.url).create_group("team")


def deleting(get_answer: tuple[int, dict[str, str], str]) -> dict:
    def group(request: Received) -> tuple[int, dict[str, str], str]:
        return SERVER_ERROR if request.method == "DELETE" else get_answer

    return {TOKEN_PATH: token_answer, f"{ADMIN}groups/{GROUP}": group}


def test_a_500_to_deleting_a_group_that_is_gone_is_not_found() -> None:
    with impostor(deleting(json_answer({"error": "Could not find group by id"}, status=404))) as server:
        with pytest.raises(errors.NotFound, match="deleted at the same time"):
            gateway_on(server.url).delete_group(GROUP)
        assert [r.method for r in server.received if GROUP in r.path] == ["DELETE", "GET"]


def test_a_500_to_deleting_a_group_that_is_still_there_is_unavailable() -> None:
    with impostor(deleting(json_answer(GROUP_JSON))) as server, pytest.raises(errors.Unavailable, match="HTTP 500"):
        gateway_on(server.url).delete_group(GROUP)


def test_a_500_to_deleting_a_group_then_no_answer_is_unavailable() -> None:
    with impostor(deleting(SERVER_ERROR)) as server, pytest.raises(errors.Unavailable, match="HTTP 500"):
        gateway_on(server.url).delete_group(GROUP)
