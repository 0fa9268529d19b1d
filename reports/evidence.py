"""Per-scenario wire evidence in the Allure results: the capture, its ladder, each step's messages.

The step harness leaves, for every scenario it captured, three files under the captures directory
(``$WIMPU_CAPTURES_DIR``, default ``<rootdir>/captures``), written by the end of the test's teardown:

* ``<feature>/<test>.pcapng``: the capture, its TLS secrets in a Decryption Secrets Block;
* ``<feature>/<test>.ladder.json``: ``{"lanes": [...], "events": [...]}`` (``reports.ladder.load_ladder``);
* ``<feature>/<test>.wire.json``: ``{"feature", "test", "scenario", "pcapng", "messages": [{"index",
  "frame", "time", "src", "dst", "transport", "start_line", "raw"}]}``, ``time`` in seconds since the
  epoch (the clock of ``time.time()``);
* ``<feature>/<test>.sut.log``, for an external SUT the suite started (``[sut] start``): its output,
  redacted (issue 16: "its own log goes to the scenario's evidence"), attached as text;

``<feature>`` being the feature file's path under ``features/`` without ``.feature`` and ``<test>`` the
pytest test name made file-name-safe (:func:`slug`). :class:`EvidencePlugin` (registered by
``reports.plugin`` whenever allure-pytest-bdd writes results) records when each Gherkin step starts and
ends, and when allure-pytest-bdd hands the scenario's result to its writer (after the teardown, so the
files exist), adds to it:

* the ladder diagram (SVG, drawn from the ``.ladder.json``) and the capture (``.pcapng``);
* to each step, one text attachment with every message whose time falls in the step's window;
* to the scenario, the messages outside every step (before the first, between steps, in the teardown).

Hooked into allure-python-commons' ``report_result`` (called once per test, in the process that ran it,
so xdist workers do it for their own tests), before the file writer runs: no result file is rewritten.
Files older than the scenario are a previous run's and are ignored; a scenario without files gets
nothing, and a problem with them becomes one text attachment, never a failure.

Secrets: every text is redacted again (:mod:`conformance.redact`). The capture is attached as a copy whose
cleartext packet bytes are masked in place (same length, so the file stays valid) and without its
Decryption Secrets Block: reports are shared, and with the TLS secrets anyone could read the tokens and
passwords inside the WSS and HTTPS legs. The attached copy shows the IMS core legs (SIP over TCP/UDP,
W6/W7) in clear; the WSS legs decrypted are in the message list of each step, redacted, and the full
self-decrypting capture stays in the run's ``captures/`` directory, never in ``reports/``.
"""

from __future__ import annotations

import json
import os
import re
import struct
import time
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conformance.redact import redact, redact_in_place
from reports.ladder import LadderEvent, load_ladder, render_svg

__all__ = [
    "CAPTURES_ENV",
    "EvidencePlugin",
    "ScenarioFiles",
    "StepWindow",
    "WireEntry",
    "by_step",
    "captures_dir",
    "draw_ladder",
    "load_wire",
    "mask_capture",
    "messages_text",
    "scenario_files",
    "slug",
]

CAPTURES_ENV = "WIMPU_CAPTURES_DIR"
"""Where the harness writes the captures (the same variable the step harness reads)."""
PCAP_TYPE = "application/vnd.tcpdump.pcap"
"""Allure's type for a capture (``AttachmentType.PCAP``); the file keeps its ``.pcapng`` extension."""
STALE_SLACK = 2.0
"""Seconds a file may seem older than its scenario (file system time stamps are coarse)."""
SUT_LOG_LIMIT = 1_000_000
"""Characters of a SUT's log attached at most (its end)."""


def slug(text: str) -> str:
    """The file-name-safe form of a test name: ``test_x[alice-A]`` -> ``test_x_alice-A``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def captures_dir(root: Path) -> Path:
    """The captures directory: ``$WIMPU_CAPTURES_DIR``, else ``<root>/captures``."""
    value = os.environ.get(CAPTURES_ENV)
    return Path(value).resolve() if value else root / "captures"


def capture_folders(feature: str) -> list[str]:
    """The folders (relative to the captures directory) a scenario's files may be in, preferred first.

    ``feature`` is pytest-bdd's path of the feature file (``registration/wic_registration.feature``, or
    ``features/registration/...`` when the base directory is given without a trailing slash).
    """
    path = feature.removesuffix(".feature")
    folders = [path, path.removeprefix("features/"), Path(path).name]
    return list(dict.fromkeys(folder for folder in folders if folder))


# --- the files of one scenario -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioFiles:
    """The files the harness left for one scenario (None: not there, or older than the scenario)."""

    folder: Path
    stem: str
    wire: Path | None
    ladder: Path | None
    pcapng: Path | None
    sut_log: Path | None = None
    "The output of a SUT process the suite started for the scenario (``<test>.sut.log``)."

    def __bool__(self) -> bool:
        return any((self.wire, self.ladder, self.pcapng, self.sut_log))


def _fresh(path: Path, since: float | None) -> Path | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    if not path.is_file() or since is not None and stat.st_mtime < since - STALE_SLACK:
        return None
    return path


def _pcapng_name(wire: Path) -> str | None:
    """The capture's file name as the ``.wire.json`` gives it (a bare name in the same folder)."""
    try:
        value = json.loads(wire.read_text(encoding="utf-8")).get("pcapng")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(value, str) and value and Path(value).name == value and value not in (".", ".."):
        return value
    return None


def scenario_files(captures: Path, feature: str, test: str, *, since: float | None = None) -> ScenarioFiles:
    """The capture, ladder and message list of the test ``test`` of ``feature``, those that exist.

    ``since`` (seconds since the epoch): files last written before it are a previous run's, ignored.
    """
    for folder in capture_folders(feature):
        for stem in dict.fromkeys([slug(test), test]):
            base = captures / folder
            wire = _fresh(base / f"{stem}.wire.json", since)
            name = (_pcapng_name(wire) if wire else None) or f"{stem}.pcapng"
            files = ScenarioFiles(
                base,
                stem,
                wire,
                _fresh(base / f"{stem}.ladder.json", since),
                _fresh(base / name, since),
                _fresh(base / f"{stem}.sut.log", since),
            )
            if files:
                return files
    return ScenarioFiles(captures / capture_folders(feature)[0], slug(test), None, None, None)


# --- the message list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WireEntry:
    """One captured message as the ``.wire.json`` lists it."""

    index: int
    frame: int | None
    time: float
    src: str
    dst: str
    transport: str
    start_line: str
    raw: str


def _entry(raw: Any, number: int) -> WireEntry:
    if not isinstance(raw, dict):
        raise ValueError(f"message #{number} is not an object")
    try:
        moment = raw["time"]
        if isinstance(moment, bool) or not isinstance(moment, int | float):
            raise ValueError(f"message #{number}: time is not a number of seconds")
        text = str(raw.get("raw") or "")
        frame = raw.get("frame")
        return WireEntry(
            index=int(raw.get("index", number)),
            frame=int(frame) if isinstance(frame, int) and not isinstance(frame, bool) else None,
            time=float(moment),
            src=str(raw["src"]),
            dst=str(raw["dst"]),
            transport=str(raw.get("transport") or ""),
            start_line=str(raw.get("start_line") or text.split("\n", 1)[0].rstrip("\r")),
            raw=text,
        )
    except KeyError as exc:
        raise ValueError(f"message #{number} has no {exc.args[0]!r}") from exc


def load_wire(path: Path) -> tuple[dict[str, Any], list[WireEntry]]:
    """Read a ``.wire.json``: its header fields and its messages, in time order.

    Raises:
        ValueError: naming the file, when it is not valid JSON or not in the format.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise ValueError("expected an object with a list of 'messages'")
        entries = [_entry(raw, number) for number, raw in enumerate(data["messages"])]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    header = {key: value for key, value in data.items() if key != "messages"}
    return header, sorted(entries, key=lambda entry: (entry.time, entry.index))


@dataclass
class StepWindow:
    """When one Gherkin step ran (``time.time()`` at its start and end; end None while it runs)."""

    name: str
    start: float
    end: float | None = None
    failed: bool = False


def by_step(
    entries: Sequence[WireEntry], windows: Sequence[StepWindow]
) -> tuple[list[list[WireEntry]], list[WireEntry]]:
    """The messages of each step's window (``start <= time <= end``, the first window wins a tie), and
    those outside every window."""
    per_step: list[list[WireEntry]] = [[] for _ in windows]
    outside: list[WireEntry] = []
    for entry in entries:
        for number, window in enumerate(windows):
            end = window.end if window.end is not None else float("inf")
            if window.start <= entry.time <= end:
                per_step[number].append(entry)
                break
        else:
            outside.append(entry)
    return per_step, outside


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M:%S.%f")


def messages_text(entries: Sequence[WireEntry], heading: str, *, t0: float | None = None) -> str:
    """A plain-text listing: the heading, one summary line per message (its start line), then each message
    in full. Times are UTC, and seconds from ``t0`` (the capture's first message, as in the ladder)."""
    base = t0 if t0 is not None else (entries[0].time if entries else 0.0)

    def where(entry: WireEntry) -> str:
        frame = f"frame {entry.frame}" if entry.frame is not None else "frame ?"
        return (
            f"#{entry.index}  {_clock(entry.time)} UTC (+{entry.time - base:.6f} s)  {frame}  "
            f"{entry.src} -> {entry.dst}  {entry.transport}"
        )

    lines = [redact(heading), ""]
    lines += [f"  {redact(where(entry))}  {redact(entry.start_line)}" for entry in entries]
    for entry in entries:
        lines += ["", f"----- {redact(where(entry))}", redact(entry.raw.replace("\r\n", "\n")).rstrip("\n")]
    return "\n".join(lines) + "\n"


# --- the capture and the ladder ------------------------------------------------------------------------


def _mask(buffer: bytearray, start: int, length: int) -> None:
    end = min(len(buffer), start + max(0, length))
    if end <= start:
        return
    text = buffer[start:end].decode("latin-1")
    clean = redact_in_place(text)
    if clean != text:
        buffer[start:end] = clean.encode("latin-1")


_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\xa1\xb2\x3c\x4d": ">",
}


def mask_capture(data: bytes) -> bytes:
    """A copy of a pcapng (or pcap) file with the secrets of its cleartext packet bytes masked in place,
    and without its Decryption Secrets Blocks (the TLS key log).

    Packet data changes byte for byte the same length (Enhanced, Simple and obsolete Packet Blocks;
    pcap records), so every block, length and sequence number stays valid; every other block but the
    Decryption Secrets Blocks is copied unchanged. A secret cut across two packets is masked where a piece
    of it is still recognisable.

    Raises:
        ValueError: the data is not a complete pcapng or pcap file.
    """
    buffer = bytearray(data)
    if buffer[:4] == b"\x0a\x0d\x0d\x0a":
        position, endian = 0, "<"
        secrets: list[tuple[int, int]] = []
        while position < len(buffer):
            if position + 12 > len(buffer):
                raise ValueError(f"pcapng: truncated block at offset {position}")
            if buffer[position : position + 4] == b"\x0a\x0d\x0d\x0a":
                endian = "<" if buffer[position + 8 : position + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            kind, length = struct.unpack_from(endian + "II", buffer, position)
            if length < 12 or length % 4 or position + length > len(buffer):
                raise ValueError(f"pcapng: bad block length {length} at offset {position}")
            if kind in (2, 6) and length >= 32:  # (obsolete) Packet Block, Enhanced Packet Block
                (captured,) = struct.unpack_from(endian + "I", buffer, position + 20)
                _mask(buffer, position + 28, min(captured, length - 32))
            elif kind == 3 and length >= 16:  # Simple Packet Block
                (original,) = struct.unpack_from(endian + "I", buffer, position + 8)
                _mask(buffer, position + 12, min(original, length - 16))
            elif kind == 10:  # Decryption Secrets Block: left out
                secrets.append((position, length))
            position += length
        for start, length in reversed(secrets):
            del buffer[start : start + length]
        return bytes(buffer)
    endian = _PCAP_MAGIC.get(bytes(buffer[:4]), "")
    if not endian:
        raise ValueError("neither a pcapng nor a pcap file")
    position = 24
    while position < len(buffer):
        if position + 16 > len(buffer):
            raise ValueError(f"pcap: truncated record at offset {position}")
        (captured,) = struct.unpack_from(endian + "I", buffer, position + 8)
        if position + 16 + captured > len(buffer):
            raise ValueError(f"pcap: truncated record at offset {position}")
        _mask(buffer, position + 16, captured)
        position += 16 + captured
    return bytes(buffer)


def draw_ladder(path: Path, title: str = "") -> str:
    """The SVG of a ``.ladder.json``, every text of it redacted first."""
    lanes, events = load_ladder(path)
    clean = [
        LadderEvent(e.time, redact(e.src), redact(e.dst), redact(e.label), e.transport, redact(e.note))
        for e in events
    ]
    return render_svg(clean, [redact(lane) for lane in lanes], title=redact(title))


# --- the pytest plugin ---------------------------------------------------------------------------------


@dataclass
class _Scenario:
    nodeid: str
    test: str
    feature: str
    label: str
    started: float
    steps: list[StepWindow] = field(default_factory=list)


def _label(request: pytest.FixtureRequest, scenario: Any) -> str:
    """The scenario's name with its Examples row, as the conformance report labels it."""
    test = str(request.node.name)
    name = str(getattr(scenario, "name", "") or test)
    return f"{name} [{test[test.index('[') + 1 : -1]}]" if test.endswith("]") and "[" in test else name


def _pairs(steps: Sequence[Any], windows: Sequence[StepWindow]) -> list[tuple[Any, StepWindow]]:
    """Each step window with the Allure step it belongs to: by name in order, else by position.

    allure-pytest-bdd opens one top-level step per Gherkin step, named ``"<keyword> <text>"`` unless the
    step function has an ``@allure.title``; the steps it adds for those that never ran come after.
    """
    pairs: list[tuple[Any, StepWindow]] = []
    cursor = 0
    for window in windows:
        names = [getattr(step, "name", None) for step in steps[cursor:]]
        if window.name not in names:
            return list(zip(steps, windows, strict=False))
        found = cursor + names.index(window.name)
        pairs.append((steps[found], window))
        cursor = found + 1
    return pairs


class EvidencePlugin:
    """Times each Gherkin step and adds each scenario's wire evidence to its Allure result.

    Registered with pytest and, through a small hook object, with allure-python-commons' plugin manager
    (its ``report_result`` runs before the result file is written).
    """

    def __init__(self, config: pytest.Config, captures: Path) -> None:
        import allure_commons

        self.config = config
        self.captures = captures
        self.scenarios: dict[str, _Scenario] = {}
        self.reporting: str | None = None
        self.problems: list[str] = []
        self._hook = _AllureHook(self)
        self._manager = allure_commons.plugin_manager
        self._manager.register(self._hook, name=f"wimpu-evidence-{id(self)}")

    def close(self) -> None:
        """Leave allure-python-commons' plugin manager as it was."""
        if self._manager.is_registered(self._hook):
            self._manager.unregister(self._hook)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """One line when some scenario's evidence could not be attached (the attachment says why)."""
        if self.problems:
            terminalreporter.write_line(
                f"WARNING wIMPU reports: wire evidence not attached to {len(self.problems)} scenario(s): "
                + redact(self.problems[0]),
                yellow=True,
            )

    # --- pytest-bdd: when each step runs -----------------------------------------------------------

    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        """A scenario starts: its files must be newer than this."""
        node = request.node
        self.scenarios[node.nodeid] = _Scenario(
            nodeid=node.nodeid,
            test=node.name,
            feature=str(getattr(feature, "rel_filename", "")),
            label=_label(request, scenario),
            started=time.time(),
        )

    def pytest_bdd_before_step(self, request: pytest.FixtureRequest, step: Any) -> None:
        """A step starts (before its fixtures are set up: what they send belongs to it)."""
        scenario = self.scenarios.get(request.node.nodeid)
        if scenario is not None:
            scenario.steps.append(StepWindow(f"{step.keyword} {step.name}", time.time()))

    def _end_step(self, request: pytest.FixtureRequest, failed: bool) -> None:
        scenario = self.scenarios.get(request.node.nodeid)
        if scenario is not None and scenario.steps and scenario.steps[-1].end is None:
            scenario.steps[-1].end = time.time()
            scenario.steps[-1].failed = failed

    def pytest_bdd_after_step(self, request: pytest.FixtureRequest) -> None:
        """A step passed."""
        self._end_step(request, failed=False)

    def pytest_bdd_step_error(self, request: pytest.FixtureRequest) -> None:
        """A step failed."""
        self._end_step(request, failed=True)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Around the teardown report, in which allure-pytest-bdd writes the result: say whose it is."""
        if call.when != "teardown":
            return (yield)
        self.reporting = item.nodeid
        try:
            return (yield)
        finally:
            self.reporting = None
            self.scenarios.pop(item.nodeid, None)

    # --- allure-python-commons: the result is about to be written ---------------------------------

    def _listener_uuid(self, nodeid: str) -> str | None:
        for plugin in self.config.pluginmanager.get_plugins():
            uuids = (
                getattr(plugin, "nodeid_to_uuid", None)
                if type(plugin).__name__ == "PytestBDDListener"
                else None
            )
            if isinstance(uuids, dict) and nodeid in uuids:
                return str(uuids[nodeid])
        return None

    def attach(self, result: Any) -> None:
        """Add the evidence of the scenario being reported to ``result`` (an Allure ``TestResult``).

        Each piece (ladder, capture, messages) on its own: a broken file costs that piece only, and one
        text attachment on the scenario says what went wrong. Nothing here fails a test or the run.
        """
        nodeid = self.reporting
        scenario = self.scenarios.get(nodeid) if nodeid is not None else None
        if scenario is None:
            return
        expected = self._listener_uuid(scenario.nodeid)
        if expected is not None and expected != str(getattr(result, "uuid", "")):
            return  # not this scenario's result (cannot happen with allure-pytest-bdd 2.16)
        problems: list[str] = []
        try:
            files = scenario_files(self.captures, scenario.feature, scenario.test, since=scenario.started)
        except OSError as exc:
            files, problems = None, [f"captures directory: {exc}"]
        first: list[Any] = []
        if files:
            now = time.time()
            for window in scenario.steps:
                if window.end is None:  # interrupted (pytest.exit, KeyboardInterrupt): up to now
                    window.end = now
            for piece, path in (
                ("ladder", files.ladder),
                ("capture", files.pcapng),
                ("messages", files.wire),
                ("SUT log", files.sut_log),
            ):
                if path is None:
                    continue
                try:
                    first += self._piece(piece, path, result, scenario)
                except Exception as exc:  # noqa: BLE001 - evidence must never fail a test or the run
                    problems.append(f"{piece} ({path.name}): {type(exc).__name__}: {exc}".splitlines()[0])
        if problems:
            self.problems.append(f"{scenario.nodeid}: {problems[0]}")
            text = "The wire evidence of this scenario is incomplete:\n" + "\n".join(problems) + "\n"
            first.append(self._write(redact(text).encode(), "Wire evidence: problem", "text/plain", "txt"))
        result.attachments[:0] = first

    def _write(self, body: bytes, name: str, mime: str, extension: str) -> Any:
        from allure_commons.model2 import Attachment

        file_name = f"{uuid.uuid4()}-attachment.{extension}"
        self._manager.hook.report_attached_data(body=body, file_name=file_name)
        return Attachment(name=name, source=file_name, type=mime)

    def _piece(self, piece: str, path: Path, result: Any, scenario: _Scenario) -> list[Any]:
        """Attach one file's evidence; the scenario-level attachments made (steps get theirs directly)."""
        if piece == "ladder":
            svg = draw_ladder(path, title=scenario.label)
            return [self._write(svg.encode(), "Ladder diagram", "image/svg+xml", "svg")]
        if piece == "capture":
            capture = mask_capture(path.read_bytes())
            return [self._write(capture, f"Capture {path.name}", PCAP_TYPE, "pcapng")]
        if piece == "SUT log":
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(text) > SUT_LOG_LIMIT:  # its end: what the SUT did last, where a FAIL usually is
                cut = len(text) - SUT_LOG_LIMIT
                text = f"[the first {cut} characters left out]\n" + text[cut:]
            return [self._write(redact(text).encode(), f"SUT log {path.name}", "text/plain", "txt")]
        _, entries = load_wire(path)
        t0 = entries[0].time if entries else None
        per_step, outside = by_step(entries, scenario.steps)
        messages = dict(zip((id(window) for window in scenario.steps), per_step, strict=True))
        texts: list[tuple[Any, str, str]] = []
        for step, window in _pairs(result.steps, scenario.steps):
            found = messages[id(window)]
            if found:
                failed = " (the step failed)" if window.failed else ""
                heading = f"{window.name}: {len(found)} message(s) on the wire{failed}"
                texts.append((step, messages_text(found, heading, t0=t0), f"Wire: {len(found)} message(s)"))
        for step, text, name in texts:  # all formatted first: a bad message attaches nothing half-way
            step.attachments.append(self._write(text.encode(), name, "text/plain", "txt"))
        if not outside:
            return []
        heading = f"{len(outside)} message(s) on the wire outside the steps (set-up, between, teardown)"
        text = messages_text(outside, heading, t0=t0)
        name = f"Wire outside the steps: {len(outside)} message(s)"
        return [self._write(text.encode(), name, "text/plain", "txt")]


class _AllureHook:
    """The allure-python-commons side of :class:`EvidencePlugin`."""

    def __init__(self, owner: EvidencePlugin) -> None:
        self.owner = owner

    def report_result(self, result: Any) -> None:
        """Before the file logger writes ``result``: add the evidence to it."""
        self.owner.attach(result)


def _mark_hook() -> None:
    """Mark :meth:`_AllureHook.report_result` as an allure hook implementation, run before the writer."""
    try:
        import allure_commons
    except ImportError:  # pragma: no cover - allure is a test dependency; the report CLI does not need it
        return
    allure_commons.hookimpl(tryfirst=True)(_AllureHook.report_result)


_mark_hook()
