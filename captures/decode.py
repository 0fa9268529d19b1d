"""Decode a capture into the SIP and HTTP messages on the wire, in order.

:class:`Decoder` is sans-I/O (the aioquic pattern): feed it frames with
:meth:`Decoder.receive_packet` and secrets with :meth:`Decoder.receive_secrets`, take the
messages each frame completed with :meth:`Decoder.messages_ready`, and call
:meth:`Decoder.finish` at the end of the capture. :func:`iter_messages` drives it over a
pcap or pcapng file, streaming; :func:`decode_file` collects everything.

Per frame: link, IP and TCP/UDP headers are read by hand (:mod:`captures.packets`);
IP fragments are put back together first (:class:`captures.packets.Defragmenter`; the
datagrams it has to drop are reported as ``not-decoded``); UDP datagrams carry one SIP
message each (RFC 3261 18.1.1); each TCP direction is put back in order
(:mod:`captures.tcp`) and fed to the connection's protocol stack (:mod:`captures.streams`:
TLS, HTTP/1.1, WebSocket, SIP framed by Content-Length).
A message's time is the time of the frame that completed it.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterator

from reference.sip.errors import SipError
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message

from .errors import Problem, ProblemKind
from .model import Endpoint, HttpInfo, TcpConnection, Transport, WireMessage
from .packets import (
    FIN,
    KNOWN_LINKTYPES,
    RST,
    SYN,
    Datagram,
    Defragmenter,
    Fragment,
    Segment,
    Skipped,
    parse_frame,
)
from .pcapfile import TLS_KEY_LOG, CaptureReader, Packet
from .streams import Discard, Layer, Slot
from .tcp import Reassembler
from .tls import KeyLog

__all__ = ["Decoded", "Decoder", "decode_file", "iter_messages"]

_ACK = 0x10


class _Connection:
    """One TCP connection: two reassemblers feeding the two slots of its plain layer."""

    def __init__(
        self, number: int, first: Endpoint, second: Endpoint, decoder: Decoder, facts: TcpConnection
    ) -> None:
        self.number = number
        self.first = first
        self.facts = facts
        "What the decoder tells the rules about the connection itself (:class:`TcpConnection`)."
        self._decoder = decoder
        self.layer = Layer(decoder, number, (first, second), secure=False)
        self.directions = (Reassembler(), Reassembler())
        self._reported = [False, False]
        self._ended = [False, False]
        self.closed = False

    def receive(self, side: int, segment: Segment) -> None:
        facts, now = self.facts, self._decoder.now
        if segment.payload:
            if side == 0 and facts.client_data is None:
                facts.client_data = now
            elif side == 1 and facts.server_data is None:
                facts.server_data = now
        if segment.flags & (FIN | RST) and facts.closed is None:
            facts.closed = now
        reassembler = self.directions[side]
        data = reassembler.receive(segment.seq, segment.flags, segment.payload)
        slot = self.layer.slots[side]
        if data:
            slot.receive_data(data)
        if segment.flags & (FIN | RST):
            self.closed = True
        self._check(side, reassembler, slot)

    def _check(self, side: int, reassembler: Reassembler, slot: Slot) -> None:
        if reassembler.gap is not None and not self._reported[side]:
            self._reported[side] = True
            slot.output.problem(ProblemKind.GAP, slot.where, reassembler.gap)
            slot.sink = Discard()
        if reassembler.eof and not self._ended[side]:
            self._ended[side] = True
            slot.receive_eof()

    def finish(self) -> None:
        for side, reassembler in enumerate(self.directions):
            reassembler.finish()
            self._check(side, reassembler, self.layer.slots[side])


class Decoder:
    """Frames in, :class:`WireMessage` out.

    Args:
        keylog: TLS secrets known before the capture (more come from Decryption
            Secrets Blocks through :meth:`receive_secrets`).
    """

    def __init__(self, keylog: KeyLog | None = None) -> None:
        self.keylog = keylog if keylog is not None else KeyLog()
        self.problems: list[Problem] = []
        self.packets = 0
        "Frames received."
        self.sip_messages = 0
        self._ready: list[WireMessage] = []
        self._index = 0
        self._time = 0.0
        self._connections: dict[tuple[Endpoint, Endpoint], _Connection] = {}
        self.connections: list[TcpConnection] = []
        "Every TCP connection so far, in the order each began (it grows as frames come)."
        self._count = 0
        self._unknown_links: Counter[int] = Counter()
        self._skipped: Counter[str] = Counter()
        self._garbage: set[tuple[Endpoint, Endpoint]] = set()
        self._fragments = Defragmenter()

    # ----- input ----------------------------------------------------------------------

    def receive_secrets(self, secrets_type: int, data: bytes) -> None:
        """A pcapng Decryption Secrets Block: TLS key logs are added, others ignored."""
        if secrets_type == TLS_KEY_LOG:
            self.keylog.add(data)

    def receive_packet(self, time: float, linktype: int, data: bytes) -> None:
        """One captured frame."""
        self.packets += 1
        self._time = time
        if linktype not in KNOWN_LINKTYPES:
            self._unknown_links[linktype] += 1
            return
        frame = parse_frame(linktype, data)
        if isinstance(frame, Fragment):
            frame = self._fragments.receive(frame, time)
        if frame is None:
            return
        if isinstance(frame, Segment):
            self._segment(frame)
        elif isinstance(frame, Datagram):
            self._datagram(frame)
        elif isinstance(frame, Skipped):
            self._skipped[frame.reason] += 1

    def _segment(self, segment: Segment) -> None:
        key = (segment.src, segment.dst)
        connection = self._connections.get(key)
        if connection is None:
            connection = self._connections.get((segment.dst, segment.src))
        new_syn = segment.flags & (SYN | _ACK) == SYN
        if connection is None or (new_syn and connection.closed):
            if connection is not None:
                connection.finish()
            self._count += 1
            facts = TcpConnection(segment.src, segment.dst, self._time, self.packets, handshake=bool(new_syn))
            self.connections.append(facts)
            connection = _Connection(self._count, segment.src, segment.dst, self, facts)
            self._connections[key] = connection
            self._connections.pop((segment.dst, segment.src), None)
        connection.receive(0 if segment.src == connection.first else 1, segment)

    def _datagram(self, datagram: Datagram) -> None:
        payload = datagram.payload
        if not payload.strip(b"\r\n\0"):
            return  # a keep-alive or an empty datagram
        message: Request | Response | None = None
        error: SipError | None = None
        try:
            message = parse_message(payload)
        except SipError as exc:
            if exc.drop:  # not even a start line: not SIP at all
                key = (datagram.src, datagram.dst)
                if key not in self._garbage:
                    self._garbage.add(key)
                    where = f"{key[0][0]}:{key[0][1]} -> {key[1][0]}:{key[1][1]} (UDP)"
                    self.problem(ProblemKind.GARBAGE, where, f"a datagram that is not SIP: {payload[:24]!r}")
                return
            error = exc
        self._emit(datagram.src, datagram.dst, "UDP", payload, message, error, None, None)

    def finish(self) -> None:
        """The capture ended: report open holes, skipped frames, and a capture without SIP."""
        for connection in list(self._connections.values()):
            connection.finish()
        self._fragments.finish()
        for reason, count in sorted(self._fragments.dropped.items()):
            first = self._fragments.examples[reason]
            self.problem(ProblemKind.NOT_DECODED, reason, f"{count} datagrams dropped (first: {first})")
        for linktype, count in sorted(self._unknown_links.items()):
            self.problem(ProblemKind.LINK_TYPE, f"link type {linktype}", f"{count} frames skipped")
        for reason, count in sorted(self._skipped.items()):
            self.problem(ProblemKind.NOT_DECODED, reason, f"{count} frames skipped")
        if self.sip_messages == 0:
            self.problem(ProblemKind.NO_SIP, "capture", f"no SIP message in {self.packets} frames")

    # ----- output ---------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Capture time of the frame being read."""
        return self._time

    def messages_ready(self) -> list[WireMessage]:
        """The messages completed since the last call, in order."""
        ready, self._ready = self._ready, []
        return ready

    def sip(
        self,
        slot: Slot,
        transport: Transport,
        raw: bytes,
        message: Request | Response | None,
        error: SipError | None,
    ) -> None:
        self._emit(slot.src, slot.dst, transport, raw, message, error, None, slot.layer.connection)

    def http(self, slot: Slot, raw: bytes, info: HttpInfo) -> None:
        transport: Transport = "HTTPS" if slot.layer.secure else "HTTP"
        self._emit(slot.src, slot.dst, transport, raw, None, None, info, slot.layer.connection)

    def problem(self, kind: ProblemKind, where: str, detail: str) -> None:
        self.problems.append(Problem(kind, where, detail))

    def _emit(
        self,
        src: Endpoint,
        dst: Endpoint,
        transport: Transport,
        raw: bytes,
        message: Request | Response | None,
        error: SipError | None,
        http: HttpInfo | None,
        connection: int | None,
    ) -> None:
        if http is None:
            self.sip_messages += 1
        self._ready.append(
            WireMessage(
                self._index,
                self.packets,
                self._time,
                src,
                dst,
                transport,
                raw,
                message,
                error,
                http,
                connection,
            )
        )
        self._index += 1


@dataclasses.dataclass(frozen=True, slots=True)
class Decoded:
    """Everything decoded from one file."""

    messages: list[WireMessage]
    problems: list[Problem]
    packets: int
    connections: list[TcpConnection] = dataclasses.field(default_factory=list)

    @property
    def sip(self) -> list[WireMessage]:
        return [m for m in self.messages if m.is_sip]


def iter_messages(
    path: str | os.PathLike[str], *, keylog: KeyLog | None = None, decoder: Decoder | None = None
) -> Iterator[WireMessage]:
    """Stream the messages of a capture file; problems land in ``decoder.problems``.

    Raises:
        CaptureFileError: the file cannot be opened or is not pcap/pcapng.
    """
    decoder = decoder if decoder is not None else Decoder(keylog)
    with CaptureReader(path) as reader:
        receive = decoder.receive_packet
        for item in reader:
            if type(item) is Packet:
                receive(item.time, item.linktype, item.data)
                if decoder._ready:
                    yield from decoder.messages_ready()
            elif not isinstance(item, Packet):
                decoder.receive_secrets(item.secrets_type, item.data)
        if reader.truncated is not None:
            decoder.problem(
                ProblemKind.TRUNCATED, str(path), f"{reader.truncated}; the messages before it are kept"
            )
    decoder.finish()
    yield from decoder.messages_ready()


def decode_file(path: str | os.PathLike[str], *, keylog: KeyLog | None = None) -> Decoded:
    """Decode a whole capture file (see :func:`iter_messages`)."""
    decoder = Decoder(keylog)
    messages = list(iter_messages(path, decoder=decoder))
    return Decoded(messages, decoder.problems, decoder.packets, decoder.connections)
