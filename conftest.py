"""Root configuration of the suite: tags, PICS gating, and a guard against steps that cannot fail."""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from steps.traceability import PicsItem, load_pics

pytest_plugins = ["steps.common", "steps.registration", "steps.block_registration", "steps.sessions"]

FEATURES = Path(__file__).parent / "features"
TAGS = FEATURES / "tags.toml"
PICS = FEATURES / "pics.toml"
SUPPORTED = frozenset({"yes"})
"PICS answers under which the gated scenarios apply."


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--pics",
        metavar="PATH",
        default=str(PICS),
        help="the PICS of the system under test (TOML, the shape of features/pics.toml); a scenario "
        "carrying a tag gated by an item answered other than yes is reported as not applicable",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare every feature tag (features/tags.toml) as a marker, for --strict-markers."""
    with TAGS.open("rb") as f:
        groups = tomllib.load(f)
    for group, tags in groups.items():
        for name, description in tags.items():
            config.addinivalue_line("markers", f"{name}: [{group}] {description}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PICS gating: a scenario needing an option or node the SUT lacks is not applicable.

    It is reported as skipped with the reason ``not applicable: PICS <id> = <answer>``, never
    deselected: a verdict table lists it with the PICS item that ruled it out. This is the
    one legitimate skip of the suite (docs/traceability.md).
    """
    unsupported: list[PicsItem] = [
        pics for pics in load_pics(config.getoption("--pics")) if pics.answer not in SUPPORTED
    ]
    if not unsupported:
        return
    for item in items:
        tags = {mark.name for mark in item.iter_markers()}
        ruling = [pics for pics in unsupported if tags & set(pics.gates)]
        if ruling:
            reason = "; ".join(f"PICS {pics.id} = {pics.answer}" for pics in ruling)
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {reason}"))


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
