"""Timers on the stack's clock: what a node asks to be woken for at a time of the text or the profile.

The timers a node owes to the text (the refresh of a block registration at half its interval,
TR 23.701 5.2.2.5.1; the expiry of a binding at the S-CSCF, RFC 3261 10.3) run on the stack's
clock (``Stack(clock=...)``), not on the event loop's: a tester who moves that clock moves them.

Two layers, in the house style:

- :class:`TimerQueue`, sans-I/O: deadlines (seconds on the stack's clock) in order, first
  scheduled first among equal deadlines; it never reads a clock.
- :class:`Timers`, the asyncio shell around it. A driver task wakes at the next deadline, and at
  least every ``poll`` seconds to re-read the clock, so a clock that jumps (the offset file of
  :class:`reference.clock.OffsetFileClock`, written by a tester in another process) is noticed
  within ``poll``: every timer it made due then fires, in order of deadline. In-process, a tester
  who holds the clock calls :meth:`Timers.advance` instead of moving the clock itself: the clock
  is stepped to each deadline in turn, the timer fired and the work it started (a REGISTER
  exchange) awaited before the next step, deterministically.

A timer's action is a plain callable; what it returns, if awaitable (a coroutine or a task), is
the work the timer started, tracked until done.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Timer", "TimerQueue", "Timers"]

log = logging.getLogger("wimpu.timers")

Action = Callable[[], Awaitable[Any] | None]

MAX_FIRINGS = 100_000
"Timers one :meth:`Timers.advance` may fire: beyond, a timer re-arms itself without letting time pass."


@dataclasses.dataclass(eq=False)
class Timer:
    """One scheduled wake-up: ``action`` at ``deadline`` (seconds on the stack's clock)."""

    deadline: float
    action: Action
    name: str = ""
    cancelled: bool = False

    def cancel(self) -> None:
        """Do not fire (a no-op once fired)."""
        self.cancelled = True


class TimerQueue:
    """Deadlines in order (sans-I/O: the time is always an argument)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()

    def schedule(self, deadline: float, action: Action, name: str = "") -> Timer:
        """A timer for ``action`` at ``deadline``."""
        if math.isnan(deadline):
            raise ValueError("a timer's deadline is a number of seconds, not NaN")
        timer = Timer(deadline, action, name)
        heapq.heappush(self._heap, (deadline, next(self._order), timer))
        return timer

    def next_deadline(self) -> float | None:
        """The earliest deadline of a timer not cancelled, or None."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> Timer | None:
        """The earliest timer due at ``now`` (deadline at or before it), taken off the queue."""
        deadline = self.next_deadline()
        if deadline is None or deadline > now:
            return None
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)


class Timers:
    """Timers on ``clock``, fired by a driver task (:meth:`start`) or stepped by :meth:`advance`.

    Args:
        clock: the stack's clock, seconds since the epoch (``time.time`` by default).
        poll: the longest the driver sleeps without re-reading the clock, so that a jump of
            the clock is noticed; None: it sleeps until the next deadline (a clock that only
            moves with real time).
    """

    def __init__(self, clock: Callable[[], float] = time.time, *, poll: float | None = 0.5) -> None:
        if poll is not None and not poll > 0:
            raise ValueError(f"poll must be positive, got {poll}")
        self.clock = clock
        self.poll = poll
        self.queue = TimerQueue()
        self._running: set[asyncio.Future[Any]] = set()
        self._driver: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # ----- scheduling ------------------------------------------------------------------

    def call_at(self, deadline: float, action: Action, name: str = "") -> Timer:
        """Fire ``action`` when the clock reads ``deadline``."""
        timer = self.queue.schedule(deadline, action, name)
        if self._wake is not None:
            self._wake.set()  # the driver re-computes its sleep
        return timer

    def call_later(self, delay: float, action: Action, name: str = "") -> Timer:
        """Fire ``action`` ``delay`` seconds of the clock from now."""
        return self.call_at(self.clock() + delay, action, name)

    def __len__(self) -> int:
        return len(self.queue)

    # ----- firing ----------------------------------------------------------------------

    def _fire(self, timer: Timer) -> asyncio.Future[Any] | None:
        """Run a timer's action; track the work it started."""
        try:
            work = timer.action()
        except Exception:  # one failing timer does not stop the others
            log.exception("timer %s failed", timer.name or timer.action)
            return None
        if work is None:
            return None
        future = asyncio.ensure_future(work)
        if future is not work:  # a coroutine: its failure is logged here (a task's, by its owner)
            future.add_done_callback(lambda f: _log_failure(timer, f))
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return future

    def fire_due(self) -> int:
        """Fire every timer due now, in order of deadline, without waiting for their work."""
        fired = 0
        while (timer := self.queue.pop_due(self.clock())) is not None:
            self._fire(timer)
            fired += 1
        return fired

    async def run_due(self) -> int:
        """Fire every timer due now, in order of deadline, each one's work done before the
        next fires (a timer that work schedules, if due, fires too). Returns how many fired."""
        fired = 0
        while (timer := self.queue.pop_due(self.clock())) is not None:
            future = self._fire(timer)
            if future is not None:
                await _quietly(future)
            fired += 1
            if fired > MAX_FIRINGS:
                raise RuntimeError(f"more than {MAX_FIRINGS} timers fired at one time: {timer.name}")
        await self.settle()
        return fired

    async def settle(self) -> None:
        """Wait until the work every fired timer started is done (the driver's included)."""
        while self._running:
            work = next(iter(self._running))
            if work.done():  # its done callbacks may not have run yet: awaiting it would not yield
                self._running.discard(work)
            else:
                await _quietly(work)

    async def advance(self, seconds: float, move: Callable[[float], None]) -> int:
        """Let ``seconds`` of the clock pass, timer by timer: ``move(delta)`` moves the clock
        forward (a tester's clock); it is moved to each deadline in turn, in order, and the
        timers due there fired with their work done before it moves on. Returns how many fired.
        """
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, not by {seconds} s")
        target = self.clock() + seconds
        fired = await self.run_due()
        while (deadline := self.queue.next_deadline()) is not None and deadline <= target:
            move(max(0.0, deadline - self.clock()))
            fired += await self.run_due()
            if fired > MAX_FIRINGS:
                raise RuntimeError(f"more than {MAX_FIRINGS} timers fired in {seconds} s")
        move(max(0.0, target - self.clock()))
        return fired + await self.run_due()

    # ----- the driver ------------------------------------------------------------------

    def start(self) -> None:
        """Start the driver task (on the running loop)."""
        if self._driver is None:
            self._wake = asyncio.Event()
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="stack-timers")

    async def stop(self) -> None:
        """Stop the driver and cancel the work of fired timers still running; the queue is kept."""
        driver, self._driver, self._wake = self._driver, None, None
        for work in [*self._running, *([driver] if driver is not None else [])]:
            work.cancel()
        for work in [*self._running, *([driver] if driver is not None else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await _quietly(work)
        self._running.clear()

    async def _drive(self) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            deadline = self.queue.next_deadline()
            delay = math.inf if deadline is None else max(0.0, deadline - self.clock())
            if self.poll is not None:
                delay = min(delay, self.poll)
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), None if math.isinf(delay) else delay)
            self.fire_due()


async def _quietly(work: asyncio.Future[Any]) -> None:
    """Wait for ``work`` without cancelling it if the waiter is; its failure is logged where it
    was started (:func:`_log_failure`, or the node that spawned the task)."""
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        if not work.cancelled():
            raise  # the waiter was cancelled, not the work
    except Exception:  # noqa: BLE001, S110 - logged where it was started
        pass


def _log_failure(timer: Timer, work: asyncio.Future[Any]) -> None:
    if not work.cancelled() and work.exception() is not None:
        log.error("work of timer %s failed", timer.name or timer.action, exc_info=work.exception())
