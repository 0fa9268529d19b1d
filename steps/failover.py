"""Step vocabulary of eP-CSCF failure and the re-allocation of its wIMPU block (TR 23.701 5.2.2.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from conformance.harness import expect
from conformance.harness.errors import HarnessError
from conformance.harness.loop import BackgroundLoop
from conformance.harness.profile import CHOICE_STEP, ProfileChecks
from conformance.harness.sut import Unobservable
from conformance.harness.world import World
from conformance.pixit import REFERENCE_PIXIT, load_pixit
from steps.common import pics_of, pixit_of, scenario_of

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
    world = World(
        harness_loop, scenario=scenario, pixit=pixit, standby=(wimpu, ep_cscf), pics=pics_of(request)
    )
    yield world
    world.close()


@given(
    parsers.re(
        rf"the wIMPU stack is running with the reference profile, {BLOCK} provisioned for block registration "
        rf"option (?P<option>[12]) and {EP} standing by for it"
    ),
    target_fixture="world",
    converters={"option": int},
)
def stack_with_standby_for_option(
    harness_loop: BackgroundLoop, request: pytest.FixtureRequest, wimpu: str, option: int, ep_cscf: str
) -> Iterator[World]:
    """5.2.2.2 with 5.2.2.5.1: the block the scenario re-allocates provisioned for the block
    registration option it exercises (an external SUT's PIXIT must declare both, ``[[block]]
    registration`` and ``standby``, else the scenario is INCONCLUSIVE)."""
    scenario, pixit = scenario_of(request), pixit_of(request)
    world = World(
        harness_loop, scenario=scenario, pixit=pixit, standby=(wimpu, ep_cscf), registration={wimpu: option},
        pics=pics_of(request),
    )  # fmt: skip
    yield world
    world.close()


@then(parsers.re(rf"the WWSF sends the WICs of {BLOCK} to {EP}"))
def wwsf_sends_to(world: World, request: pytest.FixtureRequest, wimpu: str, ep_cscf: str) -> None:
    """5.2.2.2 and 5.2.2.5.1 step 1 ("Each block of wIMPU and the allocated eP-CSCF for it shall be
    provisioned in WWSF as well"): after the re-allocation the WWSF's directory names the eP-CSCF now
    serving the block. The text gives no time: the harness waits the PIXIT's failover time and then
    its event wait (a bound for an event that must come, not a measure of speed)."""
    wanted = world.ep_cscf(ep_cscf)
    bound = failover_within(request) + expect.EVENT_WAIT
    entries, waited = world.await_directory(wimpu, wanted, bound)
    print(f"the WWSF names {ep_cscf} for block {wimpu} after {waited:.2f} s")
    expect.directory(entries, [(wimpu, wanted)])


@when(parsers.re(rf"{EP} fails"))
def ep_cscf_fails(world: World, ep_cscf: str) -> None:
    world.fail_ep_cscf(ep_cscf)


@when(parsers.re(rf"{EP} restarts"))
def ep_cscf_restarts(world: World, ep_cscf: str) -> None:
    """A crash and a start again on the same addresses, nothing kept in memory (its operator's
    restart): for 5.2.2.5.1 option 1, an initialisation."""
    world.restart_ep_cscf(ep_cscf)


@then(parsers.re(rf"{EP} registers {BLOCK} again after its restart"))
def block_registered_again(world: World, ep_cscf: str, wimpu: str) -> None:
    """5.2.2.5.1 option 1: the eP-CSCF "autonomously registers each block upon initialization",
    and a restart is one: on the wire, a 200 OK to its REGISTER of the block after the restart
    (within the harness's event wait: an event that must come, not a measure of speed)."""
    if world.restarted_at is None:
        raise HarnessError("no eP-CSCF was restarted in this scenario")
    found = world.block_registered_since(wimpu, ep_cscf, world.restarted_at, expect.EVENT_WAIT)
    assert found, f"eP-CSCF {ep_cscf} did not register block {wimpu} again after its restart"


def failover_within(request: pytest.FixtureRequest) -> float:
    """``[timing] failover_within`` of the SUT's PIXIT (the reference PIXIT's without --sut)."""
    return (pixit_of(request) or load_pixit(REFERENCE_PIXIT)).failover_within


@then(parsers.re(rf"{EP} has registered {BLOCK} with the S-CSCF, and no other registration of it is left"))
def block_reallocated(world: World, request: pytest.FixtureRequest, ep_cscf: str, wimpu: str) -> None:
    """5.2.2.2: the block of the failed eP-CSCF "shall be re-allocated to another eP-CSCF": the other
    one registers it (5.2.2.5.1) and the failed one's binding is gone, observed on the eP-CSCF to
    S-CSCF leg. The text gives no time: the harness waits the PIXIT's failover time and then its
    event wait (a bound for an event that must come, not a measure of speed)."""
    live, waited = world.block_registered_by(wimpu, ep_cscf, failover_within(request) + expect.EVENT_WAIT)
    print(f"block {wimpu} re-allocated to {ep_cscf}: seen on the wire after {waited:.2f} s")
    expect.single_block_registration(live, wimpu, ep_cscf)
    world.failover_took = waited


@then(parsers.re(rf"it did so within the failover time of the PIXIT, {CHOICE_STEP}"))
def reallocated_in_time(
    world: World, profile: ProfileChecks, request: pytest.FixtureRequest, choice: str
) -> None:
    """How fast the block is re-allocated is not the text's (5.2.2.2 gives no time): the SUT's own
    figure, ``[timing] failover_within`` of its PIXIT, checked as a profile choice."""
    within = failover_within(request)
    took = world.failover_took
    if took is None:
        raise HarnessError("the re-allocation was not observed (the step before it did not run)")
    profile.check(choice, lambda: expect.within(took, within, "the re-allocation of the block"))


@given(parsers.re(rf"{EP} has failed and {BLOCK} has been re-allocated to eP-CSCF \"(?P<other>[^\"]+)\""))
def ep_cscf_failed_and_block_reallocated(
    world: World, request: pytest.FixtureRequest, ep_cscf: str, wimpu: str, other: str
) -> None:
    """The initial condition of TP_WIMPU_LIFE_010: 5.2.2.2 carried out, as TP_WIMPU_LIFE_003 checks
    it (``ep_cscf`` failed, ``other`` registered the block and no other registration is left)."""
    world.fail_ep_cscf_to_start_again(ep_cscf)
    live, _ = world.block_registered_by(wimpu, other, failover_within(request) + expect.EVENT_WAIT)
    expect.single_block_registration(live, wimpu, other)


@when(parsers.re(rf"{EP} is started again"))
def ep_cscf_started_again(world: World, ep_cscf: str) -> None:
    """The failed eP-CSCF is repaired and started on its addresses, nothing kept in memory."""
    world.start_ep_cscf_again(ep_cscf)


@when(
    parsers.re(
        r'WIC "(?P<wic>[^"]+)" of (?P<user>\w+) connects with the address and the token of '
        r"(?P=user)'s first log-in and registers"
    )
)
def wic_registers_with_first_login(world: World, wic: str, user: str) -> None:
    """5.2.2.5.2 steps 2-3 with what the WIC kept of its first log-in (step 1): the eP-CSCF the WWSF
    named then and the token it issued for it, still valid. Not a new log-in: a WIC that kept its
    page open. A WebSocket the eP-CSCF refuses leaves nothing to register."""
    world.connect(wic, user)
    if world.outcome.refused is None:
        expect.handshake_accepted(world.outcome)  # a 101 the WIC had to fail is the eP-CSCF's
        world.register(wic, user)


@then(parsers.re(r'WIC "(?P<wic>[^"]+)" is registered within the registration of its block, or not at all'))
def registered_within_block_or_not_at_all(world: World, wic: str) -> None:
    """5.2.2.2 and 5.2.2.5.2 step 3 (note: the block "has already registered in HSS"): where the
    registration lands is judged, not the answer (the text gives none for an eP-CSCF that no longer
    serves the block). A refused WebSocket registers nothing; a final response other than a 2xx must
    leave nothing in the wIMPU Registrar either (read over W6); a
    2xx is judged by ``REG_AT_BLOCK_HOLDER`` on the flows since the eP-CSCF was started again (this
    WIC's registration): the eP-CSCF that registered the WIC holds a live registration of its
    block, and a 2xx the rule could not judge is inconclusive, not a pass."""
    if world.outcome.refused is not None:
        return
    response = world.outcome.response
    assert response is not None, f"WIC {wic}'s REGISTER got no final response"
    if not 200 <= response.status < 300:
        # refused, and nothing stored either: the registrar, read over W6, holds no contact of it
        contact = world.contact_uri(wic)
        assert not world.registrar_holds_contact_of(wic), (
            f"WIC {wic} got {response.status}, yet the wIMPU Registrar holds its contact {contact}"
        )
        return
    if world.started_again_at is None:
        raise HarnessError("no eP-CSCF was started again in this scenario")
    findings = world.verify_capture(["REG_AT_BLOCK_HOLDER"], world.started_again_at)
    if not findings:
        raise Unobservable(f"the {response.status} to WIC {wic}'s REGISTER could not be judged on the wire")
    expect.rules_pass(findings, ["REG_AT_BLOCK_HOLDER"])


@then(parsers.re(rf"{EP} has not registered {BLOCK} again since it was started again"))
def not_registered_again_since_started(
    world: World, request: pytest.FixtureRequest, ep_cscf: str, wimpu: str
) -> None:
    """5.2.2.1 "A single IMS registration is performed per block" and 5.2.2.2: the block stays with
    the eP-CSCF it was re-allocated to; the eP-CSCF started again does not register it a second time.
    An absence, watched for the PIXIT's failover time (how long an eP-CSCF takes to register a block
    it serves), from when it was started again."""
    if world.started_again_at is None:
        raise HarnessError("no eP-CSCF was started again in this scenario")
    again = world.block_registered_since(wimpu, ep_cscf, world.started_again_at, failover_within(request))
    assert not again, (
        f"eP-CSCF {ep_cscf} registered block {wimpu} again after it was started again (frame "
        f"{again[0].frame}), while another eP-CSCF holds it: two registrations of one block"
    )
