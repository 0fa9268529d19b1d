"""Step vocabulary shared by every feature: the system under test and its answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then

from steps.harness import expect
from steps.harness.loop import BackgroundLoop
from steps.harness.world import World


@pytest.fixture(scope="session")
def harness_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


@given("the wIMPU stack is running with the reference profile", target_fixture="world")
def reference_stack(harness_loop: BackgroundLoop) -> Iterator[World]:
    world = World(harness_loop)
    yield world
    world.close()


@then(parsers.parse("the eP-CSCF answers {status:d}"))
def ep_cscf_answers(world: World, status: int) -> None:
    expect.status(world.outcome.response, status)
