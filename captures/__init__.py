"""The wire is the truth: capture the stack's traffic and decode it into SIP and HTTP messages.

- :mod:`captures.capture`: :class:`LiveCapture` (dumpcap, else scapy) writes a pcapng
  file that carries its own TLS secrets.
- :mod:`captures.decode`: :class:`Decoder`, :func:`decode_file`, :func:`iter_messages`
  turn a capture into :class:`WireMessage` items (UDP, TCP, TLS, WS, WSS, HTTP).
- :mod:`captures.legs`: names the ends of each message after the nodes.
- :mod:`captures.tshark`: the same capture read by tshark, for cross-checks.
- :mod:`captures.cli`: the ``wimpu-conformance`` command.
"""

from __future__ import annotations

from .capture import CaptureStats, LiveCapture, bpf_for_ports
from .decode import Decoded, Decoder, decode_file, iter_messages
from .errors import (
    CaptureError,
    CaptureFileError,
    CaptureIncomplete,
    CaptureUnavailable,
    Problem,
    ProblemKind,
)
from .legs import Legs, stack_endpoints, stack_ports
from .model import Endpoint, HttpInfo, Transport, WireMessage
from .pcapfile import CaptureReader, inject_secrets
from .tls import KeyLog

__all__ = [
    "CaptureError",
    "CaptureFileError",
    "CaptureIncomplete",
    "CaptureReader",
    "CaptureStats",
    "CaptureUnavailable",
    "Decoded",
    "Decoder",
    "Endpoint",
    "HttpInfo",
    "KeyLog",
    "LiveCapture",
    "Legs",
    "Problem",
    "ProblemKind",
    "Transport",
    "WireMessage",
    "bpf_for_ports",
    "decode_file",
    "inject_secrets",
    "iter_messages",
    "stack_endpoints",
    "stack_ports",
]
