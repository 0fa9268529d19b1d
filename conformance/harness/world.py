"""The scenario's world: the system under test and the peers the suite plays around it.

The system under test is what the PIXIT of ``--sut`` describes (:mod:`conformance.harness.sut`):
without one, the bundled reference stack, started fresh in-process for each scenario (full
isolation) on a loopback address of its own; with one, external nodes (started by the PIXIT's
``[sut] start`` when it has one), with the reference or the suite's emulation playing the nodes
the PIXIT does not provide. Either way the scenario is captured on the wire from before its
first node starts (:mod:`conformance.harness.scenario_capture`). The peers are real: WICs over
WSS, a remote IMS party and an ordinary IMS user over SIP/TCP, HTTPS towards the WWSF,
HTTP towards the registrar's W6 API.

Observation goes over the wire: W6 reads, the WWSF's directory and WIC page, the SIP
messages the peers receive, and the captured messages of every leg (the block
registrations between the eP-CSCFs and the S-CSCF, the W6 and W7 requests at the
registrar). At the end of a scenario every message a peer sent or received must be on the
wire byte for byte, or the scenario fails (:meth:`World.close`). The node addresses
(:meth:`World.endpoints`, :meth:`World.node_names`, :meth:`World.ep_cscf`) are read from the
started stack; for an external system under test they are PIXIT items. A node is named by its
listening address *and* port, never by the port alone.

Two set-up actions go through the reference rather than a wire, and say so: an ordinary
IMS user's credentials come from the HSS data set (:meth:`World.register_ims_user`), and a
token the WWSF would not issue at login is asked of its token issuer
(:meth:`World.token_issued_for`, :meth:`World.forged_token`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import jwt

from captures import Legs, WireMessage
from captures.flows import BlockRecord
from captures.rules import TIMER_C_FLOOR, TIMER_C_GRACE
from captures.topology import CapturedTopology
from captures.verify import Verifier
from conformance.pixit import Pixit, User
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.nodes.wimpu_registrar.model import Entry
from reference.sip.message import Request, Response
from reference.sip.timers import TimerValues
from reference.sip.transaction_server import ServerTransaction
from reference.transport.endpoint import Source
from reference.transport.proxy_shell import TIMER_C
from reference.transport.sip_node import RequestHandler, SipNode

from .capture_views import disagreements
from .clock import ControlledClock, FakeClock
from .dialects import HARNESS, Carriage, Dialect
from .errors import HarnessError, premise
from .expect import ABSENCE_WINDOW, EVENT_WAIT, wait_until
from .ims_identity import identity_key
from .loop import BackgroundLoop
from .remote import RemoteParty
from .scenario_capture import ScenarioWire, capture_ends, release_host, scenario_host, slug
from .sut import ExternalSut, ReferenceSut, Sut, Unobservable
from .tokens import (
    KeyNotTheIssuers,
    Secret,
    issued_earlier,
    not_valid_before,
    signed_by_another_key,
    unsigned,
)
from .views import DirectoryEntry, Session, hop_names, node_names, url_key
from .wic import (
    HandshakeFailed,
    HandshakeRefused,
    Login,
    LoginAnswer,
    LoginThrottled,
    Wic,
    login_attempt,
    web_login,
)
from .wire_verdict import WireVerdict

__all__ = ["Outcome", "World"]

REMOTE_USER = "dave"
"The user part of the remote IMS party (sip:dave@<remote domain>)."
LATER_ANSWER_DELAY = EVENT_WAIT
"""Seconds every WIC but the one meant to answer first would wait before answering, if nobody
cancelled it (forking): the behaviour asked for, not a wait for an event. Long, so that no
load makes a 200 of theirs cross the eP-CSCF's CANCEL (it was 0.8 s, 0.7 s after the first). It
follows :data:`EVENT_WAIT` on purpose: in the fault runs (``WIMPU_EVENT_WAIT``, every node in process)
a fault that never cancels then costs that wait, not 30 s, and the CANCEL still has seconds to come."""
LATER_REFUSAL_DELAY = ABSENCE_WINDOW
"""Seconds a WIC told to refuse a session after another WIC waits, once that one has refused,
before refusing too (forking, every branch failing): the behaviour asked for, not a wait for an
event. A proxy that forwards the first failure at once has done so long before."""
CALLER_REASON = 'Q.850;cause=16;text="Normal call clearing"'
"The Reason (RFC 3326) of the remote party's CANCEL: the caller hung up before an answer."
SETTLE = ABSENCE_WINDOW
"Seconds after a session attempt before checking that something did not happen (absence)."
LONGEST_RUN_DOWN = 86_400
"""The most seconds the harness runs the tester's clock forward to let a token run down: a day, far
beyond any token lifetime a scenario waits out (an ``exp`` in milliseconds, a blind fault of batch 4,
would otherwise have it run some 10¹² s forward, timer by timer)."""
BEYOND_LEEWAY = 600
"""How far past a token's ``exp`` (TP_WIMPU_SEC_005) or ahead of its ``nbf`` (TP_WIMPU_SEC_016) the
scenarios put the SUT's clock: well beyond the "small leeway, usually no more than a few minutes"
RFC 7519 4.1.4 and 4.1.5 let a verifier allow for clock skew, so that no verifier that keeps to
them may still take the token as valid."""
CAPTURES = Path(os.environ.get("WIMPU_CAPTURES_DIR", Path(__file__).resolve().parents[2] / "captures"))
"Where each scenario's capture, ladder and message list go (``captures/<feature>/<test>.*``)."


@dataclasses.dataclass
class Outcome:
    """The last thing the system under test answered a WIC."""

    response: Response | None = None
    refused: HandshakeRefused | None = None
    failed: HandshakeFailed | None = None
    "A handshake the eP-CSCF accepted with an answer the WIC had to fail (RFC 6455 4.1)."
    login: LoginAnswer | None = None
    "The WWSF's answer to a log-in the scenario tried (step 1)."
    logins: tuple[LoginAnswer, ...] = ()
    "The WWSF's answers to log-ins the scenario tried one after the other (step 1), in order."


LOGIN_RETRY_WAIT = 60
"""Seconds at most that a scenario waits out a WWSF's 429 to a log-in (its Retry-After), so that the
next scenario is not refused for this one's log-ins (TP_WIMPU_REG_016)."""

TIMER_F = TimerValues(reliable=True).timer_f
"""RFC 3261 17.1.2.2: a WIC's non-INVITE client transaction times out after 64*T1 (32 s) without a
final response, over WebSocket too (the SIP core's own timer table)."""

_Answer = TypeVar("_Answer", Response, Response | None)
"A session attempt's final response, or None where the caller may be left without one."

_Seen = TypeVar("_Seen")


def _poll(
    look: Callable[[], _Seen],
    done: Callable[[_Seen], bool],
    within: float,
    *,
    retry: tuple[type[Exception], ...] = (),
) -> tuple[_Seen, float]:
    """What ``look()`` returns once ``done`` holds of it, or as it was after ``within`` seconds, and
    the seconds waited; looked at every 0.2 s. An error of ``retry`` is looked again, the last one
    raised when the time is up."""
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        try:
            seen = look()
        except retry:
            if waited >= within:
                raise
        else:
            if done(seen) or waited >= within:
                return seen, waited
        time.sleep(0.2)


TIMER_B = TimerValues(reliable=True).timer_b
"""RFC 3261 17.1.1.2: a WIC's INVITE client transaction times out after 64*T1 (32 s) without a
final response."""

MESSAGE_TEXT = "wIMPU conformance: a MESSAGE outside any session"
"The text every MESSAGE of the scenarios carries (RFC 3428, text/plain)."


class World:
    """Everything one scenario needs, with synchronous methods for the steps."""

    def __init__(
        self,
        loop: BackgroundLoop,
        *,
        clock: FakeClock | None = None,
        scenario: Mapping[str, str] | None = None,
        pixit: Pixit | None = None,
        standby: tuple[str, str] | None = None,
        pics: Mapping[str, str] | None = None,
        registration: Mapping[str, int] | None = None,
        reference_registration: Mapping[str, int] | None = None,
        misprovisioned: str | None = None,
    ) -> None:
        """Start (or reach) the system under test, captured on the wire from the start.

        With no ``pixit``, or one whose nodes are all ``reference``, the reference stack is
        started in-process on a fresh loopback address; otherwise the PIXIT's external nodes
        are reached (:class:`~conformance.harness.sut.ExternalSut`). ``scenario``: ``feature`` (path
        under features/), ``test`` (the pytest name) and ``scenario`` (its title): where the
        capture goes and what its message list says. ``pics``: the SUT's PICS answers, with which the
        capture rules judge the scenario's capture when it ends (:attr:`wire_verdict`).
        ``registration``: wIMPU block -> the block registration option (5.2.2.5.1) the scenario needs
        it provisioned for (configured in-process, required of an external SUT's PIXIT);
        ``misprovisioned``: a wIMPU block whose digest password the HSS holds wrong from the start
        (:meth:`~conformance.harness.sut.Sut.misprovision_hss`: the S-CSCF refuses its registration);
        ``reference_registration``: the same for blocks the scenario does not exercise, configured
        in-process only (an external SUT's PIXIT is not asked about them).
        """
        self.loop = loop
        self.pics = dict(pics) if pics is not None else None
        self.wire_verdict: WireVerdict | None = None
        "What the capture rules said of the scenario's whole capture (set by :meth:`close`)."
        self._closed = False
        self.clock: ControlledClock | None = clock
        self.scenario = dict(scenario or {"feature": "adhoc.feature", "test": "adhoc", "scenario": "adhoc"})
        self.sut: Sut
        if pixit is None or pixit.all_reference:
            provisioned = {**(reference_registration or {}), **(registration or {})}
            self.sut = ReferenceSut(scenario_host(), clock, standby=standby, registration=provisioned)
            self.timer_c: float | None = TIMER_C
        else:
            self.sut = ExternalSut(pixit, standby=standby, registration=registration)
            # the tester moves the external nodes' time only through the PIXIT's shared clock
            self.clock = self.sut.clock if clock is not None else None
            self.timer_c = pixit.timer_c
        """The eP-CSCF's Timer C on the clock the tester moves (RFC 3261 16.6 item 11): the reference's,
        or the PIXIT's ``[timing] timer_c``; None: not known, or on a clock the tester does not move."""
        if misprovisioned is not None:
            block = next((b for b in self.sut.blocks() if b.wimpu == misprovisioned), None)
            if block is None:
                raise HarnessError(f"no block {misprovisioned} in the system under test")
            self.sut.misprovision_hss(f"{block.name}@{self.sut.ims_domain}")
        folder = CAPTURES / self.scenario["feature"].removesuffix(".feature")
        hosts = self.sut.capture_hosts  # a stack of its own on its own address, else the nodes' ports
        ports = {} if hosts else self.sut.ports()
        # an external SUT's packets: both ends among its addresses and the suite's (the peers' host,
        # and 127.0.0.1, where clients connect from and the capture's probe goes), one end at least
        # on an address of the SUT or of the suite's nodes (not only 127.0.0.1: another lab there)
        addresses = {a for a, _ in self.sut.endpoints()}
        within, anchors = ([], []) if hosts else capture_ends(addresses, self.sut.peer_host())
        self.wire = ScenarioWire(hosts, ports, folder, slug(self.scenario["test"]), within, anchors)
        self.wire.start()
        if self.wire.unavailable is None:  # the registrar's TLS secrets, for its W6/W7 legs
            self.sut.log_tls_secrets(str(self.wire.capture.keylog_path))
        try:
            self.loop.run(self.sut.start())
        except BaseException:  # nothing of a SUT that did not start is left running, nor its capture
            self.loop.run(self.sut.stop())
            started = CapturedTopology.of(
                self.sut.endpoints(), self.sut.blocks(), self.pics, self._origins(), timer_c=self.timer_c
            )
            self.wire.finish(started, self.scenario)
            for host in self.sut.capture_hosts:
                release_host(host)
            raise
        self._endpoints_seen: dict[tuple[str, int], str] = dict(self.sut.endpoints())
        "Every listening address of the scenario so far: a node that fails later (5.2.2.2) keeps its name."
        self.w6 = RegistrarClient(self.sut.registrar_url, ssl=self.sut.registrar_tls)
        self.users = dict(self.sut.users)
        self.identities = {u.username: u.identity for u in self.sut.users.values()}
        self.logins: dict[str, Login] = {}
        self.wics: dict[str, Wic] = {}
        self.dialects: dict[str, Dialect] = {}
        "WIC name -> the dialect it speaks (:meth:`speak`); the suite's own when not named."
        self.outcome = Outcome()
        self.cancel_answer: Response | None = None
        "The final response to the last CANCEL a WIC sent (:meth:`originate_then_cancel`)."
        self.allocated: dict[str, str] = {}
        self.wic_users: dict[str, str] = {}
        self.remote: RemoteParty | None = None
        self.ims_users: dict[str, RemoteParty] = {}
        self.session: Session | None = None
        self._remote_seen = 0
        "How many requests the remote party had received when the last session attempt began."
        self.dialogs: dict[str, Response] = {}
        "WIC name -> the final response to the last session it started."
        self.failover_took: float | None = None
        "Seconds from an eP-CSCF's failure until its block was seen re-registered by another."
        self.restarted_at: float | None = None
        "When (the capture's clock) the scenario last restarted an eP-CSCF (:meth:`restart_ep_cscf`)."
        self.started_again_at: float | None = None
        "When a failed eP-CSCF was started again (:meth:`start_ep_cscf_again`), on the capture's clock."
        self._jumps: list[tuple[float, float]] = []
        "(capture-clock time, seconds): each time the tester moved an external SUT's clock."
        self._registrar_stalled = False
        "The wIMPU Registrar was made to stop answering (:meth:`stall_registrar`) and not resumed."
        self._scscf_restore: tuple[SipNode, Any] | None = None
        "The S-CSCF node and its own request handler, while :meth:`scscf_ignores_block` holds."
        self._ignored_blocks: set[str] = set()
        "The blocks whose REGISTERs the S-CSCF no longer answers (:meth:`scscf_ignores_block`)."
        self.registrations_at_once: list[Response] = []
        "The final responses to the REGISTERs of :meth:`register_wics_at_once`, in WIC order."
        self.connected_at = 0.0
        "When (wall clock, the capture's) the last WIC connection of :meth:`connect` was started."

    def close(self) -> None:
        """Stop every peer and node, write the scenario's wire files, judge the capture with the
        capture rules (:attr:`wire_verdict`, written beside it), then compare harness and wire.
        A second call does nothing.

        Raises:
            HarnessError: a message a peer sent or received is not on the wire byte for byte (the
                capture, not the SUT, is at fault: the verdict is ERROR).
        """
        if self._closed:
            return
        self._closed = True
        topology = self._topology()

        async def stop() -> None:
            if self._scscf_restore is not None:  # the SUT's de-registrations as it stops are answered
                node, handler = self._scscf_restore
                node.on_request, self._scscf_restore = handler, None
            try:  # the SUT is stopped whatever a peer's stop raised: a SUT left running holds its ports
                if self._registrar_stalled:  # a stopped process cannot even take its SIGTERM
                    self._registrar_stalled = False
                    await self.sut.resume_registrar()
                for wic in self.wics.values():
                    await wic.close()
                for party in [*self.ims_users.values(), *([self.remote] if self.remote else [])]:
                    await party.stop()
                await self.w6.close()
            finally:
                await self.sut.stop(log=self.wire.directory / f"{self.wire.stem}.sut.log")

        self.loop.run(stop())
        messages = self.wire.finish(topology, self.scenario)
        for host in self.sut.capture_hosts:
            release_host(host)
        if self.wire.unavailable is None:
            self.wire_verdict = self.wire.judge()
            self._check_agreement(messages)

    def _check_agreement(self, messages: list[WireMessage]) -> None:
        """What each WIC sent and received must be on the wire as the harness saw it (WSS)."""
        seen = [
            (f"WIC {name}", direction, raw)
            for name, wic in self.wics.items()
            for direction, raws in (("sent", wic.sent), ("received", wic.received))
            for raw in raws
        ]
        missing = disagreements(seen, messages, ("WS", "WSS"))
        premise(
            not missing,
            f"harness and wire disagree ({self.wire.pcapng}, {len(messages)} messages captured): "
            + "; ".join(map(str, missing[:5])),
        )

    def tls(self) -> ssl.SSLContext:
        """A client TLS context trusting the stack's CA, writing its secrets to the capture's key log."""
        return self.wire.client_context(self.sut.client_context())

    def _origins(self) -> tuple[str, ...]:
        """The web origin of the WWSF the eP-CSCFs authorise (5.2.2.5.2 step 2), once the SUT knows it."""
        origin = getattr(self.sut, "wwsf_origin", None)
        return (origin,) if origin else ()

    def endpoints(self) -> dict[tuple[str, int], str]:
        """Listening (address, port) -> node name, the remote party's included, and those of
        nodes that have failed since (their messages are still in the capture)."""
        endpoints = self.sut.endpoints()
        if self.remote is not None:
            endpoints[(self.remote.node.host, self.remote.node.port)] = "remote"
        self._endpoints_seen.update(endpoints)
        return dict(self._endpoints_seen)

    # ----- time ------------------------------------------------------------------------

    def let_time_pass(self, seconds: float) -> None:
        """Advance the stack's clock (registration timers, token lifetimes); nothing sleeps.

        In-process, the reference stack's timers run as the clock passes them, in order, each
        one's work done before the clock moves on (:meth:`reference.stack.Stack.advance`). An
        external SUT reads the clock from the PIXIT's offset file and acts on a jump of it by
        itself: a block registration whose lifetime the jump runs out must be refreshed by the
        SUT after it, so the tester waits for that refresh on the wire (:meth:`_await_block_refreshes`)
        before the scenario goes on, as it would have come in time had the time really passed.

        Raises:
            Unobservable: the SUT runs on its own clock (inconclusive, not failed).
        """
        if self.clock is None:
            raise Unobservable(
                f"{seconds} s must pass, and the system under test does not run on a clock "
                "the tester controls"
            )
        if isinstance(self.sut, ReferenceSut):
            self._jumps.append((time.time(), seconds))
            self.loop.run(self.sut.stack.advance(seconds))
            return
        running_out = self._block_registrations_running_out(seconds)
        jumped = time.time()
        self.clock.advance(seconds)
        self._jumps.append((jumped, seconds))
        if running_out:
            self._await_block_refreshes(running_out, since=jumped)

    def block_registrations(self, wimpu: str) -> list[BlockRecord]:
        """TR 23.701 5.2.2.5.1: every registration of block ``wimpu`` the S-CSCF accepted in this
        scenario's capture so far (each 200 OK to a REGISTER that left a binding), in capture order,
        as the capture rules know them (:attr:`captures.flows.Knowledge.blocks`: one model of the
        block registrations, for the rules and the steps). A record's ``until`` is on the capture's
        clock, the tester's clock jumps counted."""
        return [record for record in self._block_records() if record.holds(wimpu)]

    def _block_records(self) -> list[BlockRecord]:
        """Every block registration the capture so far shows (:meth:`block_registrations`), read once."""
        return list(Verifier.of(self._topology()).learn(self.wire.messages()).blocks)

    def live_block_registrations(self, wimpu: str) -> list[BlockRecord]:
        """The registrations of block ``wimpu`` the S-CSCF holds now (:meth:`block_registrations`
        whose binding has not run out nor been removed)."""
        now = time.time()
        return [r for r in self.block_registrations(wimpu) if r.since <= now < r.until]

    def block_granted(self, wimpu: str) -> float:
        """The lifetime the S-CSCF's last 200 OK to a REGISTER of block ``wimpu`` granted (capture)."""
        records = self.block_registrations(wimpu)
        assert records, f"the capture shows no registration of block {wimpu} with a lifetime"
        return records[-1].granted

    def block_registrations_accepted(self, wimpu: str, at_least: int = 1) -> list[str]:
        """The eP-CSCF each accepted registration of block ``wimpu`` (:meth:`block_registrations`)
        was made by, once the capture shows ``at_least`` of them (or after :data:`EVENT_WAIT`: the
        check says what is missing; the capture is read again every 0.2 s)."""
        deadline = time.monotonic() + EVENT_WAIT
        found = [r.ep_cscf for r in self.block_registrations(wimpu)]
        while len(found) < at_least and time.monotonic() < deadline:
            time.sleep(0.2)
            found = [r.ep_cscf for r in self.block_registrations(wimpu)]
        return found

    def _block_registrations_running_out(self, seconds: float) -> list[str]:
        """The blocks (5.2.2.5.1) whose registration, as the capture shows it, ends within the
        next ``seconds`` of the tester's clock (its ``until`` counts the tester's jumps so far)."""
        now = time.time()
        found = []
        known = self._block_records()
        for block in self.sut.blocks():
            if block.wimpu in self._ignored_blocks:  # no refresh of it can be answered
                continue
            records = [r for r in known if r.holds(block.wimpu)]
            if records and 0 < records[-1].until - now <= seconds:
                found.append(block.wimpu)
        return found

    def _await_block_refreshes(self, wimpus: list[str], since: float) -> None:
        """Wait (at most :data:`EVENT_WAIT`, polling the capture every 0.2 s) until the capture
        shows a 200 OK of the S-CSCF to a REGISTER of each block of ``wimpus`` granting it a
        lifetime, captured after ``since``. A SUT that does not refresh in time is judged by the
        scenario's own checks (the remote party's call gets 480), not here."""
        started = time.monotonic()
        while time.monotonic() - started < EVENT_WAIT:
            known = self._block_records()
            if all(any(r.since > since and r.holds(w) for r in known) for w in wimpus):
                return
            time.sleep(0.2)

    def expire_token(self, user: str) -> None:
        """Let the lifetime of the user's security token run out (RFC 7519 4.1.4): until
        :data:`BEYOND_LEEWAY` seconds past its ``exp`` claim (what a verifier reads, whatever the
        log-in answer's ``expires_in`` said), so that a verifier's allowance for clock skew cannot
        keep it valid.

        On the tester's clock when there is one; otherwise (an external SUT on its own clock) the
        tester, holding the WWSF's signing key (the PIXIT's ``[wwsf] signing_key``), replaces the
        token by a copy issued that much earlier (every time claim moved back, every other claim
        kept): what the SUT would see of the genuine token once that time had passed.

        Raises:
            Unobservable: the token has no ``exp``, or more than :data:`LONGEST_RUN_DOWN` seconds
                to run, or the PIXIT's key did not sign it (inconclusive, not failed).
        """
        login = self.logins[user]
        elapsed = self._token_exp(user) - self.sut.now() + BEYOND_LEEWAY
        if elapsed > LONGEST_RUN_DOWN:
            raise Unobservable(
                f"the token of {user} runs out {elapsed - BEYOND_LEEWAY:.0f} s from now by its exp (its "
                f"log-in answer said {login.expires_in} s): the scenario lets {LONGEST_RUN_DOWN} s "
                "pass at most"
            )
        if elapsed <= 0:
            return  # already that far past its exp
        if self.clock is not None:
            self.let_time_pass(elapsed)
            return
        pem = self.sut.wwsf_signing_key_pem()
        try:
            token = issued_earlier(login.token, pem, elapsed)
        except KeyNotTheIssuers as exc:
            raise Unobservable(f"{exc}: the PIXIT's [wwsf] signing_key is not the WWSF's") from None
        self.logins[user] = dataclasses.replace(login, token=token.value)

    def _token_exp(self, user: str) -> float:
        """The ``exp`` claim of the user's token (RFC 7519 4.1.4), read without its signature.

        Raises:
            Unobservable: the WWSF's token is no JWT, or has no numeric ``exp``: nothing for the
                scenario to let run out (the WWSF's defect, not the node under test's).
        """
        try:
            exp = jwt.decode(self.logins[user].token, options={"verify_signature": False}).get("exp")
        except jwt.PyJWTError as exc:
            raise Unobservable(f"the token the WWSF issued to {user} is not a JWT: {exc}") from None
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise Unobservable(f"the token of {user} has no numeric exp (RFC 7519 4.1.4): it never runs out")
        return float(exp)

    # ----- failure (5.2.2.2) -------------------------------------------------------------

    def stall_registrar(self) -> None:
        """The wIMPU Registrar stops answering, as a hung one would (requests accepted, none
        answered), until :meth:`resume_registrar` or the end of the scenario."""
        self.loop.run(self.sut.stall_registrar())
        self._registrar_stalled = True

    def scscf_ignores_block(self, wimpu: str) -> None:
        """TR 23.701 5.2.2.5.1 (the block's single registration, kept alive by its eP-CSCF): the
        S-CSCF stops answering the REGISTERs of block ``wimpu`` (an S-CSCF unreachable for them:
        nothing is answered, not even 100 Trying), until the end of the scenario. Its other requests
        are served as before, and a jump of the clock no longer waits for a refresh of the block
        (:meth:`let_time_pass`). Only where the S-CSCF runs in the suite's process
        (:meth:`Sut.scscf_node`; elsewhere :class:`Unobservable`, the scenario is inconclusive)."""
        try:
            node = self.sut.scscf_node()
        except Unobservable:
            raise Unobservable(
                "the S-CSCF runs outside the suite's process: the suite cannot make it stop answering "
                "a block's registrations"
            ) from None
        if self._scscf_restore is not None:
            raise HarnessError("the S-CSCF already ignores a block's registrations")
        blocks = [b for b in self.sut.blocks() if str(b.block.wimpu) == wimpu]
        premise(blocks and blocks[0].representative, f"the PIXIT gives no distinct IMPU of block {wimpu}")
        registered = identity_key(blocks[0].representative)

        async def on_request(
            tx: ServerTransaction, request: Request, source: Source, serve: RequestHandler
        ) -> None:
            if request.method == "REGISTER" and identity_key(request.to.uri) == registered:
                return  # dropped: the eP-CSCF's client transaction ends with its own Timer F
            await serve(tx, request, source)

        self._scscf_restore = _intercept(node, on_request)
        self._ignored_blocks.add(wimpu)

    def resume_registrar(self) -> None:
        """The wIMPU Registrar answers again."""
        self._registrar_stalled = False
        self.loop.run(self.sut.resume_registrar())

    def fail_ep_cscf(self, name: str) -> None:
        """eP-CSCF ``name`` fails: as a crash, nothing released, its WebSocket connections dropped."""
        self._drop_wics_of(name, self.sut.fail_ep_cscf(name))

    def restart_ep_cscf(self, name: str) -> None:
        """eP-CSCF ``name`` restarts: a crash, then a start on the same addresses with nothing kept
        in memory; its WebSocket connections dropped. :attr:`restarted_at` (the capture's clock)."""
        self.restarted_at = time.time()
        self._drop_wics_of(name, self.sut.restart_ep_cscf(name))

    def fail_ep_cscf_to_start_again(self, name: str) -> None:
        """:meth:`fail_ep_cscf`, for a scenario that starts ``name`` again later: Unobservable first,
        with the eP-CSCF left running, when the SUT cannot be started again."""
        if not self.sut.can_start_again(name):
            raise Unobservable(
                f"eP-CSCF {name} cannot be started again after its failure (an external one needs the "
                "PIXIT's [[ep_cscf]] fail and start_again commands): it is not made to fail"
            )
        self.fail_ep_cscf(name)

    def start_ep_cscf_again(self, name: str) -> None:
        """eP-CSCF ``name``, which failed (:meth:`fail_ep_cscf`), is started again on its addresses;
        :attr:`started_again_at` (the capture's clock) is when."""
        self.started_again_at = time.time()
        self.loop.run(self.sut.start_ep_cscf_again(name))

    def _drop_wics_of(self, name: str, event: Coroutine[Any, Any, None]) -> None:
        """Run ``event`` (what happens to eP-CSCF ``name``); the harness's WICs connected to it close."""
        url = url_key(self.ep_cscf(name).ep_cscf_uri)
        self.loop.run(event)
        for wic_name, wic in self.wics.items():
            if url_key(self.logins[self.wic_users[wic_name]].ep_cscf_url) == url:
                self.loop.run(wic.close())

    def block_registered_since(
        self, wimpu: str, ep_cscf: str, since: float, within: float
    ) -> list[BlockRecord]:
        """Wait at most ``within`` seconds until the capture shows block ``wimpu`` registered by
        ``ep_cscf`` with a 200 OK at or after ``since`` (the capture's clock); those registrations
        that are live (none if never)."""

        def made_since(live: list[BlockRecord]) -> list[BlockRecord]:
            return [r for r in live if r.ep_cscf == ep_cscf and r.since >= since]

        live, _ = self._await_blocks(wimpu, lambda live: bool(made_since(live)), within)
        return made_since(live)

    def block_registered_by(self, wimpu: str, ep_cscf: str, within: float) -> tuple[list[BlockRecord], float]:
        """Wait until the capture shows block ``wimpu`` registered once, by ``ep_cscf`` alone.

        Returns the live registrations (:meth:`live_block_registrations`) and the seconds waited
        (the registrations as they were at ``within``, if never).
        ``within`` bounds the wait (the PIXIT's failover time and the harness's event wait).
        """
        return self._await_blocks(wimpu, lambda live: [r.ep_cscf for r in live] == [ep_cscf], within)

    def _await_blocks(
        self, wimpu: str, done: Callable[[list[BlockRecord]], bool], within: float
    ) -> tuple[list[BlockRecord], float]:
        """The live registrations of block ``wimpu`` once ``done`` holds of them, or as they were
        after ``within`` seconds, and the seconds waited (each look syncs the capture with a probe
        datagram)."""
        return _poll(lambda: self.live_block_registrations(wimpu), done, within)

    # ----- WICs (5.2.2.5.2) --------------------------------------------------------------

    def download_wic(self, user: str) -> tuple[int, str, str]:
        """Step 1: the browser fetches the WIC from the WWSF over HTTPS (server certificate checked).

        Returns the HTTP status, the media type and the page.
        """

        async def fetch() -> tuple[int, str, str]:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{self.sut.wwsf_origin}/wic.html", ssl=self.tls()) as r:
                    return r.status, r.content_type, await r.text()

        return self.loop.run(fetch())

    def user(self, name: str) -> User:
        """The PIXIT's user ``name``; a scenario that needs a user the PIXIT does not declare is
        inconclusive for this SUT (the lab has no such account), never a failure of it."""
        spec = self.users.get(name)
        if spec is None:
            raise Unobservable(
                f"the scenario needs the user {name!r}, and the PIXIT declares no such [[user]] "
                f"(it has {', '.join(sorted(self.users)) or 'none'})"
            )
        return spec

    def login(self, user: str) -> Login:
        spec = self.user(user)
        try:
            login = self.loop.run(web_login(self.sut.wwsf_origin, spec.username, spec.password, self.tls()))
        except LoginThrottled as exc:
            raise Unobservable(
                f"the WWSF refused the log-in of {user} 429 (Retry-After {exc.retry_after or 'absent'}): its "
                "throttle, which the text leaves to the WWSF's procedure, keeps this scenario from logging in"
            ) from exc
        self.logins[user] = login
        return login

    def try_login(self, username: str, password: str) -> LoginAnswer:
        """Step 1 with credentials the scenario chose (a wrong password, an unknown user name):
        the WWSF's answer as it came, refusal or not."""
        answer = self.loop.run(login_attempt(self.sut.wwsf_origin, username, password, self.tls()))
        self.outcome = Outcome(login=answer)
        return answer

    def try_logins(
        self, username: str, passwords: Sequence[str], *, until: Callable[[int], bool]
    ) -> tuple[LoginAnswer, ...]:
        """Step 1 once per password of ``passwords``, one after the other with the same user name, each
        log-in on a connection of its own as a browser's new page makes it: the WWSF's answers as they
        came. The first answer whose status ``until`` holds ends the run; a 429's Retry-After (at most
        :data:`LOGIN_RETRY_WAIT` s) is then waited out, so that the scenarios after this one meet a
        WWSF whose throttle has let the user and the address in again (an external SUT's: the
        in-process reference is built anew for each scenario)."""
        answers: list[LoginAnswer] = []
        for password in passwords:
            answer = self.loop.run(login_attempt(self.sut.wwsf_origin, username, password, self.tls()))
            answers.append(answer)
            if until(answer.status):
                wait = answer.retry_after.strip() if answer.retry_after and answer.status == 429 else ""
                if wait.isdigit() and isinstance(self.sut, ExternalSut):
                    self.loop.run(asyncio.sleep(min(int(wait), LOGIN_RETRY_WAIT)))
                break
        self.outcome = Outcome(login=answers[-1] if answers else None, logins=tuple(answers))
        return self.outcome.logins

    def token_issued_for(self, user: str, identity: str, wimpu: str) -> None:
        """The WWSF issues ``user`` a token asserting ``identity``, for the eP-CSCF of block ``wimpu``.

        The reference WWSF issues only what its users' logins allow; this asks its token issuer
        directly (the tester playing a WWSF that asserts an identity it should not).
        """
        entry = next((e for e in self.wwsf_directory() if e.is_block(wimpu)), None)
        assert entry is not None, f"the WWSF announces no block {wimpu} (its directory)"
        token = self.sut.issue_token(identity, entry.ep_cscf_identity)
        now = self.sut.now()
        self.logins[user] = Login(identity, token.value, entry.ep_cscf_uri, token.exp - int(now))
        self.identities[user] = identity

    def speak(self, wic_name: str, dialect: Dialect) -> None:
        """WIC ``wic_name``, when it connects, writes its messages as ``dialect`` does."""
        self.dialects[wic_name] = dialect

    def connect(
        self, wic_name: str, user: str, *, origin: str | None = None, subprotocols: tuple[str, ...] = ("sip",)
    ) -> None:
        """Step 2: WIC ``wic_name`` of ``user`` opens its WebSocket to the eP-CSCF its log-in named,
        from ``origin`` (the WWSF's by default), offering ``subprotocols``; the outcome says whether
        the handshake was refused or had to be failed."""
        login = self.logins.get(user) or self.login(user)
        wic = Wic(wic_name, ssl_context=self.tls(), dialect=self.dialects.get(wic_name, HARNESS))
        wic.answer_mode = "answer"
        self.connected_at = time.time()
        self.wics[wic_name] = wic
        self.wic_users[wic_name] = user
        try:
            page = origin or self.sut.wwsf_origin
            self.loop.run(wic.connect(login.ep_cscf_url, origin=page, subprotocols=subprotocols))
            self.outcome = Outcome()
        except HandshakeRefused as exc:
            self.outcome = Outcome(refused=exc)
        except HandshakeFailed as exc:
            self.outcome = Outcome(failed=exc)

    def register(
        self,
        wic_name: str,
        user: str,
        *,
        identity: str | None = None,
        with_token: bool = True,
        token: Secret | None = None,
        carriage: Carriage = "header",
        expires: int = 600,
        from_identity: str | None = None,
    ) -> Response:
        login = self.logins[user]
        value = token.value if token is not None else login.token if with_token else None
        response = self.loop.run(
            self.wics[wic_name].register(
                identity or login.identity, token=value, expires=expires, carriage=carriage,
                from_identity=from_identity,
            )
        )  # fmt: skip
        self.outcome = Outcome(response=response)
        return response

    def deregister_every_contact(self, wic_name: str, user: str, *, with_token: bool) -> Response:
        """WIC ``wic_name`` sends ``Contact: *`` with ``Expires: 0`` for ``user``'s identity (RFC 3261
        10.2.2: every binding of the address-of-record; TR 23.701 5.2.2.3.1, the entry removed upon
        de-registration), with ``user``'s token (5.2.2.5.2 steps 3-4) or none."""
        login = self.logins[user]
        wic = self.wics[wic_name]
        request = wic.register_request(
            login.identity, token=login.token if with_token else None, expires=0, contact_star=True
        )
        response = self.loop.run(wic.request(request))
        self.outcome = Outcome(response=response)
        return response

    def register_until_timer_f(self, wic_name: str, user: str) -> Response | None:
        """WIC ``wic_name`` registers with the identity and token of ``user`` and waits for the final
        response as long as its transaction lives: Timer F, 64*T1 = 32 s (RFC 3261 17.1.2.2; over a
        reliable transport too). The outcome's response is None when none came by then."""
        login = self.logins[user]
        response = self._final_within(
            self.wics[wic_name].register(login.identity, token=login.token, within=TIMER_F), TIMER_F
        )
        self.outcome = Outcome(response=response)
        return response

    def register_contact_of(self, sender: str, owner: str, user: str) -> Response:
        """WIC ``sender`` refreshes the registration of WIC ``owner``'s contact (same Contact,
        ``+sip.instance``, ``reg-id`` and Call-ID) over ``sender``'s own WebSocket, with the
        identity and token of ``user``."""
        self.wics[sender].take_contact_of(self.wics[owner])
        return self.register(sender, user)

    def close_wic(self, wic_name: str) -> None:
        """WIC ``wic_name``'s WebSocket closes (normal closure), with no de-registration."""
        self.loop.run(self.wics[wic_name].close())

    def wait_contact_gone(self, user: str, contact_uri: str) -> None:
        """Wait (at most :data:`EVENT_WAIT`) until the registrar no longer lists ``contact_uri``
        among the contacts of ``user``'s entry (read over W6)."""

        def gone() -> bool:
            entry = self.registration_of(user)
            return entry is None or all(c.uri != contact_uri for c in entry.contacts)

        wait_until(gone, f"the registrar dropping {contact_uri}")

    def register_instance_of(self, sender: str, owner: str, user: str) -> Response:
        """WIC ``sender`` registers with WIC ``owner``'s ``+sip.instance`` (and reg-id 1), but
        its own Contact URI and Call-ID (a reloaded page, RFC 5626 4.1), with ``user``'s
        identity and token."""
        self.wics[sender].instance = self.wics[owner].instance
        return self.register(sender, user)

    def let_token_run_down(self, user: str, left: float) -> None:
        """Let time pass until the user's security token has ``left`` seconds of its lifetime
        (its ``exp`` claim, on the stack's clock).

        Raises:
            Unobservable: the SUT runs on its own clock, or its WWSF issued a token with less than
                ``left`` seconds of lifetime, or with more than :data:`LONGEST_RUN_DOWN` to run down
                (inconclusive, not failed).
        """
        login = self.logins[user]
        remaining = self._token_exp(user) - self.sut.now()
        if remaining < left:
            raise Unobservable(f"the token of {user} has only {remaining:.0f} s left, not {left:g}")
        if remaining - left > LONGEST_RUN_DOWN:
            raise Unobservable(
                f"the token of {user} has {remaining:.0f} s left by its exp (its log-in answer said "
                f"{login.expires_in} s): the scenario runs the clock forward {LONGEST_RUN_DOWN} s at most"
            )
        self.let_time_pass(remaining - left)

    def forged_token(self, user: str, variant: str) -> Secret:
        """A token that breaks exactly one property of the user's genuine token.

        ``variant``: ``another key`` (same claims and kid, signed by a key the WWSF never
        published), ``unsigned`` (alg none), ``another eP-CSCF`` (issued by the WWSF for the
        same identity, but for an eP-CSCF other than the one of the user's block: another of the
        WWSF's directory, else a made-up eP-CSCF identity of the IMS domain), ``not yet valid``
        (the genuine token with its ``nbf`` :data:`BEYOND_LEEWAY` seconds ahead of the SUT's
        clock, ``iat`` and ``exp`` kept, signed again with the WWSF's key).

        Raises:
            Unobservable: a variant made from the genuine token's claims, and the WWSF's token is no
                JWT (a WWSF may issue another form: PICS_PROFILE_WWSF_TOKEN_TIMES = no); or the
                PIXIT's key did not sign it.
        """
        genuine = self.logins[user].token
        if variant in ("another key", "unsigned", "not yet valid"):
            try:
                jwt.decode(genuine, options={"verify_signature": False})
            except jwt.PyJWTError as exc:
                raise Unobservable(
                    f"the token the WWSF issued to {user} is not a JWT ({exc}): no copy of it breaks "
                    f"one check ({variant})"
                ) from None
        if variant == "another key":
            return signed_by_another_key(genuine)
        if variant == "unsigned":
            return unsigned(genuine)
        if variant == "another eP-CSCF":
            own = self.logins[user].ep_cscf_url
            directory = self.wwsf_directory()
            mine = {e.ep_cscf_key for e in directory if url_key(e.ep_cscf_uri) == url_key(own)}
            others = [e.ep_cscf_identity for e in directory if e.ep_cscf_key not in mine]
            # A SUT with one eP-CSCF has no other in its directory: any other identity is another
            # eP-CSCF's (docs/validation.md, harness assumption 2).
            audience = others[0] if others else f"sip:another-ep-cscf.{self.sut.ims_domain}"
            token = self.sut.issue_token(self.identity_of(user), audience)
            return Secret(token.value, "for another eP-CSCF")
        if variant == "not yet valid":
            pem = self.sut.wwsf_signing_key_pem()
            try:
                return not_valid_before(genuine, pem, self.sut.now() + BEYOND_LEEWAY)
            except KeyNotTheIssuers as exc:
                raise Unobservable(f"{exc}: the PIXIT's [wwsf] signing_key is not the WWSF's") from None
        raise HarnessError(f"unknown token variant {variant!r}")

    def register_wics(self, user: str, count: int) -> list[Response]:
        """``count`` WICs of ``user`` ("<user>-1" ... ) connect and register (600 s)."""
        responses = []
        for number in range(1, count + 1):
            self.connect(self.wic_number(user, number), user)
            responses.append(self.register(self.wic_number(user, number), user))
        return responses

    def register_wics_at_once(self, user: str, count: int) -> list[Response]:
        """``count`` WICs of ``user`` ("<user>-1" ...) connect, then send their REGISTERs (600 s) all
        together, none waiting for another's answer: what an eP-CSCF sees when several browsers of
        one block start at the same moment (5.2.2.5.1 option 2: several "first" registrations)."""
        names = [self.wic_number(user, number) for number in range(1, count + 1)]
        for name in names:
            self.connect(name, user)
        login = self.logins[user]

        async def together() -> list[Response]:
            return list(
                await asyncio.gather(
                    *(self.wics[n].register(login.identity, token=login.token) for n in names)
                )
            )

        responses = self.loop.run(together())
        self.outcome = Outcome(response=responses[-1])
        self.registrations_at_once = responses
        return responses

    def wics_of(self, user: str) -> dict[str, Wic]:
        return {name: wic for name, wic in self.wics.items() if self.wic_users[name] == user}

    def wic_number(self, user: str, number: int) -> str:
        """The name of WIC ``number`` of ``user`` (see :meth:`register_wics`)."""
        return f"{user}-{number}"

    def other_wics(self, user: str, number: int) -> list[str]:
        """Every WIC of ``user`` but WIC ``number``."""
        return [name for name in self.wics_of(user) if name != self.wic_number(user, number)]

    def answer_first(self, user: str, number: int) -> None:
        """WIC number ``number`` of ``user`` answers a session first, once every WIC of the user
        has received the INVITE (it waited 0.1 s for that before); every other one later."""
        first = self.wic_number(user, number)
        wics = self.wics_of(user)

        def all_offered() -> bool:
            return all(any(r.method == "INVITE" for r in wic.incoming) for wic in wics.values())

        for name, wic in wics.items():
            wic.answer_mode = "answer"
            wic.answer_when = all_offered if name == first else None
            wic.answer_delay = 0.0 if name == first else LATER_ANSWER_DELAY

    def write_into_answers(self, wic_name: str, header: str, value: str) -> None:
        """WIC ``wic_name`` writes ``header: value`` into each response it sends to an incoming
        INVITE (:attr:`Wic.answer_headers`)."""
        wic = self.wics[wic_name]
        wic.answer_headers = (*wic.answer_headers, (header, value))

    def ring_without_answering(self, user: str) -> None:
        """Every WIC of ``user`` answers an INVITE with 180 only, until it is cancelled."""
        for wic in self.wics_of(user).values():
            wic.answer_mode = "ring"
            wic.answer_when = None

    def refuse_in_turn(self, user: str, refusals: list[tuple[int, str]]) -> None:
        """The WICs of ``user`` refuse a session in the order of ``refusals`` ((WIC number, answer
        mode 'busy' or 'decline'), :attr:`Wic.answer_mode`): the first once every WIC of the
        user has received the INVITE, each next one :data:`LATER_REFUSAL_DELAY` s after the one
        before it has sent its final response."""
        wics = self.wics_of(user)

        def all_offered() -> bool:
            return all(any(r.method == "INVITE" for r in wic.incoming) for wic in wics.values())

        def answered(wic: Wic) -> Callable[[], bool]:
            return lambda: bool(wic.finals_sent)

        before: Wic | None = None
        for number, mode in refusals:
            wic = wics[self.wic_number(user, number)]
            wic.answer_mode = mode
            wic.answer_when = all_offered if before is None else answered(before)
            wic.answer_delay = 0.0 if before is None else LATER_REFUSAL_DELAY
            before = wic

    def user_of(self, wic_name: str) -> str:
        return self.wic_users[wic_name]

    def remember_impu(self, user: str) -> None:
        entry = self.registration_of(user)
        if entry is not None:
            self.allocated.setdefault(user, entry.impu)

    def remembered_impu(self, user: str) -> str | None:
        return self.allocated.get(user)

    def identity_of(self, user: str) -> str:
        return self.identities[user]

    # ----- sessions (5.2.2.5.3, 5.2.2.5.4) ------------------------------------------------

    @property
    def remote_identity(self) -> str:
        return f"sip:{REMOTE_USER}@{self.sut.remote_domain}"

    def start_remote_party(self) -> None:
        """The remote IMS party: reached by originating sessions, places terminating ones."""
        host, port = self.sut.remote_listen()
        party = RemoteParty(self.sut.remote_domain, host=host, port=port)
        self.loop.run(party.start())
        self.sut.add_remote(self.sut.remote_domain, party.target)
        self.remote = party

    def register_ims_user(self, identity: str) -> Response:
        """An ordinary IMS subscriber (not webRTC) registers with the S-CSCF from its own UE.

        Its private identity and password are test subscriber credentials: the HSS data set's
        in-process, the PIXIT's ``[[ims_user]]`` for an external system under test.
        """
        found = self.sut.ims_users.get(identity)
        if found is None:
            raise Unobservable(f"the SUT description names no credentials for the IMS user {identity}")
        party = RemoteParty(self.sut.ims_domain, host=self.sut.peer_host())
        self.loop.run(party.start())
        self.ims_users[identity] = party
        return self.loop.run(
            party.register_in_ims(
                identity,
                impi=found.impi,
                password=found.secret(),
                registrar=f"sip:{self.sut.ims_domain}",
                scscf=self.sut.scscf,
            )
        )

    def _final_within(self, request: Coroutine[Any, Any, Response], within: float) -> Response | None:
        """Run ``request`` (a request that waits at most ``within`` seconds for its final response);
        None when none came by then."""
        try:
            answer: Response = self.loop.run(request, timeout=within + EVENT_WAIT)
        except TimeoutError:
            return None
        return answer

    def _attempt(self, caller: str, called: str, place: Callable[[], _Answer]) -> _Answer:
        self._mark_remote()
        started, wall = time.monotonic(), time.time()
        response = place()
        status = response.status if response is not None else None
        self.session = Session(caller, called, started, wall, time.time(), status)
        return response

    def originate_until_timer_b(self, wic_name: str, identity: str) -> Response | None:
        """5.2.2.5.3 step 1: WIC ``wic_name`` starts a session to the remote party with
        ``identity`` and waits for the final response as long as its INVITE transaction lives:
        Timer B, 64*T1 = 32 s (RFC 3261 17.1.1.2). The outcome's response is None when none came
        by then; a 2xx is ACKed."""
        wic = self.wics[wic_name]
        remote = self.remote_identity

        def place() -> Response | None:
            return self._final_within(wic.invite(identity, remote, within=TIMER_B), TIMER_B)

        response = self._attempt(wic_name, remote, place)
        self.outcome = Outcome(response=response)
        if response is not None:
            self.dialogs[wic_name] = response
        return response

    def originate(
        self,
        wic_name: str,
        identity: str | None = None,
        *,
        asserted: str | None = None,
        preferred: str | None = None,
        target: str | None = None,
        route: tuple[str, ...] = (),
    ) -> Response:
        """5.2.2.5.3 step 1: a WIC starts a session to ``target``, the remote party unless given
        (ACKs a 2xx); ``asserted`` / ``preferred``: a P-Asserted-Identity / P-Preferred-Identity
        the WIC writes itself; ``route``: a Route set it preloads."""
        wic = self.wics[wic_name]
        identity = identity or self.logins[self.user_of(wic_name)].identity
        remote = target or self.remote_identity

        def place() -> Response:
            return self.loop.run(
                wic.invite(identity, remote, asserted=asserted, preferred=preferred, route=route)
            )

        response = self._attempt(wic_name, remote, place)
        self.outcome = Outcome(response=response)
        self.dialogs[wic_name] = response
        return response

    def send_message(
        self, wic_name: str, identity: str | None = None, *, target: str | None = None
    ) -> Response:
        """5.2.2.5.3 step 1 for a request outside any session: WIC ``wic_name`` sends an
        out-of-dialog MESSAGE (RFC 3428) with :data:`MESSAGE_TEXT` to ``target``, the remote party
        unless given, with ``identity`` (its user's by default). The final response is the outcome."""
        wic = self.wics[wic_name]
        identity = identity or self.logins[self.user_of(wic_name)].identity
        remote = target or self.remote_identity

        def place() -> Response:
            return self.loop.run(wic.message(identity, remote, MESSAGE_TEXT))

        response = self._attempt(wic_name, remote, place)
        self.outcome = Outcome(response=response)
        return response

    def send_options(self, wic_name: str) -> Response:
        """5.2.2.5.3 step 1 for a request outside any session: WIC ``wic_name`` queries the remote
        party's capabilities in an out-of-dialog OPTIONS (RFC 3261 11) with its user's identity.
        The final response is the outcome."""
        return self.send_outside_dialog(wic_name, "OPTIONS")

    def send_outside_dialog(self, wic_name: str, method: str) -> Response:
        """WIC ``wic_name`` sends ``method`` to the remote party outside any dialog (no To tag) with
        its user's identity: step 1 of 5.2.2.5.3 for OPTIONS, and for a method that exists only in a
        dialog (BYE, INFO) a request in no dialog the eP-CSCF record-routed (TP_WIMPU_SEC_019). The
        final response is the outcome."""
        wic = self.wics[wic_name]
        identity = self.logins[self.user_of(wic_name)].identity
        remote = self.remote_identity
        response = self._attempt(
            wic_name, remote, lambda: self.loop.run(wic.outside_dialog(method, identity, remote))
        )
        self.outcome = Outcome(response=response)
        return response

    def options_to(self, user: str) -> Response:
        """5.2.2.5.4 step 1 for a request outside any session: the remote party queries ``user``'s
        capabilities in an OPTIONS at the I-CSCF."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        remote, via, identity = self.remote, self.sut.icscf, self.identity_of(user)
        request = remote.options_request(identity)
        return self._attempt(
            "the remote party", identity, lambda: self.loop.run(remote.send_standalone(request, via))
        )

    def message_to(self, user: str) -> Response:
        """5.2.2.5.4 step 1 for a request outside any session: the remote party sends a MESSAGE
        with :data:`MESSAGE_TEXT` to ``user`` at the I-CSCF."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        remote, via, identity = self.remote, self.sut.icscf, self.identity_of(user)
        return self._attempt(
            "the remote party", identity, lambda: self.loop.run(remote.message(identity, via, MESSAGE_TEXT))
        )

    def call_from_ims_user(self, identity: str, user: str) -> Response:
        """5.2.2.5.4 step 1 from inside the IMS network: the ordinary IMS user ``identity``
        (registered from its own UE, :meth:`register_ims_user`) calls ``user`` through its
        S-CSCF, which routes the webRTC domain to the I-CSCF (DNS, step 1)."""
        party, called = self.ims_users[identity], self.identity_of(user)
        scscf = self.sut.scscf

        def place() -> Response:  # the UE's Service-Route makes it an originating request
            return self.loop.run(party.call(called, scscf, caller=identity, route=party.service_route))

        return self._attempt(identity, called, place)

    def originate_then_cancel(self, wic_name: str) -> tuple[Response, Response | None]:
        """5.2.2.5.3 step 1 then RFC 3261 9.1: a WIC starts a session to the remote party with
        the identity it registered and CANCELs it once it rings. The INVITE's final response is
        the outcome; returns (the CANCEL's final response, the INVITE's)."""
        wic = self.wics[wic_name]
        identity = self.logins[self.user_of(wic_name)].identity
        remote = self.remote_identity
        self._mark_remote()
        started, wall = time.monotonic(), time.time()
        cancelled, final = self.loop.run(wic.invite_then_cancel(identity, remote))
        status = final.status if final is not None else None
        self.session = Session(wic_name, remote, started, wall, time.time(), status)
        self.outcome = Outcome(response=final)
        self.cancel_answer = cancelled
        return cancelled, final

    def contact_uri(self, wic_name: str) -> str:
        """The URI of the Contact WIC ``wic_name`` registers."""
        return self.wics[wic_name].contact_uri

    def registrar_holds_contact_of(self, wic_name: str) -> bool:
        """The wIMPU Registrar, read over W6, lists the Contact of WIC ``wic_name`` among the live
        contacts of its user's entry (5.2.2.3.1)."""
        entry = self.registration_of(self.user_of(wic_name))
        return entry is not None and self.contact_uri(wic_name) in [c.uri for c in entry.contacts]

    def remote_rings_until_cancelled(self) -> None:
        """The remote party answers the next INVITEs with 180 only and ends them on a CANCEL."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        self.remote.answer = None

    def cancels_at_remote(self) -> list[tuple[str, str | None]]:
        """(Call-ID, Reason) of each ringing INVITE of the remote party a CANCEL ended."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        return list(self.remote.cancelled)

    def send_in_session_of(self, sender: str, owner: str, method: str, *, around: bool = False) -> Response:
        """WIC ``sender`` sends ``method`` in the session WIC ``owner`` set up (its route set,
        Call-ID and tags) over ``sender``'s own WebSocket; the answer is the outcome. With
        ``around``, its Route keeps only the first entry of the route set (the eP-CSCF's), so the
        next hop it names past the eP-CSCF is the remote target, around the S-CSCF and whatever
        else the route set holds (TP_WIMPU_SEC_018)."""
        dialog, answer = self.wics[owner].last_invite, self.dialogs.get(owner)
        if dialog is None or answer is None or answer.status >= 300:
            raise AssertionError(f"WIC {owner} has no session to send {method} in")
        request = self.wics[sender].in_dialog_request(dialog, answer, method, dialog.cseq.number + 1)
        if around:
            routes = request.addresses("Route")
            premise(len(routes) > 1, f"the route set of WIC {owner}'s session has no hop past the eP-CSCF")
            request = request.with_header_set("Route", f"<{routes[0].uri}>")
        self._mark_remote()
        started, wall = time.monotonic(), time.time()
        response = self.loop.run(self.wics[sender].request(request))
        self.session = Session(sender, self.remote_identity, started, wall, time.time(), response.status)
        self.outcome = Outcome(response=response)
        return response

    def send_in_offered_session(self, sender: str, method: str) -> Response:
        """WIC ``sender`` sends ``method`` in the session the last INVITE it received offered it, as
        its callee (its own tag, the INVITE's Record-Route in order), over its own WebSocket; the
        answer is the outcome. A WIC whose branch lost is in no dialog (5.2.2.5.4 step 5)."""
        invites = self.wics[sender].answered_invites()
        if not invites:
            raise AssertionError(f"WIC {sender} was offered no session to send {method} in")
        request = self.wics[sender].callee_request(invites[-1], method)
        self._mark_remote()
        started, wall = time.monotonic(), time.time()
        response = self.loop.run(self.wics[sender].request(request))
        self.session = Session(sender, self.remote_identity, started, wall, time.time(), response.status)
        self.outcome = Outcome(response=response)
        return response

    def _mark_remote(self) -> None:
        self._remote_seen = len(self.remote.received) if self.remote is not None else 0

    def remote_session(self) -> tuple[Request, Response]:
        """The INVITE and the 2xx of the last session the remote party set up (its dialog)."""
        if self.remote is None or not self.remote.established:
            raise HarnessError("the remote party set up no session in this scenario")
        return self.remote.established[-1]

    def requests_at_remote(self, method: str) -> list[Request]:
        """The ``method`` requests the remote party received since the last session attempt
        began (the whole scenario when there was none)."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        return [r for r in self.remote.received[self._remote_seen :] if r.method == method]

    def call(self, identity: str) -> Response:
        """5.2.2.5.4 step 1: the remote party places a session to ``identity`` at the I-CSCF."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        remote, via = self.remote, self.sut.icscf
        return self._attempt("the remote party", identity, lambda: self.loop.run(remote.call(identity, via)))

    def remote_in_dialog(self, method: str, *, through_icscf: bool = False) -> Response | None:
        """The remote party sends ``method`` in the session it set up last (5.2.2.5.4 step 5, a
        request of the core towards the WIC in its dialog); with ``through_icscf``, to the I-CSCF,
        its Route the dialog's route set (TP_WIMPU_TERM_019). The answer is the session's status and
        the outcome; None when none came within :data:`EVENT_WAIT`."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        remote = self.remote
        called = self.session.called if self.session is not None else ""
        started, wall = time.monotonic(), time.time()
        via = self.sut.icscf if through_icscf else None
        response = self.loop.run(remote.in_dialog(method, via=via))
        status = response.status if response is not None else None
        self.session = Session("the remote party", called, started, wall, time.time(), status)
        self.outcome = Outcome(response=response)
        return response

    def call_held_at_scscf(
        self, user: str, meanwhile: Callable[[], Awaitable[object]], *, within: float = EVENT_WAIT
    ) -> Response | None:
        """5.2.2.5.4 with something happening between steps 3 and 4: the remote party calls
        ``user`` at the I-CSCF; the S-CSCF (the tester's IMS core, :meth:`Sut.scscf_node`) holds
        the INVITE routed to it (after step 2's W7 check) until ``meanwhile()`` is done, then
        routes it on to the eP-CSCF (step 3). Returns the caller's final response, None when none
        came within ``within`` seconds. What ``meanwhile`` raised (the harness could not do it)
        is raised once the call is over; the INVITE goes on regardless."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        node = self.sut.scscf_node()
        identity = self.identity_of(user)
        called = identity_key(identity)
        failed: list[Exception] = []
        held = False

        async def on_request(
            tx: ServerTransaction, request: Request, source: Source, serve: RequestHandler
        ) -> None:
            nonlocal held
            if (
                not held
                and request.method == "INVITE"
                and request.to.tag is None
                and identity_key(request.to.uri) == called
            ):
                held = True
                try:
                    await meanwhile()
                except Exception as exc:  # noqa: BLE001 - re-raised once the call is over
                    failed.append(exc)
            await serve(tx, request, source)

        remote, via = self.remote, self.sut.icscf

        def place() -> Response | None:
            return self._final_within(remote.call(identity, via, wait=within), within)

        _, own = _intercept(node, on_request)
        try:
            response = self._attempt("the remote party", identity, place)
        finally:
            node.on_request = own
        if failed:
            raise failed[0]
        return response

    def call_while_wic_deregisters(self, user: str, wic_name: str) -> Response | None:
        """:meth:`call_held_at_scscf`: WIC ``wic_name`` de-registers (5.2.2.3.2, Expires 0 over its
        own flow, answered) while the S-CSCF holds the session, after the I-CSCF found ``user``
        registered over W7 and before the eP-CSCF reads the contacts over W6."""
        wic, login = self.wics[wic_name], self.logins[self.user_of(wic_name)]

        async def deregister() -> None:
            answer = await wic.register(login.identity, token=login.token, expires=0)
            if answer.status != 200:
                raise RuntimeError(
                    f"WIC {wic_name}'s de-registration while the session was held got {answer.status}"
                )

        return self.call_held_at_scscf(user, deregister)

    def call_while_registrar_stalls(self, user: str) -> Response | None:
        """:meth:`call_held_at_scscf`: the wIMPU Registrar stops answering (:meth:`stall_registrar`)
        while the S-CSCF holds the session, after the I-CSCF's W7 check; the caller waits as long
        as its INVITE transaction lives (Timer B)."""

        async def stall() -> None:
            await self.sut.stall_registrar()
            self._registrar_stalled = True

        return self.call_held_at_scscf(user, stall, within=TIMER_B)

    def _all_ring(self, user: str) -> Callable[[], bool]:
        """Every WIC of ``user`` has sent its 180, and the remote party has a 180 for its last call."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        remote, wics = self.remote, list(self.wics_of(user).values())

        def all_ring() -> bool:
            rang = all(any(m.startswith(b"SIP/2.0 180 ") for m in wic.sent) for wic in wics)
            return rang and bool(remote.responses_to_last_call(180))

        return all_ring

    def call_then_cancel(self, user: str) -> tuple[Response, Response | None]:
        """5.2.2.5.4 step 1 then RFC 3261 9.1: the remote party calls ``user`` at the I-CSCF and,
        once every WIC of the user rings (each sent its 180 and the remote party has a 180),
        CANCELs the call with :data:`CALLER_REASON`. The INVITE's final response is the
        session's status; returns (the CANCEL's final response, the INVITE's)."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        remote, via, identity = self.remote, self.sut.icscf, self.identity_of(user)
        self._mark_remote()
        started, wall = time.monotonic(), time.time()
        cancelled, final = self.loop.run(
            remote.call_then_cancel(identity, via, when=self._all_ring(user), reason=CALLER_REASON)
        )
        status = final.status if final is not None else None
        self.session = Session("the remote party", identity, started, wall, time.time(), status)
        self.cancel_answer = cancelled
        return cancelled, final

    def past_timer_c(self) -> float:
        """Seconds of the nodes' clock that take a ringing branch past the eP-CSCF's Timer C
        (:attr:`timer_c`, and one more).

        Raises:
            Unobservable: the eP-CSCF's Timer C is not known on a clock the tester moves (the
                PIXIT gives no ``[timing] timer_c``): a tester cannot wait minutes of real time.
        """
        if self.timer_c is None or self.clock is None:
            raise Unobservable(
                "the eP-CSCF's Timer C does not run on a clock the tester moves: the PIXIT gives no "
                "[timing] timer_c, or no [clock] (RFC 3261 16.6 item 11: more than 3 minutes of real time)"
            )
        return self.timer_c + 1.0

    def _ring_past_timer_c(self) -> None:
        """Let the nodes' clock pass the eP-CSCF's Timer C while a session rings, in two jumps. The
        first takes it to 3 minutes less a second (no Timer C may be that short, RFC 3261 16.6 item
        11), and the tester watches: a CANCEL sent too early then reaches the wire before 3 minutes
        of the nodes' clock have passed, where rule SESSION_TIMER_C sees it. An external SUT's clock
        runs on with real time (the offset file adds to it), and it may take
        :data:`~captures.rules.TIMER_C_GRACE` seconds to act on a jump: the first jump stops that
        much short, and the tester watches that long. The in-process reference acts within the
        jump (``Stack.advance``), and its clock (the tester's :class:`FakeClock`) moves only when
        moved: :data:`ABSENCE_WINDOW` is watched. The second jump takes the clock to
        :meth:`past_timer_c`."""
        total = self.past_timer_c()
        in_process = isinstance(self.sut, ReferenceSut)
        watch = ABSENCE_WINDOW if in_process else TIMER_C_GRACE
        first = min(total, TIMER_C_FLOOR - 1.0 - (0.0 if in_process else watch))
        watched = time.monotonic()
        self.let_time_pass(first)
        if total <= first:
            return
        time.sleep(watch)
        passed = first + (0.0 if in_process else time.monotonic() - watched)
        if total > passed:
            self.let_time_pass(total - passed)

    def call_past_timer_c(self, user: str) -> Response | None:
        """5.2.2.5.4 steps 1 to 5, then RFC 3261 16.8: the remote party calls ``user`` at the I-CSCF;
        once every WIC of the user rings, the nodes' clock passes the eP-CSCF's Timer C
        (:meth:`past_timer_c`) and the remote party waits for its INVITE's final response, the
        session's status (None if none came within :data:`EVENT_WAIT` s)."""
        self.past_timer_c()  # inconclusive before the call, not while it rings
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        remote, via, identity = self.remote, self.sut.icscf, self.identity_of(user)
        self._mark_remote()
        started, wall = time.monotonic(), time.time()
        handle = self.loop.run(remote.call_until(identity, via, when=self._all_ring(user)))
        self._ring_past_timer_c()
        final = self.loop.run(remote.final_of(handle))
        status = final.status if final is not None else None
        self.session = Session("the remote party", identity, started, wall, time.time(), status)
        return final

    def originate_past_timer_c(self, wic_name: str) -> Response | None:
        """5.2.2.5.3 steps 1 and 3, then RFC 3261 16.8: WIC ``wic_name`` starts a session to the
        remote party with the identity it registered; once it rings, the nodes' clock passes the
        eP-CSCF's Timer C (:meth:`past_timer_c`) and the WIC waits for its INVITE's final response,
        the outcome (None if none came within the WIC's timeout), which it ACKs."""
        self.past_timer_c()  # inconclusive before the session, not while it rings
        wic = self.wics[wic_name]
        identity = self.logins[self.user_of(wic_name)].identity
        remote = self.remote_identity
        self._mark_remote()
        started, wall = time.monotonic(), time.time()
        invite = self.loop.run(wic.invite_until_ringing(identity, remote))
        self._ring_past_timer_c()
        final = self.loop.run(wic.final_of(invite))
        status = final.status if final is not None else None
        self.session = Session(wic_name, remote, started, wall, time.time(), status)
        self.outcome = Outcome(response=final)
        return final

    def finals_at_remote(self) -> list[tuple[float, Response]]:
        """(time.monotonic() of arrival, response) of each final response to the last call."""
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        return self.remote.final_responses_to_last_call()

    def settle(self) -> None:
        """Wait until the last session attempt is :data:`SETTLE` seconds old (late messages).

        A sleep on purpose: what follows checks that nothing (more) arrived in that window."""
        if self.session is None:
            raise HarnessError("no session was attempted")
        remaining = self.session.started + SETTLE - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def eventually(
        self, probe: Callable[[], list[Any]], at_least: int, timeout: float = EVENT_WAIT
    ) -> list[Any]:
        """``probe()`` once it returns ``at_least`` items, or what it returns at ``timeout`` (the
        caller's check then says what is missing). Absence is checked after :meth:`settle`,
        with ``at_least=0``, which returns at once."""
        deadline = time.monotonic() + timeout
        found = probe()
        while len(found) < at_least and time.monotonic() < deadline:
            time.sleep(0.02)
            found = probe()
        return found

    def received_by_wic(self, wic_name: str, method: str, at_least: int = 1) -> list[Request]:
        wic = self.wics[wic_name]
        return self.eventually(lambda: [r for r in wic.incoming if r.method == method], at_least)

    def invites_at_remote(self) -> list[Request]:
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        return self.remote.invites()

    def invites_at_ims_user(self, identity: str) -> list[Request]:
        return self.ims_users[identity].invites()

    def final_responses_at_remote(self, status: int) -> list[Response]:
        if self.remote is None:
            raise HarnessError("no remote party in this scenario")
        return self.remote.responses_to_last_call(status)

    # ----- observation ---------------------------------------------------------------

    def registration_of(self, user: str) -> Entry | None:
        """The registrar entry for a user's identity, read over W6."""
        identity = self.identity_of(user)
        if identity.partition("@")[2].endswith(self.sut.ims_domain):
            return self.loop.run(self.w6.read(identity))
        return self.loop.run(self.w6.read_by_external(identity))

    def registration_for(self, identity: str) -> Entry | None:
        """The registrar entry of ``identity`` as an IMPU, else as an external identity (W6)."""
        entry = self.loop.run(self.w6.read(identity))
        return entry if entry is not None else self.loop.run(self.w6.read_by_external(identity))

    def wwsf_directory(self) -> list[DirectoryEntry]:
        """The wIMPU blocks and their eP-CSCFs, as the WWSF announces them (HTTPS ``/directory``)."""

        async def fetch() -> list[dict[str, Any]]:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{self.sut.wwsf_origin}/directory", ssl=self.tls()) as r:
                    r.raise_for_status()
                    body: list[dict[str, Any]] = await r.json()
                    return body

        return [
            DirectoryEntry(b["wimpu"], b["ep_cscf"]["identity"], b["ep_cscf"]["uri"])
            for b in self.loop.run(fetch())
        ]

    def await_directory(
        self, wimpu: str, ep_cscf: DirectoryEntry, within: float
    ) -> tuple[list[DirectoryEntry], float]:
        """The WWSF's directory once it names ``ep_cscf`` (identity and URI, as
        :func:`expect.directory` compares them) for block ``wimpu``, or as it was after ``within``
        seconds, and the seconds waited (polled every 0.2 s; a failed poll is polled again, the last
        one's error raised when the time is up)."""

        def named(entries: list[DirectoryEntry]) -> bool:
            return any(e.is_block(wimpu) and e.same_ep_cscf(ep_cscf) for e in entries)

        return _poll(self.wwsf_directory, named, within, retry=(aiohttp.ClientError, OSError))

    def ep_cscf(self, name: str) -> DirectoryEntry:
        """Identity and WSS URL of the eP-CSCF instance ``name`` (its PIXIT: where it listens)."""
        return self.sut.ep_cscfs()[name]

    def ep_cscf_list(self) -> list[DirectoryEntry]:
        """Every eP-CSCF instance (identity and WSS URL)."""
        return list(self.sut.ep_cscfs().values())

    def wire_messages(self) -> tuple[list[WireMessage], Legs]:
        """Every message captured so far in this scenario, and the names of their ends."""
        messages = self.wire.messages()
        return messages, Legs(addresses=self.endpoints()).learn(messages)

    def verify_session(self, rules: list[str]) -> list[Any]:
        """The findings of ``wimpu-conformance verify``'s rules (captures/rules/) on the flows of
        this scenario's capture that the last session attempt started: the verifier ``verify``
        builds from the topology this capture will carry (:meth:`_topology`), fed the messages and
        the decoding problems in the same order, so the step and the offline verdict agree."""
        if self.session is None:
            raise HarnessError("no session was attempted")
        return self.verify_capture(rules, self.session.wall_started)

    def verify_capture(self, rules: list[str], since: float = 0.0) -> list[Any]:
        """The findings of ``verify``'s ``rules`` on the flows of this scenario's capture so far that
        started at or after ``since`` (wall-clock time; default: every flow), computed as
        :meth:`verify_session` says."""
        decoded = self.wire.decoded()
        verifier = Verifier.of(self._topology())
        return [
            finding
            for flow, findings in verifier.judge(decoded.messages, decoded.problems, decoded.connections)
            if flow.hops and flow.hops[0].message.time >= since
            for finding in findings
            if finding.rule_id in rules
        ]

    def _topology(self) -> CapturedTopology:
        """The topology the scenario's capture carries beside it (what :meth:`close` writes, and
        ``verify`` reads back equal): the one place it is assembled."""
        return CapturedTopology.of(
            self.endpoints(),
            self.sut.blocks(),
            self.pics,
            self._origins(),
            self._jumps,
            self._complete(),
            self.timer_c,
        )

    def _complete(self) -> bool:
        """The capture holds every packet of the SUT's nodes since they started
        (``CapturedTopology.complete``): the suite started them after the capture began, and every
        one listens on a loopback address, on the interface the capture watches."""
        hosts = {host for host, _ in self.endpoints()}
        return (
            self.sut.started_by_suite
            and self.wire.capture.interface == "lo"
            and all(_loopback(host) for host in hosts)
        )

    def captured_responses(self, method: str, src: str, dst: str) -> list[Response]:
        """The final responses to ``method`` captured from a node named ``src...`` to one named
        ``dst...`` since the last session attempt began (as :meth:`captured_requests`)."""
        found = self._captured(src, dst)
        return [m for m in found if isinstance(m, Response) and m.is_final and m.cseq.method == method]

    def captured_requests(self, method: str, src: str, dst: str) -> list[Request]:
        """The ``method`` requests captured from a node named ``src...`` to one named ``dst...``
        since the last session attempt began (the whole scenario when there was none)."""
        return [m for m in self._captured(src, dst) if isinstance(m, Request) and m.method == method]

    def _captured(self, src: str, dst: str) -> list[Request | Response]:
        """The SIP messages captured from a node named ``src...`` to one named ``dst...`` since the
        last session attempt began (the whole scenario when there was none)."""
        since = self.session.wall_started if self.session is not None else 0.0
        messages, legs = self.wire_messages()
        return [
            m.message
            for m in messages
            if isinstance(m.message, Request | Response)
            and m.time >= since
            and legs.src(m).startswith(src)
            and legs.dst(m).startswith(dst)
        ]

    def captured_on_wic(self, wic_name: str) -> list[tuple[str, bytes]]:
        """(start line, raw bytes) of every SIP message captured on the WebSocket connection of
        WIC ``wic_name``, both directions (the connection is told by the WIC's first REGISTER)."""
        messages, legs = self.wire_messages()
        sent = set(self.wics[wic_name].sent)
        ends = {(m.src, m.dst) for m in messages if m.transport in ("WS", "WSS") and m.raw in sent}
        ends |= {(dst, src) for src, dst in ends}
        return [(m.start_line(), m.raw) for m in messages if m.is_sip and (m.src, m.dst) in ends]

    def block_of(self, user: str) -> str:
        """The wIMPU block a user's identity belongs to (the WWSF's user data)."""
        return self.user(user).block

    def node_names(self) -> dict[tuple[str, int], str]:
        """Listening (address, port) of each SIP node -> the node's name as the features say it,
        for Via and Path (:func:`~conformance.harness.views.node_names`)."""
        return node_names(self.endpoints())

    def hops(self, request: Request) -> list[str]:
        """The nodes a received request went through, in order (from its Via header fields)."""
        return hop_names(request, self.node_names())


Interceptor = Callable[[ServerTransaction, Request, Source, RequestHandler], Awaitable[None]]
"Sees a request before the node's own handler, which it is given to pass the request on to (or not)."


def _intercept(node: SipNode, intercept: Interceptor) -> tuple[SipNode, RequestHandler]:
    """Put ``intercept`` in front of ``node``'s request handler: a node of the tester's IMS core
    (:meth:`Sut.scscf_node`) holding or dropping some requests. Returns the node and its own
    handler, which restores it."""
    original = node.on_request
    if original is None:
        raise HarnessError(f"{node.name} serves no requests")

    async def on_request(tx: ServerTransaction, request: Request, source: Source) -> None:
        await intercept(tx, request, source, original)

    node.on_request = on_request
    return node, original


def _loopback(host: str) -> bool:
    """``host`` is a loopback address (127.0.0.0/8, ::1); a name is not known to be one."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
