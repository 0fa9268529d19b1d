"""Errors and problems of the capture side, split by what the caller can do about them.

::

    CaptureError                  base of everything raised by ``captures``
    ├── CaptureUnavailable        this machine cannot capture (no dumpcap and no usable
    │                             libpcap, not root, no CAP_NET_RAW): never pretend
    ├── CaptureIncomplete         the capture ran but the kernel or dumpcap dropped packets
    └── CaptureFileError          the file cannot be read at all (missing, not pcap/pcapng)

A file that can be read but has defects (cut short, an unknown link type, TLS without
secrets, bytes that are not SIP, HTTP or WebSocket) does not raise: the decoder keeps
what it could decode and records one :class:`Problem` per defect, so the caller gets
partial results and one clear line per problem.
"""

from __future__ import annotations

import dataclasses
import enum

__all__ = [
    "CaptureError",
    "CaptureFileError",
    "CaptureIncomplete",
    "CaptureUnavailable",
    "Problem",
    "ProblemKind",
]


class CaptureError(Exception):
    """Base class of every error raised by the ``captures`` package."""


class CaptureUnavailable(CaptureError):
    """Packets cannot be captured on this machine; the message says why."""


class CaptureIncomplete(CaptureError):
    """The capture lost packets (dropped by the kernel or by dumpcap)."""


class CaptureFileError(CaptureError):
    """A capture file that cannot be opened or is not pcap/pcapng at all."""


class ProblemKind(enum.Enum):
    """What went wrong while decoding; the value is the word printed by the CLI."""

    TRUNCATED = "truncated"
    "The file ends inside a block or record: results up to that point are kept."
    LINK_TYPE = "unknown-link-type"
    "Packets of a link type the decoder does not read were skipped."
    NOT_DECODED = "not-decoded"
    "IP fragments or other packets the decoder does not reassemble were skipped."
    NO_SECRETS = "tls-no-secrets"
    "A TLS connection whose client random is in no key log: nothing inside it is shown."
    DECRYPT = "tls-decrypt"
    "A TLS record did not authenticate with the secrets of the key log."
    GARBAGE = "garbage"
    "Bytes in a stream or datagram that are not SIP, HTTP, WebSocket or TLS."
    GAP = "gap"
    "A TCP stream has a hole (a segment missing from the capture): bytes after it are lost."
    NO_SIP = "no-sip"
    "The capture holds no SIP message at all."


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One defect found while decoding, with the connection or datagram it is about."""

    kind: ProblemKind
    where: str
    "The connection (``a:p -> b:q``), interface or file position concerned."
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.where}: {self.detail}"
