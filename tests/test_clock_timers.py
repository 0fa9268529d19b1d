"""The timers on the stack's clock (reference.timers): order, stepping, re-arming, a jumping clock.

No test asserts how long anything took: a driver's firing is awaited as an event, bounded only
so that a broken driver fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from conformance.harness.clock import FakeClock
from reference.clock import SETTLE, OffsetFileClock, write_offset
from reference.timers import Timer, TimerQueue, Timers

BOUND = 10.0
"Seconds a test waits for a driver's event before it fails (a bound, not a timing)."


def test_the_queue_gives_due_timers_in_order_of_deadline_first_scheduled_first() -> None:
    queue = TimerQueue()
    late = queue.schedule(30, lambda: None, "late")
    first = queue.schedule(10, lambda: None, "first")
    second = queue.schedule(10, lambda: None, "second")
    dropped = queue.schedule(5, lambda: None, "dropped")
    dropped.cancel()
    assert queue.next_deadline() == 10
    assert queue.pop_due(9) is None
    assert [queue.pop_due(20), queue.pop_due(20), queue.pop_due(20)] == [first, second, None]
    assert len(queue) == 1 and queue.pop_due(30) is late


async def test_advance_steps_the_clock_to_each_deadline_in_order() -> None:
    clock = FakeClock(start=1000.0)
    timers = Timers(clock)
    seen: list[tuple[str, float]] = []
    for name, delay in (("c", 30), ("a", 10), ("b", 20), ("beyond", 100)):
        timers.call_later(delay, lambda name=name: seen.append((name, clock())), name)
    fired = await timers.advance(50, clock.advance)
    assert seen == [("a", 1010.0), ("b", 1020.0), ("c", 1030.0)]
    assert fired == 3 and clock() == 1050.0
    assert timers.queue.next_deadline() == 1100.0


async def test_a_timer_that_re_arms_itself_fires_at_each_of_its_deadlines() -> None:
    """A block registration of 600 s refreshed at half its interval, over 800 s: at 300 and 600."""
    clock = FakeClock(start=0.0)
    timers = Timers(clock)
    refreshed: list[float] = []

    def refresh() -> None:
        refreshed.append(clock())
        timers.call_later(300, refresh, "refresh")

    timers.call_later(300, refresh, "refresh")
    await timers.advance(800, clock.advance)
    assert refreshed == [300.0, 600.0]
    assert timers.queue.next_deadline() == 900.0


async def test_the_work_a_timer_starts_is_done_before_the_clock_moves_on() -> None:
    clock = FakeClock(start=0.0)
    timers = Timers(clock)
    log: list[str] = []

    async def exchange(name: str) -> None:  # a REGISTER, 401, REGISTER, 200: several loop turns
        log.append(f"{name} starts at {clock():.0f}")
        for _ in range(5):
            await asyncio.sleep(0)
        log.append(f"{name} done at {clock():.0f}")

    timers.call_later(10, lambda: exchange("one"))
    timers.call_later(20, lambda: asyncio.ensure_future(exchange("two")))  # a task works as well
    await timers.advance(25, clock.advance)
    assert log == ["one starts at 10", "one done at 10", "two starts at 20", "two done at 20"]


async def test_a_failing_timer_does_not_stop_the_others() -> None:
    clock = FakeClock(start=0.0)
    timers = Timers(clock)
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("broken")

    async def failing_work() -> None:
        raise RuntimeError("failing work")

    timers.call_later(1, broken)
    timers.call_later(2, failing_work)
    timers.call_later(3, lambda: seen.append("after"))
    assert await timers.advance(5, clock.advance) == 3
    assert seen == ["after"]


async def test_advance_refuses_to_go_back() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="forward"):
        await Timers(clock).advance(-1, clock.advance)


async def test_the_driver_fires_a_timer_on_the_real_clock() -> None:
    timers = Timers(poll=None)
    fired = asyncio.Event()
    timers.start()
    try:
        timers.call_later(0.01, fired.set)
        await asyncio.wait_for(fired.wait(), BOUND)
    finally:
        await timers.stop()


def test_two_jumps_within_one_tick_of_the_file_clock_are_both_read(tmp_path: Path) -> None:
    """Two offsets of one length written within one tick of the kernel's coarse clock (two Given steps
    that let time pass) can leave the file with the same inode, mtime and size: a reader must not keep
    the first. Made certain here by giving the second file the first one's inode-independent stamps."""
    path = tmp_path / "offset"
    reader = OffsetFileClock(path)
    write_offset(path, 300)
    first = os.stat(path)
    assert reader.offset() == 300
    write_offset(path, 700)
    os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns))
    assert os.stat(path).st_size == first.st_size
    assert reader.offset() == 700


def test_a_settled_offset_file_is_read_once(tmp_path: Path) -> None:
    """Once the file is older than SETTLE, a reading costs one stat: the offset is not read again
    until the file changes (an edit in place keeping inode, mtime and size is not seen, by design)."""
    path = tmp_path / "offset"
    write_offset(path, 300)
    settled = time.time_ns() - int((SETTLE + 1) * 1e9)
    os.utime(path, ns=(settled, settled))
    reader = OffsetFileClock(path)
    assert reader.offset() == 300
    stamp = os.stat(path)
    path.write_text("+900.000000\n", encoding="utf-8")  # in place: same inode and size
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert reader.offset() == 300
    write_offset(path, 900)
    assert reader.offset() == 900


async def test_the_driver_notices_a_jump_of_the_offset_file(tmp_path: Path) -> None:
    """Out of process: the tester writes a larger offset; the due timers fire, in order."""
    path = tmp_path / "offset"
    clock = OffsetFileClock(path)
    timers = Timers(clock, poll=0.05)
    seen: list[tuple[str, float]] = []
    done = asyncio.Event()
    start = clock()
    timers.call_later(600, lambda: (seen.append(("expiry", clock())), done.set()), "expiry")
    timers.call_later(300, lambda: seen.append(("refresh", clock())), "refresh")
    timers.call_later(900, lambda: seen.append(("beyond", clock())), "beyond")
    timers.start()
    try:
        write_offset(path, 800)
        await asyncio.wait_for(done.wait(), BOUND)
    finally:
        await timers.stop()
    assert [name for name, _ in seen] == ["refresh", "expiry"]
    assert all(at >= start + 600 for _, at in seen)
    assert len(timers) == 1


async def test_stop_cancels_the_work_of_fired_timers() -> None:
    clock = FakeClock(start=0.0)
    timers = Timers(clock, poll=0.05)
    started = asyncio.Event()
    never = asyncio.Event()

    async def hangs() -> None:
        started.set()
        await never.wait()

    timers.call_later(1, hangs)
    timers.start()
    clock.advance(1)  # the driver sees it at its next poll
    await asyncio.wait_for(started.wait(), BOUND)
    await timers.stop()
    assert not timers._running


def test_a_cancelled_timer_is_not_counted() -> None:
    timers = Timers(FakeClock())
    timer: Timer = timers.call_later(1, lambda: None)
    assert len(timers) == 1
    timer.cancel()
    assert len(timers) == 0
