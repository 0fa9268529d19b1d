"""What the harness's peers sent or received against what the wire carried.

A pure function over decoded :class:`~captures.WireMessage` lists. What the captured messages say
of the nodes (registrations, block registrations, identities) is read by the capture rules' own
model (:class:`captures.flows.Knowledge`, through ``World``), not here: one model per concept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from captures import WireMessage

__all__ = ["Disagreement", "disagreements"]


@dataclasses.dataclass(frozen=True, slots=True)
class Disagreement:
    """A message a peer of the harness sent or received that the wire did not carry as such."""

    peer: str
    direction: str
    start_line: str

    def __str__(self) -> str:
        return f"{self.peer} {self.direction} {self.start_line!r}, but no captured message has those bytes"


def disagreements(
    seen: Iterable[tuple[str, str, bytes]], messages: Sequence[WireMessage], transports: Sequence[str]
) -> list[Disagreement]:
    """What the harness saw (peer, 'sent'/'received', raw bytes) that the capture lacks, byte for byte.

    Only the messages on ``transports`` are compared (the WICs' WSS, the remote party's TCP/UDP).
    """
    on_wire: dict[bytes, int] = {}
    for m in messages:
        if m.is_sip and m.transport in transports:
            on_wire[m.raw] = on_wire.get(m.raw, 0) + 1
    missing = []
    for peer, direction, raw in seen:
        if on_wire.get(raw, 0) > 0:
            on_wire[raw] -= 1
        else:
            start = raw.split(b"\r\n", 1)[0].decode("utf-8", "replace")
            missing.append(Disagreement(peer, direction, start))
    return missing
