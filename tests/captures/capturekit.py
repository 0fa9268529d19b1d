"""Build synthetic captures for the decoder tests: TCP flows, UDP datagrams, TLS and
WebSocket byte streams made by independent implementations (OpenSSL through ``ssl``
memory BIOs, websockets' sans-I/O protocol objects), written with scapy's writers.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Sequence
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter, PcapWriter
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

Endpoint = tuple[str, int]
CLIENT: Endpoint = ("127.0.0.1", 40000)
SERVER: Endpoint = ("127.0.0.1", 5060)


def sip_request(method: str = "REGISTER", call_id: str = "call-1", cseq: int = 1, body: bytes = b"") -> bytes:
    head = (
        f"{method} sip:block1.ims.example.net SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK{call_id}{cseq}\r\n"
        "Max-Forwards: 70\r\nTo: <sip:wrtc-alice@block1.ims.example.net>\r\n"
        "From: <sip:wrtc-alice@block1.ims.example.net>;tag=abc\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def sip_response(
    status: int = 200, call_id: str = "call-1", cseq: int = 1, method: str = "REGISTER"
) -> bytes:
    return (
        f"SIP/2.0 {status} OK\r\nVia: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK{call_id}{cseq}\r\n"
        "To: <sip:wrtc-alice@block1.ims.example.net>;tag=xyz\r\n"
        "From: <sip:wrtc-alice@block1.ims.example.net>;tag=abc\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


class Flow:
    """One TCP connection: builds its segments with the right sequence numbers."""

    def __init__(self, client: Endpoint = CLIENT, server: Endpoint = SERVER) -> None:
        self.ends = (client, server)
        self.seq = [1_000, 900_000]

    def _packet(self, side: int, flags: str, payload: bytes = b"", seq: int | None = None) -> Packet:
        src, dst = self.ends[side], self.ends[1 - side]
        tcp = TCP(sport=src[1], dport=dst[1], flags=flags, seq=self.seq[side] if seq is None else seq)
        packet = Ether() / IP(src=src[0], dst=dst[0]) / tcp
        return packet / Raw(payload) if payload else packet

    def handshake(self) -> list[Packet]:
        packets = [self._packet(0, "S"), self._packet(1, "SA")]
        self.seq = [self.seq[0] + 1, self.seq[1] + 1]
        return [*packets, self._packet(0, "A")]

    def send(self, side: int, data: bytes, *, segments: int = 1) -> list[Packet]:
        """``data`` from ``side`` (0 client, 1 server), cut into ``segments`` pieces."""
        size = max(1, -(-len(data) // segments))
        packets = []
        for start in range(0, len(data), size):
            packets.append(self._packet(side, "PA", data[start : start + size]))
            self.seq[side] += len(data[start : start + size])
        return packets

    def fin(self) -> list[Packet]:
        packets = [self._packet(0, "FA"), self._packet(1, "FA")]
        self.seq = [self.seq[0] + 1, self.seq[1] + 1]
        return packets


def udp(src: Endpoint, dst: Endpoint, payload: bytes) -> Packet:
    return Ether() / IP(src=src[0], dst=dst[0]) / UDP(sport=src[1], dport=dst[1]) / Raw(payload)


def write(path: Path, packets: Iterable[Packet], *, pcapng: bool = False) -> Path:
    writer = PcapNgWriter(str(path)) if pcapng else PcapWriter(str(path), linktype=1)
    for number, packet in enumerate(packets):
        packet.time = 1_700_000_000 + number / 1000
        writer.write(packet)
    writer.close()
    return path


# ----- TLS through OpenSSL memory BIOs ---------------------------------------------------


class TlsPair:
    """A client and a server TLS object talking in memory; records what each one sent."""

    def __init__(self, client: ssl.SSLContext, server: ssl.SSLContext) -> None:
        self._bios = [ssl.MemoryBIO() for _ in range(4)]
        c_in, c_out, s_in, s_out = self._bios
        self.client = client.wrap_bio(c_in, c_out, server_hostname="localhost")
        self.server = server.wrap_bio(s_in, s_out, server_side=True)
        self.chunks: list[tuple[int, bytes]] = []

    def pump(self) -> None:
        """Move bytes both ways until neither side has more to send."""
        c_in, c_out, s_in, s_out = self._bios
        while True:
            moved = False
            for side, out, into in ((0, c_out, s_in), (1, s_out, c_in)):
                data = out.read()
                if data:
                    self.chunks.append((side, data))
                    into.write(data)
                    moved = True
            if not moved:
                return

    def handshake(self) -> None:
        for _ in range(10):
            for end in (self.client, self.server):
                try:
                    end.do_handshake()
                except ssl.SSLWantReadError:
                    pass
            self.pump()

    def send(self, side: int, data: bytes) -> None:
        (self.client if side == 0 else self.server).write(data)
        self.pump()
        reader = self.server if side == 0 else self.client
        try:
            while reader.read(65536):
                pass
        except ssl.SSLWantReadError:
            pass
        self.pump()

    def packets(self, flow: Flow) -> list[Packet]:
        return [p for side, data in self.chunks for p in flow.send(side, data)]


# ----- WebSocket through websockets' sans-I/O protocols ----------------------------------


class WsPair:
    """A WebSocket client and server (RFC 6455, websockets' own framing and compression)."""

    def __init__(self, *, deflate: bool = True, no_context_takeover: bool = False) -> None:
        client_ext = [ClientPerMessageDeflateFactory(client_no_context_takeover=no_context_takeover)]
        server_ext = [ServerPerMessageDeflateFactory(server_no_context_takeover=no_context_takeover)]
        sip = [Subprotocol("sip")]
        self.client = ClientProtocol(
            parse_uri("ws://127.0.0.1:5060/"), extensions=client_ext if deflate else None, subprotocols=sip
        )
        self.server = ServerProtocol(extensions=server_ext if deflate else None, subprotocols=sip)
        self.chunks: list[tuple[int, bytes]] = []

    def _move(self) -> None:
        for side, source, target in ((0, self.client, self.server), (1, self.server, self.client)):
            for data in source.data_to_send():
                if data:
                    self.chunks.append((side, data))
                    target.receive_data(data)

    def handshake(self) -> None:
        self.client.send_request(self.client.connect())
        self._move()
        request = next(e for e in self.server.events_received() if isinstance(e, Request))
        self.server.send_response(self.server.accept(request))
        self._move()
        self.client.events_received()

    def send(self, side: int, messages: Sequence[bytes], *, fragments: int = 1, ping: bool = False) -> None:
        """Send each message as ``fragments`` frames (a ping between the first two)."""
        end = self.client if side == 0 else self.server
        for message in messages:
            size = max(1, -(-len(message) // fragments))
            parts = [message[i : i + size] for i in range(0, len(message), size)]
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                if index == 0:
                    end.send_text(part, fin=last)
                else:
                    end.send_continuation(part, fin=last)
                if ping and index == 0 and not last:
                    end.send_ping(b"keep")
        self._move()

    def packets(self, flow: Flow) -> list[Packet]:
        return [p for side, data in self.chunks for p in flow.send(side, data)]
