"""What the four RFC 3261 section 17 state machines share: states, inputs, events,
matching keys, response construction and the timer/event plumbing.

Theory of operation (the h11 ``_state.py`` idea, applied to section 17):

* A transaction is a pure state machine. Its three drivers are the TU (``send_response``,
  ``cancel_request``), the network (``receive_request``, ``receive_response``,
  ``transport_failed``) and the clock (``handle_timer(now)``, re-armed from
  ``get_timer()``). It never reads a clock and never does I/O: what it wants sent is
  collected by ``messages_to_send()`` and what the TU must learn by ``next_event()``.
* Every state change is looked up in a transition table, a plain
  ``Mapping[(State, Input), State]`` (``INVITE_CLIENT_TRANSITIONS`` and friends), so
  ``reports/`` can draw the figures 5 to 8 of RFC 3261 from the code that runs. The
  actions (send, start a timer, tell the TU) sit next to the table lookup, each after
  the RFC sentence that requires it.
* An input that the table does not list is either the peer's doing (a stray 1xx in
  "Completed", an ACK on a non-INVITE transaction) and is ignored, as the RFC's
  "absorb" wording implies, or the TU's (a second final response, anything on a
  terminated transaction), which raises :class:`~reference.sip.errors.TransactionError`.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import secrets
from collections.abc import Iterable, Mapping
from typing import Final, Generic, NamedTuple, TypeVar

from sipmessage import Via

from ..spec import clause
from .errors import TransactionError
from .message import Header, Request, Response

__all__ = [
    "MAGIC_COOKIE",
    "Machine",
    "REASON_PHRASES",
    "AckReceived",
    "ClientKey",
    "Input",
    "Rfc2543Key",
    "RequestReceived",
    "ResponseReceived",
    "ServerKey",
    "State",
    "Terminated",
    "TimedOut",
    "TransactionEvent",
    "Transitions",
    "TransportFailed",
    "client_key",
    "make_response",
    "new_branch",
    "new_tag",
    "reason_phrase",
    "response_input",
    "server_key",
    "server_key_for_cancel_target",
    "via_branch",
]

MAGIC_COOKIE: Final = "z9hG4bK"
"RFC 3261 8.1.1.7: 'The branch ID ... MUST always begin with the characters z9hG4bK'."


class State(enum.Enum):
    """The states of RFC 3261 figures 5 to 8, plus "Accepted" of RFC 6026."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """What can happen to a transaction: the edge labels of the figures.

    For a client the response kinds are responses received; for a server they are
    responses passed down by the TU.
    """

    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "300-699"
    REQUEST = "request retransmission"
    ACK = "ACK"
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"


Transitions = Mapping[tuple[State, Input], State]
"A transition table: (state, input) -> next state."


def response_input(status: int) -> Input:
    """The input kind of a response status."""
    if status < 200:
        return Input.PROVISIONAL
    return Input.SUCCESS if status < 300 else Input.FAILURE


# ----- events (past tense, frozen and slotted) -----------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class TransactionEvent:
    """Base class of what a transaction tells its TU."""


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseReceived(TransactionEvent):
    """A response the client transaction passes up to the TU."""

    response: Response
    "The response (never a retransmission absorbed by the transaction)."


@dataclasses.dataclass(frozen=True, slots=True)
class RequestReceived(TransactionEvent):
    """The request that created a server transaction ("The request MUST be passed to
    the TU", 17.2.1, 17.2.2)."""

    request: Request


@dataclasses.dataclass(frozen=True, slots=True)
class AckReceived(TransactionEvent):
    """An ACK matched an INVITE server transaction.

    For a non-2xx final response the ACK is absorbed by the transaction (17.2.1); the
    event is informational (a conformance check can see that the peer acknowledged).
    In the RFC 6026 "Accepted" state the ACK "must be passed up to the TU".
    """

    request: Request


@dataclasses.dataclass(frozen=True, slots=True)
class TimedOut(TransactionEvent):
    """Timer B, F or H fired: "inform the TU that a timeout has occurred"."""

    timer: str
    "The letter of the timer that fired."


@dataclasses.dataclass(frozen=True, slots=True)
class TransportFailed(TransactionEvent):
    """The transport could not send (RFC 3261 8.1.3.1, 17.1.4, 17.2.4)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Terminated(TransactionEvent):
    """The transaction entered "Terminated" and must now be destroyed."""


# ----- matching keys (17.1.3, 17.2.3) --------------------------------------------------


class ClientKey(NamedTuple):
    """17.1.3: a response matches by top-Via branch and CSeq method."""

    branch: str
    method: str


class ServerKey(NamedTuple):
    """17.2.3: branch, sent-by and method (ACK counted as INVITE)."""

    branch: str
    sent_by: str
    method: str


class Rfc2543Key(NamedTuple):
    """17.2.3 backwards compatibility, for a top Via without the magic cookie.

    The To tag is left out of the key: the INVITE that created the transaction usually
    has none while its ACK has the tag of our response. The server transaction checks
    the ACK's To tag itself (:meth:`InviteServerTransaction.matches`).
    """

    request_uri: str
    from_tag: str | None
    call_id: str
    cseq_number: int
    method: str
    top_via: str


def via_branch(via: Via) -> str | None:
    """The branch parameter of a Via (parameter names compare case-insensitively)."""
    for name, value in via.parameters.items():
        if name.lower() == "branch":
            return value
    return None


def _sent_by(via: Via) -> str:
    host = via.host.lower()
    return host if via.port is None else f"{host}:{via.port}"


@clause("RFC 3261 17.1.3")
def client_key(message: Request | Response) -> ClientKey:
    """The client transaction key of a response (or of the request that creates one).

    "1. If the response has the same value of the branch parameter in the top Via
    header field as the branch parameter in the top Via header field of the request
    that created the transaction. 2. If the method parameter in the CSeq header field
    matches the method of the request that created the transaction."
    """
    method = message.method if isinstance(message, Request) else message.cseq.method
    return ClientKey(via_branch(message.top_via) or "", method)


@clause("RFC 3261 17.2.3")
def server_key(request: Request, *, method: str | None = None) -> ServerKey | Rfc2543Key:
    """The server transaction key of a request.

    "the method of the request matches the one that created the transaction, except for
    ACK, where the method of the request that created the transaction is INVITE."
    Without the magic cookie the RFC 2543 rule is used: "the Request-URI, To tag, From
    tag, Call-ID, CSeq, and top Via header field match" (To tag: see
    :class:`Rfc2543Key`). URIs and Vias are compared as text, not per 19.1.4/20.42.

    Args:
        method: override the method (used for CANCEL matching, 9.2).
    """
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    via = request.top_via
    branch = via_branch(via)
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return ServerKey(branch, _sent_by(via), method)
    return Rfc2543Key(
        request_uri=request.uri,
        from_tag=request.from_.tag,
        call_id=request.call_id,
        cseq_number=request.cseq.number,
        method=method,
        top_via=str(via).lower(),
    )


@clause("RFC 3261 9.2")
def server_key_for_cancel_target(cancel: Request, *, method: str = "INVITE") -> ServerKey | Rfc2543Key:
    """The key of the transaction a CANCEL cancels (the CANCEL has its own transaction).

    "The TU determines the transaction to be cancelled by taking the CANCEL request, and
    then assuming that the request method is anything but CANCEL or ACK and applying the
    transaction matching procedures of Section 17.2.3." INVITE is assumed; "A CANCEL
    request SHOULD NOT be sent to cancel a request other than INVITE" (9.1).
    """
    if cancel.method != "CANCEL":
        raise TransactionError(f"{cancel.method} is not a CANCEL")
    if method in ("CANCEL", "ACK"):
        raise TransactionError("a CANCEL never targets a CANCEL or an ACK (9.2)")
    return server_key(cancel, method=method)


# ----- identifiers ----------------------------------------------------------------------


def new_branch() -> str:
    """A fresh branch: the magic cookie and 64 random bits (RFC 3261 8.1.1.7)."""
    return MAGIC_COOKIE + secrets.token_hex(8)


def new_tag() -> str:
    """A fresh From/To tag: "at least 32 bits of randomness" (RFC 3261 19.3)."""
    return secrets.token_hex(6)


# ----- responses (8.2.6) ----------------------------------------------------------------

REASON_PHRASES: Final[Mapping[int, str]] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 430: "Flow Failed",
    433: "Anonymity Disallowed", 436: "Bad Identity-Info", 437: "Unsupported Certificate",
    438: "Invalid Identity Header", 439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded", 469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}  # fmt: skip
"Reason phrases of RFC 3261 section 21 and the IANA SIP response code registry."

_CLASS_PHRASES: Final = {
    1: "Trying", 2: "OK", 3: "Redirection", 4: "Request Failure", 5: "Server Error",
    6: "Global Failure",
}  # fmt: skip


def reason_phrase(status: int) -> str:
    """The usual reason phrase of a status code (the class's name if unregistered)."""
    return REASON_PHRASES.get(status) or _CLASS_PHRASES.get(status // 100, "Unknown")


@clause("RFC 3261 8.2.6")
def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[Header] = (),
) -> Response:
    """A response to ``request`` built per RFC 3261 8.2.6, with ``Content-Length: 0``.

    Args:
        to_tag: added to To when the request's To has no tag (ignored for 100).
        headers: extra lines, appended before Content-Length.
    """
    if not 100 <= status <= 699:
        raise ValueError(f"status {status} is outside 100-699")
    lines: list[Header] = []
    # "The Via header field values in the response MUST equal the Via header field
    # values in the request and MUST maintain the same ordering." RFC 3261 8.2.6.2
    lines.extend(h for h in request.headers if h.key == "via")
    for name in ("from", "to", "call-id", "cseq"):
        # "The From field of the response MUST equal the From header field of the
        # request. The Call-ID header field of the response MUST equal the Call-ID
        # header field of the request. The CSeq header field of the response MUST
        # equal the CSeq field of the request." RFC 3261 8.2.6.2
        line = next((h for h in request.headers if h.key == name), None)
        if line is None:
            continue
        if name == "to" and to_tag is not None and status != 100 and request.to.tag is None:
            # "if the To header field in the request did not contain a tag, the URI in
            # the To header field in the response MUST equal the URI in the To header
            # field; additionally, the UAS MUST add a tag to the To header field in the
            # response (with the exception of the 100 (Trying) response, in which a tag
            # MAY be present)." RFC 3261 8.2.6.2
            line = Header("To", str(request.to.with_param("tag", to_tag)))
        lines.append(line)
    if status == 100:
        # "When a 100 (Trying) response is generated, any Timestamp header field present
        # in the request MUST be copied into this 100 (Trying) response." RFC 3261 8.2.6.1
        lines.extend(h for h in request.headers if h.key == "timestamp")
    lines.extend(headers)
    lines.append(Header("Content-Length", "0"))
    return Response(
        headers=tuple(lines),
        body=b"",
        status=status,
        reason=reason if reason is not None else reason_phrase(status),
    )


# ----- the machine shared by the four transactions ------------------------------------

Out = TypeVar("Out", Request, Response)


class Machine(Generic[Out]):
    """Table-driven state, timers, outgoing messages and events of one transaction.

    Subclasses implement :meth:`_act`, the actions of one transition.
    """

    transitions: Transitions
    remote_inputs: frozenset[Input]
    "Inputs caused by the peer: ignored (absorbed) when the table does not list them."

    def __init__(self, state: State, transitions: Transitions) -> None:
        self.state = state
        self.transitions = transitions
        self._timers: dict[Input, float] = {}
        self._events: collections.deque[TransactionEvent] = collections.deque()
        self._outgoing: list[Out] = []

    # ----- table ----------------------------------------------------------------------

    def _drive(self, inp: Input, now: float, message: Request | Response | None) -> bool:
        """Look ``inp`` up in the table, run the transition's actions, report Terminated.

        Returns:
            False when a remote input was absorbed without a transition.

        Raises:
            TransactionError: the TU drove the machine where the RFC does not allow it.
        """
        old = self.state
        if old is State.TERMINATED:
            raise TransactionError(f"{type(self).__name__}: {inp.value} after Terminated")
        new = self.transitions.get((old, inp))
        if new is None:
            if inp in self.remote_inputs:
                return False
            raise TransactionError(f"{type(self).__name__}: {inp.value} is not allowed in state {old.value}")
        self.state = new
        if new is State.TERMINATED:
            self._timers.clear()
        self._act(inp, old, message, now)
        if new is State.TERMINATED:
            # "Once the transaction is in the terminated state, it MUST be destroyed
            # immediately." RFC 3261 17.1.2.2 (and 17.1.1.2, 17.2.1, 17.2.2)
            self._events.append(Terminated())
        return True

    def _act(self, inp: Input, old: State, message: Request | Response | None, now: float) -> None:
        raise NotImplementedError

    # ----- timers ---------------------------------------------------------------------

    def _start(self, timer: Input, delay: float | None, now: float) -> None:
        """Arm ``timer`` (None: not used on this transport). A zero delay fires at once."""
        if delay is None:
            return
        if delay <= 0:
            self._drive(timer, now, None)
        else:
            self._timers[timer] = now + delay

    def _stop(self, *timers: Input) -> None:
        for timer in timers:
            self._timers.pop(timer, None)

    def get_timer(self) -> float | None:
        """The time at which :meth:`handle_timer` must next be called, or None."""
        return min(self._timers.values(), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire, in deadline order, every timer due at ``now``.

        A retransmission timer is re-armed from its own deadline, not from ``now``, so
        a late call replays exactly the transmissions that were due.
        """
        while self._timers:
            timer, deadline = min(self._timers.items(), key=lambda item: item[1])
            if deadline > now:
                return
            del self._timers[timer]
            self._drive(timer, deadline, None)

    # ----- output ---------------------------------------------------------------------

    def _send(self, message: Out) -> None:
        self._outgoing.append(message)

    def messages_to_send(self) -> list[Out]:
        """Messages to pass to the transport now, oldest first (the list is emptied)."""
        out, self._outgoing = self._outgoing, []
        return out

    def next_event(self) -> TransactionEvent | None:
        """The oldest event not yet returned, or None."""
        return self._events.popleft() if self._events else None

    @property
    def terminated(self) -> bool:
        """True once the transaction is in "Terminated" (destroy it)."""
        return self.state is State.TERMINATED
