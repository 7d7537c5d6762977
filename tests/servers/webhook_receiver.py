"""A real HTTP receiver of webhooks on a free loopback port, in a thread.

It records every request as it arrived (headers and raw body) and answers each with the
next status of a script (then 200), so tests can make an endpoint fail, recover, or hold a
request open while a worker is killed. With `tls_for`, it speaks HTTPS with a certificate
for that host name from a throw-away authority (trustme), `ca`, which a test trusts.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # statuses to answer with, in order
    requests: list[Received] = field(default_factory=list)
    # Set when a request has arrived; the answer waits until `release` is set.
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    ca: trustme.CA | None = None
    port: int = 0
    # A hostile receiver: after its status, a body of this many bytes (no length given), or
    # its headers one byte every `drip` seconds; `sent` counts what left it.
    endless_body: int = 0
    drip: float = 0
    sent: int = 0

    def client_context(self) -> ssl.SSLContext:
        """A client's TLS settings that trust this receiver's authority and nothing else."""
        assert self.ca is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies name and chain
        self.ca.configure_trust(context)
        return context

    def __post_init__(self) -> None:
        self.release.set()

    def take(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return self.answers.pop(0) if self.answers else 200


@contextmanager
def webhook_receiver(answers: list[int] | None = None, *,
                     tls_for: str | None = None) -> Iterator[Receiver]:
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert receiver is not None
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.take(Received(dict(self.headers.items()), body))
            receiver.arrived.set()
            receiver.release.wait(timeout=60)
            if receiver.drip:
                self._drip(status)
                return
            self.send_response(status)
            if not receiver.endless_body:  # else the body runs until the connection closes
                self.send_header("Content-Length", "0")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                while receiver.sent < receiver.endless_body:
                    self.wfile.write(chunk)
                    receiver.sent += len(chunk)
            except OSError:
                return  # the client stopped reading and closed the connection

        def _drip(self, status: int) -> None:
            assert receiver is not None
            head = f"HTTP/1.1 {status} OK\r\nX-Slow: {'y' * 100}\r\n\r\n".encode()
            try:
                for byte in head:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    receiver.sent += 1
                    time.sleep(receiver.drip)
            except OSError:
                return

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads what arrived from `requests`."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    ca = None
    if tls_for is not None:
        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(tls_for).configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver = Receiver(f"https://{tls_for}:{port}/hook" if tls_for
                        else f"http://127.0.0.1:{port}/hook", list(answers or []), ca=ca,
                        port=port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
