"""Put one direction of a TCP connection back in sequence order (RFC 9293 3.4, 3.10.7.4).

Segments are delivered by sequence number, not by arrival: data already delivered
(a retransmission, or the overlapping part of a repacketised one) is dropped, data
ahead of the next expected byte waits until the hole before it is filled. Sequence
numbers are compared modulo 2**32. The SYN and the FIN each take one sequence number.
Without a SYN in the capture, the first segment seen starts the stream.

A hole that is never filled (a segment missing from the capture) stops the direction:
what follows it cannot be framed reliably, so :attr:`Reassembler.gap` reports it.
"""

from __future__ import annotations

from .packets import FIN, SYN

__all__ = ["Reassembler"]

_MOD = 1 << 32
_HALF = 1 << 31


def _delta(a: int, b: int) -> int:
    """a - b as a signed 32-bit distance (RFC 9293 3.4: arithmetic modulo 2**32)."""
    return ((a - b + _HALF) % _MOD) - _HALF


class Reassembler:
    """In-order bytes of one TCP direction.

    Args:
        limit: bytes allowed to wait out of order before the hole is declared a gap.
    """

    def __init__(self, *, limit: int = 64 << 20) -> None:
        self.next: int | None = None
        "The next sequence number expected."
        self.isn: int | None = None
        self._pending: dict[int, bytes] = {}
        self._pending_bytes = 0
        self._fin: int | None = None
        self._limit = limit
        self.eof = False
        "True once every byte up to the FIN has been delivered."
        self.gap: str | None = None
        "Why the direction stopped (a hole too large or never filled), or None."

    def receive(self, seq: int, flags: int, payload: bytes) -> bytes:
        """Take one segment; return the bytes that are now in order (maybe none)."""
        if self.gap is not None:
            return b""
        if flags & SYN:
            if self.next is None or self.isn != seq:
                self.isn, self.next = seq, (seq + 1) % _MOD
            seq = (seq + 1) % _MOD
        if flags & FIN:
            self._fin = (seq + len(payload)) % _MOD
        if self.next is None:
            self.next = seq
        if not payload:
            self._check_eof()
            return b""
        delta = _delta(seq, self.next)
        if delta > 0:  # ahead of a hole: wait
            kept = self._pending.get(seq)
            if kept is None or len(kept) < len(payload):
                self._pending[seq] = payload
                self._pending_bytes += len(payload) - (len(kept) if kept else 0)
            if self._pending_bytes > self._limit:
                self.gap = f"{self._pending_bytes} bytes waited behind a hole at sequence number {self.next}"
                self._pending.clear()
            return b""
        if -delta >= len(payload):  # entirely a retransmission
            return b""
        out = payload[-delta:] if delta else payload
        self.next = (self.next + len(out)) % _MOD
        if self._pending:
            out += self._drain()
        self._check_eof()
        return out

    def _drain(self) -> bytes:
        chunks: list[bytes] = []
        assert self.next is not None
        while self._pending:
            ready = [s for s in self._pending if _delta(s, self.next) <= 0]
            if not ready:
                break
            for seq in ready:
                data = self._pending.pop(seq)
                self._pending_bytes -= len(data)
                skip = -_delta(seq, self.next)
                if skip < len(data):
                    chunks.append(data[skip:])
                    self.next = (self.next + len(data) - skip) % _MOD
        return b"".join(chunks)

    def _check_eof(self) -> None:
        if self._fin is not None and self.next == self._fin:
            self.eof = True

    def finish(self) -> None:
        """The capture ended: a hole still open becomes a gap."""
        if self.gap is None and self._pending:
            self.gap = (
                f"{self._pending_bytes} bytes never delivered: the segment at sequence number "
                f"{self.next} is missing from the capture"
            )
            self._pending.clear()
