"""Rate-limited logging of bad input (``reference/logutil.py``, issue 13 item 6), and lazy log
arguments (issue 18: no per-message text built for a line below the level)."""

from __future__ import annotations

import logging

import pytest

from reference.logutil import Lazy, RateLimitedLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_at_most_per_key_lines_per_interval_then_one_summary(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    limited = RateLimitedLog(logging.getLogger("t.limit"), per_key=3, interval=60, clock=clock)
    with caplog.at_level(logging.WARNING):
        written = [limited.log(logging.WARNING, "10.0.0.1", "bad frame %d", i) for i in range(1000)]
        assert written == [True] * 3 + [False] * 997
        assert messages(caplog) == ["bad frame 0", "bad frame 1", "bad frame 2"]
        clock.now += 60
        limited.log(logging.WARNING, "10.0.0.1", "bad frame %d", 1000)
    assert messages(caplog)[3:] == [
        "suppressed 997 similar messages from 10.0.0.1 in 60 s",
        "bad frame 1000",
    ]


def test_one_noisy_key_does_not_silence_another(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    limited = RateLimitedLog(logging.getLogger("t.keys"), per_key=2, total=100, interval=60, clock=clock)
    with caplog.at_level(logging.WARNING):
        for i in range(50):
            limited.log(logging.WARNING, "attacker", "a %d", i)
        assert limited.log(logging.WARNING, "someone else", "b")
    assert messages(caplog) == ["a 0", "a 1", "b"]


def test_the_total_budget_bounds_many_sources(clock: Clock) -> None:
    limited = RateLimitedLog(logging.getLogger("t.total"), per_key=5, total=20, interval=10, clock=clock)
    written = sum(limited.log(logging.WARNING, f"10.0.{i // 256}.{i % 256}", "x") for i in range(5000))
    assert written == 20
    assert limited.pending() == 5000 - 20


def test_many_keys_share_one_overflow_key(clock: Clock) -> None:
    limited = RateLimitedLog(
        logging.getLogger("t.keys"), per_key=5, total=1000, max_keys=8, interval=10, clock=clock
    )
    written = sum(limited.log(logging.WARNING, f"10.0.{i // 256}.{i % 256}", "x") for i in range(5000))
    assert written == 8 + 5  # one line each for the first 8 keys, then 5 for all the others
    assert len(limited._windows) == 9


def test_the_summary_comes_with_the_next_message_of_any_key_or_flush(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    limited = RateLimitedLog(logging.getLogger("t.flush"), per_key=1, interval=5, clock=clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            limited.log(logging.WARNING, "a", "from a")
        clock.now += 5
        limited.log(logging.WARNING, "b", "from b")
        assert messages(caplog) == ["from a", "suppressed 3 similar messages from a in 5 s", "from b"]
        limited.log(logging.WARNING, "b", "from b")
        limited.flush()
    assert messages(caplog)[-1] == "suppressed 1 similar messages from b in 5 s"
    assert limited.pending() == 0


def test_admit_is_sans_io() -> None:
    limited = RateLimitedLog(logging.getLogger("t.admit"), per_key=1, interval=1)
    assert limited.admit("k", now=0.0).emit
    assert not limited.admit("k", now=0.5).emit
    later = limited.admit("k", now=1.0)
    assert later.emit and later.summaries == (("k", 1),)


def test_the_summary_names_a_kind_and_source_key_readably(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    limited = RateLimitedLog(logging.getLogger("t.show"), per_key=1, interval=5, clock=clock)
    with caplog.at_level(logging.WARNING):
        limited.log(logging.WARNING, ("frame", "192.0.2.1"), "bad")
        limited.log(logging.WARNING, ("frame", "192.0.2.1"), "bad")
        limited.flush()
    assert messages(caplog)[-1] == "suppressed 1 similar messages from 192.0.2.1 (frame) in 5 s"


def test_a_lazy_argument_is_rendered_only_for_a_written_line(caplog: pytest.LogCaptureFixture) -> None:
    rendered: list[str] = []

    def render(text: str) -> str:
        rendered.append(text)
        return text.upper()

    log = logging.getLogger("t.lazy")
    with caplog.at_level(logging.INFO, "t.lazy"):
        log.debug("full text %s", Lazy(render, "invite"))
        assert rendered == [] and messages(caplog) == []
        log.info("summary %s", Lazy(render, "invite"))
    assert messages(caplog) == ["summary INVITE"]
    assert set(rendered) == {"invite"}  # once per handler that formats the record
