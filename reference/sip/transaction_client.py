"""Client transactions: INVITE (RFC 3261 17.1.1) and non-INVITE (17.1.2).

``ClientTransaction(request, reliable=..., now=...)`` returns the right one of the two
for the request's method. The request is queued for sending at once; the TU drains
:meth:`~ClientTransaction.messages_to_send` after every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..spec import clause
from .errors import TransactionError
from .message import Header, Request, Response
from .timers import TimerValues
from .transaction_base import (
    MAGIC_COOKIE,
    ClientKey,
    Input,
    Machine,
    ResponseReceived,
    State,
    TimedOut,
    Transitions,
    TransportFailed,
    client_key,
    new_branch,
    response_input,
    via_branch,
)

__all__ = [
    "INVITE_CLIENT_TRANSITIONS",
    "INVITE_CLIENT_TRANSITIONS_RFC6026",
    "NON_INVITE_CLIENT_TRANSITIONS",
    "ClientTransaction",
    "InviteClientTransaction",
    "NonInviteClientTransaction",
]

_CALLING, _TRYING, _PROCEEDING = State.CALLING, State.TRYING, State.PROCEEDING
_COMPLETED, _ACCEPTED, _TERMINATED = State.COMPLETED, State.ACCEPTED, State.TERMINATED

INVITE_CLIENT_TRANSITIONS: Final[Transitions] = {
    # RFC 3261 17.1.1.2, figure 5
    (_CALLING, Input.TIMER_A): _CALLING,
    (_CALLING, Input.TIMER_B): _TERMINATED,
    (_CALLING, Input.PROVISIONAL): _PROCEEDING,
    (_CALLING, Input.SUCCESS): _TERMINATED,
    (_CALLING, Input.FAILURE): _COMPLETED,
    (_CALLING, Input.TRANSPORT_ERROR): _TERMINATED,
    (_PROCEEDING, Input.PROVISIONAL): _PROCEEDING,
    (_PROCEEDING, Input.SUCCESS): _TERMINATED,
    (_PROCEEDING, Input.FAILURE): _COMPLETED,
    (_PROCEEDING, Input.TRANSPORT_ERROR): _TERMINATED,
    (_COMPLETED, Input.FAILURE): _COMPLETED,
    (_COMPLETED, Input.TIMER_D): _TERMINATED,
    (_COMPLETED, Input.TRANSPORT_ERROR): _TERMINATED,
}

INVITE_CLIENT_TRANSITIONS_RFC6026: Final[Transitions] = {
    # RFC 6026 section 7.2, figure 5 as updated: a 2xx leads to "Accepted"
    **INVITE_CLIENT_TRANSITIONS,
    (_CALLING, Input.SUCCESS): _ACCEPTED,
    (_PROCEEDING, Input.SUCCESS): _ACCEPTED,
    (_ACCEPTED, Input.SUCCESS): _ACCEPTED,
    (_ACCEPTED, Input.TIMER_M): _TERMINATED,
    (_ACCEPTED, Input.TRANSPORT_ERROR): _TERMINATED,
}

NON_INVITE_CLIENT_TRANSITIONS: Final[Transitions] = {
    # RFC 3261 17.1.2.2, figure 6
    (_TRYING, Input.TIMER_E): _TRYING,
    (_TRYING, Input.TIMER_F): _TERMINATED,
    (_TRYING, Input.PROVISIONAL): _PROCEEDING,
    (_TRYING, Input.SUCCESS): _COMPLETED,
    (_TRYING, Input.FAILURE): _COMPLETED,
    (_TRYING, Input.TRANSPORT_ERROR): _TERMINATED,
    (_PROCEEDING, Input.TIMER_E): _PROCEEDING,
    (_PROCEEDING, Input.TIMER_F): _TERMINATED,
    (_PROCEEDING, Input.PROVISIONAL): _PROCEEDING,
    (_PROCEEDING, Input.SUCCESS): _COMPLETED,
    (_PROCEEDING, Input.FAILURE): _COMPLETED,
    (_PROCEEDING, Input.TRANSPORT_ERROR): _TERMINATED,
    (_COMPLETED, Input.SUCCESS): _COMPLETED,
    (_COMPLETED, Input.FAILURE): _COMPLETED,
    (_COMPLETED, Input.TIMER_K): _TERMINATED,
    (_COMPLETED, Input.TRANSPORT_ERROR): _TERMINATED,
}

_RESPONSES: Final = frozenset({Input.PROVISIONAL, Input.SUCCESS, Input.FAILURE})


class ClientTransaction(Machine[Request]):
    """A client transaction; calling this class builds the INVITE or non-INVITE one.

    Args:
        request: the request to send. It must carry a top Via whose branch has the
            magic cookie, unless ``via`` is given.
        reliable: the transport is TCP, TLS, SCTP or WebSocket (no retransmissions).
        now: the current time, in seconds.
        timers: T1, T2, T4 (``reliable`` is taken from the argument above).
        via: ``sent-protocol sent-by`` (``"SIP/2.0/WSS abc.invalid"``): push a Via with a
            fresh branch from ``branch_factory`` on top of the request, as SIP.js does.
        branch_factory: source of branch values (random by default; fixed in tests).
        rfc6026: INVITE only: a 2xx leads to "Accepted" (Timer M) instead of
            "Terminated", so later 2xx on the same branch still reach the TU.
    """

    remote_inputs = _RESPONSES

    def __new__(cls, request: Request, **_: object) -> ClientTransaction:
        if cls is ClientTransaction:
            cls = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        return super().__new__(cls)

    def __init__(
        self,
        request: Request,
        *,
        reliable: bool,
        now: float,
        timers: TimerValues = TimerValues(),  # noqa: B008 - frozen, so shared safely
        via: str | None = None,
        branch_factory: Callable[[], str] = new_branch,
        rfc6026: bool = False,
    ) -> None:
        if request.method == "ACK":
            # "The ACK request ... is not a transaction" for 2xx; for non-2xx it belongs
            # to the INVITE transaction (17.1.1.3).
            raise TransactionError("an ACK never creates a client transaction")
        if via is not None:
            request = request.with_header("Via", f"{via};branch={branch_factory()}", first=True)
        branch = via_branch(request.top_via)
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            # "The branch ID inserted by an element compliant with this specification
            # MUST always begin with the characters "z9hG4bK"." RFC 3261 8.1.1.7
            raise TransactionError(f"client request branch {branch!r} lacks {MAGIC_COOKIE}")
        self.request = request
        "The request as passed to the transport (the original request of 17.1.1.3)."
        self.reliable = reliable
        self.timers = timers.on(reliable=reliable)
        self.rfc6026 = rfc6026
        self._interval = 0.0
        self.last_response: Response | None = None
        "The last response passed up to the TU."
        super().__init__(*self._initial_state())
        self._begin(now)

    def _initial_state(self) -> tuple[State, Transitions]:
        raise NotImplementedError

    def _begin(self, now: float) -> None:
        raise NotImplementedError

    @property
    def key(self) -> ClientKey:
        """(branch, method): how responses are matched to this transaction (17.1.3)."""
        return client_key(self.request)

    def matches(self, response: Response) -> bool:
        """True if ``response`` belongs to this transaction (17.1.3)."""
        return client_key(response) == self.key

    # ----- inputs -----------------------------------------------------------------------

    def receive_response(self, response: Response, now: float) -> None:
        """A response matched to this transaction by the transport (17.1.3).

        Raises:
            TransactionError: the response is not for this transaction, or the
                transaction has terminated.
        """
        if not self.matches(response):
            raise TransactionError(f"response {response.summary()} is not for {self.key}")
        self._drive(response_input(response.status), now, response)

    def transport_failed(self, now: float) -> None:
        """The transport could not send the request (or ACK).

        "The client transaction SHOULD inform the TU that a transport failure has
        occurred, and the client transaction SHOULD transition directly to the
        "Terminated" state." RFC 3261 17.1.4
        """
        self._drive(Input.TRANSPORT_ERROR, now, None)

    def _pass_up(self, response: Response) -> None:
        self.last_response = response
        self._events.append(ResponseReceived(response))


class InviteClientTransaction(ClientTransaction):
    """RFC 3261 17.1.1: Calling, Proceeding, Completed, Terminated (Accepted, RFC 6026)."""

    def _initial_state(self) -> tuple[State, Transitions]:
        table = INVITE_CLIENT_TRANSITIONS_RFC6026 if self.rfc6026 else INVITE_CLIENT_TRANSITIONS
        return _CALLING, table

    @clause("RFC 3261 17.1.1.2")
    def _begin(self, now: float) -> None:
        # "The client transaction MUST pass the request to the transport layer for
        # transmission (see Section 18). If an unreliable transport is being used, the
        # client transaction MUST start timer A with a value of T1. If a reliable
        # transport is being used, the client transaction SHOULD NOT start timer A ...
        # For any transport, the client transaction MUST start timer B with a value of
        # 64*T1 seconds" RFC 3261 17.1.1.2
        self._send(self.request)
        self._interval = self.timers.timer_a or 0.0
        self._start(Input.TIMER_A, self.timers.timer_a, now)
        self._start(Input.TIMER_B, self.timers.timer_b, now)

    @clause("RFC 3261 17.1.1.2")
    def _act(self, inp: Input, old: State, message: Request | Response | None, now: float) -> None:
        if inp is Input.TIMER_A:
            # "When timer A fires, the client transaction MUST retransmit the request by
            # passing it to the transport layer, and MUST reset the timer with a value of
            # 2*T1." ... "the request is retransmitted with intervals that double after
            # each transmission." RFC 3261 17.1.1.2
            self._send(self.request)
            self._interval = self.timers.doubled(self._interval)
            self._start(Input.TIMER_A, self._interval, now)
        elif inp is Input.TIMER_B:
            # "If the client transaction is still in the "Calling" state when timer B
            # fires, the client transaction SHOULD inform the TU that a timeout has
            # occurred. The client transaction MUST NOT generate an ACK." RFC 3261 17.1.1.2
            self._events.append(TimedOut("B"))
        elif inp is Input.PROVISIONAL:
            # "In the "Proceeding" state, the client transaction SHOULD NOT retransmit
            # the request any longer. Furthermore, the provisional response MUST be
            # passed to the TU." RFC 3261 17.1.1.2
            self._stop(Input.TIMER_A, Input.TIMER_B)
            assert isinstance(message, Response)
            self._pass_up(message)
        elif inp is Input.SUCCESS:
            # "When in either the "Calling" or "Proceeding" states, reception of a 2xx
            # response MUST cause the client transaction to enter the "Terminated" state,
            # and the response MUST be passed up to the TU." RFC 3261 17.1.1.2
            # RFC 6026 7.2: enter "Accepted" instead; "Any 2xx responses that match this
            # client transaction and that are received while in the "Accepted" state MUST
            # be passed up to the TU. The client transaction MUST NOT generate an ACK to
            # any 2xx response on its own."
            assert isinstance(message, Response)
            self._pass_up(message)
            if old is not _ACCEPTED and self.state is _ACCEPTED:
                self._stop(Input.TIMER_A, Input.TIMER_B)
                self._start(Input.TIMER_M, self.timers.timer_m, now)
        elif inp is Input.FAILURE:
            assert isinstance(message, Response)
            if old is _COMPLETED:
                # "Any retransmissions of the final response that are received while in
                # the "Completed" state MUST cause the ACK to be re-passed to the
                # transport layer for retransmission, but the newly received response
                # MUST NOT be passed up to the TU." RFC 3261 17.1.1.2
                self._send(self.ack_for(message))
                return
            # "reception of a response with status code from 300-699 MUST cause the
            # client transaction to transition to "Completed". The client transaction
            # MUST pass the received response up to the TU, and the client transaction
            # MUST generate an ACK request, even if the transport is reliable ... The
            # client transaction SHOULD start timer D when it enters the "Completed"
            # state, with a value of at least 32 seconds for unreliable transports, and
            # a value of zero seconds for reliable transports." RFC 3261 17.1.1.2
            self._stop(Input.TIMER_A, Input.TIMER_B)
            self._pass_up(message)
            self._send(self.ack_for(message))
            self._start(Input.TIMER_D, self.timers.timer_d, now)
        elif inp is Input.TRANSPORT_ERROR:
            self._events.append(TransportFailed())
        # TIMER_D, TIMER_M: "the client transaction MUST move to the terminated state"

    @clause("RFC 3261 17.1.1.3")
    def ack_for(self, response: Response) -> Request:
        """The ACK for a non-2xx final response, built by the transaction (17.1.1.3)."""
        request = self.request
        lines: list[Header] = [
            # "The ACK MUST contain a single Via header field, and this MUST be equal to
            # the top Via header field of the original request." RFC 3261 17.1.1.3
            Header("Via", request.get_all("Via")[0]),
        ]
        # "If the INVITE request whose response is being acknowledged had Route header
        # fields, those header fields MUST appear in the ACK." RFC 3261 17.1.1.3
        lines.extend(h for h in request.headers if h.key == "route")
        lines.append(Header("Max-Forwards", "70"))
        # "The ACK request constructed by the client transaction MUST contain values for
        # the Call-ID, From, and Request-URI that are equal to the values of those header
        # fields in the request passed to the transport by the client transaction ...
        # The To header field in the ACK MUST equal the To header field in the response
        # being acknowledged" RFC 3261 17.1.1.3
        lines.append(_line(response, "To"))
        lines.append(_line(request, "From"))
        lines.append(_line(request, "Call-ID"))
        # "The CSeq header field in the ACK MUST contain the same value for the sequence
        # number as was present in the original request, but the method parameter MUST be
        # equal to "ACK"." RFC 3261 17.1.1.3
        lines.append(Header("CSeq", f"{request.cseq.number} ACK"))
        lines.append(Header("Content-Length", "0"))
        return Request(headers=tuple(lines), body=b"", method="ACK", uri=request.uri)

    @property
    def may_cancel(self) -> bool:
        """True if a CANCEL may be sent now (RFC 3261 9.1).

        "If no provisional response has been received, the CANCEL request MUST NOT be
        sent; rather, the client MUST wait for the arrival of a provisional response
        before sending the request. If the original request has generated a final
        response, the CANCEL SHOULD NOT be sent" RFC 3261 9.1
        """
        return self.state is _PROCEEDING

    @clause("RFC 3261 9.1")
    def cancel_request(self) -> Request:
        """The CANCEL for this INVITE (send it in its own non-INVITE transaction).

        It does not check :attr:`may_cancel`: a test peer may need to send an early one.
        """
        request = self.request
        # "A CANCEL constructed by a client MUST have only a single Via header field
        # value matching the top Via value in the request being cancelled." RFC 3261 9.1
        lines: list[Header] = [Header("Via", request.get_all("Via")[0])]
        # "If the request being cancelled contains a Route header field, the CANCEL
        # request MUST include that Route header field's values." RFC 3261 9.1
        lines.extend(h for h in request.headers if h.key == "route")
        lines.append(Header("Max-Forwards", "70"))
        # "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields
        # in the CANCEL request MUST be identical to those in the request being
        # cancelled, including tags." RFC 3261 9.1
        lines.append(_line(request, "To"))
        lines.append(_line(request, "From"))
        lines.append(_line(request, "Call-ID"))
        # "However, the method part of the CSeq header field MUST have a value of
        # CANCEL." RFC 3261 9.1
        lines.append(Header("CSeq", f"{request.cseq.number} CANCEL"))
        # "The CANCEL request MUST NOT contain any Require or Proxy-Require header
        # fields." RFC 3261 9.1 (none are copied)
        lines.append(Header("Content-Length", "0"))
        return Request(headers=tuple(lines), body=b"", method="CANCEL", uri=request.uri)


class NonInviteClientTransaction(ClientTransaction):
    """RFC 3261 17.1.2: Trying, Proceeding, Completed, Terminated."""

    def _initial_state(self) -> tuple[State, Transitions]:
        return _TRYING, NON_INVITE_CLIENT_TRANSITIONS

    @clause("RFC 3261 17.1.2.2")
    def _begin(self, now: float) -> None:
        # "When entering this state, the client transaction SHOULD set timer F to fire
        # in 64*T1 seconds. The request MUST be passed to the transport layer for
        # transmission. If an unreliable transport is in use, the client transaction
        # MUST set timer E to fire in T1 seconds." RFC 3261 17.1.2.2
        self._send(self.request)
        self._interval = self.timers.timer_e or 0.0
        self._start(Input.TIMER_E, self.timers.timer_e, now)
        self._start(Input.TIMER_F, self.timers.timer_f, now)

    @clause("RFC 3261 17.1.2.2")
    def _act(self, inp: Input, old: State, message: Request | Response | None, now: float) -> None:
        if inp is Input.TIMER_E:
            self._send(self.request)
            if old is _TRYING:
                # "If timer E fires while still in this state, the timer is reset, but
                # this time with a value of MIN(2*T1, T2). When the timer fires again, it
                # is reset to a MIN(4*T1, T2)." RFC 3261 17.1.2.2
                self._interval = self.timers.capped(self._interval)
            else:
                # "If Timer E fires while in the "Proceeding" state, the request MUST be
                # passed to the transport layer for retransmission, and Timer E MUST be
                # reset with a value of T2 seconds." RFC 3261 17.1.2.2
                self._interval = self.timers.t2
            self._start(Input.TIMER_E, self._interval, now)
        elif inp is Input.TIMER_F:
            # "If timer F fires while in the "Proceeding" state, the TU MUST be informed
            # of a timeout, and the client transaction MUST transition to the terminated
            # state." RFC 3261 17.1.2.2 (SHOULD in "Trying")
            self._events.append(TimedOut("F"))
        elif inp is Input.PROVISIONAL:
            # "If a provisional response is received while in the "Trying" state, the
            # response MUST be passed to the TU, and then the client transaction SHOULD
            # move to the "Proceeding" state." RFC 3261 17.1.2.2
            assert isinstance(message, Response)
            self._pass_up(message)
        elif inp in (Input.SUCCESS, Input.FAILURE):
            if old is _COMPLETED:
                return  # a retransmission of the final response: absorbed
            # "If a final response (status codes 200-699) is received while in the
            # "Proceeding" state, the response MUST be passed to the TU, and the client
            # transaction MUST transition to the "Completed" state." ... "Once the client
            # transaction enters the "Completed" state, it MUST set Timer K to fire in T4
            # seconds for unreliable transports, and zero seconds for reliable
            # transports." RFC 3261 17.1.2.2
            assert isinstance(message, Response)
            self._stop(Input.TIMER_E, Input.TIMER_F)
            self._pass_up(message)
            self._start(Input.TIMER_K, self.timers.timer_k, now)
        elif inp is Input.TRANSPORT_ERROR:
            self._events.append(TransportFailed())
        # TIMER_K: "the client transaction MUST transition to the "Terminated" state."


def _line(message: Request | Response, name: str) -> Header:
    value = message.get(name)
    if value is None:
        raise TransactionError(f"{message.summary()} has no {name}")
    return Header(name, value)
