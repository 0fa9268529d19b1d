"""Root configuration of the suite: guards every run against steps that cannot fail."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

pytest_plugins: list[str] = []


def pytest_bdd_before_step_call(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Callable[..., Any],
    step_func_args: dict[str, Any],
) -> None:
    """pytest-bdd never awaits an ``async def`` step: it would pass without running.

    Refuse such a step loudly instead (tooling notes, pytest-bdd 9).
    """
    if inspect.iscoroutinefunction(step_func) or inspect.isasyncgenfunction(step_func):
        raise TypeError(
            f"step {step.keyword} {step.name!r} is implemented by the async function "
            f"{step_func.__module__}.{step_func.__qualname__}; pytest-bdd would never "
            "await it. Make it a plain function that drives the harness loop."
        )
