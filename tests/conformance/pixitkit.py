"""Helpers of the PIXIT and preflight tests: PIXIT text, real servers on loopback, test CAs."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reference.tls import TestPki

BASE = """\
[[ep_cscf]]
name = "ep-cscf1"

[[block]]
wimpu = "sip:wrtc-!.*!@block1.ims.example.net"
option = "A"
ep_cscf = "ep-cscf1"

[[user]]
username = "alice"
password = "alice-password"
identity = "sip:wrtc-alice@block1.ims.example.net"
block = "sip:wrtc-!.*!@block1.ims.example.net"
"""
"A PIXIT with every node reference: one eP-CSCF, one option A block, one user."

BLOCK = "sip:wrtc-!.*!@block1.ims.example.net"


def write(directory: Path, text: str, name: str = "pixit.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def closed_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def pki(directory: Path, name: str = "ca", sans: tuple[str, ...] = ("localhost", "127.0.0.1")) -> TestPki:
    """A test CA in ``directory/name`` with a server certificate ``server`` for ``sans``."""
    found = TestPki(directory / name, ca_name=f"test CA {name}")
    found.issue("server", sans)
    return found


class _Handler(BaseHTTPRequestHandler):
    routes: Mapping[str, Any] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        document = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        body = json.dumps(document).encode() if document is not None else b'{"title": "Not Found"}'
        self.send_response(200 if document is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gives up during the TLS handshake is what some tests do


@contextmanager
def http_server(
    routes: Mapping[str, Any], context: ssl.SSLContext | None = None, port: int = 0
) -> Iterator[int]:
    """A real HTTP(S) server on loopback answering GET ``path`` with JSON ``routes[path]``, else 404."""
    server = _Server(("127.0.0.1", port), _Handler)
    server.routes = dict(routes)  # type: ignore[attr-defined]
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def sip_udp_responder() -> Iterator[int]:
    """A UDP socket on loopback answering every SIP request with a 200 OK carrying its Call-ID."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            call_id = re.search(rb"(?im)^Call-ID:\s*(\S+)", data)
            response = b"SIP/2.0 200 OK\r\nCall-ID: " + (call_id.group(1) if call_id else b"-")
            sock.sendto(response + b"\r\nContent-Length: 0\r\n\r\n", peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        sock.close()
