"""Interop: SIPp (Debian ``sip-tester``), a SIP UA nobody here wrote, as the remote IMS party.

SIPp places terminating sessions of TR 23.701 5.2.2.5.4 at the reference stack's I-CSCF (the
terminating entry, step 1), over UDP (``-t u1``) and over TCP (``-t t1``): the I-CSCF listens
on both, on the same port (RFC 3261 18.2.1, ``reference/transport/endpoint.py``). Its From is
``sip:dave@remote.example.org``, its Request-URI the called webRTC identity. The scenarios are
``interop/sipp/*.xml`` (``interop/sipp/README.md``); the called user's WICs are the suite's
emulated :class:`~conformance.harness.wic.Wic` over WSS to the eP-CSCF.

SIPp sends every message of a call to the address on its command line, the I-CSCF: the ACK
and the BYE too, with the route set the 200's Record-Route gave. The I-CSCF is on no dialog's
path, but forwards a request with a Route to the Route's next hop (RFC 3261 16.4, 16.6, 16.11;
``docs/solution-profile.md``, Termination). Before that fix (bc02a7c) the I-CSCF dropped the
ACK and answered the BYE 403: the call tests below then fail (SIPp's exit status 1, the WIC
gets no ACK and no BYE).

SIPp is a real subprocess with ``-m``, ``-l 1``, ``-timeout`` (with ``-timeout_error``) and
``-recv_timeout``, so it always ends; its statistics (``-trace_stat``), messages
(``-trace_msg``) and unexpected messages (``-trace_err``) go under ``tmp_path`` and are shown
when a check fails. ``scripts/install.sh`` installs it; its absence is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from ports import free_ports

from captures.rules import has_sip_cause
from conformance.harness import expect
from conformance.harness.expect import EVENT_WAIT, wait_until_async
from conformance.harness.wic import Wic, web_login
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message
from reference.stack import Stack
from reference.transport.endpoint import SipEndpoint, Source

ROOT = Path(__file__).resolve().parents[2]
SIPP_DIR = ROOT / "interop" / "sipp"

ALICE = "sip:wrtc-alice@block1.ims.example.net"
"Option A: an individual IMPU of block 1 (the WWSF's demo user alice)."
BOB = "sip:bob@enterprise.com"
"Option B: an external identity of the webRTC domain enterprise.com (the demo user bob)."
NOBODY = "sip:nobody@block1.ims.example.net"
"An identity of a webRTC domain that no wIMPU block's wildcard matches (TP_WIMPU_TERM_004)."
DAVE = "sip:dave@remote.example.org"
"SIPp, the remote IMS party."

TRANSPORTS = {"udp": "u1", "tcp": "t1"}
"SIPp's -t for each transport: one socket (UDP) or one connection (TCP) for every call."
CALL_LENGTH_MS = 100
"The pause between ACK and BYE (-d): the call's length, a behaviour of the caller, not a wait."
SIPP_TIMEOUT = 4 * EVENT_WAIT
"SIPp's global -timeout (seconds, with -timeout_error: it then exits with a failure)."
RECV_TIMEOUT_MS = int(EVENT_WAIT * 1000)
"SIPp's -recv_timeout: the longest wait for each message a scenario expects."
SIPP_EXIT = {
    0: "all calls successful",
    1: "at least one call failed",
    97: "exit on an internal command",
    99: "normal exit without calls processed",
    254: "fatal error binding a socket",
    255: "fatal error (also the global -timeout reached, with -timeout_error)",
}
"SIPp's exit statuses (sipp -h, 'Exit codes'; its -1 and -2 read as 255 and 254)."


def _sipp() -> str:
    sipp = shutil.which("sipp")
    if sipp is None:
        pytest.fail(
            "sipp is not installed: run `bash scripts/install.sh` (or `apt-get install -y sip-tester`)"
        )
    return sipp


# ----- SIPp's own record of a run ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SippMessage:
    """One SIP message of SIPp's message log (``-trace_msg``)."""

    direction: str
    "sent or received"
    transport: str
    text: str

    @property
    def start_line(self) -> str:
        return self.text.split("\r\n", 1)[0]

    def parsed(self) -> Request | Response:
        """The message through the reference's own strict parser."""
        head, _, rest = self.text.partition("\r\n\r\n")
        length = re.search(r"^Content-Length:\s*(\d+)", head, re.IGNORECASE | re.MULTILINE)
        body = rest[: int(length.group(1))] if length else ""
        return parse_message(f"{head}\r\n\r\n{body}".encode())


_LOGGED = re.compile(
    r"^-{20,} [^\n]*\n(UDP|TCP) message (sent|received) (?:\(\d+ bytes\)|\[\d+\] bytes ?):\n\n", re.MULTILINE
)


def _messages(log: str) -> list[SippMessage]:
    """Each message of the log: "UDP message sent (605 bytes):" or "TCP message received [246]
    bytes :", a blank line, the message as on the wire, one more "\\n"."""
    parts = _LOGGED.split(log)
    # [before, transport, direction, text, transport, direction, text, ...]
    return [
        SippMessage(direction, transport, text.removesuffix("\n"))  # SIPp adds one "\n"
        for transport, direction, text in zip(parts[1::3], parts[2::3], parts[3::3], strict=True)
    ]


def _statistics(path: Path) -> dict[str, str]:
    """The last line of SIPp's statistics file (``-trace_stat``: ';'-separated, a header line
    first, then one line per -fd period and a last one at exit), by column name."""
    if not path.exists():
        return {}
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    if len(lines) < 2:
        return {}
    return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


@dataclasses.dataclass
class SippRun:
    """What one SIPp run left: exit status, statistics, messages, unexpected messages."""

    what: str
    returncode: int
    stats: dict[str, str]
    messages: list[SippMessage]
    errors: str
    stdout: str
    stderr: str

    def count(self, counter: str) -> int:
        """A cumulative counter of the statistics file (``SuccessfulCall``, ``Retransmissions``)."""
        value = self.stats.get(f"{counter}(C)")
        assert value is not None and value.strip().isdigit(), (
            f"{self.what}: SIPp's statistics have no counter {counter}(C)\n{self.context()}"
        )
        return int(value)

    def sent(self, method: str) -> list[SippMessage]:
        return [m for m in self.messages if m.direction == "sent" and m.start_line.startswith(method + " ")]

    def received(self, status: int) -> list[SippMessage]:
        return [
            m
            for m in self.messages
            if m.direction == "received" and m.start_line.startswith(f"SIP/2.0 {status} ")
        ]

    def context(self) -> str:
        """SIPp's own account of the run, for failure messages."""
        counters = ", ".join(
            f"{name} {self.stats.get(name + '(C)', '?')}"
            for name in ("OutgoingCall", "SuccessfulCall", "FailedCall", "Retransmissions", "DeadCallMsgs")
        )
        lines = [f"  {m.direction:8} {m.transport} {m.start_line}" for m in self.messages[-30:]]
        return (
            f"SIPp exit status {self.returncode} ({SIPP_EXIT.get(self.returncode, 'unknown')}); {counters}\n"
            f"SIPp's messages (newest last):\n" + "\n".join(lines) + "\n"
            f"SIPp's unexpected messages (-trace_err):\n{self.errors[-3000:]}\n"
            f"SIPp's stderr:\n{self.stderr[-2000:]}\nSIPp's last screen:\n{self.stdout[-2500:]}"
        )

    def all_successful(self, calls: int) -> None:
        """SIPp's verdict: exit status 0 and ``calls`` successful calls, none failed."""
        assert self.returncode == 0, (
            f"{self.what}: expected SIPp to exit 0 (all calls successful)\n{self.context()}"
        )
        assert (self.count("SuccessfulCall"), self.count("FailedCall")) == (calls, 0), (
            f"{self.what}: expected {calls} successful and 0 failed call(s)\n{self.context()}"
        )


def _files(directory: Path) -> tuple[Path, Path, Path]:
    """SIPp's statistics, message log and error log of one run, in ``directory``."""
    return directory / "stat.csv", directory / "messages.log", directory / "errors.log"


def _new_files(directory: Path) -> tuple[Path, Path, Path]:
    directory.mkdir(parents=True)
    return _files(directory)


def _collected(
    what: str, returncode: int | None, outputs: tuple[bytes, bytes] | None, directory: Path
) -> SippRun:
    """What a SIPp run left in ``directory`` (:func:`_files`) and on its outputs."""
    stat, log, errors = _files(directory)
    return SippRun(
        what=what,
        returncode=returncode if returncode is not None else -1,
        stats=_statistics(stat),
        messages=_messages(log.read_bytes().decode(errors="replace")) if log.exists() else [],  # CRLF kept
        errors=errors.read_text(errors="replace") if errors.exists() else "",
        stdout=outputs[0].decode(errors="replace") if outputs else "",
        stderr=outputs[1].decode(errors="replace") if outputs else "",
    )


async def run_sipp(
    stack: Stack, scenario: str, transport: str, called: str, directory: Path, *, calls: int = 1
) -> SippRun:
    """SIPp with ``scenario`` against the stack's I-CSCF: ``calls`` calls, one at a time."""
    icscf = (stack.config.host, stack.icscf.node.port)
    return await run_sipp_at(icscf, stack.config.host, scenario, transport, called, directory, calls=calls)


async def run_sipp_at(
    icscf: tuple[str, int],
    host: str,
    scenario: str,
    transport: str,
    called: str,
    directory: Path,
    *,
    calls: int = 1,
) -> SippRun:
    """SIPp on ``host`` with ``scenario`` against the I-CSCF at ``icscf``: ``calls`` calls, one at a time."""
    sipp = _sipp()
    stat, log, errors = _new_files(directory)
    [port] = free_ports(1)
    what = f"SIPp {scenario} -t {transport} to {called} ({calls} call(s))"
    proc = await asyncio.create_subprocess_exec(
        sipp, f"{icscf[0]}:{icscf[1]}",
        "-sf", str(SIPP_DIR / scenario),
        "-t", transport, "-i", host, "-p", str(port),
        "-m", str(calls), "-l", "1", "-d", str(CALL_LENGTH_MS),
        "-timeout", f"{SIPP_TIMEOUT:g}s", "-timeout_error", "-recv_timeout", str(RECV_TIMEOUT_MS),
        "-key", "called", called, "-key", "caller", DAVE,
        "-trace_stat", "-stf", str(stat), "-fd", "1",
        "-trace_msg", "-message_file", str(log),
        "-trace_err", "-error_file", str(errors),
        "-nostdin",
        cwd=directory,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    outputs: tuple[bytes, bytes] | None = None
    try:
        with contextlib.suppress(TimeoutError):
            outputs = await asyncio.wait_for(proc.communicate(), SIPP_TIMEOUT + EVENT_WAIT)
    finally:
        if proc.returncode is None:  # a SIPp that outlived its own -timeout, or a cancelled test
            proc.kill()
            await proc.wait()
    run = _collected(what, proc.returncode, outputs, directory)
    if outputs is None:
        pytest.fail(
            f"{what}: expected SIPp to end within {SIPP_TIMEOUT + EVENT_WAIT:g}s, killed\n{run.context()}"
        )
    return run


# ----- the called side: WICs of alice, and what reached the I-CSCF ----------------------------


@pytest.fixture
async def wics() -> AsyncIterator[list[Wic]]:
    """Every WIC a test registers; closed at teardown, whatever the outcome."""
    started: list[Wic] = []
    yield started
    for wic in started:
        await wic.close()


async def _register_alice(stack: Stack, wics: list[Wic], name: str, mode: str) -> Wic:
    """A WIC of alice (web login, WSS to the eP-CSCF of block 1, REGISTER) in ``mode``."""
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic(name, ssl_context=ctx)
    wic.answer_mode = mode
    wics.append(wic)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    expect.status(await wic.register(ALICE, token=login.token), 200)
    return wic


class Arrivals:
    """Every message the I-CSCF's endpoint receives, with its source (wraps its receiver)."""

    def __init__(self, endpoint: SipEndpoint) -> None:
        self.seen: list[tuple[Request | Response, Source]] = []
        inner = endpoint.receiver

        def receiver(message: Request | Response, source: Source) -> None:
            self.seen.append((message, source))
            inner(message, source)

        endpoint.receiver = receiver

    def requests(self, call_id: str) -> list[tuple[Request, Source]]:
        return [(m, s) for m, s in self.seen if isinstance(m, Request) and m.call_id == call_id]


def _methods(wic: Wic, call_id: str | None = None) -> list[str]:
    return [r.method for r in wic.incoming if call_id is None or r.call_id == call_id]


async def _arrived(check: Callable[[], object], what: str, context: Callable[[], str]) -> None:
    try:
        await wait_until_async(check, what)
    except AssertionError as exc:
        message = f"{exc}\n{context()}"
    else:
        return
    pytest.fail(message)


def _wic_context(*wics: Wic) -> str:
    return "\n".join(f"{w.name} got: {[r.start_line() for r in w.incoming]}" for w in wics)


# ----- a forked call, answered, ACK and BYE ---------------------------------------------------


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_sipp_calls_alice_forked_answered_ack_and_bye_pass_the_icscf(
    stack: Stack, wics: list[Wic], tmp_path: Path, transport: str
) -> None:
    ringer = await _register_alice(stack, wics, "alice-1/ring", "ring")
    answerer = await _register_alice(stack, wics, "alice-2/answer", "answer")
    answerer.answer_when = lambda: bool(ringer.answered_invites())  # both ring, then one answers
    arrivals = Arrivals(stack.icscf.node.endpoint)

    run = await run_sipp(stack, "uac_call.xml", TRANSPORTS[transport], ALICE, tmp_path / "call")
    run.all_successful(1)

    def context() -> str:
        return f"{_wic_context(ringer, answerer)}\n{run.context()}"

    call_id = run.sent("INVITE")[0].parsed().call_id
    assert run.received(180), f"expected SIPp to hear alice ring (180)\n{context()}"
    ok = run.received(200)[0].parsed()  # the INVITE's 200 (the BYE's comes later)
    assert ok.get_all("Record-Route"), f"the 200 to the INVITE has no Record-Route\n{context()}"

    # Both WICs got the forked INVITE from dave, with SIPp's offer.
    for wic in (ringer, answerer):
        delivered = expect.single(
            [r for r in wic.answered_invites() if r.call_id == call_id], f"INVITE {call_id} at {wic.name}"
        )
        assert delivered.from_.uri == DAVE, f"{wic.name}: From {delivered.from_.uri}, expected {DAVE}"
        assert b"m=audio" in delivered.body, f"{wic.name}: the INVITE lost SIPp's SDP offer"

    # The ringing WIC: CANCEL with Reason: SIP;cause=200 (RFC 3326), never the ACK of the 2xx or the BYE.
    await _arrived(lambda: ringer.cancels(), f"the CANCEL at {ringer.name}", context)
    cancel = expect.cancelled(ringer.cancels(), ringer.name)
    reasons = cancel.get_all("Reason")
    assert has_sip_cause(reasons, "200"), f"{ringer.name}: CANCEL Reason {reasons}, not SIP;cause=200"
    assert "BYE" not in _methods(ringer), f"{ringer.name} got the BYE\n{context()}"

    # The answering WIC: the ACK of its 200 and the BYE, SIPp's own (same Call-ID), and no CANCEL.
    assert _methods(answerer, call_id) == ["INVITE", "ACK", "BYE"], (
        f"expected INVITE, ACK, BYE at {answerer.name}\n{context()}"
    )
    expect.none(answerer.cancels(), f"CANCEL at the winner {answerer.name}")

    # What SIPp sent: the ACK and the BYE carry the route set (the S-CSCF first: the I-CSCF
    # record-routes nothing) and went over SIPp's one socket / connection to the I-CSCF, like
    # the INVITE: the very case the I-CSCF once dropped (ACK) and refused 403 (BYE).
    scscf = f"{stack.scscf.node.host}:{stack.scscf.node.port}"
    at_icscf = arrivals.requests(call_id)
    for method in ("ACK", "BYE"):
        sent = run.sent(method)[0].parsed()
        routes = [str(a.uri) for a in sent.addresses("Route")]
        assert routes and scscf in routes[0], (
            f"expected SIPp's {method} to carry the route set, the S-CSCF ({scscf}) first; Route {routes}"
        )
        assert any(r.method == method for r, _ in at_icscf), (
            f"expected SIPp's {method} at the I-CSCF; it got {[r.start_line() for r, _ in at_icscf]}"
        )
    sources = {(s.transport, s.host, s.port, s.connection) for _, s in at_icscf}
    assert len(sources) == 1 and next(iter(sources))[0] == transport.upper(), (
        f"expected SIPp's INVITE, ACK and BYE on one {transport.upper()} "
        f"{'connection' if transport == 'tcp' else 'socket'} to the I-CSCF, got sources {sources}"
    )


# ----- the I-CSCF's rejects (5.2.2.5.4 step 2) -------------------------------------------------


@pytest.mark.parametrize(
    ("called", "code"),
    [(ALICE, 480), (BOB, 480), (NOBODY, 404)],
    ids=["option_a_unregistered_480", "option_b_unregistered_480", "in_no_block_404"],
)
async def test_sipp_session_to_an_unregistered_or_unknown_identity_is_rejected(
    stack: Stack, tmp_path: Path, called: str, code: int
) -> None:
    """The I-CSCF rejects with "the appropriate code" (step 2); which code is the solution
    profile's choice, PROFILE_TERM_REJECT_CODE (docs/solution-profile.md): 480 for a webRTC
    user the network knows but who is not registered, 404 for an identity in no wIMPU block."""
    for transport, t in TRANSPORTS.items():
        run = await run_sipp(stack, f"uac_reject_{code}.xml", t, called, tmp_path / transport)
        assert run.returncode == 0 and run.count("SuccessfulCall") == 1, (
            f"{run.what}: expected the I-CSCF to reject the session with {code}, as the solution profile "
            f"chooses (PROFILE_TERM_REJECT_CODE)\n{run.context()}"
        )
        received = [m.parsed() for m in run.messages if m.direction == "received"]
        finals = [r for r in received if isinstance(r, Response) and r.is_final]
        assert [r.status for r in finals] == [code], (
            f"{run.what}: expected one final response, {code} (PROFILE_TERM_REJECT_CODE), "
            f"got {[r.start_line() for r in finals]}"
        )
        [ack] = run.sent("ACK")
        assert ack.parsed().branch == run.sent("INVITE")[0].parsed().branch, (
            f"{run.what}: SIPp's ACK of the {code} is not in the INVITE's transaction (RFC 3261 17.1.1.3)"
        )


# ----- 20 sequential calls ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_sipp_twenty_sequential_calls_to_alice_all_answered(
    stack: Stack,
    wics: list[Wic],
    tmp_path: Path,
    transport: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls = 20
    answerer = await _register_alice(stack, wics, "alice/answer", "answer")
    run = await run_sipp(stack, "uac_call.xml", TRANSPORTS[transport], ALICE, tmp_path / "calls", calls=calls)
    counts = {
        "successful": run.count("SuccessfulCall"),
        "failed": run.count("FailedCall"),
        "retransmissions": run.count("Retransmissions"),
        "dead_call_msgs": run.count("DeadCallMsgs"),
        "exit": run.returncode,
    }
    with capsys.disabled():  # shown in the test output whatever pytest's capture
        print(
            f"\nSIPp, {calls} sequential calls to alice over {transport.upper()}: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
    run.all_successful(calls)

    invites = [r.call_id for r in answerer.incoming if r.method == "INVITE"]
    assert len(set(invites)) == calls, (
        f"expected {calls} distinct INVITEs at {answerer.name}, got {len(set(invites))}"
    )
    for call_id in dict.fromkeys(invites):
        assert set(_methods(answerer, call_id)) == {"INVITE", "ACK", "BYE"}, (
            f"call {call_id}: {answerer.name} got {_methods(answerer, call_id)}, expected INVITE, ACK and BYE"
        )


def test_sipp_scenarios_are_documented() -> None:
    """Every scenario under interop/sipp is described in its README."""
    readme = (SIPP_DIR / "README.md").read_text()
    scenarios = sorted(p.name for p in SIPP_DIR.glob("*.xml"))
    assert scenarios, f"no SIPp scenario under {SIPP_DIR}"
    missing = [s for s in scenarios if s not in readme]
    assert not missing, f"interop/sipp/README.md does not describe {missing}"
