"""The stateful proxy core of RFC 3261 section 16, sans-I/O.

* :func:`prepare_request` does the per-target request processing of 16.6 (with the
  Max-Forwards check of 16.3 item 3 and the Route preprocessing of 16.4).
* :func:`strip_own_via` is 16.7 step 3.
* :class:`ForkingContext` is the "response context" of 16.6/16.7 for one server
  transaction forked in parallel: it is fed the responses and failures of each branch
  and answers with actions (``ForwardResponse``, ``CancelBranch``, ``Completed``) that
  the proxy's service layer carries out with its transactions. It never sends.

The eP-CSCF forks a terminating INVITE to every live WIC contact this way
(solution profile, "Termination"; TR 23.701 5.2.2.5.4).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from typing import Final

from ..spec import clause
from .errors import LocalProtocolError
from .message import Header, Request, Response
from .proxy_routing import (
    DEFAULT_MAX_FORWARDS,
    LoopDetected,
    TooManyHops,
    check_loop,
    check_max_forwards,
    loop_branch,
    loop_hash,
    prepare_request,
    preprocess_route,
)
from .transaction_base import make_response, new_tag

__all__ = [
    "CALL_COMPLETED_ELSEWHERE",
    "DEFAULT_MAX_FORWARDS",
    "BranchState",
    "CancelBranch",
    "Completed",
    "ForkingContext",
    "ForkingError",
    "ForwardResponse",
    "LoopDetected",
    "NotForwardable",
    "ProxyAction",
    "TooManyHops",
    "check_loop",
    "check_max_forwards",
    "loop_branch",
    "loop_hash",
    "prepare_request",
    "preprocess_route",
    "strip_own_via",
]

CALL_COMPLETED_ELSEWHERE: Final = 'SIP;cause=200;text="Call completed elsewhere"'
"The Reason of the CANCELs sent when another branch answered (RFC 3326)."


class NotForwardable(LocalProtocolError):
    """A response whose only Via was ours: it is for this element (16.7 step 3)."""


class ForkingError(LocalProtocolError):
    """The response context was driven in a way RFC 3261 16 does not allow."""


@clause("RFC 3261 16.7", steps=3)
def strip_own_via(response: Response) -> Response:
    """16.7 step 3: remove the topmost Via.

    "The proxy removes the topmost Via header field value from the response. If no Via
    header field values remain in the response, the response was meant for this element
    and MUST NOT be forwarded." RFC 3261 16.7

    Raises:
        NotForwardable: no Via remains (a response to a CANCEL of our own, for example).
    """
    stripped = response.without_first_value("Via")
    if not stripped.has("Via"):
        raise NotForwardable(f"{response.summary()} is for this element (16.7 step 3)")
    return stripped


# ----- the response context (16.7) ----------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ProxyAction:
    """Base of what a response context asks the proxy to do."""


@dataclasses.dataclass(frozen=True, slots=True)
class ForwardResponse(ProxyAction):
    """Send this response upstream at once, on the server transaction (16.7 step 5)."""

    response: Response


@dataclasses.dataclass(frozen=True, slots=True)
class CancelBranch(ProxyAction):
    """Send a CANCEL on this branch (16.7 step 10, 16.10) with this Reason, if any."""

    branch_id: str
    reason: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Completed(ProxyAction):
    """Every branch has ended and no final was forwarded: send this best response
    upstream (16.7 step 6)."""

    response: Response


class BranchState(enum.Enum):
    """Where one branch (one client transaction) of the context stands."""

    CALLING = "no response yet"
    PROCEEDING = "provisional received"
    COMPLETED = "final response or failure"


@dataclasses.dataclass(slots=True)
class _Branch:
    state: BranchState = BranchState.CALLING
    cancel_reason: str | None = None
    cancel_wanted: bool = False
    cancel_sent: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class _Stored:
    response: Response
    synthetic: bool
    "Made up by the proxy for a failure (timeout, transport error, flow failed)."


# "The proxy SHOULD give preference to responses that provide information affecting
# resubmission of this request, such as 401, 407, 415, 420, and 484 if the 4xx class is
# chosen." RFC 3261 16.7 step 6
_RESUBMISSION_INFO: Final = frozenset({401, 407, 415, 420, 484})
_CHALLENGES: Final = frozenset({401, 407})


class ForkingContext:
    """The response context of RFC 3261 16.7 for one request forked in parallel.

    Args:
        request: the request as received on the server transaction (before 16.6).
        branch_ids: one id per client transaction, in any form (the branch parameter
            is a natural choice). At least one: with an empty target set the proxy
            answers 480 itself (16.5).
        tag_factory: To tags of responses the proxy makes up (408, failures).

    All responses given to :meth:`receive_response` are as received on the branch
    (with this proxy's Via on top); all responses in actions are ready to go upstream.
    """

    def __init__(
        self,
        request: Request,
        branch_ids: Sequence[str],
        *,
        tag_factory: Callable[[], str] = new_tag,
    ) -> None:
        if not branch_ids:
            raise ForkingError("a response context needs at least one branch (16.5: 480)")
        self.request = request
        self.is_invite = request.method == "INVITE"
        self.branches: dict[str, _Branch] = {}
        self._stored: list[_Stored] = []
        self._tag_factory = tag_factory
        self._tag: str | None = None
        self.final_response: Response | None = None
        "The final response sent upstream (the first 2xx, or the best response)."
        self.closed = False
        "True after a 6xx or a CANCEL: no new branch may be created."
        for branch_id in branch_ids:
            self.add_branch(branch_id)

    # ----- queries ----------------------------------------------------------------------

    def state_of(self, branch_id: str) -> BranchState:
        return self._branch(branch_id).state

    @property
    def completed(self) -> bool:
        """True once every branch has a final response (or failed)."""
        return all(b.state is BranchState.COMPLETED for b in self.branches.values())

    # ----- inputs -----------------------------------------------------------------------

    @clause("RFC 3261 16.7", steps=5)
    def add_branch(self, branch_id: str) -> None:
        """A new target (16.5: "The proxy MAY continue to add targets").

        Raises:
            ForkingError: after a 6xx or CANCEL ("it MUST NOT create any new branches in
                this context", 16.7 step 5), after the final response, or a duplicate id.
        """
        if self.closed or self.final_response is not None:
            raise ForkingError("no new branch after a 6xx, a CANCEL or the final response")
        if branch_id in self.branches:
            raise ForkingError(f"branch {branch_id!r} already exists")
        self.branches[branch_id] = _Branch()

    @clause("RFC 3261 16.7", steps=(3, 4, 5, 6, 7, 10))
    def receive_response(self, branch_id: str, response: Response) -> list[ProxyAction]:
        """A response the branch's client transaction passed up (16.7 steps 3-10)."""
        branch = self._branch(branch_id)
        # 3. Via: "The proxy removes the topmost Via header field value from the response."
        stripped = strip_own_via(response)
        actions: list[ProxyAction] = []
        if response.is_provisional:
            if branch.state is BranchState.CALLING:
                branch.state = BranchState.PROCEEDING
                actions.extend(self._send_wanted_cancel(branch_id, branch))
            # 5. "Until a final response has been sent on the server transaction, the
            # following responses MUST be forwarded immediately: - Any provisional
            # response other than 100 (Trying)" ... "a stateful proxy MUST NOT forward any
            # 100 (Trying) response."
            if response.status != 100 and self.final_response is None:
                actions.append(ForwardResponse(stripped))
            return actions

        success = 200 <= response.status < 300
        if branch.state is BranchState.COMPLETED and not (success and self.is_invite):
            return actions  # a second final on a branch: nothing more to do
        branch.state = BranchState.COMPLETED
        if success:
            # 5. "- Any 2xx response" (before the final) ... "After a final response has
            # been sent on the server transaction, the following responses MUST be
            # forwarded immediately: - Any 2xx response to an INVITE request"
            if self.final_response is None or self.is_invite:
                actions.append(ForwardResponse(stripped))
            if self.final_response is None:
                self.final_response = stripped
                # 10. "If the forwarded response was a final response, the proxy MUST
                # generate a CANCEL request for all pending client transactions
                # associated with this response context."
                actions.extend(self._cancel_pending(CALL_COMPLETED_ELSEWHERE))
            return actions
        if self.final_response is not None:
            # "A stateful proxy MUST NOT immediately forward any other responses." and
            # the context is decided: a late 3xx-6xx is dropped.
            return actions
        # 4. "Final responses received are stored in the response context until a final
        # response is generated on the server transaction associated with this context."
        self._stored.append(_Stored(stripped, synthetic=False))
        if response.status >= 600:
            # 5. "If a 6xx response is received, it is not immediately forwarded, but the
            # stateful proxy SHOULD cancel all client pending transactions as described
            # in Section 10, and it MUST NOT create any new branches in this context."
            self.closed = True
            reason = f'SIP;cause={response.status};text="{response.reason}"'
            actions.extend(self._cancel_pending(reason))
        actions.extend(self._complete_if_done())
        return actions

    @clause("RFC 3261 16.9")
    def branch_failed(self, branch_id: str, status: int | None = 408) -> list[ProxyAction]:
        """A branch ended without a final response.

        ``status`` is the response the proxy acts as if it had received:

        * 408 for a client transaction timeout (Timer B/F) or exhausted targets: "acts as
          if this element of the target set returned a 408 (Request Timeout) final
          response" (16.6 item 7);
        * 503 for a transport error: "the proxy MUST behave as if the forwarded request
          received a 503 (Service Unavailable) response" (16.9);
        * 430 when the flow of an RFC 5626 edge proxy is gone (solution profile);
        * None to record nothing ("The proxy does not need to place anything in the
          response context", 16.6 item 7).
        """
        branch = self._branch(branch_id)
        if branch.state is BranchState.COMPLETED:
            return []
        branch.state = BranchState.COMPLETED
        if status is not None and self.final_response is None:
            made_up = make_response(self.request, status, to_tag=self._own_tag())
            self._stored.append(_Stored(made_up, synthetic=True))
        return self._complete_if_done()

    @clause("RFC 3261 16.8")
    def timer_c_fired(self, branch_id: str) -> list[ProxyAction]:
        """Timer C of a branch fired (16.8).

        "If the client transaction has received a provisional response, the proxy MUST
        generate a CANCEL request matching that transaction. If the client transaction
        has not received a provisional response, the proxy MUST behave as if the
        transaction received a 408 (Request Timeout) response." RFC 3261 16.8

        Fired again on a branch already cancelled and still without a final response (the shell
        arms it 64*T1 after the CANCEL), the branch fails with 408 (RFC 3261 9.1).
        """
        branch = self._branch(branch_id)
        if branch.state is BranchState.PROCEEDING and not branch.cancel_sent:
            branch.cancel_wanted = branch.cancel_sent = True
            return [CancelBranch(branch_id, None)]
        if branch.state is BranchState.CALLING:
            return self.branch_failed(branch_id, 408)
        if branch.state is BranchState.PROCEEDING:
            # cancelled, and still no final response when the timer fired again (64*T1 later,
            # the shell's choice): "If no final response is received to the CANCEL request within
            # 64*T1 seconds ... the client SHOULD then consider the original transaction cancelled
            # and SHOULD destroy the client transaction handling the original request." RFC 3261 9.1
            return self.branch_failed(branch_id, 408)
        return []

    @clause("RFC 3261 16.10")
    def cancel_all(self, reason: str | None = None) -> list[ProxyAction]:
        """The upstream CANCELled the request (16.10); ``reason`` is its Reason, if any.

        "A proxy MUST cancel any pending client transactions associated with a response
        context when it receives a matching CANCEL request." RFC 3261 16.10
        """
        self.closed = True
        return self._cancel_pending(reason)

    # ----- internals --------------------------------------------------------------------

    def _branch(self, branch_id: str) -> _Branch:
        try:
            return self.branches[branch_id]
        except KeyError:
            raise ForkingError(f"unknown branch {branch_id!r}") from None

    def _own_tag(self) -> str:
        if self._tag is None:
            self._tag = self._tag_factory()
        return self._tag

    @clause("RFC 3261 16.7", steps=10)
    def _cancel_pending(self, reason: str | None) -> list[ProxyAction]:
        """CANCEL every branch without a final response.

        "A pending client transaction is one that has received a provisional response,
        but no final response (it is in the proceeding state) and has not had an
        associated CANCEL generated for it." RFC 3261 16.7 step 10. A branch still
        without any response gets its CANCEL when its first provisional arrives: "If no
        provisional response has been received, the CANCEL request MUST NOT be sent;
        rather, the client MUST wait for the arrival of a provisional response before
        sending the request." RFC 3261 9.1. Only INVITE is cancelled: "A CANCEL request
        SHOULD NOT be sent to cancel a request other than INVITE." RFC 3261 9.1
        """
        if not self.is_invite:
            return []
        actions: list[ProxyAction] = []
        for branch_id, branch in self.branches.items():
            if branch.state is BranchState.COMPLETED or branch.cancel_wanted:
                continue
            branch.cancel_wanted = True
            branch.cancel_reason = reason
            actions.extend(self._send_wanted_cancel(branch_id, branch))
        return actions

    def _send_wanted_cancel(self, branch_id: str, branch: _Branch) -> list[ProxyAction]:
        if branch.cancel_wanted and not branch.cancel_sent:
            if branch.state is BranchState.PROCEEDING:
                branch.cancel_sent = True
                return [CancelBranch(branch_id, branch.cancel_reason)]
        return []

    @clause("RFC 3261 16.7", steps=6)
    def _complete_if_done(self) -> list[ProxyAction]:
        # 6. "A stateful proxy MUST send a final response to a response context's server
        # transaction if no final responses have been immediately forwarded by the above
        # rules and all client transactions in this response context have been
        # terminated."
        if self.final_response is not None or not self.completed:
            return []
        self.final_response = self.best_response()
        return [Completed(self.final_response)]

    @clause("RFC 3261 16.7", steps=(6, 7))
    def best_response(self) -> Response:
        """The best of the stored final responses (16.7 steps 6 and 7)."""
        if not self._stored:
            # "If there are no final responses in the context, the proxy MUST send a 408
            # (Request Timeout) response to the server transaction." RFC 3261 16.7 step 6
            return make_response(self.request, 408, to_tag=self._own_tag())
        # "It MUST choose from the 6xx class responses if any exist in the context. If no
        # 6xx class responses are present, the proxy SHOULD choose from the lowest
        # response class stored in the response context. The proxy MAY select any
        # response within that chosen class." RFC 3261 16.7 step 6
        six = [s for s in self._stored if s.response.status >= 600]
        klass = 6 if six else min(s.response.status // 100 for s in self._stored)
        candidates = [s for s in self._stored if s.response.status // 100 == klass]
        # Within the class: real before made-up, anything before 503, and the
        # resubmission information of 401, 407, 415, 420 and 484 first.
        best = min(
            enumerate(candidates),
            key=lambda item: (
                item[1].synthetic,
                item[1].response.status == 503,
                item[1].response.status not in _RESUBMISSION_INFO,
                item[0],
            ),
        )[1].response
        if best.status == 503:
            # "If the only response that was received is a 503, the proxy SHOULD generate
            # a 500 response and forward that upstream." RFC 3261 16.7 step 6
            best = dataclasses.replace(best, status=500, reason="Server Internal Error")
        if best.status in _CHALLENGES:
            best = self._aggregate_challenges(best)
        return best

    @clause("RFC 3261 16.7", steps=7)
    def _aggregate_challenges(self, best: Response) -> Response:
        # 7. "If the selected response is a 401 (Unauthorized) or 407 (Proxy
        # Authentication Required), the proxy MUST collect any WWW-Authenticate and
        # Proxy-Authenticate header field values from all other 401 (Unauthorized) and
        # 407 (Proxy Authentication Required) responses received so far in this response
        # context and add them to this response without modification before forwarding."
        extra: list[Header] = [
            line
            for stored in self._stored
            if stored.response is not best and stored.response.status in _CHALLENGES
            for line in stored.response.headers
            if line.key in ("www-authenticate", "proxy-authenticate")
        ]
        if not extra:
            return best
        lines = list(best.headers)
        at = next((i for i, h in enumerate(lines) if h.key == "content-length"), len(lines))
        return best.replace_headers([*lines[:at], *extra, *lines[at:]])
