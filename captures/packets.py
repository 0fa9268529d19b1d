"""Link, IP, TCP and UDP headers, read by hand with :mod:`struct` (no dissection library).

Link types (tcpdump.org LINKTYPE_* values): Ethernet (1, with 802.1Q tags), BSD loopback
NULL (0, host byte order) and LOOP (108, network order), raw IP (101, 12, 14, 228, 229),
Linux cooked SLL (113) and SLL2 (276). ``dumpcap -i lo`` on Linux writes Ethernet frames
with zero addresses.

IP: IPv4 (RFC 791; the total length trims link padding) and IPv6 (RFC 8200, with the
hop-by-hop, routing and destination option headers skipped). Fragments are not
reassembled: on loopback a datagram is never fragmented, and the caller reports them.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

__all__ = ["Datagram", "Segment", "Skipped", "parse_frame", "KNOWN_LINKTYPES"]

FIN, SYN, RST = 0x01, 0x02, 0x04

KNOWN_LINKTYPES = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})

_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
_IPV6_EXTENSIONS = frozenset({0, 43, 60})
_V4 = struct.Struct("!xxHxxHxBxx4s4s")
_V6 = struct.Struct("!4xHBx16s16s")
_TCP = struct.Struct("!HHIIBB")
_UDP = struct.Struct("!HHH")
_NAMES: dict[bytes, str] = {}


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


def parse_frame(linktype: int, data: bytes) -> Segment | Datagram | Skipped | None:
    """Read one frame down to its TCP or UDP payload.

    Returns:
        A :class:`Segment` or :class:`Datagram`; :class:`Skipped` for a frame the
        decoder cannot read (an IP fragment, a truncated header); None for frames that
        are simply not TCP or UDP over IP (ARP, ICMP ...).
    """
    offset = _ip_start(linktype, data)
    if offset < 0 or len(data) < offset + 20:
        return None
    version = data[offset] >> 4
    if version == 4:
        ihl = (data[offset] & 0x0F) * 4
        total, fragment, protocol, src_raw, dst_raw = _V4.unpack_from(data, offset)
        if fragment & 0x3FFF:  # MF set or a fragment offset
            return Skipped("IPv4 fragment (fragments are not reassembled)")
        start, end = offset + ihl, offset + total if total else len(data)
    elif version == 6:
        if len(data) < offset + 40:
            return Skipped("truncated IPv6 header")
        length, protocol, src_raw, dst_raw = _V6.unpack_from(data, offset)
        start, end = offset + 40, offset + 40 + length
        while protocol in _IPV6_EXTENSIONS and start + 2 <= end:
            protocol, start = data[start], start + (data[start + 1] + 1) * 8
        if protocol == 44:
            return Skipped("IPv6 fragment (fragments are not reassembled)")
    else:
        return None
    end = min(end, len(data))
    if protocol == 6:
        if end - start < 20:
            return Skipped("truncated TCP header")
        sport, dport, seq, _, data_offset, flags = _TCP.unpack_from(data, start)
        payload = data[start + (data_offset >> 4) * 4 : end]
        return Segment((_name(src_raw), sport), (_name(dst_raw), dport), seq, flags, payload)
    if protocol == 17:
        if end - start < 8:
            return Skipped("truncated UDP header")
        sport, dport, length = _UDP.unpack_from(data, start)
        return Datagram((_name(src_raw), sport), (_name(dst_raw), dport), data[start + 8 : start + length])
    return None
