"""A clock shared by processes: real time plus an offset kept in a file the tester writes.

An in-process run gives the stack a clock object the tester moves (``Stack(clock=...)``).
When the stack runs as separate processes (``wimpu-ref up --clock-offset-file FILE``), each
process reads its time as ``time.time() + offset``, the offset being the number of seconds
(a decimal number, optionally signed, one line) in ``FILE``; the tester moves every node's time
forward at once by writing a larger number there. A missing or empty file is an offset of 0. The file is
re-read when its inode, modification time or size changes, and on every read while it is younger than
:data:`SETTLE` seconds, so reading a settled clock costs one ``stat``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["SETTLE", "OffsetFileClock", "write_offset"]

SETTLE = 2.0
"""Seconds after its last change during which the file is re-read on every call. Its modification time
comes from the kernel's coarse clock (a tick of several milliseconds), and the tester may write two
jumps a few milliseconds apart (two Given steps that let time pass). Two offsets of one length written
within one tick can leave the same (mtime, size), and the second file may get the inode the first one
freed. A reader that cached the first offset would keep it until the next write, one jump behind."""


class OffsetFileClock:
    """Seconds since the epoch, moved forward by the offset in ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int, int] | None = None
        self._offset = 0.0

    def offset(self) -> float:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0.0
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._seen or time.time() - st.st_mtime < SETTLE:
            text = self.path.read_text(encoding="utf-8").strip()
            try:
                self._offset = float(text) if text else 0.0
            except ValueError:
                raise ValueError(f"{self.path}: not a number of seconds: {text[:40]!r}") from None
            self._seen = key
        return self._offset

    def __call__(self) -> float:
        return time.time() + self.offset()

    def __repr__(self) -> str:
        return f"OffsetFileClock({str(self.path)!r}, offset={self.offset():.0f})"


def write_offset(path: str | os.PathLike[str], seconds: float) -> None:
    """Set the offset atomically (write a temporary file, then rename it over ``path``).

    Written with its sign (``+600.000000``): the form libfaketime reads as a relative offset from
    its ``FAKETIME_TIMESTAMP_FILE``, so a third-party process started under libfaketime on the same
    file (the Kamailio lab, ``interop/kamailio/start.sh``) keeps the stack's time."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}")
    temporary.write_text(f"{seconds:+.6f}\n", encoding="utf-8")
    os.replace(temporary, target)
