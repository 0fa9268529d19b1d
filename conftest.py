"""Root configuration of the suite: guards every run against steps that cannot fail."""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["steps.common", "steps.registration"]


TAGS = Path(__file__).parent / "features" / "tags.toml"


def pytest_configure(config: pytest.Config) -> None:
    """Declare every feature tag (features/tags.toml) as a marker, for --strict-markers."""
    with TAGS.open("rb") as f:
        groups = tomllib.load(f)
    for group, tags in groups.items():
        for name, description in tags.items():
            config.addinivalue_line("markers", f"{name}: [{group}] {description}")


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
