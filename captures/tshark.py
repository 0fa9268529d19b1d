"""tshark as an independent reader of the same captures (cross-checks and benchmarks).

tshark finds SIP, HTTP and TLS on well-known ports and by heuristics; on the stack's
random ports it is told what each port carries with "Decode As" options
(``/work/shared/design/tooling-notes.md``): ``-d tcp.port==P,sip`` and
``-d udp.port==P,sip`` for SIP ports, ``-d tcp.port==P,http`` for HTTP, and
``-d tcp.port==P,tls -d tls.port==P,http`` for HTTPS and WSS (the WebSocket handshake
is in the capture, so HTTP hands over to the WebSocket dissector, which hands text to
SIP because the subprotocol is ``sip``). No key log option: a capture written by
:class:`captures.capture.LiveCapture` carries its secrets in a Decryption Secrets Block.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

__all__ = ["decode_as_options", "sip_labels_by_frame", "tshark_path"]


def tshark_path() -> str:
    """The tshark executable; raises FileNotFoundError if it is not installed."""
    path = shutil.which("tshark")
    if path is None:
        raise FileNotFoundError("tshark is not installed (Debian package tshark, see scripts/install.sh)")
    return path


def decode_as_options(ports: Mapping[int, str]) -> list[str]:
    """Decode As options for the ports named as :func:`captures.legs.stack_ports` names them:
    ``registrar`` is HTTP, ``wwsf`` and ``*/wss`` are TLS carrying HTTP (then WebSocket),
    every other port carries SIP over TCP and UDP."""
    options: list[str] = []
    for port, name in sorted(ports.items()):
        if name == "registrar":
            options += ["-d", f"tcp.port=={port},http"]
        elif name == "wwsf" or name.endswith("/wss"):
            options += ["-d", f"tcp.port=={port},tls", "-d", f"tls.port=={port},http"]
        else:
            options += ["-d", f"tcp.port=={port},sip", "-d", f"udp.port=={port},sip"]
    return options


def sip_labels_by_frame(
    path: str | os.PathLike[str], options: Sequence[str] = (), *, timeout: float = 300
) -> dict[int, list[str]]:
    """For each frame tshark finds SIP in: the method of each request and the status code
    of each response it completes, sorted (tshark lists requests and responses of one
    frame in separate fields, so their order within the frame is lost)."""
    command = [
        tshark_path(), "-r", str(path), *options, "-Y", "sip",
        "-T", "fields", "-e", "frame.number", "-e", "sip.Method", "-e", "sip.Status-Code",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    labels: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        frame, methods, statuses = (line.split("\t") + ["", ""])[:3]
        found = [v for v in (*methods.split(","), *statuses.split(",")) if v]
        labels[int(frame)] = sorted(found)
    return labels
