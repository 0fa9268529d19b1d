"""Step vocabulary of eP-CSCF failure and the re-allocation of its wIMPU block (TR 23.701 5.2.2.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from conformance.harness import expect
from conformance.harness.loop import BackgroundLoop
from conformance.harness.world import World
from steps.common import pixit_of, scenario_of

EP = r'eP-CSCF "(?P<ep_cscf>[^"]+)"'
BLOCK = r'block "(?P<wimpu>[^"]+)"'


@given(
    parsers.re(rf"the wIMPU stack is running with the reference profile and {EP} standing by for {BLOCK}"),
    target_fixture="world",
)
def stack_with_standby(
    harness_loop: BackgroundLoop, request: pytest.FixtureRequest, ep_cscf: str, wimpu: str
) -> Iterator[World]:
    scenario, pixit = scenario_of(request), pixit_of(request)
    world = World(harness_loop, scenario=scenario, pixit=pixit, standby=(wimpu, ep_cscf))
    yield world
    world.close()


@when(parsers.re(rf"{EP} fails"))
def ep_cscf_fails(world: World, ep_cscf: str) -> None:
    world.fail_ep_cscf(ep_cscf)


@then(
    parsers.re(
        rf"within (?P<seconds>\d+) seconds {EP} has registered {BLOCK} with the S-CSCF, "
        r"and no other registration of it is left"
    ),
    converters={"seconds": int},
)
def block_reallocated(world: World, seconds: int, ep_cscf: str, wimpu: str) -> None:
    """5.2.2.2: the block of the failed eP-CSCF is re-allocated: the other eP-CSCF registers it
    (5.2.2.5.1) and the failed one's binding is gone, observed on the eP-CSCF to S-CSCF leg."""
    view, waited = world.block_registered_by(wimpu, ep_cscf, seconds)
    print(f"block {wimpu} re-allocated to {ep_cscf}: seen on the wire after {waited:.2f} s")
    expect.single_block_registration(view, ep_cscf)
