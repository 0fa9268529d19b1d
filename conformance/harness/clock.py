"""A clock the tester moves: registration timers and token lifetimes without sleeping.

The reference stack reads its time through one callable (``Stack(clock=...)``: the wIMPU
Registrar, the WWSF and the IWF use it), the aioquic pattern of the house style. A
scenario that lets "700 seconds pass" advances this clock; nothing sleeps.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["ControlledClock", "FakeClock"]


class ControlledClock(Protocol):
    """A clock the tester moves: :class:`FakeClock` in-process, the PIXIT's shared clock file outside."""

    def __call__(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


class FakeClock:
    """Seconds since the epoch, starting at the real time and frozen until :meth:`advance`."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()  # advanced from the test thread, read on the harness loop

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, not by {seconds} s")
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self():.0f})"
