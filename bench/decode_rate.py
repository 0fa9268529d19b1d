"""Decode rate of ``captures`` against tshark, on the same synthetic trace, in the same run.

The trace (written by hand, pcap, in a temporary directory) holds SIP messages over UDP
(one per datagram) and over TCP (most one per segment, some two per segment, some cut
in two segments) on port 5060, each with its own Call-ID. Both readers must find every
message; the figure is messages per second, ours as a ratio to tshark's
(``tshark -r FILE -Y sip -T fields -e sip.Call-ID``).

Our decoder parses every message with ``reference.sip.parser.parse_message`` (strict,
see ``bench/parse_rate.py``), so the parser's own rate is printed too: it bounds ours.

Usage: ``python3 bench/decode_rate.py [messages]`` (default 30,000: well under a minute).
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from captures import decode_file
from captures.tshark import tshark_path
from reference.sip.parser import parse_message

CONNECTIONS = 50
_ETH = b"\0" * 12 + b"\x08\x00"
_LO = bytes([127, 0, 0, 1])


def sip(number: int) -> bytes:
    # A media port per call: with one port for all calls tshark's RTP conversation set-up
    # from SDP slows it down about tenfold (measured with tshark 4.0), not a fair figure.
    media = 10_000 + 2 * (number % 20_000)
    body = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio %d RTP/AVP 0\r\n" % media
    )
    return (
        f"INVITE sip:wrtc-alice@block1.ims.example.net SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK{number:08x}\r\n"
        f"Max-Forwards: 70\r\nTo: <sip:wrtc-alice@block1.ims.example.net>\r\n"
        f"From: <sip:dave@remote.example.org>;tag={number:x}\r\n"
        f"Call-ID: bench-{number}@remote.example.org\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:dave@127.0.0.1:5070;transport=tcp>\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def frame(sport: int, dport: int, payload: bytes, *, seq: int | None = None, flags: int = 0x18) -> bytes:
    if seq is None:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
        proto = 17
    else:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
        proto = 6
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4) + len(payload), 0, 0, 64, proto, 0, _LO, _LO)
    return _ETH + ip + l4 + payload


def write_trace(path: Path, messages: int) -> int:
    """Write the trace; returns its size in bytes."""
    seqs = {c: 1000 for c in range(CONNECTIONS)}
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        clock = [1_700_000_000_000_000]

        def put(data: bytes) -> None:
            clock[0] += 10
            out.write(struct.pack("<IIII", clock[0] // 1_000_000, clock[0] % 1_000_000, len(data), len(data)))
            out.write(data)

        for c in range(CONNECTIONS):
            put(frame(40000 + c, 5060, b"", seq=999, flags=0x02))
        number = 0
        while number < messages:
            if number % 2:
                put(frame(41000 + number % 100, 5060, sip(number)))
                number += 1
                continue
            c = number % CONNECTIONS
            data = sip(number)
            number += 1
            if number % 10 == 0 and number < messages:  # two messages in one segment
                data += sip(number)
                number += 1
            pieces = [data[:100], data[100:]] if number % 7 == 0 else [data]  # one message, two segments
            for piece in pieces:
                put(frame(40000 + c, 5060, piece, seq=seqs[c]))
                seqs[c] += len(piece)
    return path.stat().st_size


def ours(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    decoded = decode_file(path)
    elapsed = time.perf_counter() - start
    assert not decoded.problems, decoded.problems[:3]
    return sum(1 for m in decoded.messages if m.message is not None), elapsed


def ours_without_parsing(path: Path) -> tuple[int, float]:
    """The same decode with parse_message stubbed out: what reading, reassembly and
    framing cost on their own."""
    with (
        mock.patch("reference.sip.framing.parse_message"),
        mock.patch("captures.decode.parse_message"),
    ):
        start = time.perf_counter()
        decoded = decode_file(path)
        return len(decoded.messages), time.perf_counter() - start


def tshark(path: Path) -> tuple[int, float]:
    command = [tshark_path(), "-r", str(path), "-d", "tcp.port==5060,sip", "-d", "udp.port==5060,sip"]
    command += ["-Y", "sip", "-T", "fields", "-e", "sip.Call-ID"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    return sum(len(line.split(",")) for line in result.stdout.splitlines() if line), elapsed


def parser_rate(samples: int = 3000) -> float:
    data = [sip(n) for n in range(samples)]
    start = time.perf_counter()
    for raw in data:
        parse_message(raw)
    return samples / (time.perf_counter() - start)


def main() -> None:
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    with tempfile.TemporaryDirectory(prefix="wimpu-bench-") as tmp:
        path = Path(tmp) / "trace.pcap"
        size = write_trace(path, messages)
        print(f"trace: {messages} SIP messages (TCP and UDP), {size / 1e6:.1f} MB")
        found, seconds = ours(path)
        found_ts, seconds_ts = tshark(path)
        bare, seconds_bare = ours_without_parsing(path)
        rows = [
            ("captures.decode_file", found, seconds),
            ("tshark -Y sip -e sip.Call-ID", found_ts, seconds_ts),
            ("captures, parse_message stubbed", bare, seconds_bare),
        ]
        for name, count, elapsed in rows:
            print(f"{name:32}: {count / elapsed:10.0f} messages/s ({count} in {elapsed:.2f} s)")
        print(f"{'ratio ours/tshark':32}: {(found / seconds) / (found_ts / seconds_ts):10.2f}")
        print(f"{'parse_message alone':32}: {parser_rate():10.0f} messages/s (bounds ours)")
        if found != messages or found_ts != messages:
            print(f"WARNING: expected {messages} messages, ours found {found}, tshark {found_ts}")


if __name__ == "__main__":
    main()
