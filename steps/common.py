"""Step vocabulary shared by every feature: the system under test, its answers, and time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import given, parsers, then, when

from conformance.harness import expect
from conformance.harness.clock import FakeClock
from conformance.harness.loop import BackgroundLoop
from conformance.harness.profile import CHOICE_STEP, ProfileChecks
from conformance.harness.sut import PICS_ANSWERS_KEY, PIXIT_KEY
from conformance.harness.world import World
from conformance.pixit import Pixit


@pytest.fixture(scope="session")
def harness_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


def pixit_of(request: pytest.FixtureRequest) -> Pixit | None:
    """The PIXIT of ``--sut`` (None: the bundled reference, in-process)."""
    return request.config.stash.get(PIXIT_KEY, None)


def pics_of(request: pytest.FixtureRequest) -> dict[str, str] | None:
    """The SUT's PICS answers (None outside a run that loaded them)."""
    return request.config.stash.get(PICS_ANSWERS_KEY, None)


def scenario_of(request: pytest.FixtureRequest) -> dict[str, str]:
    """Feature file (under features/), pytest test name and title of the running scenario."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    template = scenario_wrapper_template_registry.get(request.node.obj)
    if template is None:
        return {"feature": "adhoc.feature", "test": request.node.name, "scenario": request.node.name}
    callspec = getattr(request.node, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
    return {
        "feature": template.feature.rel_filename,
        "test": request.node.name,
        "scenario": template.render(example).name,
    }


@given("the wIMPU stack is running with the reference profile", target_fixture="world")
def reference_stack(harness_loop: BackgroundLoop, request: pytest.FixtureRequest) -> Iterator[World]:
    world = World(harness_loop, scenario=scenario_of(request), pixit=pixit_of(request), pics=pics_of(request))
    yield world
    world.close()


@given(
    "the wIMPU stack is running with the reference profile and a clock the tester controls",
    target_fixture="world",
)
def reference_stack_with_clock(
    harness_loop: BackgroundLoop, request: pytest.FixtureRequest
) -> Iterator[World]:
    world = World(
        harness_loop,
        clock=FakeClock(),
        scenario=scenario_of(request),
        pixit=pixit_of(request),
        pics=pics_of(request),
    )
    yield world
    world.close()


@given(
    parsers.re(
        r'the wIMPU stack is running with the reference profile and block "(?P<block>[^"]+)" provisioned for '
        r'block registration option (?P<option>[12]), the other block "(?P<other>[^"]+)" for option '
        r"(?P<other_option>[12]) where the suite runs the reference stack"
    ),
    target_fixture="world",
)
def stack_with_block_options(
    harness_loop: BackgroundLoop,
    request: pytest.FixtureRequest,
    block: str,
    option: str,
    other: str,
    other_option: str,
) -> Iterator[World]:
    """The reference profile with its blocks provisioned for other block registration options
    (5.2.2.5.1), so that each identity option meets each block registration option. The in-process
    reference is provisioned so, both blocks; an external SUT's PIXIT must provision ``block``, the
    one the scenario exercises, so (else the scenario is inconclusive, and says why), and is not
    asked about ``other``, which the scenario does not exercise."""
    world = World(
        harness_loop,
        scenario=scenario_of(request),
        pixit=pixit_of(request),
        pics=pics_of(request),
        registration={block: int(option)},
        reference_registration={other: int(other_option)},
    )
    yield world
    world.close()


@given(
    parsers.re(
        r"the wIMPU stack is running with the reference profile, its HSS holding another digest password for "
        r'block "(?P<block>[^"]+)" than the eP-CSCF of that block'
    ),
    target_fixture="world",
)
def stack_with_misprovisioned_hss(
    harness_loop: BackgroundLoop, request: pytest.FixtureRequest, block: str
) -> Iterator[World]:
    """The reference profile, but the HSS was provisioned with another digest password for the
    block's private identity than its eP-CSCF (an operator's error), before anything starts: the
    S-CSCF refuses the block's authenticated REGISTER (RFC 3261 22.4). Where the S-CSCF/HSS is
    not the suite's own (in-process, or emulated), or the SUT started before the scenario, the
    scenario is inconclusive and says why."""
    world = World(
        harness_loop,
        scenario=scenario_of(request),
        pixit=pixit_of(request),
        pics=pics_of(request),
        misprovisioned=block,
    )
    yield world
    world.close()


@then(parsers.parse("the eP-CSCF answers {status:d}"))
def ep_cscf_answers(world: World, status: int) -> None:
    expect.status(world.outcome.response, status)


@then(parsers.re(rf"the eP-CSCF answers (?P<status>\d{{3}}), {CHOICE_STEP}"))
def ep_cscf_answers_as_profiled(world: World, profile: ProfileChecks, status: str, choice: str) -> None:
    """A status code the text does not give (it says only that the request is refused, or not even
    that): the profile's code, a profile check."""
    profile.check(choice, lambda: expect.status(world.outcome.response, int(status)))


@then("the eP-CSCF refuses the request")
def request_refused(world: World) -> None:
    """A request the WIC may not send (5.2.2.3.2: the WIC authorization at registration, and only
    its own dialogs): a final response that is not a 2xx; the code is the profile's."""
    expect.not_accepted(world.outcome.response)


@then("the eP-CSCF does not accept the registration")
def registration_not_accepted(world: World) -> None:
    """The REGISTER gets a final response, and it is not a 2xx: whatever the code (the text gives
    none), the WIC is not registered."""
    expect.not_accepted(world.outcome.response)


@given(parsers.re(r"(?P<seconds>\d+) seconds have passed"), converters={"seconds": int})
@when(parsers.re(r"(?P<seconds>\d+) seconds pass"), converters={"seconds": int})
def time_passes(world: World, seconds: int) -> None:
    world.let_time_pass(seconds)


def judged_by(
    world: World,
    profile: ProfileChecks,
    names: list[str],
    choice: str | None = None,
    *,
    session: bool = True,
    since: float | None = None,
) -> None:
    """One judge per requirement (issue 15): a Then step whose requirement has a wire observable is
    judged by the capture rules that ``wimpu-conformance verify`` applies offline
    (captures/rules/), on the flows of this scenario's last session: every one must pass (FAIL
    otherwise); a rule's ``deviation`` is a profile deviation of the scenario, and a rule that could
    only say ``inconclusive`` makes the scenario inconclusive. With ``choice`` (the step also checks
    a solution-profile choice), the rules' deviations are that choice's profile check, not made
    where the SUT's PICS does not follow it; a failure of the text stays a failure. Without
    ``session``, every flow of the scenario's capture so far is judged; with ``since`` (wall clock),
    the flows that started then or later."""
    if since is not None:
        findings = world.verify_capture(names, since)
    else:
        findings = world.verify_session(names) if session else world.verify_capture(names)
    expect.rules_pass(findings, names)
    deviations = [f for f in findings if f.verdict == "deviation"]
    if choice is not None:
        profile.check(choice, lambda: expect.no_deviation(deviations))
        return
    for finding in deviations:
        profile.deviate(finding.choice, finding.detail)
