"""The eP-CSCF's authorisation of in-dialog requests (reference/nodes/p_cscf/dialogs.py).

TS 24.229 5.2.6.3 and RFC 3325 9.1 read for a WIC: an in-dialog request is relayed only
on a dialog the eP-CSCF record-routed on that flow, to its route set's next hop, with
the identity the eP-CSCF asserts.
"""

from __future__ import annotations

from reference.nodes.p_cscf.dialogs import MAX_PENDING, Authorised, DialogTable, Refused
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message
from reference.sip.transaction import make_response

OWN = ("127.0.0.1", 5080)
FLOW = "ep-cscf1.7.abc"
OURS = f"<sip:{FLOW}@127.0.0.1:5080;transport=tcp;lr>"
SCSCF = "<sip:127.0.0.1:5070;transport=tcp;lr>"
ALICE = "sip:wrtc-alice@block1.ims.example.net"


def parse(text: str) -> Request:
    message = parse_message(text.replace("\n", "\r\n").encode())
    assert isinstance(message, Request)
    return message


def request(method: str, *, routes: tuple[str, ...], call_id: str = "c1", to_tag: str | None = "t",
            uri: str = "sip:dave@127.0.0.1:6000;transport=tcp", extra: str = "") -> Request:
    route_lines = "".join(f"Route: {r}\n" for r in routes)
    tag = f";tag={to_tag}" if to_tag else ""
    return parse(
        f"{method} {uri} SIP/2.0\nVia: SIP/2.0/WSS h.invalid;branch=z9hG4bKw1\nMax-Forwards: 70\n"
        f"{route_lines}To: <sip:dave@remote.example.org>{tag}\nFrom: <{ALICE}>;tag=f\n"
        f"Call-ID: {call_id}\nCSeq: 2 {method}\n{extra}Content-Length: 0\n\n"
    )  # fmt: skip


def originated_table() -> DialogTable:
    """alice's WIC on flow F called out; the 2xx came back record-routed by the S-CSCF."""
    table = DialogTable(OWN)
    invite = request("INVITE", routes=(SCSCF,), to_tag=None)
    table.originated(FLOW, invite, ALICE)
    ok: Response = make_response(invite, 200, to_tag="t")
    ok = ok.with_header_set("Record-Route", SCSCF, OURS).with_header("Contact", "<sip:dave@127.0.0.1:6000>")
    table.answered(FLOW, ok)
    return table


def test_an_in_dialog_request_on_its_own_dialog_is_relayed_with_the_asserted_identity() -> None:
    table = originated_table()
    bye = request("BYE", routes=(OURS, SCSCF), extra="P-Asserted-Identity: <sip:bob@x>\n")
    verdict = table.authorise_from_wic(bye, FLOW)
    assert isinstance(verdict, Authorised)
    assert verdict.request.get_all("P-Asserted-Identity") == [f"<{ALICE}>"]


def test_requests_outside_the_flows_dialogs_are_refused() -> None:
    table = originated_table()
    cases = {
        "another flow": (request("BYE", routes=(OURS, SCSCF)), "ep-cscf1.8.abd"),
        "another Call-ID": (request("BYE", routes=(OURS, SCSCF), call_id="c2"), FLOW),
        "no To tag": (request("BYE", routes=(OURS, SCSCF), to_tag=None), FLOW),
        "no Route of ours": (request("BYE", routes=(SCSCF,)), FLOW),
        "skips the S-CSCF": (request("BYE", routes=(OURS, "<sip:127.0.0.1:6000;lr>")), FLOW),
        "no Route: Request-URI elsewhere": (request("BYE", routes=(OURS,), uri="sip:x@192.0.2.9"), FLOW),
    }
    for label, (req, flow) in cases.items():
        verdict = table.authorise_from_wic(req, flow)
        assert isinstance(verdict, Refused) and verdict.status == 403, label


def test_a_terminating_dialog_allows_the_callee_towards_the_s_cscf_only() -> None:
    table = DialogTable(OWN)
    delivered = request("INVITE", routes=(), to_tag=None).with_header_set("Record-Route", OURS, SCSCF)
    table.terminated(FLOW, delivered, ALICE)
    assert isinstance(table.authorise_from_wic(request("BYE", routes=(OURS, SCSCF)), FLOW), Authorised)
    assert table.authorise_to_wic(request("BYE", routes=(OURS,)), FLOW) is None
    assert isinstance(table.authorise_to_wic(request("BYE", routes=(OURS,), call_id="c9"), FLOW), Refused)


def test_a_failed_or_ended_dialog_and_a_closed_flow_authorise_nothing() -> None:
    table = originated_table()
    table.ended(FLOW, "c1")
    assert isinstance(table.authorise_from_wic(request("BYE", routes=(OURS, SCSCF)), FLOW), Refused)
    table = originated_table()
    table.flow_closed(FLOW)
    assert len(table) == 0
    table = DialogTable(OWN)
    invite = request("INVITE", routes=(SCSCF,), to_tag=None)
    table.originated(FLOW, invite, ALICE)
    table.answered(FLOW, make_response(invite, 486, to_tag="t"))
    assert not table.has(FLOW, "c1")


FLOW2 = "ep-cscf1.8.abd"
OURS2 = f"<sip:{FLOW2}@127.0.0.1:5080;transport=tcp;lr>"


def forked_table() -> tuple[DialogTable, dict[str, Request]]:
    """A terminating INVITE forked to alice's WICs on FLOW and FLOW2, each copy record-routed
    by this eP-CSCF naming its own flow, then by the S-CSCF."""
    table = DialogTable(OWN)
    table.offered("c1")
    delivered = {}
    for flow, ours in ((FLOW, OURS), (FLOW2, OURS2)):
        copy = request("INVITE", routes=(), to_tag=None).with_header_set("Record-Route", ours, SCSCF)
        table.terminated(flow, copy, ALICE)
        delivered[flow] = copy
    return table, delivered


def test_a_wic_whose_branch_of_a_forked_session_lost_is_in_no_dialog() -> None:
    """5.2.2.5.4 step 5: the WIC on FLOW2 answers 200; the one on FLOW is cancelled (487). What the
    losing WIC then sends "in" the session, along its own copy's route set, is refused; the
    answering WIC's requests are relayed. Before (blind batch 2 review), the losing branch kept its
    dialog until its WebSocket closed."""
    table, delivered = forked_table()
    table.wic_answered(FLOW2, make_response(delivered[FLOW2], 200, to_tag="w2"))
    table.settled([FLOW, FLOW2], "c1", 200)
    table.wic_answered(FLOW, make_response(delivered[FLOW], 487, to_tag="w1"))
    loser = table.authorise_from_wic(request("BYE", routes=(OURS, SCSCF)), FLOW)
    assert isinstance(loser, Refused) and loser.status == 403
    assert isinstance(table.authorise_from_wic(request("BYE", routes=(OURS2, SCSCF)), FLOW2), Authorised)
    assert table.authorise_to_wic(request("BYE", routes=(OURS,)), FLOW) is not None
    assert table.authorise_to_wic(request("BYE", routes=(OURS2,)), FLOW2) is None


def test_a_branch_that_never_answered_is_in_no_dialog_once_another_answered() -> None:
    """A WIC that ignores the CANCEL (sends no final response) does not keep a dialog either."""
    table, delivered = forked_table()
    table.wic_answered(FLOW2, make_response(delivered[FLOW2], 200, to_tag="w2"))
    table.settled([FLOW, FLOW2], "c1", 200)
    assert isinstance(table.authorise_from_wic(request("BYE", routes=(OURS, SCSCF)), FLOW), Refused)


def test_a_2xx_that_crossed_the_cancel_gives_its_wic_the_dialog_back() -> None:
    """RFC 3261 16.7 step 5: a 2xx after the INVITE's final response is forwarded; the caller is in
    a dialog with that WIC too (and will end it), so the WIC's requests in it are its own."""
    table, delivered = forked_table()
    table.wic_answered(FLOW2, make_response(delivered[FLOW2], 200, to_tag="w2"))
    table.settled([FLOW, FLOW2], "c1", 200)
    table.wic_answered(FLOW, make_response(delivered[FLOW], 200, to_tag="w1"))
    assert isinstance(table.authorise_from_wic(request("BYE", routes=(OURS, SCSCF)), FLOW), Authorised)


def test_a_refused_reinvite_leaves_the_dialog_as_it_was() -> None:
    """RFC 3261 14.1: a re-INVITE the WIC refuses (488) changes nothing; the dialog goes on (the
    review of stop 35: the first version of wic_answered ended it)."""
    table, delivered = forked_table()
    table.wic_answered(FLOW2, make_response(delivered[FLOW2], 200, to_tag="w2"))
    table.settled([FLOW, FLOW2], "c1", 200)
    reinvite = request("INVITE", routes=(OURS2,))
    table.wic_answered(FLOW2, make_response(reinvite, 488, to_tag="w2"))
    assert isinstance(table.authorise_from_wic(request("BYE", routes=(OURS2, SCSCF)), FLOW2), Authorised)
    originated = originated_table()
    originated.wic_answered(FLOW, make_response(request("INVITE", routes=(OURS,)), 488, to_tag="t"))
    assert originated.has(FLOW, "c1")


def test_a_forked_invite_forgotten_from_the_pending_table_keeps_every_dialog() -> None:
    """Past MAX_PENDING forked INVITEs the oldest one's answers are forgotten: its 2xx then drops
    nobody's dialog (the answering WIC's least of all), as before this table existed."""
    table, delivered = forked_table()
    table.wic_answered(FLOW2, make_response(delivered[FLOW2], 200, to_tag="w2"))
    for n in range(MAX_PENDING):
        table.offered(f"other-{n}")
    table.settled([FLOW, FLOW2], "c1", 200)
    assert table.has(FLOW, "c1") and table.has(FLOW2, "c1")


def test_no_branch_keeps_a_dialog_when_the_forked_session_failed() -> None:
    table, delivered = forked_table()
    for flow in (FLOW, FLOW2):
        table.wic_answered(flow, make_response(delivered[flow], 486, to_tag="x"))
    table.settled([FLOW, FLOW2], "c1", 486)
    assert len(table) == 0


def test_a_flow_keeps_a_bounded_number_of_dialogs() -> None:
    table = DialogTable(OWN, max_per_flow=3)
    for n in range(10):
        table.originated(FLOW, request("INVITE", routes=(SCSCF,), to_tag=None, call_id=f"c{n}"), ALICE)
    assert len(table) == 3 and table.has(FLOW, "c9") and not table.has(FLOW, "c0")


def test_the_flow_of_a_route_is_read_only_from_this_eps_record_route() -> None:
    table = DialogTable(OWN)
    assert table.flow_of_route(request("BYE", routes=(OURS,))) == FLOW
    assert table.flow_of_route(request("BYE", routes=("<sip:ep-cscf1.7.abc@127.0.0.1:5090;lr>",))) is None
    assert table.flow_of_route(request("BYE", routes=("<sip:term@127.0.0.1:5080;lr>",))) is None
    assert table.flow_of_route(request("BYE", routes=())) is None


def test_a_response_of_the_wic_carries_only_the_identity_the_ep_cscf_asserts() -> None:
    table = DialogTable(OWN)
    delivered = request("INVITE", routes=(), to_tag=None).with_header_set("Record-Route", OURS, SCSCF)
    table.terminated(FLOW, delivered, ALICE)
    ok = make_response(delivered, 200, to_tag="t").with_header("P-Asserted-Identity", "<sip:bob@x>")
    assert table.assert_response(ok, FLOW).get_all("P-Asserted-Identity") == [f"<{ALICE}>"]
    stray = make_response(request("MESSAGE", routes=(), call_id="c7"), 200, to_tag="t")
    claimed = stray.with_header("P-Asserted-Identity", "<sip:bob@x>")
    assert table.assert_response(claimed, FLOW).get_all("P-Asserted-Identity") == []
