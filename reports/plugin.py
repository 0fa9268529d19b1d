"""pytest plugin: every run writes its reports, and the conformance report last.

Loaded from ``pyproject.toml`` (``-p reports.plugin``). Under ``--reports-dir DIR`` (default
``<rootdir>/reports``) a run writes:

* ``allure-results/``: allure-pytest-bdd results (``--alluredir``), emptied at the start of the run;
* ``cucumber.json``: pytest-bdd's cucumber JSON (``--cucumberjson``);
* ``junit.xml``: pytest's JUnit XML (``--junitxml``), each scenario with ``bdd.*`` properties (feature,
  scenario, tags, steps; see ``reports.results``);
* ``run.json``: start, end, exit status, collected and finished tests, PICS file;
  ``.run-in-progress`` exists while the run goes (a killed run leaves it: the report says PARTIAL RUN);
* ``conformance.html`` and ``conformance.md`` (``reports.conformance``), generated at the end of the run
  from the files above, after pytest-bdd and pytest wrote theirs (``pytest_sessionfinish``, trylast), with
  each scenario's ladder diagram from the captures directory (``$WIMPU_CAPTURES_DIR``, default
  ``<rootdir>/captures``).

Whenever allure-pytest-bdd writes results (here or with an explicit ``--alluredir``), each scenario's
result gets its wire evidence (``reports.evidence``): the ladder diagram and the capture the step harness
left, and to each Gherkin step the messages captured while it ran.

An option given explicitly (``--junitxml`` ...) wins over the reports directory. A problem with the
reports never fails the run: it is one warning line. Secrets are scrubbed from every file written
(``conformance.redact``).

xdist: workers write Allure results into the same directory; JUnit XML and cucumber JSON are written by
the controller. pytest-bdd writes an empty cucumber JSON under xdist (its scenario data stays on the
worker), so the plugin ships that data with each test report and hands it back to pytest-bdd on the
controller.

A pytest run started by a test (the mutant tests do) writes no reports unless it is given
``--reports-dir``: it would overwrite the reports of the run that started it. Of two runs at once in the
same directory, the second writes into ``concurrent-<pid>/`` in it. ``--no-reports`` turns everything
off.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Generator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conformance.harness.errors import HARNESS_ERROR_PROPERTY
from conformance.harness.profile import DEVIATION_PROPERTY
from conformance.redact import redact, scrub_file, scrub_tree
from reports import conformance
from reports.evidence import EvidencePlugin, captures_dir
from reports.results import IN_PROGRESS, RUN_FILE, SKIPPED_LINE

__all__ = ["ENV", "ReportsPlugin", "claim"]

ENV = "WIMPU_REPORTS_DIR"
"""Set by the run that writes reports, for the processes it starts: nested runs write none by default."""
_WORKER_KEY = "wimpu_reports_dir"
_GENERATED = ("junit.xml", "cucumber.json", RUN_FILE, "conformance.html", "conformance.md")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--reports-dir`` and ``--no-reports``."""
    group = parser.getgroup("wimpu-reports", "wIMPU reports (Allure, cucumber JSON, JUnit XML, conformance)")
    group.addoption(
        "--reports-dir",
        dest="wimpu_reports_dir",
        metavar="DIR",
        default=None,
        help="write every report of the run under DIR (default: <rootdir>/reports)",
    )
    group.addoption(
        "--no-reports",
        dest="wimpu_no_reports",
        action="store_true",
        default=False,
        help="write no report (no Allure results, cucumber JSON, JUnit XML or conformance report)",
    )


def _reports_dir(config: pytest.Config) -> Path | None:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        value = workerinput.get(_WORKER_KEY, "")
        return Path(value) if value else None
    option = config.option
    if option.wimpu_no_reports or getattr(option, "collectonly", False) or getattr(option, "help", False):
        return None
    if option.wimpu_reports_dir:
        return (config.invocation_params.dir / str(option.wimpu_reports_dir)).resolve()
    if os.environ.get(ENV):  # started by a run that writes reports: do not overwrite them
        return None
    return config.rootpath / "reports"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point the reporters at the reports directory before their own ``pytest_configure`` runs."""
    directory = _reports_dir(config)
    if directory is not None:
        config.pluginmanager.register(ReportsPlugin(config, directory), "wimpu-reports")
    option = config.option
    if (
        getattr(option, "allure_report_dir", None)
        and config.pluginmanager.has_plugin("allure_pytest_bdd")
        and not getattr(option, "collectonly", False)
        and not getattr(option, "help", False)
    ):
        evidence = EvidencePlugin(config, captures_dir(config.rootpath))
        config.pluginmanager.register(evidence, "wimpu-evidence")
        config.add_cleanup(evidence.close)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(directory: Path) -> Path:
    """The directory this run may write into: ``directory``, unless another live run is writing there.

    Two runs in the same checkout at once would delete and overwrite each other's files (Allure's writer
    fails when its directory goes away). The second one writes into ``<directory>/concurrent-<pid>``.
    """
    try:
        pid = int(json.loads((directory / IN_PROGRESS).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return directory
    if pid == os.getpid() or not _alive(pid):
        return directory  # a marker left by a run that was killed
    return directory / f"concurrent-{os.getpid()}"


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _bdd_properties(item: pytest.Item) -> list[tuple[str, str]]:
    """``bdd.*`` properties of a pytest-bdd scenario item (none for any other test)."""
    try:
        from pytest_bdd.scenario import scenario_wrapper_template_registry
    except ImportError:  # pragma: no cover - pytest-bdd is a test dependency
        return []
    function = getattr(item, "obj", None)
    try:
        template = scenario_wrapper_template_registry.get(function) if function is not None else None
    except TypeError:
        return []
    if template is None:
        return []
    callspec = getattr(item, "callspec", None)
    example: dict[str, str] = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
    tags = set(template.tags) | set(template.feature.tags)
    if template.rule is not None:
        tags |= template.rule.tags
    for examples in template.examples:
        if example in list(examples.as_contexts()):
            tags |= examples.tags
    scenario = template.render(example)
    props = [
        ("bdd.feature", template.feature.rel_filename),
        ("bdd.feature_name", template.feature.name),
        ("bdd.scenario", scenario.name),
        ("bdd.tags", " ".join(sorted(tags))),
    ]
    return props + [("bdd.step", f"{step.keyword} {step.name}") for step in scenario.steps]


class ReportsPlugin:
    """The reports of one run (controller or xdist worker) into ``directory``."""

    def __init__(self, config: pytest.Config, directory: Path) -> None:
        self.config = config
        self.worker = hasattr(config, "workerinput")
        self.directory = directory = directory if self.worker else claim(directory)
        self.collected: int | None = None
        self.finished: set[str] = set()
        self.started = _now()
        self.problem = ""
        self.written: list[Path] = []
        self._env_before = os.environ.get(ENV)
        option = config.option
        if not option.xmlpath:
            option.xmlpath = str(directory / "junit.xml")
        if not getattr(option, "cucumber_json_path", None):
            option.cucumber_json_path = str(directory / "cucumber.json")
        self.allure = hasattr(option, "allure_report_dir") and not option.allure_report_dir
        if self.allure:
            option.allure_report_dir = str(directory / "allure-results")
            option.clean_alluredir = False  # the controller empties it once, before any worker starts
        if not self.worker:
            self._start()

    def _start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name in _GENERATED:
            (self.directory / name).unlink(missing_ok=True)
        for folder in ["ladders"] + (["allure-results"] if self.allure else []):
            shutil.rmtree(self.directory / folder, ignore_errors=True)
        marker = {
            "started": self.started,
            "pid": os.getpid(),
            "args": list(self.config.invocation_params.args),
        }
        (self.directory / IN_PROGRESS).write_text(redact(json.dumps(marker)) + "\n", encoding="utf-8")
        os.environ[ENV] = str(self.directory)

    # --- collection: which tests are scenarios, and how many there are -------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Give every scenario its ``bdd.*`` properties (they travel with the reports, under xdist too)."""
        for item in items:
            item.user_properties.extend(_bdd_properties(item))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Number of tests selected (without xdist; the controller of xdist collects nothing)."""
        if not self.worker and not self.config.pluginmanager.has_plugin("dsession"):
            self.collected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Number of tests selected, as the first xdist worker collected them."""
        if self.collected is None:
            self.collected = len(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Tell each xdist worker where to write (its Allure results)."""
        node.workerinput[_WORKER_KEY] = str(self.directory)

    # --- test reports: pytest-bdd's scenario data across xdist --------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """On a worker, ship pytest-bdd's scenario data with the report (xdist sends it on)."""
        report = yield
        if self.worker:
            from pytest_bdd.reporting import test_report_context_registry

            context = test_report_context_registry.get(report)
            if context is not None:
                report.wimpu_bdd = {"name": context.name, "scenario": context.scenario}  # type: ignore[attr-defined]
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """On the controller, hand pytest-bdd its scenario data back before its cucumber JSON writer runs."""
        if self.worker:
            return
        if report.when == "teardown":
            self.finished.add(report.nodeid)
        data = getattr(report, "wimpu_bdd", None)
        if isinstance(data, dict):
            from pytest_bdd.reporting import ReportContext, test_report_context_registry

            if report not in test_report_context_registry:
                test_report_context_registry[report] = ReportContext(
                    scenario=data["scenario"], name=data["name"]
                )
        if report.when == "call":
            _describe_outcome(report)

    # --- end of the run ------------------------------------------------------------------------------

    def _run_file(self, session: pytest.Session, exitstatus: int) -> None:
        stopped = ""
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            stopped = "was interrupted"
        elif session.shouldfail:
            stopped = f"stopped early: {session.shouldfail}"
        elif session.shouldstop:
            stopped = f"stopped early: {session.shouldstop}"
        data = {
            "started": self.started,
            "finished": _now(),
            "exitstatus": int(exitstatus),
            "stopped": stopped,
            "collected": self.collected,
            "completed": len(self.finished),
            "args": ["pytest", *self.config.invocation_params.args],
            "pics": _path_option(self.config, "pics"),
            "pixit": _path_option(self.config, "pixit"),
        }
        (self.directory / RUN_FILE).write_text(redact(json.dumps(data, indent=1)) + "\n", encoding="utf-8")

    def _written_by_others(self) -> tuple[Path, Path]:
        """Where JUnit XML and cucumber JSON went (an explicit ``--junitxml`` ... wins)."""
        option, base = self.config.option, self.config.invocation_params.dir
        junit = base / str(option.xmlpath or self.directory / "junit.xml")
        cucumber = base / str(getattr(option, "cucumber_json_path", None) or self.directory / "cucumber.json")
        return junit, cucumber

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """After JUnit XML and cucumber JSON are written: scrub secrets, write the conformance report."""
        if self.worker:
            return
        try:
            self._run_file(session, exitstatus)
            (self.directory / IN_PROGRESS).unlink(missing_ok=True)  # run.json now says how the run ended
            junit, cucumber = self._written_by_others()
            for path in (junit, cucumber):
                if path.is_file():
                    scrub_file(path)
            allure = getattr(self.config.option, "allure_report_dir", None)
            if allure:
                scrub_tree(self.config.invocation_params.dir / str(allure))
            self.written = conformance.generate(
                self.config.rootpath,
                self.directory,
                captures=captures_dir(self.config.rootpath),
                junit=junit,
                cucumber=cucumber,
                pics=_optional_path(_path_option(self.config, "pics")),
                pixit=_optional_path(_path_option(self.config, "pixit")),
            )
        except Exception as exc:  # noqa: BLE001 - a report problem must never fail the run
            self.problem = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """One line: where the conformance report is, or why it is not."""
        if self.worker:
            return
        if self.problem:
            terminalreporter.write_line(
                f"WARNING wIMPU reports: conformance report not written: {self.problem}", yellow=True
            )
        elif self.written:
            terminalreporter.write_line(f"wIMPU reports: {self.written[0]}")

    def pytest_unconfigure(self) -> None:
        """Leave the environment as it was."""
        if self.worker:
            return
        if self._env_before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._env_before


def _describe_outcome(report: pytest.TestReport) -> None:
    """Write into the scenario's cucumber description what cucumber JSON has no field for: the reason
    of a test skipped after its steps ran (``inconclusive: ...``, ``profile deviation: ...``), each
    profile finding (``profile.deviation: ...``, ``profile.unchecked: ...``) and a test system error
    (``harness.error: ...``), read by
    ``reports.results`` when there is no JUnit XML; the step that deviated is marked skipped."""
    from pytest_bdd.reporting import test_report_context_registry

    context = test_report_context_registry.get(report)
    if context is None:
        return
    scenario = context.scenario
    lines = [
        f"{name}: {value}"
        for name, value in report.user_properties
        if name.startswith("profile.") or name == HARNESS_ERROR_PROPERTY
    ]
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
        lines.insert(0, SKIPPED_LINE + str(longrepr[2]).removeprefix("Skipped: "))
        deviated = {str(v).partition(":")[0] for n, v in report.user_properties if n == DEVIATION_PROPERTY}
        for step in scenario.get("steps", []):
            if any(f"({choice})" in str(step.get("name", "")) for choice in deviated):
                step["failed"] = True  # cucumber JSON: "skipped" for this step, "passed" for the others
    if lines:
        description = str(scenario.get("description") or "")
        scenario["description"] = "\n".join([description, *lines] if description else lines)


def _path_option(config: pytest.Config, name: str) -> str | None:
    """The absolute path given to an option another plugin may define (``--pics``, ``--pixit``)."""
    value = config.getoption(name, default=None)
    if not value or not isinstance(value, str | os.PathLike):
        return None
    return str((config.invocation_params.dir / value).resolve())


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None
