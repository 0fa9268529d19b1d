"""TLS 1.2 and 1.3 records of one connection, decrypted with an NSS key log.

The record layer (RFC 8446 5.1, RFC 5246 6.2) is cut by its 5-byte header. The clear
handshake gives the client random (ClientHello), and the server random, cipher suite
and version (ServerHello, with supported_versions, RFC 8446 4.1.3 and 4.2.1; a
HelloRetryRequest is recognised by its fixed random and skipped). Then:

- TLS 1.3 (RFC 8446 7.1, 7.3): each sender's records are protected with its handshake
  traffic secret until its Finished, then with its application traffic secret, which a
  KeyUpdate (4.6.3, 7.2) replaces. ChangeCipherSpec records (D.4 compatibility mode) are
  ignored.
- TLS 1.2 (RFC 5246 6.3, 7.1): a sender's records are protected from its
  ChangeCipherSpec on, with keys expanded from the master secret.

0-RTT early data (RFC 8446 4.2.10) is not decoded: Python's ``ssl`` never sends it.
Decrypted application data goes to the slots of an inner, ``secure`` layer, which
detect HTTP or SIP again. A connection whose client random is in no key log is
reported once (``tls-no-secrets``) and its records are skipped.
"""

from __future__ import annotations

import struct

from .errors import ProblemKind
from .streams import Layer, Slot
from .tls import (
    TLS12_SUITES,
    TLS13_SUITES,
    DecryptError,
    KeyLog,
    RecordProtection,
    Suite,
    next_traffic_secret,
    tls12_protections,
    tls13_protection,
)

__all__ = ["TlsSession", "TlsStream"]

_CCS, _ALERT, _HANDSHAKE, _APPLICATION = 20, 21, 22, 23
_CLIENT_HELLO, _SERVER_HELLO, _FINISHED, _KEY_UPDATE = 1, 2, 20, 24
_HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
_MAX_QUEUE = 1 << 20


class TlsSession:
    """What both directions of one TLS connection share."""

    def __init__(self, outer: Layer, keylog: KeyLog) -> None:
        self.outer = outer
        self.keylog = keylog
        self.inner = Layer(outer.output, outer.connection, (outer.slots[0].src, outer.slots[0].dst), True)
        self.client_random: bytes | None = None
        self.server_random: bytes | None = None
        self.version = 0
        self.suite: Suite | None = None
        self.usable = False
        "True once the suite is supported and the key log has this connection's secrets."
        self.refused: str | None = None
        "Why records cannot be decrypted (reported once)."

    def server_hello(self, server_random: bytes, suite_code: int, version: int) -> None:
        self.server_random, self.version = server_random, version
        suites = TLS13_SUITES if version == 0x0304 else TLS12_SUITES
        self.suite = suites.get(suite_code)
        label = "CLIENT_HANDSHAKE_TRAFFIC_SECRET" if version == 0x0304 else "CLIENT_RANDOM"
        if self.suite is None:
            self._refuse(ProblemKind.NOT_DECODED, f"cipher suite 0x{suite_code:04x} is not supported")
        elif self.client_random is None:
            self._refuse(ProblemKind.NO_SECRETS, "the ClientHello is not in the capture")
        elif self.keylog.get(self.client_random, label) is None:
            self._refuse(
                ProblemKind.NO_SECRETS,
                f"TLS {'1.3' if version == 0x0304 else '1.2'} with client random "
                f"{self.client_random.hex()[:16]}...: no {label} in the key log "
                f"({len(self.keylog)} connections have secrets there)",
            )
        else:
            self.usable = True
        for slot in self.outer.slots:
            if isinstance(slot.sink, TlsStream):
                slot.sink.session_ready()

    def _refuse(self, kind: ProblemKind, detail: str) -> None:
        if self.refused is None:
            self.refused = detail
            self.outer.output.problem(kind, self.outer.slots[0].where, detail)

    def secret(self, label: str) -> bytes:
        assert self.client_random is not None
        secret = self.keylog.get(self.client_random, label)
        if secret is None:
            raise DecryptError(f"no {label} in the key log")
        return secret


class TlsStream:
    """One direction of a TLS connection."""

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        state = slot.layer.state
        if "tls" not in state:
            state["tls"] = TlsSession(slot.layer, slot.output.keylog)
        self.session: TlsSession = state["tls"]
        self.is_client: bool | None = None
        self._buffer = bytearray()
        self._handshake = bytearray()
        self._protection: RecordProtection | None = None
        self._secret = b""
        self._epoch = "clear"
        self._queue: list[tuple[int, bytes, bytes]] = []
        self._dead = False

    def receive_data(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 5 and not self._dead:
            kind, version, length = struct.unpack_from("!BHH", buffer)
            if kind not in (_CCS, _ALERT, _HANDSHAKE, _APPLICATION) or version >> 8 != 3:
                self._fail(ProblemKind.GARBAGE, f"not a TLS record header: {bytes(buffer[:5]).hex()}")
                return
            if len(buffer) < 5 + length:
                return
            header, fragment = bytes(buffer[:5]), bytes(buffer[5 : 5 + length])
            del buffer[: 5 + length]
            self._record(kind, header, fragment)

    def receive_eof(self) -> None:
        self.session.inner.slots[self.slot.side].receive_eof()

    def session_ready(self) -> None:
        queued, self._queue = self._queue, []
        for kind, header, fragment in queued:
            self._record(kind, header, fragment)

    def _fail(self, kind: ProblemKind, detail: str) -> None:
        self._dead = True
        self.slot.fail(kind, detail)

    def _record(self, kind: int, header: bytes, fragment: bytes) -> None:
        session = self.session
        if self._protection is None:
            if kind == _HANDSHAKE and self._epoch == "clear":
                self._handshake_messages(fragment)
                return
            if kind == _CCS and session.version == 0x0303 and session.usable and session.suite:
                self._protection = self._tls12_protection(session)
                self._epoch = "application"
                return
            if kind != _APPLICATION:
                return  # ChangeCipherSpec of TLS 1.3, clear alerts
            if session.server_random is None:
                if session.client_random is None and self.is_client is None:
                    self._fail(ProblemKind.NO_SECRETS, "TLS records without their handshake in the capture")
                elif sum(len(f) for _, _, f in self._queue) < _MAX_QUEUE:
                    self._queue.append((kind, header, fragment))
                return
            if not session.usable or session.version != 0x0304:
                return
            self._install_tls13("HANDSHAKE_TRAFFIC_SECRET")
            assert self._protection is not None
        elif kind == _CCS:
            return
        try:
            inner_kind, plaintext = self._protection.decrypt(header, fragment)
        except DecryptError as exc:
            self._fail(ProblemKind.DECRYPT, f"{exc}: the key log does not match this connection")
            return
        if inner_kind == _APPLICATION:
            session.inner.slots[self.slot.side].receive_data(plaintext)
        elif inner_kind == _HANDSHAKE and session.version == 0x0304:
            self._handshake_messages(plaintext)

    def _install_tls13(self, kind: str) -> None:
        session = self.session
        assert session.suite is not None
        label = f"{'CLIENT' if self.is_client else 'SERVER'}_{kind}"
        try:
            self._secret = session.secret(label)
        except DecryptError as exc:
            self._fail(ProblemKind.NO_SECRETS, str(exc))
            return
        self._protection = tls13_protection(session.suite, self._secret)
        self._epoch = "handshake" if kind.startswith("HANDSHAKE") else "application"

    def _tls12_protection(self, session: TlsSession) -> RecordProtection:
        assert session.suite and session.client_random and session.server_random
        master = session.secret("CLIENT_RANDOM")
        client, server = tls12_protections(
            session.suite, master, session.client_random, session.server_random
        )
        return client if self.is_client else server

    def _handshake_messages(self, data: bytes) -> None:
        """Handshake messages (RFC 8446 4, RFC 5246 7.4), possibly split over records."""
        buffer = self._handshake
        buffer += data
        while len(buffer) >= 4:
            length = int.from_bytes(buffer[1:4], "big")
            if len(buffer) < 4 + length:
                return
            kind, body = buffer[0], bytes(buffer[4 : 4 + length])
            del buffer[: 4 + length]
            if kind == _CLIENT_HELLO and self._epoch == "clear" and len(body) >= 34:
                self.is_client = True
                self.session.client_random = body[2:34]
            elif kind == _SERVER_HELLO and self._epoch == "clear" and len(body) >= 38:
                self.is_client = False
                self._server_hello(body)
            elif kind == _FINISHED and self._epoch == "handshake":
                self._install_tls13("TRAFFIC_SECRET_0")
            elif kind == _KEY_UPDATE and self._epoch == "application" and self.session.suite:
                self._secret = next_traffic_secret(self._secret, self.session.suite)
                self._protection = tls13_protection(self.session.suite, self._secret)

    def _server_hello(self, body: bytes) -> None:
        """RFC 8446 4.1.3: legacy_version, random, session id, cipher suite, compression,
        extensions (supported_versions gives the real version)."""
        random = body[2:34]
        if random == _HRR_RANDOM:
            return  # HelloRetryRequest: a second ServerHello follows
        offset = 35 + body[34]
        suite = int.from_bytes(body[offset : offset + 2], "big")
        version = int.from_bytes(body[0:2], "big")
        offset += 3
        if offset + 2 <= len(body):
            end = offset + 2 + int.from_bytes(body[offset : offset + 2], "big")
            offset += 2
            while offset + 4 <= end:
                ext, size = struct.unpack_from("!HH", body, offset)
                if ext == 43 and size == 2:  # supported_versions
                    version = int.from_bytes(body[offset + 4 : offset + 6], "big")
                offset += 4 + size
        self.session.server_hello(random, suite, version)
        if self.session.usable and version == 0x0304:
            self._install_tls13("HANDSHAKE_TRAFFIC_SECRET")
