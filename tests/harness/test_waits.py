"""The harness's waits for events (conformance.harness.expect.wait_until): they end when the
event comes and, when it never does, fail naming what was awaited."""

from __future__ import annotations

import asyncio
import time

import pytest

from conformance.harness.expect import wait_until, wait_until_async


def test_returns_the_first_true_value() -> None:
    calls = iter([None, [], ["INVITE"]])
    assert wait_until(lambda: next(calls), "an INVITE", within=5) == ["INVITE"]


def test_names_what_was_awaited() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"waited 0\.1 s for the INVITE at WIC w1, in vain"):
        wait_until(lambda: False, "the INVITE at WIC w1", within=0.1)
    assert time.monotonic() - started >= 0.1


def test_async_with_a_coroutine_predicate() -> None:
    seen: list[int] = []

    async def probe() -> bool:
        seen.append(1)
        return len(seen) >= 3

    assert asyncio.run(wait_until_async(probe, "three looks", within=5)) is True
    with pytest.raises(AssertionError, match="a socket closed"):
        asyncio.run(wait_until_async(lambda: False, "a socket closed", within=0.05))
