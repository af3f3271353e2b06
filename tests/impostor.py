"""A loopback HTTP server that pretends to be Keycloak: it answers what a test scripts and records what it got.

`answers` maps a path prefix (e.g. "/realms/master/protocol/openid-connect/token") to a function of the request
that returns (status, headers, body); the longest matching prefix wins, anything else is a 404.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    body: str
    headers: dict[str, str]


Answer = tuple[int, dict[str, str], str]
Responder = Callable[[Received], Answer]


def json_answer(data: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(data)


def token_answer(_request: Received) -> Answer:
    return json_answer({"access_token": "impostor-token", "expires_in": 300, "token_type": "Bearer"})


def offering_root_answers(admin: str) -> dict[str, Responder]:
    """The world's offering group /base/hpc (ids root-1/root-2) as Keycloak 26 describes it; `admin` is
    "/admin/realms/<realm>/"."""
    base = {"id": "root-1", "name": "base", "path": "/base", "subGroupCount": 1}
    hpc = {"id": "root-2", "name": "hpc", "path": "/base/hpc", "parentId": "root-1", "subGroupCount": 1}
    return {
        f"{admin}group-by-path/base": lambda _r: json_answer(base),
        f"{admin}group-by-path/base/hpc": lambda _r: json_answer(hpc),
    }


@dataclass
class Impostor:
    url: str
    answers: dict[str, Responder]
    received: list[Received] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [item.path for item in self.received]

    def got(self, text: str) -> bool:
        return any(text in item.body or text in item.path or text in str(item.headers) for item in self.received)


@contextmanager
def impostor(answers: dict[str, Responder] | None = None, tls: tuple[Path, Path] | None = None) -> Iterator[Impostor]:
    """`tls` = (certificate file, key file) serves HTTPS."""
    state = Impostor("", dict(answers or {}))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                self.command, self.path, self.rfile.read(length).decode(errors="replace"), dict(self.headers)
            )
            state.received.append(request)
            matches = [prefix for prefix in state.answers if self.path.startswith(prefix)]
            status, headers, body = (
                state.answers[max(matches, key=len)](request) if matches else (404, {}, '{"error": "not found"}')
            )
            payload = body.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
