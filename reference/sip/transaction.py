"""The RFC 3261 section 17 transaction layer, sans-I/O.

The four state machines live in :mod:`.transaction_client` and
:mod:`.transaction_server` (shared parts in :mod:`.transaction_base`) and are
re-exported here, with :class:`TransactionLayer`, a small table that matches incoming
messages to transactions and merges their timers, events and outgoing messages.

Driving it (the aioquic ``protocol.py`` pattern)::

    layer.receive_request(request, reliable=True, now=loop.time())
    for tx, message in layer.messages_to_send(): transport.send(tx, message)
    while (item := layer.next_event()) is not None: tu.handle(item.transaction, item.event)
    loop.call_at(layer.get_timer(), lambda: layer.handle_timer(loop.time()))
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from typing import TypeAlias

from .message import Request, Response
from .timers import TimerValues
from .transaction_base import (
    MAGIC_COOKIE,
    REASON_PHRASES,
    AckReceived,
    ClientKey,
    Input,
    RequestReceived,
    ResponseReceived,
    Rfc2543Key,
    ServerKey,
    State,
    Terminated,
    TimedOut,
    TransactionEvent,
    Transitions,
    TransportFailed,
    client_key,
    make_response,
    new_branch,
    new_tag,
    reason_phrase,
    server_key,
    server_key_for_cancel_target,
)
from .transaction_client import (
    INVITE_CLIENT_TRANSITIONS,
    INVITE_CLIENT_TRANSITIONS_RFC6026,
    NON_INVITE_CLIENT_TRANSITIONS,
    ClientTransaction,
    InviteClientTransaction,
    NonInviteClientTransaction,
)
from .transaction_server import (
    INVITE_SERVER_TRANSITIONS,
    INVITE_SERVER_TRANSITIONS_RFC6026,
    NON_INVITE_SERVER_TRANSITIONS,
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
)

__all__ = [
    "INVITE_CLIENT_TRANSITIONS",
    "INVITE_CLIENT_TRANSITIONS_RFC6026",
    "INVITE_SERVER_TRANSITIONS",
    "INVITE_SERVER_TRANSITIONS_RFC6026",
    "MAGIC_COOKIE",
    "NON_INVITE_CLIENT_TRANSITIONS",
    "NON_INVITE_SERVER_TRANSITIONS",
    "REASON_PHRASES",
    "TRANSITION_TABLES",
    "AckReceived",
    "ClientKey",
    "ClientTransaction",
    "Input",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "LayerEvent",
    "NonInviteClientTransaction",
    "NonInviteServerTransaction",
    "RequestReceived",
    "ResponseReceived",
    "Rfc2543Key",
    "ServerKey",
    "ServerTransaction",
    "State",
    "Terminated",
    "TimedOut",
    "Transaction",
    "TransactionEvent",
    "TransactionLayer",
    "Transitions",
    "TransportFailed",
    "client_key",
    "make_response",
    "new_branch",
    "new_tag",
    "reason_phrase",
    "server_key",
    "server_key_for_cancel_target",
]

Transaction: TypeAlias = ClientTransaction | ServerTransaction

TRANSITION_TABLES: dict[str, Transitions] = {
    "RFC 3261 figure 5: INVITE client transaction": INVITE_CLIENT_TRANSITIONS,
    "RFC 3261 figure 6: non-INVITE client transaction": NON_INVITE_CLIENT_TRANSITIONS,
    "RFC 3261 figure 7: INVITE server transaction": INVITE_SERVER_TRANSITIONS,
    "RFC 3261 figure 8: non-INVITE server transaction": NON_INVITE_SERVER_TRANSITIONS,
    "RFC 6026: INVITE client transaction": INVITE_CLIENT_TRANSITIONS_RFC6026,
    "RFC 6026: INVITE server transaction": INVITE_SERVER_TRANSITIONS_RFC6026,
}
"Every table, by figure, for ``reports/`` to draw."


@dataclasses.dataclass(frozen=True, slots=True)
class LayerEvent:
    """An event of one transaction, or a message no transaction matched."""

    transaction: Transaction | None
    """The transaction; None for a response or ACK passed straight to the core
    ("if the transport layer finds no matching client transaction ... the response is
    passed directly to the core", RFC 3261 17.1.1.2)."""
    event: TransactionEvent


class TransactionLayer:
    """Client and server transactions by key (17.1.3, 17.2.3), with one timer.

    Terminated transactions are dropped as soon as their events are collected ("MUST be
    destroyed immediately"). A TU may call a transaction's own methods directly; the
    layer collects its output on the next call.
    """

    def __init__(
        self,
        *,
        timers: TimerValues = TimerValues(),  # noqa: B008 - frozen, so shared safely
        auto_100: bool = True,
        rfc6026: bool = False,
        branch_factory: Callable[[], str] = new_branch,
    ) -> None:
        self.timers = timers
        self.auto_100 = auto_100
        self.rfc6026 = rfc6026
        self.branch_factory = branch_factory
        self.clients: dict[ClientKey, ClientTransaction] = {}
        self.servers: dict[ServerKey | Rfc2543Key, ServerTransaction] = {}
        self._events: deque[LayerEvent] = deque()
        self._outgoing: list[tuple[Transaction, Request | Response]] = []

    # ----- client side ------------------------------------------------------------------

    def send_request(
        self, request: Request, *, reliable: bool, now: float, via: str | None = None
    ) -> ClientTransaction:
        """Start a client transaction for ``request`` (see :class:`ClientTransaction`)."""
        tx = ClientTransaction(
            request,
            reliable=reliable,
            now=now,
            timers=self.timers,
            via=via,
            branch_factory=self.branch_factory,
            rfc6026=self.rfc6026,
        )
        self.clients[tx.key] = tx
        self._sweep()
        return tx

    def receive_response(self, response: Response, now: float) -> ClientTransaction | None:
        """Route a response to its client transaction; None if it matched none."""
        self._sweep()
        tx = self.clients.get(client_key(response))
        if tx is None:
            self._events.append(LayerEvent(None, ResponseReceived(response)))
            return None
        tx.receive_response(response, now)
        self._sweep()
        return tx

    # ----- server side ------------------------------------------------------------------

    def receive_request(self, request: Request, *, reliable: bool, now: float) -> ServerTransaction | None:
        """Route a request to its server transaction or create one.

        Returns None for an ACK that matches no transaction (the ACK of a 2xx), which
        is reported as ``LayerEvent(None, RequestReceived(ack))``.
        """
        self._sweep()
        tx = self.servers.get(server_key(request))
        if tx is not None and tx.matches(request):
            tx.receive_request(request, now)
        elif request.method == "ACK":
            self._events.append(LayerEvent(None, RequestReceived(request)))
            return None
        else:
            tx = ServerTransaction(
                request,
                reliable=reliable,
                now=now,
                timers=self.timers,
                auto_100=self.auto_100,
                rfc6026=self.rfc6026,
            )
            self.servers[tx.key] = tx
        self._sweep()
        return tx

    def send_response(self, tx: ServerTransaction, response: Response, now: float) -> None:
        """Pass a TU response to ``tx`` (same as ``tx.send_response`` then collecting)."""
        tx.send_response(response, now)
        self._sweep()

    def cancel_target(self, cancel: Request) -> ServerTransaction | None:
        """The server transaction a CANCEL applies to (RFC 3261 9.2), if it still exists."""
        return self.servers.get(server_key_for_cancel_target(cancel))

    def transport_failed(self, tx: Transaction, now: float) -> None:
        """The transport could not send for ``tx`` (17.1.4, 17.2.4)."""
        tx.transport_failed(now)
        self._sweep()

    # ----- clock and output -------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The earliest timer over every transaction, or None."""
        self._sweep()
        deadlines = [tx.get_timer() for tx in self._all()]
        return min((d for d in deadlines if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``, in every transaction."""
        for tx in self._all():
            if not tx.terminated:
                tx.handle_timer(now)
        self._sweep()

    def next_event(self) -> LayerEvent | None:
        """The oldest event, with its transaction, or None."""
        self._sweep()
        return self._events.popleft() if self._events else None

    def messages_to_send(self) -> list[tuple[Transaction, Request | Response]]:
        """What to pass to the transport, with the transaction each belongs to."""
        self._sweep()
        out, self._outgoing = self._outgoing, []
        return out

    def _all(self) -> list[Transaction]:
        return [*self.clients.values(), *self.servers.values()]

    def _sweep(self) -> None:
        """Collect every transaction's messages and events; drop terminated ones."""
        for tx in self._all():
            for message in tx.messages_to_send():
                self._outgoing.append((tx, message))
            while (event := tx.next_event()) is not None:
                self._events.append(LayerEvent(tx, event))
        self.clients = {k: tx for k, tx in self.clients.items() if not tx.terminated}
        self.servers = {k: tx for k, tx in self.servers.items() if not tx.terminated}
