"""A local SMTP sink (aiosmtpd): every mail it receives is written to a folder as one .eml file, and nothing is
delivered anywhere. Started by scripts/mail-dev; the tests start it in-process (tests/mailsink.py)."""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    """Keeps each message's raw bytes, in memory and (with a folder) as <n>.eml."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.messages: list[bytes] = []
        self.lock = threading.Lock()
        self._numbers = itertools.count(1)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        with self.lock:
            self.messages.append(envelope.content)
            number = next(self._numbers)
        if self.folder is not None:
            (self.folder / f"{time.time_ns()}-{number}.eml").write_bytes(envelope.content)
        return "250 Message accepted"


def serve(host: str, port: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(Sink(folder), hostname=host, port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18025)
    parser.add_argument("--folder", type=Path, required=True)
    arguments = parser.parse_args()
    serve(arguments.host, arguments.port, arguments.folder)
