"""Rate-limited logging of bad input (TR 23.701 5.2.2 lab safety, issue 13 item 6), and
lazy log arguments for the per-message lines of the SIP hot path.

A peer that sends garbage must not be able to fill the operator's log: one warning per
bad frame, unbounded, is a cheap amplification (a few bytes in, a log line out). A
:class:`RateLimitedLog` lets at most ``per_key`` lines through per ``interval`` seconds for
one key (e.g. the source IP) and at most ``total`` lines per interval over all keys; the
rest are counted, and once the key's interval is over one summary line says
``suppressed K similar messages``.

The decision is sans-I/O: :meth:`RateLimitedLog.admit` takes ``now`` and returns what to
log, so the unit test drives it with a fake clock; :meth:`RateLimitedLog.log` is the thin
shell that reads the clock and writes to a :class:`logging.Logger`. The summary of a key
is written by the next call after its interval ends (for any key) or by :meth:`flush`.

Memory is bounded: at most ``max_keys`` keys are tracked; beyond that every new key
shares one overflow key, so many sources cannot grow the table either.

:class:`Lazy` defers the text of a log argument (a message's summary, its full text) to the
moment a handler formats the record: a line below the logger's level costs no formatting.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Hashable

__all__ = ["Admission", "Lazy", "RateLimitedLog"]

_OVERFLOW = ("*overflow*",)


class Lazy:
    """A ``%s`` log argument whose text is ``render(*args)``, computed only when the record is
    formatted: ``log.debug("%s", Lazy(raw.decode, "utf-8", "replace"))`` decodes nothing when
    DEBUG is off, where an f-string or an eager call would build the text on every message."""

    __slots__ = ("_args", "_render")

    def __init__(self, render: Callable[..., object], *args: object) -> None:
        self._render = render
        self._args = args

    def __str__(self) -> str:
        return str(self._render(*self._args))


@dataclasses.dataclass(frozen=True, slots=True)
class Admission:
    """What to write for one message: the message itself or not, and summaries due."""

    emit: bool
    "Write this message."
    summaries: tuple[tuple[Hashable, int], ...] = ()
    "``(key, K)`` for each key whose interval ended with K messages suppressed."


@dataclasses.dataclass(slots=True)
class _Window:
    start: float
    emitted: int = 0
    suppressed: int = 0


class RateLimitedLog:
    """At most ``per_key`` lines per ``interval`` per key, ``total`` over all keys.

    Args:
        logger: where :meth:`log` writes.
        per_key: lines let through per key and interval.
        total: lines let through per interval over all keys (a many-source flood).
        interval: seconds of one window.
        max_keys: keys tracked at once; further keys share one overflow key.
        clock: monotonic time source (injected in tests).
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        per_key: int = 5,
        total: int = 50,
        interval: float = 60.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_key < 1 or total < 1 or interval <= 0 or max_keys < 1:
            raise ValueError("per_key, total, max_keys must be >= 1 and interval > 0")
        self.logger = logger
        self.per_key = per_key
        self.total = total
        self.interval = interval
        self.max_keys = max_keys
        self.clock = clock
        self._windows: dict[Hashable, _Window] = {}
        self._total = _Window(start=float("-inf"))

    # -- sans-I/O core ------------------------------------------------------------------

    def admit(self, key: Hashable, now: float) -> Admission:
        """Account one message of ``key`` at ``now``: write it or count it suppressed."""
        summaries = self._expire(now)
        if now - self._total.start >= self.interval:
            self._total = _Window(start=now)
        if key not in self._windows and len(self._windows) >= self.max_keys:
            key = _OVERFLOW
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(start=now)
        if window.emitted < self.per_key and self._total.emitted < self.total:
            window.emitted += 1
            self._total.emitted += 1
            return Admission(True, summaries)
        window.suppressed += 1
        return Admission(False, summaries)

    def _expire(self, now: float) -> tuple[tuple[Hashable, int], ...]:
        """Drop the windows that ended; return the suppressed counts of those that had any."""
        # Windows are inserted in time order and removed when they end, so the dict is
        # ordered by start: stop at the first one still running (O(ended), not O(keys)).
        summaries = []
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if now - window.start < self.interval:
                break
            del self._windows[key]
            if window.suppressed:
                summaries.append((key, window.suppressed))
        return tuple(summaries)

    def pending(self) -> int:
        """Messages suppressed so far and not yet summarised."""
        return sum(w.suppressed for w in self._windows.values())

    # -- logging shell ------------------------------------------------------------------

    def log(self, level: int, key: Hashable, msg: str, *args: object) -> bool:
        """Log ``msg % args`` at ``level`` unless ``key`` is over its budget.

        Returns:
            True if the line was written.
        """
        admission = self.admit(key, self.clock())
        self._summarise(level, admission.summaries)
        if admission.emit:
            self.logger.log(level, msg, *args)
        return admission.emit

    def flush(self, level: int = logging.WARNING) -> None:
        """Write the summary of every key with suppressed messages now (e.g. at stop)."""
        summaries = tuple((k, w.suppressed) for k, w in self._windows.items() if w.suppressed)
        self._windows.clear()
        self._summarise(level, summaries)

    def _summarise(self, level: int, summaries: tuple[tuple[Hashable, int], ...]) -> None:
        for key, count in summaries:
            shown = "other sources" if key == _OVERFLOW else _show(key)
            self.logger.log(
                level, "suppressed %d similar messages from %s in %.0f s", count, shown, self.interval
            )


def _show(key: Hashable) -> str:
    """``("frame", "192.0.2.1")`` reads ``192.0.2.1 (frame)``: the source last, the kind first."""
    if isinstance(key, tuple) and len(key) > 1:
        return f"{key[-1]} ({', '.join(map(str, key[:-1]))})"
    return str(key)
