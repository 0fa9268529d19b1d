"""``wimpu-conformance``: read the wire.

``wimpu-conformance decode FILE.pcapng [--keylog KEYS] [--ports PORTS.json] [--http]``
prints one line per SIP message: time (seconds from the first message), leg, transport,
start line, Call-ID and CSeq. ``--http`` adds the HTTP messages (W6, W7, the WWSF, the
WebSocket handshakes). Problems go to stderr, one line each, and make the exit status 1;
what could be decoded is still printed.

``PORTS.json`` names the listening ports: ``{"5060": "i-cscf", ...}`` (or the reverse,
``{"i-cscf": 5060}``).

``wimpu-conformance verify FILE.pcapng [--keylog KEYS] [--pixit PIXIT.toml] [--ports PORTS.json]
[--pics PICS.toml] [--json OUT.json] [--quiet-period SECONDS]`` groups the messages into the
flows of TR 23.701 5.2.2.5 and checks each against the rules (:mod:`captures.verify`, ``docs/verify.md``): a
verdict per flow and rule with the frame and leg of the message concerned, then a summary.
The PIXIT names the nodes' addresses and gives the blocks with their identity options; a
ports file alone names the nodes (the option-dependent rules are then inconclusive). Without
``--pixit``, the topology beside the capture (``FILE.topology.json``, written by the suite next to
each scenario capture: :func:`captures.topology.sidecar_of`) does the PIXIT's part, and ``verify``
says so on stdout; ``--pixit`` wins over it, ``--ports`` adds or renames ports in either.
The SUT's PICS answers on the solution profile's choices (``--pics``; else those the sidecar
carries; else the PIXIT's PICS) say which profile checks are made: a message that goes another
way than a choice the SUT follows is a profile deviation, never a failure.

Exit status of ``decode``: 0 decoded cleanly, 1 problems (file, capture or decoding), 2 usage.
Exit status of ``verify``: 0 every rule passed, 1 a rule failed or the capture had
problems, 2 usage (no PIXIT, topology or ports file, an invalid one), 3 nothing failed but
something was inconclusive, 4 nothing failed but a profile choice deviated.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from reference.sip.errors import SipError

from .decode import Decoder, iter_messages
from .errors import CaptureFileError
from .flows import Ends
from .legs import Legs
from .model import WireMessage
from .tls import KeyLog
from .topology import Topology, TopologyLoader, read_topology, sidecar_of
from .verify import Verifier
from .verify import run as run_verify

PicsLoader = Callable[[Path], Mapping[str, str]]
"""Reads a PICS file (for ``verify --pics``): item id -> answer; raises ``ValueError`` with a one-line
reason."""

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
    verify = commands.add_parser("verify", help="check a capture against the rules of TR 23.701 5.2.2")
    verify.add_argument("file", type=Path, help="a pcap or pcapng file")
    verify.add_argument("--keylog", type=Path, help="an NSS key log (SSLKEYLOGFILE) for TLS and WSS")
    verify.add_argument(
        "--pixit",
        type=Path,
        help="the PIXIT (TOML): node addresses, blocks and options (default: FILE.topology.json beside it)",
    )
    verify.add_argument("--ports", type=Path, help='JSON {"port": "node name"}, for a capture without PIXIT')
    verify.add_argument(
        "--pics",
        type=Path,
        help="the SUT's PICS (TOML): its answers on the solution profile's choices "
        "(default: the topology beside the capture's, else the PIXIT's)",
    )
    verify.add_argument("--json", type=Path, help="also write the verdicts as JSON to this file")
    verify.add_argument(
        "--quiet-period",
        type=float,
        default=64.0,
        metavar="SECONDS",
        help="capture time without a message after which a flow is closed (default 64)",
    )
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


def verify(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    load_topology: TopologyLoader | None,
    load_pics: PicsLoader | None = None,
) -> int:
    if args.pixit is not None and load_topology is None:
        print(f"{PROG}: verify: error: --pixit needs the suite's PIXIT loader (run wimpu-conformance verify)",
              file=err)  # fmt: skip
        return 2
    if args.pics is not None and load_pics is None:
        print(f"{PROG}: verify: error: --pics needs the suite's PICS loader (run wimpu-conformance verify)",
              file=err)  # fmt: skip
        return 2
    # without a PIXIT, the topology the capture carries beside it (a scenario capture of the suite)
    sidecar = sidecar_of(args.file) if args.pixit is None else None
    if sidecar is not None and not sidecar.is_file():
        sidecar = None
    if args.pixit is None and args.ports is None and sidecar is None:
        print(
            f"{PROG}: verify: error: give --pixit PIXIT.toml (or --ports PORTS.json) to name the nodes "
            f"(no {sidecar_of(args.file).name} beside the capture)",
            file=err,
        )
        return 2
    if args.quiet_period <= 0:
        print(f"{PROG}: verify: error: --quiet-period must be positive", file=err)
        return 2
    pixit: Topology | None = None
    try:
        if args.pixit is not None and load_topology is not None:
            pixit = load_topology(args.pixit)
        elif sidecar is not None:
            pixit = read_topology(sidecar)
            print(f"{PROG}: verify: nodes and blocks from the topology beside the capture: {sidecar}",
                  file=out)  # fmt: skip
        ports = _load_ports(args.ports) if args.ports is not None else {}
        answers = load_pics(args.pics) if args.pics is not None and load_pics is not None else None
    except ValueError as exc:
        print(f"{PROG}: verify: error: {exc}", file=err)
        return 2
    if pixit is not None:
        verifier = Verifier.of(pixit, pics=answers, quiet=args.quiet_period, ports=ports)
    else:
        verifier = Verifier(Ends.from_ports(ports), quiet=args.quiet_period, pics=answers)
    if not verifier.tracker.ends.named:
        if args.pixit is not None:
            where = f"the PIXIT {args.pixit} gives no node address (url, sip)"
        else:
            where = f"the topology {sidecar} gives no node address" if pixit else "no port is named"
        print(f"{PROG}: verify: error: {where}: the ends of the messages cannot be named", file=err)
        return 2
    return run_verify(args.file, verifier, keylog=args.keylog, json_path=args.json, out=out, err=err)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    load_topology: TopologyLoader | None = None,
    load_pics: PicsLoader | None = None,
) -> int:
    """``decode`` or ``verify``; ``load_topology`` reads ``verify --pixit`` (the suite passes its PIXIT
    loader: :mod:`captures` knows only :class:`~captures.topology.Topology`), ``load_pics`` reads
    ``verify --pics`` (item id -> answer)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if args.command == "verify":
            return verify(args, out, err, load_topology, load_pics)
        return decode(args, out, err)
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":
    sys.exit(main())
