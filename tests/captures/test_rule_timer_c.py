"""SESSION_TIMER_C: a ringing INVITE branch of the eP-CSCF is cancelled at its Timer C, never before
3 minutes (RFC 3261 16.6 item 11, 16.7 step 2, 16.8; TR 23.701 5.2.2.5.3 step 3, 5.2.2.5.4 step 5).

Hand-built captures of an origination that rings: WIC -> eP-CSCF -> S-CSCF, a 180 back, then the
tester's clock jumps (``jumps``) and the eP-CSCF cancels (or not)."""

from __future__ import annotations

from test_flows import ALICE, IWF1, PCSCF1, SCSCF, WIC1, Wire, ends
from test_verify_rules import BLOCKS

from captures.flows import Knowledge, group
from captures.model import WireMessage
from captures.rules import TIMER_C_GRACE, Context, Finding, check
from conformance.pixit import Block

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

    def wic_cancels(self) -> None:
        cancel = self.w.request(
            WIC1, IWF1, "CANCEL", DAVE, call_id="o-1", from_=ALICE, to=DAVE, transport="WSS"
        )
        self.w.response(cancel, 200)

    def ep_cscf_cancels(self) -> WireMessage:
        cancel = self.w.request(PCSCF1, SCSCF, "CANCEL", DAVE, call_id="o-1", from_=ALICE, to=DAVE)
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
        knowledge = Knowledge(clock_jumps=self.jumps)
        flows = group(self.w.messages, ends(), knowledge)
        ctx = Context(blocks, knowledge, timer_c=timer_c)
        return [f for flow in flows for f in check(flow, ctx, ["SESSION_TIMER_C"])]


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


def test_a_late_cancel_fails() -> None:
    r = Ringing()
    r.jump(182)
    r.w.time += TIMER_C_GRACE + 1
    r.ep_cscf_cancels()
    (finding,) = r.findings()
    assert finding.verdict == "fail" and "later than its Timer C" in finding.detail


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
    knowledge = Knowledge()
    ctx = Context(BLOCKS, knowledge, timer_c=181.0)
    assert [
        f for flow in group(w.messages, ends(), knowledge) for f in check(flow, ctx, ["SESSION_TIMER_C"])
    ] == []
