"""``wimpu-conformance``: the wIMPU conformance suite (3GPP TR 23.701 5.2.2) from the command line.

One command for everything a tester does: start the bundled reference (``up``), describe a system
under test in a PIXIT file and check it answers (``check``), run the scenarios (``run``), rebuild the
report (``report``) and read captures (``decode``, ``verify``). ``decode`` and ``verify`` are
``captures.cli``, ``report`` is ``wimpu-conformance-report`` (``reports.conformance``) and ``up`` is
``wimpu-ref up`` (``reference.cli``): their arguments are passed on unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from conformance.pixit import Pixit, PixitError, load_pixit
from conformance.preflight import DEFAULT_TIMEOUT, wait_until_ready
from conformance.sut_process import SutProcess
from conformance.traceability import pics_answers

__all__ = ["EXIT_NOT_READY", "main"]

PROG = "wimpu-conformance"

EXIT_NOT_READY = 4
"""``run``: the PIXIT does not load or its external nodes are not ready, so nothing ran (pytest also
exits 4 on a usage error)."""

OVERVIEW = """\
The wIMPU conformance suite: 3GPP TR 23.701 clause 5.2.2 (WebRTC access to IMS with wildcarded
public user identities). The system under test (SUT) is the bundled reference implementation unless
a PIXIT file says where your nodes are (docs/pixit.md, examples/pixit/); a PICS file says which
options your SUT claims (features/pics.toml is the reference's).
"""

EXAMPLES = """\
examples:
  wimpu-conformance run                             every scenario, the bundled reference as SUT
  wimpu-conformance check my-sut.toml               does every external node of the PIXIT answer?
  wimpu-conformance run --sut my-sut.toml --pics my-pics.toml -- -k registration
  wimpu-conformance up --pixit-out ref.toml         the reference as separate processes, and its PIXIT
  wimpu-conformance report --pixit my-sut.toml      rebuild reports/conformance.html from a run
  wimpu-conformance decode trace.pcapng --keylog keys.log
  wimpu-conformance verify --help                   check a capture against the rules

exit status: 0 success; 1 failures (a scenario failed, a node is not ready, a capture has problems);
2 a usage error of the command line; run passes pytest's status on (0 all passed, 1 some failed,
2 interrupted, 3 internal error, 4 usage error, 5 nothing collected) and exits 4 when the PIXIT does
not load or its external nodes are not ready (nothing ran). Each subcommand's --help says more.
"""

RUN_HELP = """\
Run the conformance scenarios (python3 -m pytest steps) from the suite's checkout. Without --sut
the suite starts the bundled reference itself (every node in-process). With --sut PIXIT it first
checks the PIXIT's external nodes (as `check` does), then hands the PIXIT to pytest. Whatever
follows `--` goes to pytest unchanged, relative to the checkout. The reports (conformance.html,
conformance.md, junit.xml, cucumber.json, allure-results/) land in --reports-dir, by default
<checkout>/reports; the last lines printed say where.
"""

RUN_EXAMPLES = """\
examples:
  wimpu-conformance run
  wimpu-conformance run --sut examples/pixit/external-ep-cscf.toml --pics my-pics.toml
  wimpu-conformance run --sut ref.toml --wait 30 --reports-dir /tmp/run1 -- -k "option A" -x
  wimpu-conformance run --sut ref.toml --dry-run    print the pytest command, run nothing

exit status: pytest's (0 all passed, 1 some failed, 2 interrupted, 3 internal error, 4 usage error,
5 nothing collected); 4 also when the PIXIT does not load or its external nodes are not ready.
"""

CHECK_HELP = """\
Load a PIXIT (every key is checked, one line per problem) and check each external node: its
addresses answer (TCP; SIP OPTIONS over UDP), its HTTPS/WSS certificate verifies against [trust] ca
with the host name, the registrar serves GET /openapi.json, the WWSF its JWKS and a directory that
announces the PIXIT's blocks. Reference and emulated nodes are started by the suite: nothing to check.
"""

CHECK_EXAMPLES = """\
examples:
  wimpu-conformance check examples/pixit/external-ep-cscf.toml
  wimpu-conformance check ref.toml --wait 30        retry for 30 s (processes just started)

exit status: 0 every external node is ready; 1 the PIXIT does not load or a node is not ready
(one line each on stderr); 2 a usage error of the command line.
"""

DELEGATED: dict[str, tuple[str, str]] = {
    "decode": (
        "print the SIP (and HTTP) messages of a capture, one line each",
        "examples:\n  wimpu-conformance decode trace.pcapng --keylog keys.log --http\n\n"
        "exit status: 0 decoded cleanly, 1 problems, 2 usage.",
    ),
    "verify": (
        "check a capture against the rules of TR 23.701 5.2.2",
        "example:\n  wimpu-conformance verify trace.pcapng --pixit my-sut.toml\n\n"
        "exit status: 0 no violation, 1 violations or problems, 2 usage.",
    ),
    "report": (
        "rebuild the conformance report (HTML + Markdown) from the files of a run",
        "examples:\n  wimpu-conformance report\n"
        "  wimpu-conformance report --reports-dir /tmp/run1 --pixit my-sut.toml --pics my-pics.toml\n\n"
        "exit status: 0 written (the files are printed), 2 the run's files cannot be read.",
    ),
    "up": (
        "start the bundled reference stack on loopback (the same as wimpu-ref up)",
        "examples:\n  wimpu-conformance up\n"
        "  wimpu-conformance up --state-dir var/wimpu --pixit-out ref.toml   then: run --sut ref.toml\n\n"
        "exit status: 0 stopped with Ctrl-C, 1 a node could not start, 2 a configuration error.",
    ),
}


def _delegate(command: str, argv: list[str]) -> int:
    """Run another tool's ``main`` with the sub-arguments; its ``--help`` gets our examples appended."""
    target: Callable[[list[str]], int]
    if command in ("decode", "verify"):
        from captures import cli as captures_cli

        def target(args: list[str]) -> int:
            return captures_cli.main([command, *args], load_topology=load_pixit, load_pics=pics_answers)
    elif command == "report":
        target = _plugin(command)
    else:
        from reference import cli as reference_cli

        def target(args: list[str]) -> int:
            return reference_cli.main(["up", *args])

    try:
        status = target(argv)
    except SystemExit as exc:  # argparse: --help, or a usage error
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if status == 0 and ("-h" in argv or "--help" in argv):
        print(f"\n{DELEGATED[command][1]}")
    return status


PLUGIN_GROUP = "wimpu_conformance.commands"
"""Entry-point group of the commands a package above this one adds (``report`` is ``reports``'s):
the import graph runs one way, reports -> conformance, so the CLI finds them by name."""


def _plugin(command: str) -> Callable[[list[str]], int]:
    """The ``main`` a package registered for ``command`` under :data:`PLUGIN_GROUP` (pyproject.toml)."""
    found = entry_points(group=PLUGIN_GROUP, name=command)
    if not found:
        raise SystemExit(f"{PROG}: {command}: no package provides it (reinstall: pip install -e .)")
    target: Callable[[list[str]], int] = next(iter(found)).load()
    return target


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=OVERVIEW, epilog=EXAMPLES, formatter_class=raw)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the conformance scenarios (the bundled reference, or your SUT with --sut)",
        usage=f"{PROG} run [--sut PIXIT] [--pics PICS] [--reports-dir DIR] [--wait SECONDS] [--no-check] "
        "[--dry-run] [-- PYTEST-ARGS ...]",
        description=RUN_HELP, epilog=RUN_EXAMPLES, formatter_class=raw,
    )  # fmt: skip
    run.add_argument("--sut", metavar="PIXIT", type=Path,
                     help="the PIXIT describing the system under test (default: the bundled reference)")
    run.add_argument("--pics", metavar="PICS", type=Path,
                     help="the PICS of the SUT (default: [sut] pics of the PIXIT, else features/pics.toml)")
    run.add_argument("--reports-dir", metavar="DIR", type=Path, help="write the reports here")
    run.add_argument("--wait", metavar="SECONDS", type=float, default=0.0,
                     help="wait up to SECONDS for the external nodes to be ready (default: no waiting)")
    run.add_argument("--no-check", action="store_true", help="skip the preflight check of the PIXIT")
    run.add_argument("--dry-run", action="store_true", help="print the pytest command instead of running it")

    check = commands.add_parser(
        "check", help="check that a PIXIT loads and that its external nodes answer",
        description=CHECK_HELP, epilog=CHECK_EXAMPLES, formatter_class=raw,
    )  # fmt: skip
    check.add_argument("pixit", metavar="PIXIT", type=Path, help="the PIXIT file (TOML)")
    check.add_argument("--wait", metavar="SECONDS", type=float, default=0.0,
                       help="retry for up to SECONDS until the nodes are ready (default: check once)")
    check.add_argument("--timeout", metavar="SECONDS", type=float, default=DEFAULT_TIMEOUT,
                       help=f"for each connection or request (default: {DEFAULT_TIMEOUT:g})")

    for name, (summary, _) in DELEGATED.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


# ----- check ----------------------------------------------------------------------------------------------


def _load(path: Path) -> Pixit | None:
    try:
        return load_pixit(path)
    except PixitError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return None


def _ready(pixit: Pixit, wait: float, timeout: float) -> bool:
    problems = wait_until_ready(pixit, within=wait, timeout=timeout)
    for problem in problems:
        print(f"{PROG}: {problem}", file=sys.stderr)
    return not problems


@contextlib.contextmanager
def _started(pixit: Pixit) -> Iterator[None]:
    """Run the PIXIT's ``[sut] start`` command (from the PIXIT's folder) for the duration of a check,
    then stop its process group as the suite does after a scenario (SIGTERM, SIGKILL after 10 s)."""
    with _emulated_core(pixit):
        print(f"starting the SUT: {shlex.join(pixit.start)}", flush=True)
        with _process(pixit):
            yield


@contextlib.contextmanager
def _emulated_core(pixit: Pixit) -> Iterator[None]:
    """The S-CSCF/HSS and I-CSCF the suite plays for this PIXIT, when it says ``emulated``: the SUT
    may need them to start (an eP-CSCF registering its option 1 blocks). The harness's own
    emulation (:mod:`conformance.harness.ims_core`), imported only then: the check starts what a run would."""
    if not pixit.emulated("s_cscf"):
        yield
        return
    from conformance.harness.loop import BackgroundLoop
    from conformance.harness.sut import emulated_core

    loop = BackgroundLoop()
    core = emulated_core(pixit)
    assert core is not None
    try:
        loop.run(core.start())
        print(f"the suite's emulated IMS core listens at {core.scscf_target.host}:{core.scscf_target.port}")
        yield
    finally:
        loop.run(core.stop())
        loop.close()


@contextlib.contextmanager
def _process(pixit: Pixit) -> Iterator[None]:
    """The SUT's start command running (:class:`~conformance.sut_process.SutProcess`), its files
    awaited; stopped after the check."""
    process = SutProcess(pixit)
    try:
        if not process.wait_for_files(time.monotonic() + pixit.ready) and process.status() is not None:
            print(f"{PROG}: the SUT's start command exited with status {process.status()}: "
                  f"{process.output_tail()}", file=sys.stderr)  # fmt: skip
        yield
    finally:
        process.stop()


def _check(args: argparse.Namespace) -> int:
    pixit = _load(args.pixit)
    if pixit is None:
        return 1
    # a SUT the suite starts itself is started here too, checked, and stopped
    with _started(pixit) if pixit.start else contextlib.nullcontext():
        if not _ready(pixit, max(args.wait, pixit.ready if pixit.start else 0.0), args.timeout):
            return 1
    external = pixit.external()
    if not external:
        print(f"PIXIT {args.pixit}: loads; no external node (the suite starts every node itself)")
        return 0
    print(f"PIXIT {args.pixit}: every external node is ready:")
    for node in external:
        addresses = ", ".join(a for a in (node.url, str(node.sip) if node.sip else None) if a)
        print(f"  {node.name:10} {addresses}")
    return 0


# ----- run ------------------------------------------------------------------------------------------------


def checkout() -> Path | None:
    """The suite's checkout, holding ``steps/`` and ``features/`` (None when installed without it)."""
    for folder in [Path(__file__).resolve().parent.parent, Path.cwd(), *Path.cwd().parents]:
        if (folder / "steps").is_dir() and (folder / "features" / "requirements.toml").is_file():
            return folder
    return None


def pytest_command(args: argparse.Namespace, pics: Path | None) -> list[str]:
    """``python3 -m pytest steps`` with the SUT, PICS and reports directory, then the user's arguments."""
    command = [sys.executable, "-m", "pytest", "steps"]
    if args.sut is not None:
        command += ["--sut", str(args.sut.resolve())]
    if pics is not None:
        command += ["--pics", str(pics.resolve())]
    if args.reports_dir is not None:
        command += ["--reports-dir", str(args.reports_dir.resolve())]
    return command + list(args.pytest_args)


def _reports_dir(args: argparse.Namespace, root: Path, pid: int) -> Path | None:
    if "--no-reports" in args.pytest_args:
        return None
    directory = args.reports_dir.resolve() if args.reports_dir is not None else root / "reports"
    concurrent = directory / f"concurrent-{pid}"  # reports.plugin.claim: another run was writing there
    return concurrent if concurrent.is_dir() else directory


def _run(args: argparse.Namespace) -> int:
    root = checkout()
    if root is None:
        print(f"{PROG}: run: cannot find the suite's checkout (steps/ and features/); run it from there",
              file=sys.stderr)  # fmt: skip
        return EXIT_NOT_READY
    pics: Path | None = args.pics
    if args.sut is not None:
        pixit = _load(args.sut)
        if pixit is None:
            return EXIT_NOT_READY
        pics = pics or pixit.pics
        # a SUT with [sut] start is started afresh and checked before each scenario, not here
        checked = not (args.no_check or args.dry_run or pixit.start)
        if checked and not _ready(pixit, args.wait, DEFAULT_TIMEOUT):
            print(f"{PROG}: run: the SUT is not ready, nothing ran (`{PROG} check {args.sut}` again)",
                  file=sys.stderr)  # fmt: skip
            return EXIT_NOT_READY
    command = pytest_command(args, pics)
    if args.dry_run:
        print(f"cd {root} && " + " ".join(shlex.quote(c) for c in command))
        return 0
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    with subprocess.Popen(command, cwd=root) as process:
        try:
            status = process.wait()
        except KeyboardInterrupt:
            status = process.wait()
    reports = _reports_dir(args, root, process.pid)
    if reports is not None:
        print(f"\nreports: {reports / 'conformance.html'}")
        print(f"         {reports / 'conformance.md'}, junit.xml, cucumber.json, allure-results/ beside it")
    return status


# ----- main -----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    pytest_args: list[str] = []
    if argv[:1] == ["run"] and "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            hint = " (pytest options go after --: run ... -- -k NAME)" if args.command == "run" else ""
            parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    if args.command == "check":
        return _check(args)
    args.pytest_args = pytest_args
    try:
        return _run(args)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
