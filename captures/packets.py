"""Link, IP, TCP and UDP headers, read by hand with :mod:`struct` (no dissection library).

Link types (tcpdump.org LINKTYPE_* values): Ethernet (1, with 802.1Q tags), BSD loopback
NULL (0, host byte order) and LOOP (108, network order), raw IP (101, 12, 14, 228, 229),
Linux cooked SLL (113) and SLL2 (276). ``dumpcap -i lo`` on Linux writes Ethernet frames
with zero addresses.

IP: IPv4 (RFC 791; the total length trims link padding) and IPv6 (RFC 8200, with the
hop-by-hop, routing and destination option headers skipped). Fragments (RFC 791 3.2,
RFC 8200 4.5) come out of :func:`parse_frame` as :class:`Fragment` and are put back
together by :class:`Defragmenter`, which bounds what it holds: a datagram still
incomplete after ``timeout`` seconds of capture time, one beyond ``max_pending``
datagrams in reassembly, one larger than 65,535 bytes, and one whose fragments
overlap with different bytes (RFC 5722) are dropped and counted in
:attr:`Defragmenter.dropped`, for the problem report. On loopback a datagram is never
fragmented; lab traces of SIP over UDP often are (an INVITE with SDP over a 1,500-byte
MTU).
"""

from __future__ import annotations

import socket
import struct
from collections import Counter, OrderedDict
from typing import NamedTuple

__all__ = [
    "Datagram",
    "Defragmenter",
    "Fragment",
    "KNOWN_LINKTYPES",
    "Segment",
    "Skipped",
    "parse_frame",
    "parse_transport",
]

FIN, SYN, RST = 0x01, 0x02, 0x04

KNOWN_LINKTYPES = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})

_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
_IPV6_EXTENSIONS = frozenset({0, 43, 60})
_IPV6_FRAGMENT = 44
_V4 = struct.Struct("!xxHHHxB2x4s4s")
_V6 = struct.Struct("!4xHBx16s16s")
_V6_FRAGMENT = struct.Struct("!BxHI")
_TCP = struct.Struct("!HHIIBB")
_UDP = struct.Struct("!HHH")
_NAMES: dict[bytes, str] = {}
_MAX_DATAGRAM = 65_535
"The largest IP payload a reassembled datagram may have (RFC 791 total length; RFC 8200 4.5)."


class Segment(NamedTuple):
    """A TCP segment: endpoints, sequence number, flags and payload."""

    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    flags: int
    payload: bytes


class Datagram(NamedTuple):
    """A UDP datagram."""

    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes


class Skipped(NamedTuple):
    """A frame the decoder does not read, and why (for the problem report)."""

    reason: str


class Fragment(NamedTuple):
    """One fragment of an IP datagram (RFC 791 3.2, RFC 8200 4.5)."""

    key: tuple[int, bytes, bytes, int, int]
    "(IP version, source, destination, identification, protocol): the datagram it belongs to."
    src: str
    dst: str
    protocol: int
    "The upper-layer protocol (IPv4 protocol field; IPv6 Next Header of the Fragment header)."
    offset: int
    "Where its bytes go in the datagram's payload, in bytes."
    more: bool
    "The More Fragments flag: False on the last fragment."
    payload: bytes


def _name(raw: bytes) -> str:
    name = _NAMES.get(raw)
    if name is None:
        name = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
        _NAMES[raw] = name
    return name


def _ip_start(linktype: int, data: bytes) -> int:
    """Offset of the IP header in a frame of ``linktype``, or -1 when it carries no IP."""
    if linktype == 1:
        ethertype = int.from_bytes(data[12:14], "big")
        offset = 14
        while ethertype in (_ETH_VLAN, _ETH_QINQ):
            ethertype = int.from_bytes(data[offset + 2 : offset + 4], "big")
            offset += 4
        return offset if ethertype in (_ETH_IPV4, _ETH_IPV6) else -1
    if linktype in (0, 108):
        return 4
    if linktype in (12, 14, 101, 228, 229):
        return 0
    if linktype == 113:
        return 16 if int.from_bytes(data[14:16], "big") in (_ETH_IPV4, _ETH_IPV6) else -1
    if linktype == 276:
        return 20 if int.from_bytes(data[0:2], "big") in (_ETH_IPV4, _ETH_IPV6) else -1
    return -1


def parse_frame(linktype: int, data: bytes) -> Segment | Datagram | Skipped | Fragment | None:
    """Read one frame down to its TCP or UDP payload.

    Returns:
        A :class:`Segment` or :class:`Datagram`; a :class:`Fragment` of an IP datagram
        (for :class:`Defragmenter`); :class:`Skipped` for a frame the decoder cannot
        read (a truncated header); None for frames that are simply not TCP or UDP over
        IP (ARP, ICMP ...).
    """
    offset = _ip_start(linktype, data)
    if offset < 0 or len(data) < offset + 20:
        return None
    version = data[offset] >> 4
    if version == 4:
        ihl = (data[offset] & 0x0F) * 4
        total, ident, fragment, protocol, src_raw, dst_raw = _V4.unpack_from(data, offset)
        start, end = offset + ihl, min(offset + total if total else len(data), len(data))
        if fragment & 0x3FFF:  # RFC 791 3.1: MF set or a fragment offset
            key = (4, src_raw, dst_raw, ident, protocol)
            more = bool(fragment & 0x2000)
            return Fragment(
                key, _name(src_raw), _name(dst_raw), protocol, (fragment & 0x1FFF) * 8, more, data[start:end]
            )
    elif version == 6:
        if len(data) < offset + 40:
            return Skipped("truncated IPv6 header")
        length, protocol, src_raw, dst_raw = _V6.unpack_from(data, offset)
        start, end = offset + 40, min(offset + 40 + length, len(data))
        while protocol in _IPV6_EXTENSIONS and start + 2 <= end:
            protocol, start = data[start], start + (data[start + 1] + 1) * 8
        if protocol == _IPV6_FRAGMENT:
            if end - start < 8:
                return Skipped("truncated IPv6 fragment header")
            protocol, field, ident = _V6_FRAGMENT.unpack_from(data, start)
            offset_bytes, more = (field >> 3) * 8, bool(field & 1)
            if offset_bytes or more:
                key = (6, src_raw, dst_raw, ident, 0)  # RFC 8200 4.5: source, destination, identification
                payload = data[start + 8 : end]
                return Fragment(key, _name(src_raw), _name(dst_raw), protocol, offset_bytes, more, payload)
            start += 8  # an atomic fragment (RFC 6946): the datagram is whole
    else:
        return None
    return parse_transport(protocol, _name(src_raw), _name(dst_raw), data, start, end)


def parse_transport(
    protocol: int, src: str, dst: str, data: bytes, start: int = 0, end: int | None = None
) -> Segment | Datagram | Skipped | None:
    """The TCP segment or UDP datagram in ``data[start:end]``, an IP payload of ``protocol``.

    IPv6 extension headers still in front of it (after a reassembled Fragment header)
    are skipped.
    """
    end = len(data) if end is None else min(end, len(data))
    while protocol in _IPV6_EXTENSIONS and start + 2 <= end:
        protocol, start = data[start], start + (data[start + 1] + 1) * 8
    if protocol == 6:
        if end - start < 20:
            return Skipped("truncated TCP header")
        sport, dport, seq, _, data_offset, flags = _TCP.unpack_from(data, start)
        payload = data[start + (data_offset >> 4) * 4 : end]
        return Segment((src, sport), (dst, dport), seq, flags, payload)
    if protocol == 17:
        if end - start < 8:
            return Skipped("truncated UDP header")
        sport, dport, length = _UDP.unpack_from(data, start)
        stop = start + length if length >= 8 else end  # a jumbogram's length is 0 (RFC 2675 4)
        return Datagram((src, sport), (dst, dport), data[start + 8 : min(stop, end)])
    return None


class _Pending:
    """The fragments of one datagram received so far."""

    __slots__ = ("first", "pieces", "total", "src", "dst", "protocol")

    def __init__(self, first: float, fragment: Fragment) -> None:
        self.first = first
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None
        self.src, self.dst, self.protocol = fragment.src, fragment.dst, fragment.protocol

    def add(self, fragment: Fragment) -> str | None:
        """Store a fragment; the reason to drop the datagram, or None."""
        start, data = fragment.offset, fragment.payload
        stop = start + len(data)
        if stop > _MAX_DATAGRAM:
            return "larger than 65,535 bytes"
        if not fragment.more:
            if self.total is not None and self.total != stop:
                return "two last fragments"
            self.total = stop
        for offset, piece in self.pieces.items():
            low, high = max(start, offset), min(stop, offset + len(piece))
            if low < high and data[low - start : high - start] != piece[low - offset : high - offset]:
                return "overlapping fragments with different bytes (RFC 5722)"
        if len(data) > len(self.pieces.get(start, b"")):
            self.pieces[start] = data
        if fragment.offset == 0 and fragment.key[0] == 6:
            self.protocol = fragment.protocol  # RFC 8200 4.5: the first fragment's Next Header
        return None

    def assemble(self) -> bytes | None:
        """The whole payload once every byte up to the last fragment is in, else None."""
        if self.total is None:
            return None
        covered = 0
        for offset in sorted(self.pieces):
            if offset > covered:
                return None
            covered = max(covered, offset + len(self.pieces[offset]))
        if covered < self.total:
            return None
        payload = bytearray(self.total)
        for offset in sorted(self.pieces):
            piece = self.pieces[offset][: self.total - offset]
            payload[offset : offset + len(piece)] = piece
        return bytes(payload)


class Defragmenter:
    """Reassemble fragmented IPv4 and IPv6 datagrams (RFC 791 3.2, RFC 8200 4.5), bounded.

    Args:
        timeout: seconds of capture time a datagram may wait for its missing fragments
            (Linux's ``ipfrag_time`` is 30).
        max_pending: datagrams in reassembly at once; the oldest is dropped beyond it.
    """

    def __init__(self, *, timeout: float = 30.0, max_pending: int = 1024) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: OrderedDict[tuple[int, bytes, bytes, int, int], _Pending] = OrderedDict()
        self.dropped: Counter[str] = Counter()
        "Why datagrams were dropped (``IPv4 fragments: incomplete after 30 s``) -> how many."
        self.examples: dict[str, str] = {}
        "The first datagram dropped for each reason, as ``src -> dst``."

    def receive(self, fragment: Fragment, time: float) -> Segment | Datagram | Skipped | None:
        """One fragment; the datagram's segment or datagram once it is whole."""
        self.expire(time)
        key = fragment.key
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                old_key, old = self._pending.popitem(last=False)
                self._drop(old_key, old, f"more than {self.max_pending} datagrams in reassembly at once")
            pending = self._pending[key] = _Pending(time, fragment)
        reason = pending.add(fragment)
        if reason is not None:
            del self._pending[key]
            self._drop(key, pending, reason)
            return None
        payload = pending.assemble()
        if payload is None:
            return None
        del self._pending[key]
        return parse_transport(pending.protocol, pending.src, pending.dst, payload)

    def expire(self, now: float) -> None:
        """Drop the datagrams that waited longer than ``timeout``."""
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if now - oldest.first <= self.timeout:
                return
            del self._pending[key]
            self._drop(key, oldest, f"incomplete after {self.timeout:g} s")

    def finish(self) -> None:
        """The capture ended: every datagram still incomplete is dropped."""
        while self._pending:
            key, pending = self._pending.popitem(last=False)
            self._drop(key, pending, "incomplete at the end of the capture")

    def _drop(self, key: tuple[int, bytes, bytes, int, int], pending: _Pending, reason: str) -> None:
        label = f"IPv{key[0]} fragments: {reason}"
        self.dropped[label] += 1
        self.examples.setdefault(label, f"{pending.src} -> {pending.dst} id {key[3]:#x}")
