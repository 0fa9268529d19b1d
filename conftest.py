"""Root configuration of the suite: tags, PICS gating, and a guard against steps that cannot fail."""

from __future__ import annotations

import inspect
import os
import tomllib
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from conformance.harness.errors import HARNESS_ERROR_PROPERTY, HarnessError
from conformance.harness.profile import ProfileChecks
from conformance.harness.sut import PICS_ANSWERS_KEY, PIXIT_KEY, Unobservable
from conformance.harness.world import World
from conformance.pixit import Pixit, PixitError, load_pixit
from conformance.traceability import load_pics, load_selection

pytest_plugins = [
    "steps.common",
    "steps.registration",
    "steps.block_registration",
    "steps.sessions",
    "steps.failover",
]

FEATURES = Path(__file__).parent / "features"
TAGS = FEATURES / "tags.toml"
PICS = FEATURES / "pics.toml"
SELECTION = FEATURES / "selection.toml"
"The PICS selection expression of each test purpose (the suite's, not the SUT's)."
SUPPORTED = frozenset({"yes"})
"PICS answers under which the gated scenarios apply."
SUT_ENV = "WIMPU_SUT"
"The environment variable naming a PIXIT, when ``--sut`` is not given."


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--pics",
        metavar="PATH",
        default=None,
        help="the PICS of the system under test (TOML, the shape of features/pics.toml; default: the "
        "[sut] pics of the --sut PIXIT, else features/pics.toml); a scenario carrying a tag gated by "
        "an item answered other than yes is reported as not applicable",
    )
    parser.addoption(
        "--sut",
        metavar="PIXIT",
        default=os.environ.get(SUT_ENV),
        help="run the scenarios against the system under test this PIXIT describes (TOML, "
        f"docs/pixit.md; or ${SUT_ENV}); without it the bundled reference runs in-process",
    )


def _load_sut(config: pytest.Config) -> Pixit | None:
    """The PIXIT of ``--sut``, checked and its external nodes answering, or a one-line usage error."""
    path = config.getoption("--sut")
    if not path:
        return None
    try:
        pixit = load_pixit(path)
        local = sorted(n.name for n in pixit.nodes.values() if n.mode == "reference")
        if local and not pixit.all_reference:
            raise PixitError(
                f"{path}: nodes {local} are 'reference' and others are not: the suite starts the reference "
                "in-process only as a whole stack; start those nodes as processes (wimpu-ref up --nodes, "
                "in [sut] start) and describe them as external (docs/pixit.md, 'Mixed runs')"
            )
        workers = getattr(config.option, "numprocesses", None)
        if not pixit.all_reference and workers not in (None, 0):
            raise PixitError(
                f"{path}: an external SUT has one set of addresses, so its scenarios run one at a time "
                f"(their captures and starts would mix): use -n0, not -n {workers}"
            )
        # the xdist controller checks once; a SUT the suite starts itself is checked after each start
        if pixit.external() and not pixit.start and not hasattr(config, "workerinput"):
            from conformance.preflight import require_ready

            require_ready(pixit, within=float(os.environ.get("WIMPU_SUT_WAIT", "10")))
    except PixitError as exc:
        raise pytest.UsageError(f"--sut: {exc}") from None
    return pixit


def pytest_configure(config: pytest.Config) -> None:
    """Declare every feature tag (features/tags.toml) as a marker, for --strict-markers; load --sut."""
    pixit = config.stash[PIXIT_KEY] = _load_sut(config)
    if config.option.pics is None:  # the SUT's own PICS, as its PIXIT names it
        config.option.pics = str(pixit.pics if pixit is not None and pixit.pics is not None else PICS)
    with TAGS.open("rb") as f:
        groups = tomllib.load(f)
    for group, tags in groups.items():
        for name, description in tags.items():
            config.addinivalue_line("markers", f"{name}: [{group}] {description}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PICS gating: a test purpose whose PICS selection expression (features/selection.toml) does not
    hold for the SUT's answers is not applicable, and so is an Examples row needing an option the SUT
    lacks (a tag an item answered other than yes gates, features/pics.toml).

    It is reported as skipped with the reason ``not applicable: PICS ...`` (the expression and the
    answers it read, or the item and its answer), never deselected: a verdict table lists it with
    what ruled it out. This is the one legitimate skip of the suite (docs/traceability.md).
    """
    answers = {item.id: item.answer for item in load_pics(config.getoption("--pics"))}
    config.stash[PICS_ANSWERS_KEY] = answers  # the profile checks read them (steps/common.py)
    suite = load_pics(PICS)  # the items, their gates and the expressions are the suite's; answers the SUT's
    selection = load_selection(SELECTION, suite)
    unsupported = [item for item in suite if answers.get(item.id) not in SUPPORTED]
    for item in items:
        tags = {mark.name for mark in item.iter_markers()}
        reasons = []
        for tp in sorted(tag for tag in tags if tag.startswith("TP_")):
            if tp not in selection:
                raise pytest.UsageError(f"{item.nodeid}: {tp} has no PICS selection in {SELECTION}")
            if not selection[tp].holds(answers):
                reasons.append(f"PICS selection of {tp}: {selection[tp].explain(answers)}")
        reasons += [
            f"PICS {pics.id} = {answers.get(pics.id, 'unanswered')}"
            for pics in unsupported
            if tags & set(pics.gates)
        ]
        if reasons:
            item.add_marker(pytest.mark.skip(reason="not applicable: " + "; ".join(reasons)))


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


STEP_FAILED_KEY = pytest.StashKey[bool]()
"Set when a step of the running scenario raised (its own failure, an inconclusive step, ...)."


def pytest_bdd_step_error(request: pytest.FixtureRequest, **_: Any) -> None:
    request.node.stash[STEP_FAILED_KEY] = True


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, **_: Any) -> None:
    """Judge the scenario's whole capture with the capture rules, as part of its verdict.

    When every step passed, the scenario's world is closed here, inside the test (its peers and
    nodes stopped, the capture written), and ``wimpu-conformance verify`` runs on the capture
    (:class:`~conformance.harness.wire_verdict.WireVerdict`): a rule that failed fails the scenario,
    a rule's deviation from a solution-profile choice is a profile deviation. The same rules on
    the same file give a lab the same verdict offline (issue 15, one judge per requirement). When
    a step failed, its failure is the scenario's verdict and the world closes at teardown, as
    always (its capture is judged and written all the same).
    """
    if request.node.stash.get(STEP_FAILED_KEY, False):
        return
    try:
        world = request.getfixturevalue("world")
    except pytest.FixtureLookupError:
        return
    if not isinstance(world, World):
        return
    world.close()
    if world.wire_verdict is None:
        return
    checks = profile_checks(request.node)
    for choice, line in world.wire_verdict.deviations:
        checks.deviate(choice, line)
    world.wire_verdict.assert_kept()


PROFILE_KEY = pytest.StashKey[ProfileChecks]()
"The profile checks of the running scenario (the ``profile`` fixture of steps/common.py)."


def profile_checks(item: pytest.Item) -> ProfileChecks:
    """The profile checks of ``item``, made against the SUT's PICS; each finding becomes a user
    property of the test at once (JUnit XML carries it whatever the verdict)."""
    if PROFILE_KEY not in item.stash:
        answers = item.config.stash.get(PICS_ANSWERS_KEY, {})
        item.stash[PROFILE_KEY] = ProfileChecks(
            answers, record=lambda name, value: item.user_properties.append((name, value))
        )
    return item.stash[PROFILE_KEY]


@pytest.fixture
def profile(request: pytest.FixtureRequest) -> ProfileChecks:
    """The profile checks of the running scenario: ``profile.check(choice id, check)`` in a step."""
    return profile_checks(request.node)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A :class:`~conformance.harness.errors.HarnessError` (the test system did not bring about what the
    scenario rests on), in set-up, the scenario or teardown, is recorded as the test's
    ``harness.error`` property: the reports give the scenario ERROR, not FAIL, and the fault
    catalogues count it as no catch."""
    if call.excinfo is not None and isinstance(call.excinfo.value, HarnessError):
        # before the report is made, which copies them (JUnit XML writes those of the teardown's)
        item.user_properties.append((HARNESS_ERROR_PROPERTY, str(call.excinfo.value)))
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """An observation or action the SUT's description does not allow makes the verdict inconclusive;
    a scenario whose only findings are profile deviations gets the verdict PROFILE DEVIATION.

    :class:`~conformance.harness.sut.Unobservable` (for example: time must pass and the external SUT
    runs on its own clock) becomes a skip whose reason starts with ``inconclusive:``; the
    reports count it as INCONCLUSIVE, never as passed.

    A scenario that passed every check of the text but deviated from a solution-profile choice
    (:class:`~conformance.harness.profile.ProfileChecks`) becomes a skip whose reason starts with
    ``profile deviation:``; the reports count it as PROFILE DEVIATION, apart from FAIL. A scenario
    that failed keeps its failure, its deviations listed in its report section and properties.

    A :class:`~conformance.harness.errors.HarnessError` fails the test (:func:`pytest_runtest_makereport`
    records it).
    """
    try:
        result = yield
    except Unobservable as exc:
        pytest.skip(f"inconclusive: {exc}")
    except BaseException:
        checks = item.stash.get(PROFILE_KEY, None)
        if checks is not None and checks.deviations:
            item.add_report_section("call", "profile deviations", "\n".join(map(str, checks.deviations)))
        raise
    checks = item.stash.get(PROFILE_KEY, None)
    if checks is not None and checks.deviations:
        pytest.skip(checks.reason())
    return result
