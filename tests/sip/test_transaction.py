"""RFC 3261 section 17 transactions (and RFC 6026), driven by a fake clock."""

from __future__ import annotations

import pytest

from reference.sip.errors import TransactionError
from reference.sip.message import Header, Request, Response
from reference.sip.parser import parse_message
from reference.sip.timers import TimerValues
from reference.sip.transaction import (
    TRANSITION_TABLES,
    AckReceived,
    ClientKey,
    ClientTransaction,
    Input,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    RequestReceived,
    ResponseReceived,
    Rfc2543Key,
    ServerKey,
    ServerTransaction,
    State,
    Terminated,
    TimedOut,
    TransactionEvent,
    TransactionLayer,
    TransportFailed,
    client_key,
    make_response,
    server_key,
    server_key_for_cancel_target,
)

BRANCH = "z9hG4bKkjshdyff"


def request(
    method: str = "INVITE",
    *,
    branch: str = BRANCH,
    transport: str = "UDP",
    extra: str = "",
    to_tag: str | None = None,
    uri: str = "sip:bob@biloxi.com",
) -> Request:
    cseq_method = "INVITE" if method == "ACK" else method
    to = "Bob <sip:bob@biloxi.com>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} pc33.atlanta.com;branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        f"To: {to}\r\n"
        "From: Alice <sip:alice@atlanta.com>;tag=88sja8x\r\n"
        "Call-ID: 987asjd97y7atg\r\n"
        f"CSeq: 986759 {'ACK' if method == 'ACK' else cseq_method}\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


def reply(req: Request, status: int, to_tag: str = "99sa0xk") -> Response:
    return make_response(req, status, to_tag=to_tag)


def events(tx: ClientTransaction | ServerTransaction) -> list[TransactionEvent]:
    found = []
    while (event := tx.next_event()) is not None:
        found.append(event)
    return found


def retransmission_times(tx: ClientTransaction | ServerTransaction, until: float) -> list[float]:
    """Step the fake clock from timer to timer; the times at which a message went out."""
    times: list[float] = []
    while (deadline := tx.get_timer()) is not None and deadline <= until:
        tx.handle_timer(deadline)
        times.extend(deadline for _ in tx.messages_to_send())
    return times


# ----- INVITE client transaction (17.1.1) ----------------------------------------------


def test_invite_client_sends_the_request_at_once_and_arms_timers_a_and_b() -> None:
    invite = request()
    tx = ClientTransaction(invite, reliable=False, now=100.0)
    assert isinstance(tx, InviteClientTransaction)
    assert tx.state is State.CALLING
    assert tx.messages_to_send() == [invite]
    assert tx.get_timer() == 100.5  # Timer A = T1
    assert tx.key == ClientKey(BRANCH, "INVITE")


def test_invite_client_retransmits_on_timer_a_over_udp() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    tx.messages_to_send()
    # intervals double after each transmission: 0.5, 1, 2, 4, 8, 16
    assert retransmission_times(tx, until=31.9) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert tx.state is State.CALLING
    assert events(tx) == []


def test_invite_client_times_out_on_timer_b_over_udp() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    tx.messages_to_send()
    tx.handle_timer(32.0)  # a late call replays the retransmissions that were due
    assert len(tx.messages_to_send()) == 6  # 7 requests in all, and no ACK
    assert events(tx) == [TimedOut("B"), Terminated()]
    assert tx.state is State.TERMINATED
    assert tx.get_timer() is None


def test_invite_client_does_not_retransmit_over_reliable_transport() -> None:
    tx = ClientTransaction(request(transport="TCP"), reliable=True, now=0.0)
    tx.messages_to_send()
    assert tx.get_timer() == 32.0  # only Timer B
    tx.handle_timer(31.9)
    assert tx.messages_to_send() == []
    tx.handle_timer(32.0)
    assert events(tx) == [TimedOut("B"), Terminated()]


def test_invite_client_provisional_stops_retransmissions_and_timer_b() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    ringing = reply(tx.request, 180)
    tx.receive_response(ringing, 0.2)
    assert tx.state is State.PROCEEDING
    assert events(tx) == [ResponseReceived(ringing)]
    assert tx.get_timer() is None
    tx.receive_response(ringing, 0.3)  # further provisionals are passed up too
    assert events(tx) == [ResponseReceived(ringing)]


def test_invite_client_acks_a_non_2xx_final_response_per_17_1_1_3() -> None:
    invite = request(extra="Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n")
    tx = ClientTransaction(invite, reliable=False, now=0.0)
    tx.messages_to_send()
    busy = reply(invite, 486)
    tx.receive_response(busy, 1.0)
    assert tx.state is State.COMPLETED
    assert events(tx) == [ResponseReceived(busy)]
    [ack] = tx.messages_to_send()
    assert ack.method == "ACK"
    assert ack.uri == invite.uri
    assert ack.get_all("Via") == invite.get_all("Via")[:1]
    assert ack.branch == BRANCH
    assert ack.to.tag == "99sa0xk" and ack.get("To") == busy.get("To")
    assert ack.get("From") == invite.get("From")
    assert ack.call_id == invite.call_id
    assert (ack.cseq.number, ack.cseq.method) == (986759, "ACK")
    assert ack.get_all("Route") == invite.get_all("Route")
    assert ack.get("Max-Forwards") == "70"
    assert ack.body == b""
    assert tx.get_timer() == 33.0  # Timer D: 32 s on UDP


def test_invite_client_completed_absorbs_retransmitted_final_and_resends_ack() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    busy = reply(tx.request, 486)
    tx.receive_response(busy, 1.0)
    events(tx)
    [ack] = tx.messages_to_send()[1:]
    tx.receive_response(busy, 2.0)
    assert tx.messages_to_send() == [ack]
    assert events(tx) == []  # "MUST NOT be passed up to the TU"
    tx.receive_response(reply(tx.request, 180), 2.5)  # a stray 1xx is ignored
    assert events(tx) == [] and tx.state is State.COMPLETED


def test_invite_client_timer_d_terminates_after_32_seconds_over_udp() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    tx.receive_response(reply(tx.request, 404), 1.0)
    events(tx)
    tx.handle_timer(32.9)
    assert tx.state is State.COMPLETED
    tx.handle_timer(33.0)
    assert events(tx) == [Terminated()]


def test_invite_client_timer_d_is_zero_over_reliable_transport() -> None:
    tx = ClientTransaction(request(transport="TCP"), reliable=True, now=0.0)
    busy = reply(tx.request, 603)
    tx.receive_response(busy, 1.0)
    assert events(tx) == [ResponseReceived(busy), Terminated()]
    assert [m.method for m in tx.messages_to_send()] == ["INVITE", "ACK"]  # ACK even so


def test_invite_client_2xx_terminates_and_leaves_the_ack_to_the_tu() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    tx.messages_to_send()
    ok = reply(tx.request, 200)
    tx.receive_response(ok, 1.0)
    assert events(tx) == [ResponseReceived(ok), Terminated()]
    assert tx.messages_to_send() == []
    assert tx.get_timer() is None
    with pytest.raises(TransactionError):  # destroyed: a retransmission goes to the core
        tx.receive_response(ok, 1.1)


def test_invite_client_rfc6026_accepted_passes_every_2xx_up_until_timer_m() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0, rfc6026=True)
    ok1, ok2 = reply(tx.request, 200, "a"), reply(tx.request, 200, "b")
    tx.receive_response(ok1, 1.0)
    assert tx.state is State.ACCEPTED
    tx.receive_response(ok2, 1.5)
    assert events(tx) == [ResponseReceived(ok1), ResponseReceived(ok2)]
    assert tx.messages_to_send() == [tx.request]  # no ACK for a 2xx
    assert tx.get_timer() == 33.0  # Timer M = 64*T1
    tx.handle_timer(33.0)
    assert events(tx) == [Terminated()]


def test_invite_client_transport_failure_informs_tu_and_terminates() -> None:
    tx = ClientTransaction(request(), reliable=True, now=0.0)
    tx.transport_failed(0.0)
    assert events(tx) == [TransportFailed(), Terminated()]
    assert tx.get_timer() is None


# ----- non-INVITE client transaction (17.1.2) ------------------------------------------


def test_non_invite_client_timer_e_doubles_and_caps_at_t2() -> None:
    tx = ClientTransaction(request("OPTIONS"), reliable=False, now=0.0)
    assert isinstance(tx, NonInviteClientTransaction)
    assert tx.state is State.TRYING
    tx.messages_to_send()
    # "intervals of 500 ms, 1 s, 2 s, 4 s, 4 s, 4 s, etc." RFC 3261 17.1.2.2
    assert retransmission_times(tx, until=20.0) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5]


def test_non_invite_client_timer_e_is_reset_to_t2_in_proceeding() -> None:
    tx = ClientTransaction(request("REGISTER"), reliable=False, now=0.0)
    tx.messages_to_send()
    tx.handle_timer(0.5)  # first retransmission; next interval would be 1 s
    tx.messages_to_send()
    tx.receive_response(reply(tx.request, 100), 0.7)
    assert tx.state is State.PROCEEDING
    assert retransmission_times(tx, until=10.0) == [1.5, 5.5, 9.5]


def test_non_invite_client_times_out_on_timer_f() -> None:
    tx = ClientTransaction(request("MESSAGE"), reliable=False, now=10.0)
    tx.handle_timer(41.9)
    assert events(tx) == []
    tx.handle_timer(42.0)
    assert events(tx) == [TimedOut("F"), Terminated()]


def test_non_invite_client_reliable_only_arms_timer_f() -> None:
    tx = ClientTransaction(request("BYE", transport="TCP"), reliable=True, now=0.0)
    assert tx.get_timer() == 32.0
    tx.handle_timer(31.0)
    assert tx.messages_to_send() == [tx.request]


def test_non_invite_client_final_response_then_timer_k_over_udp() -> None:
    tx = ClientTransaction(request("REGISTER"), reliable=False, now=0.0)
    ok = reply(tx.request, 200)
    tx.receive_response(ok, 1.0)
    assert tx.state is State.COMPLETED
    assert events(tx) == [ResponseReceived(ok)]
    tx.receive_response(ok, 2.0)  # retransmission absorbed
    assert events(tx) == []
    assert tx.get_timer() == 6.0  # Timer K = T4
    tx.handle_timer(6.0)
    assert events(tx) == [Terminated()]
    assert tx.messages_to_send() == [tx.request]  # no retransmission after the final


def test_non_invite_client_timer_k_is_zero_over_reliable_transport() -> None:
    tx = ClientTransaction(request("REGISTER", transport="WSS"), reliable=True, now=0.0)
    unauthorized = reply(tx.request, 401)
    tx.receive_response(unauthorized, 0.1)
    assert events(tx) == [ResponseReceived(unauthorized), Terminated()]


# ----- client transaction checks --------------------------------------------------------


def test_client_transaction_pushes_a_via_with_a_branch_from_the_factory() -> None:
    bare = request().without_header("Via")
    tx = ClientTransaction(
        bare, reliable=True, now=0.0, via="SIP/2.0/WSS df7jal23ls0d.invalid",
        branch_factory=lambda: "z9hG4bKfixed",
    )  # fmt: skip
    assert tx.request.get("Via") == "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKfixed"
    assert tx.key == ClientKey("z9hG4bKfixed", "INVITE")


def test_client_transaction_requires_the_magic_cookie_and_refuses_ack() -> None:
    with pytest.raises(TransactionError):
        ClientTransaction(request(branch="1234"), reliable=True, now=0.0)
    with pytest.raises(TransactionError):
        ClientTransaction(request("ACK", to_tag="x"), reliable=True, now=0.0)


def test_client_transaction_rejects_a_response_of_another_transaction() -> None:
    tx = InviteClientTransaction(request(), reliable=True, now=0.0)
    with pytest.raises(TransactionError):
        tx.receive_response(reply(request(branch="z9hG4bKother"), 200), 0.1)
    with pytest.raises(TransactionError):  # same branch, but the CANCEL's transaction
        tx.receive_response(reply(tx.cancel_request(), 200), 0.1)


def test_cancel_request_is_built_per_9_1() -> None:
    invite = request(
        extra="Route: <sip:p1.example.com;lr>\r\nRequire: 100rel\r\n"
        "Proxy-Require: foo\r\nContent-Type: application/sdp\r\n"
    )
    tx = InviteClientTransaction(invite, reliable=False, now=0.0)
    cancel = tx.cancel_request()
    assert cancel.method == "CANCEL" and cancel.uri == invite.uri
    assert cancel.get_all("Via") == invite.get_all("Via")[:1]
    assert cancel.branch == invite.branch
    for name in ("To", "From", "Call-ID"):
        assert cancel.get(name) == invite.get(name)
    assert (cancel.cseq.number, cancel.cseq.method) == (invite.cseq.number, "CANCEL")
    assert cancel.get_all("Route") == ["<sip:p1.example.com;lr>"]
    assert cancel.get("Max-Forwards") == "70"
    assert not cancel.has("Require") and not cancel.has("Proxy-Require")
    assert cancel.body == b"" and cancel.get("Content-Length") == "0"
    assert client_key(cancel) == ClientKey(BRANCH, "CANCEL") != tx.key


def test_a_cancel_may_only_be_sent_once_a_provisional_arrived() -> None:
    tx = ClientTransaction(request(), reliable=False, now=0.0)
    assert isinstance(tx, InviteClientTransaction)
    assert not tx.may_cancel  # "MUST NOT be sent" before a provisional response
    tx.receive_response(reply(tx.request, 180), 0.1)
    assert tx.may_cancel
    tx.receive_response(reply(tx.request, 487), 0.2)
    assert not tx.may_cancel


# ----- INVITE server transaction (17.2.1) ----------------------------------------------


def test_invite_server_passes_the_request_up_and_sends_100_trying_at_once() -> None:
    invite = request(extra="Timestamp: 54\r\n")
    tx = ServerTransaction(invite, reliable=False, now=0.0)
    assert isinstance(tx, InviteServerTransaction)
    assert tx.state is State.PROCEEDING
    assert events(tx) == [RequestReceived(invite)]
    [trying] = tx.messages_to_send()
    assert trying.status == 100 and trying.to.tag is None
    assert trying.get("Timestamp") == "54"
    assert tx.get_timer() is None


def test_invite_server_without_auto_100_sends_nothing_until_the_tu_answers() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0, auto_100=False)
    assert tx.messages_to_send() == []
    tx.receive_request(tx.request, 0.5)
    assert tx.messages_to_send() == []


def test_invite_server_resends_the_last_provisional_on_a_retransmitted_invite() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    ringing = reply(tx.request, 180)
    tx.send_response(ringing, 0.1)
    tx.messages_to_send()
    tx.receive_request(tx.request, 0.5)
    assert tx.messages_to_send() == [ringing]
    assert events(tx) == [RequestReceived(tx.request)]  # the retransmission is not


def test_invite_server_retransmits_a_final_response_on_timer_g_over_udp() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    busy = reply(tx.request, 486)
    tx.send_response(busy, 0.0)
    assert tx.state is State.COMPLETED
    assert tx.messages_to_send()[-1] == busy
    # G: T1, then MIN(2*T1, T2) ... capped at T2
    assert retransmission_times(tx, until=16.0) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]


def test_invite_server_times_out_on_timer_h_when_no_ack_arrives() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    events(tx)
    tx.send_response(reply(tx.request, 486), 0.0)
    tx.handle_timer(31.9)
    assert tx.state is State.COMPLETED
    tx.handle_timer(32.0)
    assert events(tx) == [TimedOut("H"), Terminated()]


def test_invite_server_ack_confirms_then_timer_i_terminates() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    events(tx)
    busy = reply(tx.request, 486)
    tx.send_response(busy, 0.0)
    tx.messages_to_send()
    ack = request("ACK", to_tag="99sa0xk")
    tx.receive_request(ack, 0.7)
    assert tx.state is State.CONFIRMED
    assert events(tx) == [AckReceived(ack)]
    assert tx.get_timer() == 5.7  # Timer I = T4; Timer G no longer runs
    tx.receive_request(ack, 1.0)  # absorbed
    tx.receive_request(tx.request, 1.1)  # absorbed
    assert tx.messages_to_send() == [] and events(tx) == []
    tx.handle_timer(5.7)
    assert events(tx) == [Terminated()]


def test_invite_server_over_reliable_transport_has_no_timer_g_and_zero_timer_i() -> None:
    tx = ServerTransaction(request(transport="TCP"), reliable=True, now=0.0)
    events(tx)
    tx.send_response(reply(tx.request, 480), 0.0)
    assert tx.get_timer() == 32.0  # only Timer H
    ack = request("ACK", transport="TCP", to_tag="99sa0xk")
    tx.receive_request(ack, 0.1)
    assert events(tx) == [AckReceived(ack), Terminated()]


def test_invite_server_completed_resends_the_final_on_a_retransmitted_invite() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    busy = reply(tx.request, 486)
    tx.send_response(busy, 0.0)
    tx.messages_to_send()
    tx.receive_request(tx.request, 0.2)
    assert tx.messages_to_send() == [busy]


def test_invite_server_2xx_is_sent_once_and_terminates() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    events(tx)
    ok = reply(tx.request, 200)
    tx.send_response(ok, 0.0)
    assert tx.messages_to_send()[-1] == ok
    assert events(tx) == [Terminated()]
    assert tx.get_timer() is None


def test_invite_server_rfc6026_accepted_absorbs_invites_and_passes_acks_up() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0, rfc6026=True)
    events(tx)
    ok = reply(tx.request, 200)
    tx.send_response(ok, 0.0)
    assert tx.state is State.ACCEPTED
    tx.messages_to_send()
    tx.receive_request(tx.request, 0.5)  # absorbed, no 2xx retransmission of its own
    assert tx.messages_to_send() == []
    tx.send_response(ok, 0.6)  # a 2xx retransmission from the TU is sent
    assert tx.messages_to_send() == [ok]
    ack = request("ACK", to_tag="99sa0xk")
    tx.receive_request(ack, 0.7)
    assert events(tx) == [AckReceived(ack)]
    assert tx.get_timer() == 32.0  # Timer L = 64*T1
    tx.handle_timer(32.0)
    assert events(tx) == [Terminated()]


def test_invite_server_refuses_a_second_final_response() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    tx.send_response(reply(tx.request, 486), 0.0)
    with pytest.raises(TransactionError):
        tx.send_response(reply(tx.request, 200), 0.1)
    with pytest.raises(TransactionError):
        tx.send_response(reply(tx.request, 180), 0.1)


def test_server_transaction_refuses_a_response_to_another_request() -> None:
    tx = ServerTransaction(request(), reliable=False, now=0.0)
    with pytest.raises(TransactionError):
        tx.send_response(reply(request("BYE"), 200), 0.0)
    with pytest.raises(TransactionError):
        tx.receive_request(request(branch="z9hG4bKother"), 0.0)


def test_server_transaction_refuses_input_after_terminated() -> None:
    tx = ServerTransaction(request("OPTIONS", transport="TCP"), reliable=True, now=0.0)
    tx.send_response(reply(tx.request, 200), 0.0)
    assert tx.terminated
    with pytest.raises(TransactionError):
        tx.receive_request(tx.request, 0.1)


def test_server_transport_failure_informs_tu_and_terminates() -> None:
    tx = ServerTransaction(request(), reliable=True, now=0.0)
    events(tx)
    tx.send_response(reply(tx.request, 500), 0.0)
    tx.transport_failed(0.1)
    assert events(tx) == [TransportFailed(), Terminated()]


# ----- non-INVITE server transaction (17.2.2) ------------------------------------------


def test_non_invite_server_discards_retransmissions_in_trying() -> None:
    tx = ServerTransaction(request("REGISTER"), reliable=False, now=0.0)
    assert isinstance(tx, NonInviteServerTransaction)
    assert tx.state is State.TRYING
    assert tx.messages_to_send() == []  # no 100 Trying for a non-INVITE
    tx.receive_request(tx.request, 0.5)
    assert tx.messages_to_send() == [] and tx.state is State.TRYING


def test_non_invite_server_resends_the_provisional_in_proceeding() -> None:
    tx = ServerTransaction(request("REGISTER"), reliable=False, now=0.0)
    trying = reply(tx.request, 100)
    tx.send_response(trying, 0.1)
    assert tx.state is State.PROCEEDING
    tx.messages_to_send()
    tx.receive_request(tx.request, 0.5)
    assert tx.messages_to_send() == [trying]


def test_non_invite_server_resends_the_final_then_terminates_on_timer_j() -> None:
    tx = ServerTransaction(request("REGISTER"), reliable=False, now=0.0)
    events(tx)
    ok = reply(tx.request, 200)
    tx.send_response(ok, 0.0)
    assert tx.state is State.COMPLETED
    tx.messages_to_send()
    tx.receive_request(tx.request, 1.0)
    assert tx.messages_to_send() == [ok]
    assert tx.get_timer() == 32.0  # Timer J = 64*T1 on UDP
    with pytest.raises(TransactionError):  # "Any other final responses ... discarded"
        tx.send_response(reply(tx.request, 500), 2.0)
    tx.handle_timer(32.0)
    assert events(tx) == [Terminated()]


def test_non_invite_server_timer_j_is_zero_over_reliable_transport() -> None:
    tx = ServerTransaction(request("REGISTER", transport="WSS"), reliable=True, now=0.0)
    events(tx)
    tx.send_response(reply(tx.request, 200), 0.0)
    assert events(tx) == [Terminated()]


# ----- matching (17.1.3, 17.2.3, 9.2) --------------------------------------------------


def test_client_key_is_branch_and_cseq_method() -> None:
    response = reply(request(), 180)
    assert client_key(response) == ClientKey(BRANCH, "INVITE")
    assert client_key(reply(request("CANCEL"), 200)) == ClientKey(BRANCH, "CANCEL")


def test_server_key_matches_retransmission_and_ack_but_not_cancel() -> None:
    key = server_key(request())
    assert key == ServerKey(BRANCH, "pc33.atlanta.com", "INVITE")
    assert server_key(request()) == key
    assert server_key(request("ACK", to_tag="x")) == key
    assert server_key(request("CANCEL")) != key
    assert server_key(request("CANCEL")).method == "CANCEL"  # its own transaction


def test_server_key_includes_the_sent_by() -> None:
    other = request().with_header_set("Via", f"SIP/2.0/UDP evil.example.com;branch={BRANCH}")
    assert server_key(other) != server_key(request())


def test_cancel_target_key_is_the_key_of_the_invite() -> None:
    assert server_key_for_cancel_target(request("CANCEL")) == server_key(request())
    with pytest.raises(TransactionError):
        server_key_for_cancel_target(request())


def test_rfc2543_requests_match_without_the_magic_cookie() -> None:
    invite = request(branch="abc123")
    key = server_key(invite)
    assert isinstance(key, Rfc2543Key)
    assert server_key(request(branch="abc123")) == key
    assert server_key(request(branch="abc123", uri="sip:carol@biloxi.com")) != key
    tx = ServerTransaction(invite, reliable=False, now=0.0)
    # "the To tag of the ACK matches the To tag of the response sent by the server
    # transaction"
    assert not tx.matches(request("ACK", branch="abc123", to_tag="99sa0xk"))
    tx.send_response(reply(invite, 486), 0.0)
    assert tx.matches(request("ACK", branch="abc123", to_tag="99sa0xk"))
    assert not tx.matches(request("ACK", branch="abc123", to_tag="other"))
    assert not tx.matches(request(branch="abc123", to_tag="other"))


# ----- make_response (8.2.6) -----------------------------------------------------------


def test_make_response_copies_vias_from_call_id_and_cseq_in_order() -> None:
    invite = request().with_header("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")
    invite = invite.with_header("Via", "SIP/2.0/TCP edge.example.com;branch=z9hG4bKe", first=True)
    response = make_response(invite, 486, to_tag="t1")
    assert response.get_all("Via") == invite.get_all("Via")
    for name in ("From", "Call-ID", "CSeq"):
        assert response.get(name) == invite.get(name)
    assert response.to.uri == invite.to.uri and response.to.tag == "t1"
    assert response.reason == "Busy Here"
    assert response.get("Content-Length") == "0" and response.body == b""


def test_make_response_adds_a_to_tag_except_to_100_and_keeps_an_existing_one() -> None:
    assert make_response(request(), 100, to_tag="t1").to.tag is None
    assert make_response(request(), 180, to_tag="t1").to.tag == "t1"
    assert make_response(request(), 200).to.tag is None  # no tag given
    in_dialog = request("BYE", to_tag="existing")
    assert make_response(in_dialog, 200, to_tag="t1").to.tag == "existing"


def test_make_response_reason_phrases_and_extra_headers() -> None:
    assert make_response(request(), 430).reason == "Flow Failed"
    assert make_response(request(), 487).reason == "Request Terminated"
    assert make_response(request(), 499).reason == "Request Failure"
    assert make_response(request(), 200, "Fine").reason == "Fine"
    response = make_response(request(), 401, headers=[Header("WWW-Authenticate", "Bearer")])
    assert response.get("WWW-Authenticate") == "Bearer"
    assert response.headers[-1] == Header("Content-Length", "0")
    with pytest.raises(ValueError):
        make_response(request(), 700)


# ----- transition tables -----------------------------------------------------------------


def test_transition_tables_are_data_that_reach_terminated() -> None:
    for name, table in TRANSITION_TABLES.items():
        assert table, name
        states = {s for s, _ in table} | set(table.values())
        assert State.TERMINATED in states, name
        assert all(isinstance(i, Input) for _, i in table), name
        # every non-terminal state has a way out to Terminated
        for state in states - {State.TERMINATED}:
            assert any(s is state and n is not state for (s, _), n in table.items()), name


# ----- transaction layer -------------------------------------------------------------------


def test_layer_routes_responses_and_drops_terminated_transactions() -> None:
    layer = TransactionLayer()
    tx = layer.send_request(request("OPTIONS", transport="TCP"), reliable=True, now=0.0)
    assert layer.messages_to_send() == [(tx, tx.request)]
    ok = reply(tx.request, 200)
    assert layer.receive_response(ok, 0.1) is tx
    found = [layer.next_event(), layer.next_event(), layer.next_event()]
    assert [(e.transaction, e.event) for e in found if e] == [
        (tx, ResponseReceived(ok)),
        (tx, Terminated()),
    ]
    assert layer.clients == {}
    # a late retransmission matches nothing and goes to the core
    assert layer.receive_response(ok, 0.2) is None
    late = layer.next_event()
    assert late is not None and late.transaction is None and late.event == ResponseReceived(ok)


def test_layer_absorbs_a_retransmitted_request_and_passes_a_2xx_ack_to_the_core() -> None:
    layer = TransactionLayer()
    invite = request()
    tx = layer.receive_request(invite, reliable=False, now=0.0)
    assert isinstance(tx, InviteServerTransaction)
    assert layer.receive_request(invite, reliable=False, now=0.5) is tx
    sent = [m for _, m in layer.messages_to_send()]
    assert [m.status for m in sent if isinstance(m, Response)] == [100, 100]
    ok = reply(invite, 200)
    layer.send_response(tx, ok, 1.0)
    ack = request("ACK", branch="z9hG4bKnew", to_tag="99sa0xk")
    assert layer.receive_request(ack, reliable=False, now=1.1) is None
    got = []
    while (item := layer.next_event()) is not None:
        got.append((item.transaction, item.event))
    assert got == [(tx, RequestReceived(invite)), (tx, Terminated()), (None, RequestReceived(ack))]


def test_layer_finds_the_transaction_a_cancel_targets() -> None:
    layer = TransactionLayer()
    tx = layer.receive_request(request(), reliable=False, now=0.0)
    cancel_tx = layer.receive_request(request("CANCEL"), reliable=False, now=1.0)
    assert isinstance(cancel_tx, NonInviteServerTransaction) and cancel_tx is not tx
    assert layer.cancel_target(request("CANCEL")) is tx


def test_layer_exposes_the_earliest_timer_across_transactions() -> None:
    layer = TransactionLayer()
    layer.receive_request(request("REGISTER", branch="z9hG4bK1"), reliable=False, now=0.0)
    client = layer.send_request(request(branch="z9hG4bK2"), reliable=False, now=3.0)
    assert layer.get_timer() == 3.5  # the client's Timer A
    layer.handle_timer(3.5)
    assert layer.messages_to_send() == [(client, client.request), (client, client.request)]
    layer.handle_timer(40.0)
    kinds = []
    while (item := layer.next_event()) is not None:
        kinds.append((item.transaction is client, type(item.event)))
    assert (True, TimedOut) in kinds and (True, Terminated) in kinds
    assert layer.clients == {}


def test_client_and_server_complete_an_invite_rejection_over_lossy_udp() -> None:
    """A ConnectionPair in the h11 manner: two sans-I/O ends joined in memory."""
    client = ClientTransaction(request(), reliable=False, now=0.0, timers=TimerValues())
    sent = client.messages_to_send()
    # the first INVITE is lost; Timer A brings a retransmission
    client.handle_timer(0.5)
    [invite] = client.messages_to_send()
    server = ServerTransaction(invite, reliable=False, now=0.6)
    [trying] = server.messages_to_send()
    client.receive_response(trying, 0.7)
    server.send_response(reply(invite, 486), 1.0)
    [busy] = server.messages_to_send()
    client.receive_response(busy, 1.1)
    [ack] = client.messages_to_send()
    server.receive_request(ack, 1.2)
    assert (client.state, server.state) == (State.COMPLETED, State.CONFIRMED)
    assert sent == [invite]
    server.handle_timer(6.2)
    client.handle_timer(33.1)
    assert client.terminated and server.terminated
