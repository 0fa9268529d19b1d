"""SESSION_TIMER_C: a ringing INVITE branch of the eP-CSCF is cancelled at its Timer C, never before
3 minutes (RFC 3261 16.6 item 11, 16.7 step 2, 16.8; TR 23.701 5.2.2.5.3 step 3, 5.2.2.5.4 step 5).

Hand-built captures of an origination that rings: WIC -> eP-CSCF -> S-CSCF, a 180 back, then the
tester's clock jumps (``jumps``) and the eP-CSCF cancels (or not)."""

from __future__ import annotations

from test_flows import ALICE, IWF1, PCSCF1, SCSCF, WIC1, Wire, ends
from test_verify_rules import BLOCKS

from captures.flows import FlowTracker, Knowledge, group
from captures.model import TcpConnection, Transport, WireMessage
from captures.rules import TIMER_C_GRACE, Context, Finding, check
from conformance.pixit import Block
from reference.sip.message import Request

DAVE = "sip:dave@remote.example.org"


class Ringing:
    """An origination whose INVITE rings at the S-CSCF's side; the clock jumps are recorded."""

    def __init__(self) -> None:
        self.w = Wire()
        self.jumps: list[tuple[float, float]] = []
        self.invite = self.w.request(
            WIC1, IWF1, "INVITE", DAVE, call_id="o-1", from_=ALICE, to=DAVE, transport="WSS"
        )
        self.w.response(self.invite, 100)
        self.onward = self.w.forward(self.invite, PCSCF1, SCSCF, uri=DAVE)
        self.ring()

    def ring(self) -> None:
        self.w.response(self.onward, 180)
        self.w.response(self.invite, 180)

    def jump(self, seconds: float, *, then: float = 0.5) -> None:
        """The tester moves the nodes' clock ``seconds`` forward; ``then`` s of capture time pass."""
        self.jumps.append((self.w.time + 0.0001, seconds))
        self.w.time += then

    def cancel(self, invite: WireMessage, transport: Transport = "TCP") -> WireMessage:
        """The CANCEL of ``invite`` (RFC 3261 9.1: its Request-URI, Call-ID, To, From, CSeq number
        and its one top Via, so the same branch), from its sender to its receiver."""
        request = invite.message
        assert isinstance(request, Request)
        lines = [
            f"CANCEL {request.uri} SIP/2.0",
            f"Via: {request.get_all('Via')[0]}",
            "Max-Forwards: 70",
            f"From: {request.get('From')}",
            f"To: {request.get('To')}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.cseq.number} CANCEL",
            "Content-Length: 0",
        ]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        return self.w.add(invite.src, invite.dst, raw, transport)

    def wic_cancels(self) -> None:
        self.w.response(self.cancel(self.invite, "WSS"), 200)

    def ep_cscf_cancels(self) -> WireMessage:
        cancel = self.cancel(self.onward)
        self.w.response(cancel, 200)
        self.w.response(self.onward, 487)
        self.w.response(self.invite, 487)
        return cancel

    def answered(self, status: int = 486) -> None:
        self.w.response(self.onward, status)
        self.w.response(self.invite, status)

    def later(self, seconds: float) -> None:
        """Something else on the wire ``seconds`` of capture time later (the capture goes on)."""
        self.w.time += seconds
        self.w.request(WIC1, IWF1, "OPTIONS", DAVE, call_id="other", from_=ALICE, to=DAVE, transport="WSS")

    def findings(self, timer_c: float | None = 181.0, blocks: tuple[Block, ...] = BLOCKS) -> list[Finding]:
        return judged(self.w.messages, Knowledge(clock_jumps=self.jumps), timer_c, blocks)


def judged(
    messages: list[WireMessage],
    knowledge: Knowledge,
    timer_c: float | None = 181.0,
    blocks: tuple[Block, ...] = BLOCKS,
) -> list[Finding]:
    """SESSION_TIMER_C's findings on the flows of ``messages``."""
    ctx = Context(blocks, knowledge, timer_c=timer_c)
    return [f for flow in group(messages, ends(), knowledge) for f in check(flow, ctx, ["SESSION_TIMER_C"])]


def verdicts(ringing: Ringing, timer_c: float | None = 181.0) -> list[str]:
    return [f.verdict for f in ringing.findings(timer_c)]


def test_a_cancel_at_timer_c_passes() -> None:
    r = Ringing()
    r.jump(182)
    r.ep_cscf_cancels()
    (finding,) = r.findings()
    assert finding.verdict == "pass" and finding.leg == "ep-cscf1/sip -> s-cscf", finding
    assert "rang 183 s" in finding.detail  # 182 s of jump and 0.5 s of capture time


def test_a_cancel_after_3_minutes_passes_when_timer_c_is_not_known() -> None:
    r = Ringing()
    r.jump(600)
    r.ep_cscf_cancels()
    assert verdicts(r, timer_c=None) == ["pass"]


def test_a_cancel_before_3_minutes_fails() -> None:
    """A proxy whose Timer C is 2 minutes (below RFC 3261 16.6 item 11's floor), or that gives up on
    a ringing branch at once."""
    for seconds in (0.0, 120.0, 179.0):
        r = Ringing()
        if seconds:
            r.jump(seconds)
        cancel = r.ep_cscf_cancels()
        (finding,) = r.findings(timer_c=None)
        assert finding.verdict == "fail" and "MUST be larger than 3 minutes" in finding.detail, seconds
        assert finding.message is not None and finding.message.frame == cancel.frame


def test_timer_c_runs_again_from_each_provisional_response() -> None:
    """16.7 step 2: a proxy that did not reset Timer C at the second 180 cancels 100 s after it."""
    r = Ringing()
    r.jump(150)
    r.ring()
    r.jump(100)
    r.ep_cscf_cancels()
    assert verdicts(r) == ["fail"]
    reset = Ringing()
    reset.jump(150)
    reset.ring()
    reset.jump(182)
    reset.ep_cscf_cancels()
    assert verdicts(reset) == ["pass"]


def test_a_branch_left_ringing_past_timer_c_fails() -> None:
    r = Ringing()
    r.jump(182)
    r.later(TIMER_C_GRACE + 1)
    (finding,) = r.findings()
    assert finding.verdict == "fail" and "did not cancel it" in finding.detail
    assert finding.leg == "s-cscf -> ep-cscf1/sip"  # the 180 that started the Timer C


def test_a_branch_left_ringing_is_not_judged_before_the_grace_has_passed_nor_without_timer_c() -> None:
    r = Ringing()
    r.jump(182)
    r.later(TIMER_C_GRACE - 1)
    assert verdicts(r) == []
    assert verdicts(r, timer_c=None) == []
    short = Ringing()
    short.jump(100)
    short.later(60)
    assert verdicts(short) == []  # 100 s of the nodes' clock and 60 s of the capture's: 160 s < 181 s


def test_a_final_response_long_after_timer_c_fails_and_one_before_it_says_nothing() -> None:
    r = Ringing()
    r.jump(400)
    r.later(TIMER_C_GRACE + 1)
    r.answered(486)
    assert verdicts(r) == ["fail"]
    early = Ringing()
    early.jump(60)
    early.answered(486)
    assert verdicts(early) == []


def test_a_cancel_later_than_the_pixits_timer_c_is_inconclusive() -> None:
    """RFC 3261 sets Timer C no upper bound: a CANCEL after the Timer C the PIXIT declares (and the
    grace) says the PIXIT's figure is not the SUT's, not that the SUT broke the text."""
    r = Ringing()
    r.jump(182)
    r.w.time += TIMER_C_GRACE + 1
    r.ep_cscf_cancels()
    (finding,) = r.findings()
    assert finding.verdict == "inconclusive" and "the PIXIT's figure is not the SUT's" in finding.detail


def test_a_cancel_after_only_100_trying_is_judged_from_the_invite() -> None:
    """16.8: a CANCEL after any provisional response; 100 does not reset Timer C (16.7 step 2), so it
    runs from the INVITE."""
    w = Wire()
    invite = w.request(WIC1, IWF1, "INVITE", DAVE, call_id="o-1", from_=ALICE, to=DAVE, transport="WSS")
    onward = w.forward(invite, PCSCF1, SCSCF, uri=DAVE)
    w.response(onward, 100)
    r = Ringing.__new__(Ringing)
    r.w, r.jumps, r.invite, r.onward = w, [], invite, onward
    w.time += 5
    r.ep_cscf_cancels()
    (finding,) = r.findings(timer_c=None)
    assert finding.verdict == "fail" and "5 s of the nodes' clock" in finding.detail


def test_a_cancel_of_another_transaction_is_not_this_branchs() -> None:
    """The CANCEL matches its INVITE by the top Via branch (RFC 3261 9.1): one with another branch
    (another INVITE on the same leg) does not end this one."""
    r = Ringing()
    r.jump(182)
    other = r.w.forward(r.invite, PCSCF1, SCSCF, uri=DAVE)  # a second client transaction, its own branch
    r.cancel(other)  # the CANCEL of that other transaction only
    r.later(TIMER_C_GRACE + 1)
    verdicts_ = [f.verdict for f in r.findings()]
    assert "fail" in verdicts_  # the first branch was left ringing


def test_a_cancel_after_the_wics_websocket_closed_is_not_timer_c() -> None:
    """TS 24.229 5.2.8.1: the P-CSCF may release a session whose WIC is gone; the WIC's connection
    closed before the CANCEL explains it."""
    r = Ringing()
    closed_at = r.w.time + 0.5
    r.w.time += 1
    r.ep_cscf_cancels()
    knowledge = Knowledge(clock_jumps=r.jumps)
    knowledge.receive_connections([TcpConnection(WIC1, IWF1, 0.0, 1, client_data=0.0, closed=closed_at)])
    assert judged(r.w.messages, knowledge) == []
    assert verdicts(r) == ["fail"]  # the same CANCEL with the WebSocket open


def test_a_real_time_capture_keeps_a_ringing_flow_open_past_3_minutes() -> None:
    """No tester's jump: the CANCEL comes 182 s of capture time after the 180, longer than a flow's
    quiet period (64 s); the flow of a ringing INVITE stays open for it (RINGING_QUIET)."""
    r = Ringing()
    r.w.time += 182
    r.ep_cscf_cancels()
    knowledge = Knowledge()
    tracker = FlowTracker(ends(), knowledge=knowledge, quiet=64.0)
    flows = []
    for message in r.w.messages:
        tracker.receive(message)
        flows += tracker.flows_ready()
    flows += tracker.finish()
    ctx = Context(BLOCKS, knowledge, timer_c=181.0)
    assert [f.verdict for flow in flows for f in check(flow, ctx, ["SESSION_TIMER_C"])] == ["pass"]


def test_a_cancel_the_previous_hop_asked_for_is_not_timer_c() -> None:
    """16.10: the WIC cancelled, so the eP-CSCF cancels at once (TP_WIMPU_ORIG_007)."""
    r = Ringing()
    r.wic_cancels()
    r.ep_cscf_cancels()
    assert verdicts(r) == []


def test_a_branch_that_never_rang_is_not_judged() -> None:
    """Without a provisional response a proxy may not CANCEL (RFC 3261 9.1): Timer B ends it."""
    w = Wire()
    invite = w.request(WIC1, IWF1, "INVITE", DAVE, call_id="o-1", from_=ALICE, to=DAVE, transport="WSS")
    onward = w.forward(invite, PCSCF1, SCSCF, uri=DAVE)
    w.time += 400
    w.response(onward, 408)
    assert judged(w.messages, Knowledge()) == []
