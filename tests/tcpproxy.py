"""A loopback TCP proxy that tests can cut and restore, to make Keycloak 'go down' mid-operation."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.cut_off = False
        self._stop = threading.Event()
        # hold_after(): requests starting with `_held_prefix` beyond the first `_held_limit` wait for release().
        self._released = threading.Event()
        self._released.set()
        self._held_prefix = b""
        self._held_limit = 0
        self._held_seen = 0
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.cut_off:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            # The 5 s were for connecting: a Keycloak busy for longer (a cold login page) must not look like a cut.
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink, outgoing in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(source, sink, outgoing), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, outgoing: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if outgoing and self._held_prefix and data.startswith(self._held_prefix):
                    with self._lock:
                        self._held_seen += 1
                        over = self._held_seen > self._held_limit
                    if over:
                        self._released.wait()
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones, as if Keycloak had died."""
        self.cut_off = True
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._sockets.clear()

    def hold_after(self, count: int, prefix: bytes) -> None:
        """Forward the first `count` requests starting with `prefix` (e.g. b"DELETE "); hold the rest until
        release(): a client writing through the proxy stops there, at a point the test chose."""
        with self._lock:
            self._held_prefix, self._held_limit, self._held_seen = prefix, count, 0
        self._released.clear()

    def release(self) -> None:
        self._held_prefix = b""
        self._released.set()

    def restore(self) -> None:
        self.cut_off = False

    def close(self) -> None:
        self.release()
        self.cut()
        self._stop.set()
        self._thread.join()
        self._listener.close()
