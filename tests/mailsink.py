"""A local SMTP server for the tests: the project's aiosmtpd sink (scripts/mail_sink.py) on a free loopback port,
keeping what it receives in memory."""

from __future__ import annotations

import email
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from mail_sink import Sink


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    def __init__(self, sink: Sink, port: int) -> None:
        self.sink = sink
        self.url = f"smtp://127.0.0.1:{port}"

    def messages(self) -> list[Message]:
        with self.sink.lock:
            return [email.message_from_bytes(raw) for raw in self.sink.messages]


@contextmanager
def mail_server() -> Iterator[MailServer]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailServer(sink, port)
    finally:
        controller.stop()
