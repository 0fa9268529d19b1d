"""``wimpu-conformance``: read the wire.

``wimpu-conformance decode FILE.pcapng [--keylog KEYS] [--ports PORTS.json] [--http]``
prints one line per SIP message: time (seconds from the first message), leg, transport,
start line, Call-ID and CSeq. ``--http`` adds the HTTP messages (W6, W7, the WWSF, the
WebSocket handshakes). Problems go to stderr, one line each, and make the exit status 1;
what could be decoded is still printed.

``PORTS.json`` names the listening ports: ``{"5060": "i-cscf", ...}`` (or the reverse,
``{"i-cscf": 5060}``).

``wimpu-conformance verify`` (rule checks against a PIXIT) is not there yet: it exits 2.

Exit status: 0 decoded cleanly, 1 problems (file, capture or decoding), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from reference.sip.errors import SipError

from .decode import Decoder, iter_messages
from .errors import CaptureFileError
from .legs import Legs
from .model import WireMessage
from .tls import KeyLog

__all__ = ["main"]

PROG = "wimpu-conformance"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Decode and check captures of wIMPU traffic.")
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser("decode", help="print the SIP messages of a capture, one per line")
    decode.add_argument("file", type=Path, help="a pcap or pcapng file")
    decode.add_argument("--keylog", type=Path, help="an NSS key log (SSLKEYLOGFILE) for TLS and WSS")
    decode.add_argument("--ports", type=Path, help='JSON {"port": "node name"} naming the listening ports')
    decode.add_argument("--http", action="store_true", help="also print the HTTP messages")
    verify = commands.add_parser("verify", help="check a capture against the rules (not yet)")
    verify.add_argument("args", nargs="*")
    return parser


def _load_ports(path: Path) -> dict[int, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read a JSON object of ports: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of ports")
    ports: dict[int, str] = {}
    for key, value in data.items():
        if str(key).isdigit():
            ports[int(key)] = str(value)
        elif isinstance(value, int) or str(value).isdigit():
            ports[int(value)] = str(key)
        else:
            raise ValueError(f"{path}: {key!r}: {value!r} names no port")
    return ports


def _sip_fields(message: WireMessage) -> tuple[str, str]:
    if message.message is None:
        return "-", "-"
    try:
        return message.message.call_id, str(message.message.cseq)
    except SipError:
        return "-", "-"


def _line(message: WireMessage, legs: Legs, start: float) -> str:
    leg = legs.leg(message)
    line = f"{message.time - start:11.6f}  {leg:<34}  {message.transport:<5}  {message.start_line()}"
    if not message.is_sip:
        return line
    call_id, cseq = _sip_fields(message)
    return f"{line}  Call-ID: {call_id}  CSeq: {cseq}"


def decode(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    problems = 0
    try:
        ports = _load_ports(args.ports) if args.ports else {}
        keylog = KeyLog.from_file(args.keylog) if args.keylog else KeyLog()
    except (OSError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 1
    decoder = Decoder(keylog)
    try:
        messages = list(iter_messages(args.file, decoder=decoder))
    except CaptureFileError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return 1
    legs = Legs(ports).learn(messages)
    shown = [m for m in messages if m.is_sip or args.http]
    start = shown[0].time if shown else 0.0
    for message in shown:
        print(_line(message, legs, start), file=out)
    for problem in decoder.problems:
        print(f"{PROG}: {problem}", file=err)
        problems += 1
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "verify":
        print(f"{PROG}: verify: not yet implemented (rule checks against a PIXIT come later)", file=err)
        return 2
    try:
        return decode(args, out, err)
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":
    sys.exit(main())
