"""One asyncio event loop in a background thread, driven from synchronous steps.

pytest-bdd steps are plain functions (an ``async def`` step would never be awaited), so
steps hand coroutines to this loop and wait for the result with an explicit timeout.
Servers keep serving between steps, so outside peers can reach them (tooling notes).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .expect import DEFAULT_EVENT_WAIT

T = TypeVar("T")

__all__ = ["STEP_LIMIT", "BackgroundLoop"]

STEP_LIMIT = 3 * DEFAULT_EVENT_WAIT
"""Seconds a step may run on the loop (starting a stack with its block registrations, a WIC
connecting then registering): above any one wait inside it, so that wait's message is seen.
It does not follow a shorter ``WIMPU_EVENT_WAIT``: a step that legitimately runs long (a block
refresh's Timer F) keeps its limit."""


class BackgroundLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="harness-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = STEP_LIMIT) -> T:
        """Run ``coro`` on the loop and return its result, or raise TimeoutError.

        The limit only catches a step that hangs: the waits inside a step (each bounded by
        :data:`~conformance.harness.expect.EVENT_WAIT`) say what they waited for first."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"harness step did not finish within {timeout}s") from None

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
