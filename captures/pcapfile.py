"""Read pcap and pcapng files block by block, and add TLS secrets to a pcapng file.

The reader walks a memory map of the file with :mod:`struct` and yields raw packets: no
dissection. It is used instead of scapy's ``RawPcapReader``/``RawPcapNgReader`` because
those (scapy 2.8) end silently on a file cut short (a log warning, then ``EOFError``, so
a truncated capture looks complete), cut every packet to 65,535 bytes while a loopback
frame can be 65,550, and load Decryption Secrets into scapy's global ``conf``. Here a
short file sets :attr:`CaptureReader.truncated`, and secrets come out in order as
:class:`SecretsBlock` items.

Formats: pcap (LINKTYPE in the file header; micro- and nanosecond magic, both byte
orders) and pcapng (draft-ietf-opsawg-pcapng: Section Header, Interface Description,
Enhanced/Simple/obsolete Packet, Interface Statistics and Decryption Secrets Blocks,
several sections, both byte orders).
"""

from __future__ import annotations

import dataclasses
import mmap
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from .errors import CaptureFileError
from .packets import Datagram, parse_frame

__all__ = [
    "TLS_KEY_LOG",
    "BlockScanner",
    "CaptureReader",
    "Interface",
    "Packet",
    "SecretsBlock",
    "inject_secrets",
    "secrets_block",
]

SHB = 0x0A0D0D0A
IDB, PB, SPB, ISB, EPB, DSB = 1, 2, 3, 5, 6, 10
TLS_KEY_LOG = 0x544C534B
"pcapng secrets type 'TLSK': an NSS key log (SSLKEYLOGFILE format)."
_BYTE_ORDER = 0x1A2B3C4D
_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


class Packet(NamedTuple):
    """One captured frame: time in seconds since the epoch, its link type, its bytes."""

    time: float
    linktype: int
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class SecretsBlock:
    """A pcapng Decryption Secrets Block (type 0x0000000A)."""

    secrets_type: int
    data: bytes


@dataclasses.dataclass(slots=True)
class Interface:
    """What an Interface Description Block (or the pcap header) says about an interface."""

    linktype: int
    snaplen: int
    resolution: float = 1e-6
    offset: float = 0.0
    dropped: int | None = None
    "Packets dropped by the OS, from the last Interface Statistics Block (isb_ifdrop)."


class CaptureReader:
    """Iterate the packets (and secrets) of a pcap or pcapng file, in file order.

    Args:
        path: the file.

    Raises:
        CaptureFileError: the file is missing, empty, or neither pcap nor pcapng.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size < 24:
                    raise CaptureFileError(f"{self.path}: {size} bytes, too short for a capture file")
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise CaptureFileError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise CaptureFileError(f"{self.path}: is a directory") from None
        except PermissionError:
            raise CaptureFileError(f"{self.path}: permission denied") from None
        magic = self._map[:4]
        if magic == SHB.to_bytes(4, "big"):
            self.format = "pcapng"
        elif magic in _PCAP_MAGIC:
            self.format = "pcap"
        else:
            self._map.close()
            raise CaptureFileError(f"{self.path}: not a pcap or pcapng file (magic {magic.hex()})")
        self.interfaces: list[Interface] = []
        self.truncated: str | None = None
        "Why reading stopped before the end of the file, or None if the file was complete."

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._map.close()

    def __iter__(self) -> Iterator[Packet | SecretsBlock]:
        return self._pcapng() if self.format == "pcapng" else self._pcap()

    # ----- pcap ---------------------------------------------------------------------

    def _pcap(self) -> Iterator[Packet]:
        data = self._map
        endian, unit = _PCAP_MAGIC[bytes(data[:4])]
        snaplen, network = struct.unpack_from(endian + "II", data, 16)
        linktype = network & 0xFFFF  # the upper bits carry FCS information
        self.interfaces.append(Interface(linktype, snaplen, unit))
        record = struct.Struct(endian + "IIII")
        offset, size = 24, len(data)
        while offset < size:
            if offset + 16 > size:
                self.truncated = f"the file ends inside a record header at byte {offset}"
                return
            sec, frac, caplen, _ = record.unpack_from(data, offset)
            start = offset + 16
            if start + caplen > size:
                self.truncated = f"the file ends inside a packet of {caplen} bytes at byte {offset}"
                return
            yield Packet(sec + frac * unit, linktype, data[start : start + caplen])
            offset = start + caplen

    # ----- pcapng -------------------------------------------------------------------

    def _pcapng(self) -> Iterator[Packet | SecretsBlock]:
        data = self._map
        size = len(data)
        offset = 0
        endian = "<"
        head = struct.Struct("<II")
        while offset < size:
            if offset + 12 > size:
                self.truncated = f"the file ends inside a block header at byte {offset}"
                return
            if data[offset : offset + 4] == b"\x0a\x0d\x0d\x0a":
                order = data[offset + 8 : offset + 12]
                endian = "<" if order == b"\x4d\x3c\x2b\x1a" else ">"
                if struct.unpack(endian + "I", order)[0] != _BYTE_ORDER:
                    self.truncated = f"bad byte-order magic in the Section Header Block at byte {offset}"
                    return
                head = struct.Struct(endian + "II")
                self.interfaces = []  # interface ids are per section
            block_type, length = head.unpack_from(data, offset)
            if length < 12 or length % 4:
                self.truncated = f"corrupt block of length {length} at byte {offset}"
                return
            if offset + length > size:
                self.truncated = f"the file ends inside a block of {length} bytes at byte {offset}"
                return
            body = offset + 8
            end = offset + length - 4
            if block_type == EPB:
                iface, high, low, caplen = struct.unpack_from(endian + "IIII", data, body)
                info = self._interface(iface)
                if info is not None:
                    start = body + 20
                    yield Packet(
                        ((high << 32) | low) * info.resolution + info.offset,
                        info.linktype,
                        data[start : start + min(caplen, end - start)],
                    )
            elif block_type == SPB:
                (original,) = struct.unpack_from(endian + "I", data, body)
                info = self._interface(0)
                if info is not None:
                    caplen = min(original, end - body - 4, info.snaplen or original)
                    yield Packet(0.0, info.linktype, data[body + 4 : body + 4 + caplen])
            elif block_type == PB:
                iface, _drops, high, low, caplen = struct.unpack_from(endian + "HHIII", data, body)
                info = self._interface(iface)
                if info is not None:
                    start = body + 20
                    yield Packet(
                        ((high << 32) | low) * info.resolution + info.offset,
                        info.linktype,
                        data[start : start + min(caplen, end - start)],
                    )
            elif block_type == IDB:
                linktype, _, snaplen = struct.unpack_from(endian + "HHI", data, body)
                info = Interface(linktype, snaplen)
                for code, value in _options(data, body + 8, end, endian):
                    if code == 9 and len(value) == 1:  # if_tsresol
                        base = 2 if value[0] & 0x80 else 10
                        info.resolution = float(base) ** -(value[0] & 0x7F)
                    elif code == 14 and len(value) == 8:  # if_tsoffset
                        info.offset = float(struct.unpack(endian + "q", value)[0])
                self.interfaces.append(info)
            elif block_type == DSB:
                kind, length_ = struct.unpack_from(endian + "II", data, body)
                yield SecretsBlock(kind, bytes(data[body + 8 : body + 8 + min(length_, end - body - 8)]))
            elif block_type == ISB:
                (iface,) = struct.unpack_from(endian + "I", data, body)
                info = self._interface(iface)
                for code, value in _options(data, body + 12, end, endian):
                    if code == 5 and len(value) == 8 and info is not None:  # isb_ifdrop
                        info.dropped = struct.unpack(endian + "Q", value)[0]
            offset += length

    def _interface(self, index: int) -> Interface | None:
        return self.interfaces[index] if index < len(self.interfaces) else None


def _options(data: mmap.mmap | bytes, offset: int, end: int, endian: str) -> Iterator[tuple[int, bytes]]:
    """The (code, value) options of a pcapng block body, up to opt_endofopt."""
    option = struct.Struct(endian + "HH")
    while offset + 4 <= end:
        code, length = option.unpack_from(data, offset)
        if code == 0:
            return
        yield code, bytes(data[offset + 4 : offset + 4 + length])
        offset += 4 + length + (-length % 4)


class BlockScanner:
    """Watch a pcapng byte stream as it is written (dumpcap's pipe) for probe datagrams.

    Args:
        probe_port: the UDP port the probes are sent to.
        on_probe: called with the source port of each captured UDP datagram to ``probe_port``.
    """

    def __init__(self, probe_port: int, on_probe: Callable[[int], None]) -> None:
        self._port = probe_port
        self._on_probe = on_probe
        self._buffer = bytearray()
        self._endian = "<"
        self._linktypes: list[int] = []

    def feed(self, chunk: bytes) -> None:
        buffer = self._buffer
        buffer += chunk
        offset = 0
        while len(buffer) - offset >= 12:
            if buffer[offset : offset + 4] == b"\x0a\x0d\x0d\x0a":
                self._endian = "<" if buffer[offset + 8 : offset + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                self._linktypes = []
            block_type, length = struct.unpack_from(self._endian + "II", buffer, offset)
            if length < 12 or len(buffer) - offset < length:
                break
            if block_type == IDB:
                self._linktypes.append(struct.unpack_from(self._endian + "H", buffer, offset + 8)[0])
            elif block_type == EPB:
                iface, _, _, caplen = struct.unpack_from(self._endian + "IIII", buffer, offset + 8)
                if caplen <= 96 and iface < len(self._linktypes):  # probes are small
                    frame = parse_frame(
                        self._linktypes[iface], bytes(buffer[offset + 28 : offset + 28 + caplen])
                    )
                    if isinstance(frame, Datagram) and frame.dst[1] == self._port:
                        self._on_probe(frame.src[1])
            offset += length
        del buffer[:offset]


def secrets_block(secrets: bytes, *, endian: str = "<", secrets_type: int = TLS_KEY_LOG) -> bytes:
    """A pcapng Decryption Secrets Block carrying ``secrets`` (padded to 32 bits)."""
    padded = secrets + b"\0" * (-len(secrets) % 4)
    length = 20 + len(padded)
    return (
        struct.pack(endian + "IIII", DSB, length, secrets_type, len(secrets))
        + padded
        + struct.pack(endian + "I", length)
    )


def inject_secrets(path: str | os.PathLike[str], secrets: bytes) -> None:
    """Insert a TLS key log as a Decryption Secrets Block right after the first Section
    Header Block of a pcapng file, so that tshark and Wireshark decrypt it unaided.

    The file is rewritten atomically. Nothing is done when ``secrets`` is empty.

    Raises:
        CaptureFileError: the file is not pcapng (a pcap file cannot carry secrets).
    """
    path = Path(path)
    if not secrets:
        return
    content = path.read_bytes()
    if content[:4] != b"\x0a\x0d\x0d\x0a" or len(content) < 28:
        raise CaptureFileError(f"{path}: not a pcapng file; only pcapng carries decryption secrets")
    endian = "<" if content[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    (shb_length,) = struct.unpack_from(endian + "I", content, 4)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content[:shb_length] + secrets_block(secrets, endian=endian) + content[shb_length:])
    os.replace(tmp, path)
