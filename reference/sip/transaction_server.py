"""Server transactions: INVITE (RFC 3261 17.2.1, RFC 6026) and non-INVITE (17.2.2).

``ServerTransaction(request, reliable=..., now=...)`` returns the right one of the two
for the request's method and queues the ``RequestReceived`` event for the TU.

100 Trying: "The server transaction MUST generate a 100 (Trying) response unless it
knows that the TU will generate a provisional or final response within 200 ms, in
which case it MAY generate a 100 (Trying) response." (17.2.1). With ``auto_100=True``
(the default) the INVITE server transaction sends it at once, which satisfies both the
MUST and the MAY and needs no extra timer. A TU that always answers within 200 ms (a
UAS answering 180 at once, the emulated peers of the suite) may pass ``auto_100=False``.
A proxy keeps the default: it cannot know how long the next hop takes (16.2).
"""

from __future__ import annotations

from typing import Final

from ..spec import clause
from .errors import TransactionError
from .message import Request, Response
from .timers import TimerValues
from .transaction_base import (
    AckReceived,
    Input,
    Machine,
    RequestReceived,
    Rfc2543Key,
    ServerKey,
    State,
    TimedOut,
    Transitions,
    TransportFailed,
    make_response,
    response_input,
    server_key,
)

__all__ = [
    "INVITE_SERVER_TRANSITIONS",
    "INVITE_SERVER_TRANSITIONS_RFC6026",
    "NON_INVITE_SERVER_TRANSITIONS",
    "InviteServerTransaction",
    "NonInviteServerTransaction",
    "ServerTransaction",
]

_TRYING, _PROCEEDING, _COMPLETED = State.TRYING, State.PROCEEDING, State.COMPLETED
_CONFIRMED, _ACCEPTED, _TERMINATED = State.CONFIRMED, State.ACCEPTED, State.TERMINATED

INVITE_SERVER_TRANSITIONS: Final[Transitions] = {
    # RFC 3261 17.2.1, figure 7
    (_PROCEEDING, Input.REQUEST): _PROCEEDING,
    (_PROCEEDING, Input.PROVISIONAL): _PROCEEDING,
    (_PROCEEDING, Input.SUCCESS): _TERMINATED,
    (_PROCEEDING, Input.FAILURE): _COMPLETED,
    (_PROCEEDING, Input.TRANSPORT_ERROR): _TERMINATED,
    (_COMPLETED, Input.REQUEST): _COMPLETED,
    (_COMPLETED, Input.ACK): _CONFIRMED,
    (_COMPLETED, Input.TIMER_G): _COMPLETED,
    (_COMPLETED, Input.TIMER_H): _TERMINATED,
    (_COMPLETED, Input.TRANSPORT_ERROR): _TERMINATED,
    (_CONFIRMED, Input.REQUEST): _CONFIRMED,
    (_CONFIRMED, Input.ACK): _CONFIRMED,
    (_CONFIRMED, Input.TIMER_I): _TERMINATED,
}

INVITE_SERVER_TRANSITIONS_RFC6026: Final[Transitions] = {
    # RFC 6026 section 8, figure 7 as updated: a 2xx leads to "Accepted"
    **INVITE_SERVER_TRANSITIONS,
    (_PROCEEDING, Input.SUCCESS): _ACCEPTED,
    (_ACCEPTED, Input.REQUEST): _ACCEPTED,
    (_ACCEPTED, Input.ACK): _ACCEPTED,
    (_ACCEPTED, Input.SUCCESS): _ACCEPTED,
    (_ACCEPTED, Input.TIMER_L): _TERMINATED,
    (_ACCEPTED, Input.TRANSPORT_ERROR): _TERMINATED,
}

NON_INVITE_SERVER_TRANSITIONS: Final[Transitions] = {
    # RFC 3261 17.2.2, figure 8
    (_TRYING, Input.REQUEST): _TRYING,
    (_TRYING, Input.PROVISIONAL): _PROCEEDING,
    (_TRYING, Input.SUCCESS): _COMPLETED,
    (_TRYING, Input.FAILURE): _COMPLETED,
    (_TRYING, Input.TRANSPORT_ERROR): _TERMINATED,
    (_PROCEEDING, Input.REQUEST): _PROCEEDING,
    (_PROCEEDING, Input.PROVISIONAL): _PROCEEDING,
    (_PROCEEDING, Input.SUCCESS): _COMPLETED,
    (_PROCEEDING, Input.FAILURE): _COMPLETED,
    (_PROCEEDING, Input.TRANSPORT_ERROR): _TERMINATED,
    (_COMPLETED, Input.REQUEST): _COMPLETED,
    (_COMPLETED, Input.TIMER_J): _TERMINATED,
    (_COMPLETED, Input.TRANSPORT_ERROR): _TERMINATED,
}


class ServerTransaction(Machine[Response]):
    """A server transaction; calling this class builds the INVITE or non-INVITE one.

    Args:
        request: the request that creates the transaction (not an ACK).
        reliable: the request came over TCP, TLS, SCTP or WebSocket.
        now: the current time, in seconds.
        timers: T1, T2, T4 (``reliable`` is taken from the argument above).
        auto_100: INVITE only: send 100 Trying at once (see the module docstring).
        rfc6026: INVITE only: a 2xx leads to "Accepted" (Timer L), which absorbs
            INVITE retransmissions, instead of "Terminated".
    """

    remote_inputs = frozenset({Input.REQUEST, Input.ACK})

    def __new__(cls, request: Request, **_: object) -> ServerTransaction:
        if cls is ServerTransaction:
            cls = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
        return super().__new__(cls)

    def __init__(
        self,
        request: Request,
        *,
        reliable: bool,
        now: float,
        timers: TimerValues = TimerValues(),  # noqa: B008 - frozen, so shared safely
        auto_100: bool = True,
        rfc6026: bool = False,
    ) -> None:
        if request.method == "ACK":
            raise TransactionError("an ACK never creates a server transaction (17.2.3)")
        self.request = request
        "The request that created the transaction."
        self.reliable = reliable
        self.timers = timers.on(reliable=reliable)
        self.auto_100 = auto_100
        self.rfc6026 = rfc6026
        self.key: ServerKey | Rfc2543Key = server_key(request)
        "How requests are matched to this transaction (17.2.3)."
        self.last_provisional: Response | None = None
        "The most recent provisional response the TU passed down."
        self.final_response: Response | None = None
        "The (first) final response the TU passed down."
        self._interval = 0.0
        super().__init__(*self._initial_state())
        # "The request MUST be passed to the TU." RFC 3261 17.2.1, 17.2.2
        self._events.append(RequestReceived(request))
        self._begin(now)

    def _initial_state(self) -> tuple[State, Transitions]:
        raise NotImplementedError

    def _begin(self, now: float) -> None:
        pass

    @clause("RFC 3261 17.2.3")
    def matches(self, request: Request) -> bool:
        """True if ``request`` is a retransmission of ours, or its ACK (17.2.3)."""
        if server_key(request) != self.key:
            return False
        if isinstance(self.key, Rfc2543Key):
            if request.method == "ACK":
                # "the To tag of the ACK matches the To tag of the response sent by the
                # server transaction." RFC 3261 17.2.3
                sent = self.final_response
                return sent is not None and sent.to.tag == request.to.tag
            # "The INVITE request matches a transaction if the Request-URI, To tag, From
            # tag, Call-ID, CSeq, and top Via header field match" RFC 3261 17.2.3
            return request.to.tag == self.request.to.tag
        return True

    # ----- inputs -----------------------------------------------------------------------

    def receive_request(self, request: Request, now: float) -> None:
        """A request the transport matched to this transaction: a retransmission, or
        the ACK of an INVITE.

        Raises:
            TransactionError: the request does not match, or the transaction ended.
        """
        if not self.matches(request):
            raise TransactionError(f"request {request.summary()} is not for {self.key}")
        self._drive(Input.ACK if request.method == "ACK" else Input.REQUEST, now, request)

    def send_response(self, response: Response, now: float) -> None:
        """A response from the TU, to be sent (and, for non-2xx INVITE finals, resent).

        Raises:
            TransactionError: the response is for another request, or the state does
                not accept it (a second final response, anything after Terminated).
        """
        cseq, ours = response.cseq, self.request.cseq
        if (cseq.number, cseq.method) != (ours.number, ours.method):
            raise TransactionError(f"response {response.summary()} is not for {self.key}")
        self._drive(response_input(response.status), now, response)

    def transport_failed(self, now: float) -> None:
        """The transport could not send a response.

        "the server transaction SHOULD inform the TU that a failure has occurred, and
        SHOULD transition to the terminated state." RFC 3261 17.2.4
        """
        self._drive(Input.TRANSPORT_ERROR, now, None)

    @property
    def last_response(self) -> Response | None:
        """The response a retransmitted request is answered with."""
        return self.final_response or self.last_provisional


class InviteServerTransaction(ServerTransaction):
    """RFC 3261 17.2.1: Proceeding, Completed, Confirmed, Terminated (Accepted, 6026)."""

    def _initial_state(self) -> tuple[State, Transitions]:
        table = INVITE_SERVER_TRANSITIONS_RFC6026 if self.rfc6026 else INVITE_SERVER_TRANSITIONS
        return _PROCEEDING, table

    @clause("RFC 3261 17.2.1")
    def _begin(self, now: float) -> None:
        if self.auto_100:
            # "The server transaction MUST generate a 100 (Trying) response unless it
            # knows that the TU will generate a provisional or final response within 200
            # ms" ... "the insertion of tags in the To header field of the response (when
            # none was present in the request) is downgraded from MAY to SHOULD NOT."
            # RFC 3261 17.2.1
            self.send_response(make_response(self.request, 100), now)

    @clause("RFC 3261 17.2.1")
    def _act(self, inp: Input, old: State, message: Request | Response | None, now: float) -> None:
        if inp is Input.REQUEST:
            if old is _PROCEEDING and self.last_provisional is not None:
                # "If a request retransmission is received while in the "Proceeding"
                # state, the most recent provisional response that was received from the
                # TU MUST be passed to the transport layer for retransmission."
                self._send(self.last_provisional)
            elif old is _COMPLETED and self.final_response is not None:
                # "while in the "Completed" state, if a request retransmission is
                # received, the server SHOULD pass the response to the transport for
                # retransmission." RFC 3261 17.2.1
                self._send(self.final_response)
            # "Confirmed" and "Accepted" absorb it: "The purpose of the "Accepted" state
            # is to absorb retransmissions of an accepted INVITE request." RFC 6026 8.7
        elif inp is Input.PROVISIONAL:
            # "So long as the server transaction is in the "Proceeding" state, each of
            # these MUST be passed to the transport layer for transmission." RFC 3261 17.2.1
            assert isinstance(message, Response)
            self.last_provisional = message
            self._send(message)
        elif inp is Input.SUCCESS:
            # "If, while in the "Proceeding" state, the TU passes a 2xx response to the
            # server transaction, the server transaction MUST pass this response to the
            # transport layer for transmission. It is not retransmitted by the server
            # transaction; retransmissions of 2xx responses are handled by the TU. The
            # server transaction MUST then transition to the "Terminated" state."
            # RFC 3261 17.2.1; RFC 6026 8.5: "... to the "Accepted" state", where
            # "if the TU passes a 2xx response, the server transaction MUST pass the
            # response to the transport layer for transmission."
            assert isinstance(message, Response)
            self.final_response = self.final_response or message
            self._send(message)
            if old is _PROCEEDING and self.state is _ACCEPTED:
                # "Timer L MUST be set to fire in 64*T1 for all transports" (RFC 6026 8.7)
                self._start(Input.TIMER_L, self.timers.timer_l, now)
        elif inp is Input.FAILURE:
            # "While in the "Proceeding" state, if the TU passes a response with status
            # code from 300 to 699 to the server transaction, the response MUST be passed
            # to the transport layer for transmission, and the state machine MUST enter
            # the "Completed" state. For unreliable transports, timer G is set to fire in
            # T1 seconds, and is not set to fire for reliable transports." ... "When the
            # "Completed" state is entered, timer H MUST be set to fire in 64*T1 seconds
            # for all transports." RFC 3261 17.2.1
            assert isinstance(message, Response)
            self.final_response = message
            self._send(message)
            self._interval = self.timers.timer_g or 0.0
            self._start(Input.TIMER_G, self.timers.timer_g, now)
            self._start(Input.TIMER_H, self.timers.timer_h, now)
        elif inp is Input.TIMER_G:
            # "If timer G fires, the response is passed to the transport layer once more
            # for retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds.
            # From then on, when timer G fires, the response is passed to the transport
            # again for transmission, and timer G is reset with a value that doubles,
            # unless that value exceeds T2, in which case it is reset with the value of
            # T2." RFC 3261 17.2.1
            assert self.final_response is not None
            self._send(self.final_response)
            self._interval = self.timers.capped(self._interval)
            self._start(Input.TIMER_G, self._interval, now)
        elif inp is Input.TIMER_H:
            # "If timer H fires while in the "Completed" state, it implies that the ACK
            # was never received. In this case, the server transaction MUST transition to
            # the "Terminated" state, and MUST indicate to the TU that a transaction
            # failure has occurred." RFC 3261 17.2.1
            self._events.append(TimedOut("H"))
        elif inp is Input.ACK:
            assert isinstance(message, Request)
            if old is _COMPLETED:
                # "If an ACK is received while the server transaction is in the
                # "Completed" state, the server transaction MUST transition to the
                # "Confirmed" state. As Timer G is ignored in this state, any
                # retransmissions of the response will cease." ... "When this state is
                # entered, timer I is set to fire in T4 seconds for unreliable
                # transports, and zero seconds for reliable transports." RFC 3261 17.2.1
                self._stop(Input.TIMER_G, Input.TIMER_H)
                self._events.append(AckReceived(message))
                self._start(Input.TIMER_I, self.timers.timer_i, now)
            elif old is _ACCEPTED:
                # RFC 6026 8.7: an ACK received in "Accepted" is passed up to the TU.
                self._events.append(AckReceived(message))
            # "Confirmed": "The purpose of the "Confirmed" state is to absorb any
            # additional ACK messages that arrive" RFC 3261 17.2.1
        elif inp is Input.TRANSPORT_ERROR:
            self._events.append(TransportFailed())
        # TIMER_I: "Once timer I fires, the server MUST transition to the "Terminated"
        # state." TIMER_L: "If Timer L fires while the INVITE server transaction is in
        # the "Accepted" state, the transaction MUST transition to the "Terminated"
        # state." (RFC 6026 8.7)


class NonInviteServerTransaction(ServerTransaction):
    """RFC 3261 17.2.2: Trying, Proceeding, Completed, Terminated."""

    def _initial_state(self) -> tuple[State, Transitions]:
        return _TRYING, NON_INVITE_SERVER_TRANSITIONS

    @clause("RFC 3261 17.2.2")
    def _act(self, inp: Input, old: State, message: Request | Response | None, now: float) -> None:
        if inp is Input.REQUEST:
            if old is _PROCEEDING and self.last_provisional is not None:
                # "If a retransmission of the request is received while in the
                # "Proceeding" state, the most recently sent provisional response MUST be
                # passed to the transport layer for retransmission." RFC 3261 17.2.2
                self._send(self.last_provisional)
            elif old is _COMPLETED and self.final_response is not None:
                # "While in the "Completed" state, the server transaction MUST pass the
                # final response to the transport layer for retransmission whenever a
                # retransmission of the request is received." RFC 3261 17.2.2
                self._send(self.final_response)
            # "Once in the "Trying" state, any further request retransmissions are
            # discarded." RFC 3261 17.2.2
        elif inp is Input.PROVISIONAL:
            # "While in the "Trying" state, if the TU passes a provisional response to the
            # server transaction, the server transaction MUST enter the "Proceeding"
            # state. The response MUST be passed to the transport layer for
            # transmission." RFC 3261 17.2.2
            assert isinstance(message, Response)
            self.last_provisional = message
            self._send(message)
        elif inp in (Input.SUCCESS, Input.FAILURE):
            # "If the TU passes a final response (status codes 200-699) to the server
            # while in the "Proceeding" state, the transaction MUST enter the "Completed"
            # state, and the response MUST be passed to the transport layer for
            # transmission." "When the server transaction enters the "Completed" state,
            # it MUST set Timer J to fire in 64*T1 seconds for unreliable transports, and
            # zero seconds for reliable transports." RFC 3261 17.2.2
            # (A further final from the TU is not in the table and raises: "Any other
            # final responses passed by the TU to the server transaction MUST be
            # discarded while in the "Completed" state" - passing one is a TU bug.)
            assert isinstance(message, Response)
            self.final_response = message
            self._send(message)
            self._start(Input.TIMER_J, self.timers.timer_j, now)
        elif inp is Input.TRANSPORT_ERROR:
            self._events.append(TransportFailed())
        # TIMER_J: "at which point it MUST transition to the "Terminated" state."
