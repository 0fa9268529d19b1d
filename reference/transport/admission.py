"""Admission of WebSocket connections: a cap in total and per source (issue 13 item 6).

Sans-I/O: :class:`ConnectionAdmission` only counts; the listener asks it at the opening
handshake (RFC 6455 4.2.2: the server "MAY" refuse with any HTTP status) and tells it
when a connection it admitted is gone. A refusal names its HTTP status and the seconds a
client should wait (RFC 9110 15.6.4 503 Service Unavailable, 10.2.3 Retry-After).

Why both caps: the total cap bounds the memory of the IWF (every open connection holds a
TLS session and WebSocket state); the per-source cap stops one host from taking the whole
total, so an attacker at one address cannot keep legitimate WICs elsewhere out. A NAT
puts many WICs behind one address, hence a per-source default well above what one
browser opens (one WebSocket per WIC).
"""

from __future__ import annotations

import dataclasses

__all__ = ["ConnectionAdmission", "Refusal"]


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """Why a connection is refused at the handshake, and what the client is told."""

    status: int
    reason: str
    retry_after: int
    "Seconds, for the Retry-After header."


class ConnectionAdmission:
    """Counts open connections in total and per source address.

    Args:
        max_total: connections open at once over all sources.
        max_per_source: connections open at once from one source address.
        retry_after: seconds a refused client is told to wait.
    """

    def __init__(self, *, max_total: int, max_per_source: int, retry_after: int = 30) -> None:
        if max_total < 1 or max_per_source < 1 or retry_after < 0:
            raise ValueError("max_total and max_per_source must be >= 1, retry_after >= 0")
        self.max_total = max_total
        self.max_per_source = max_per_source
        self.retry_after = retry_after
        self.total = 0
        self._per_source: dict[str, int] = {}

    def open_from(self, source: str) -> int:
        """Connections admitted from ``source`` and still open."""
        return self._per_source.get(source, 0)

    def admit(self, source: str) -> Refusal | None:
        """Admit one connection from ``source`` (counted until :meth:`release`), or refuse it."""
        if self.total >= self.max_total:
            reason = f"the eP-CSCF has {self.max_total} WebSocket connections open"
            return Refusal(503, reason, self.retry_after)
        count = self._per_source.get(source, 0)
        if count >= self.max_per_source:
            return Refusal(
                503, f"{self.max_per_source} WebSocket connections are open from {source}", self.retry_after
            )
        self._per_source[source] = count + 1
        self.total += 1
        return None

    def release(self, source: str) -> None:
        """An admitted connection from ``source`` is closed."""
        count = self._per_source.get(source, 0)
        if count <= 0:
            return
        self.total -= 1
        if count == 1:
            del self._per_source[source]
        else:
            self._per_source[source] = count - 1
