"""A SIP node's I/O shell: an endpoint, the transaction layer, and its timer.

The aioquic ``protocol.py`` pattern: every input (a message, a timer) is fed to the
sans-I/O :class:`~reference.sip.transaction.TransactionLayer` with ``now=loop.time()``,
then its output is drained: messages to the transport, events to the node's core, and
the single timer re-armed. Nodes (I-CSCF, S-CSCF, the eP-CSCF's core side, the suite's
remote party) sit on this and only see transactions and messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from reference.sip.errors import SipError
from reference.sip.message import Request, Response
from reference.sip.transaction import (
    ClientTransaction,
    InviteClientTransaction,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TimedOut,
    Transaction,
    TransactionLayer,
    TransportFailed,
    make_response,
)

from .endpoint import SipEndpoint, Source, Target, TransportFailure

__all__ = ["ClientHandle", "SipNode"]

log = logging.getLogger("wimpu.sip")

RequestHandler = Callable[[ServerTransaction, Request, Source], Awaitable[None]]
ResponseCallback = Callable[[Response], None]


@dataclasses.dataclass(eq=False)
class ClientHandle:
    """A client transaction in flight, with where it goes and who hears its responses."""

    transaction: ClientTransaction
    target: Target
    on_response: ResponseCallback
    final: asyncio.Future[Response]
    cancel_reason: str | None = None
    "A CANCEL is wanted; it goes as soon as a provisional response allows (RFC 3261 9.1)."
    cancelled: bool = False

    @property
    def request(self) -> Request:
        return self.transaction.request


class SipNode:
    """One SIP node on UDP and TCP, transaction-stateful."""

    def __init__(self, name: str, *, host: str = "127.0.0.1", port: int = 0, transport: str = "TCP") -> None:
        self.name = name
        self.transport = transport.upper()
        self.endpoint = SipEndpoint(name, self._received, host=host, port=port)
        self.layer = TransactionLayer()
        self.on_request: RequestHandler | None = None
        "Called for every new server transaction (and its request)."
        self.on_ack: Callable[[Request, Source], Awaitable[None]] | None = None
        "Called for an ACK that matched no transaction (the ACK of a 2xx)."
        self.on_cancel: Callable[[ServerTransaction], None] | None = None
        "Called when a CANCEL matched a pending INVITE server transaction (RFC 3261 9.2)."
        self._cancel_handlers: dict[int, Callable[[str | None], None]] = {}
        self._sources: dict[int, Source] = {}
        self._clients: dict[int, ClientHandle] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        await self.endpoint.start()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.endpoint.stop()

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int:
        return self.endpoint.port

    def via(self, transport: str | None = None) -> str:
        """``sent-protocol sent-by`` of this node for a Via (RFC 3261 18.1.1)."""
        return f"SIP/2.0/{(transport or self.transport).upper()} {self.host}:{self.port}"

    def uri(self, user: str | None = None, *, lr: bool = True) -> str:
        """A SIP URI of this node (for Route, Record-Route, Path, Service-Route)."""
        at = f"{user}@" if user else ""
        return f"sip:{at}{self.host}:{self.port};transport={self.transport.lower()}" + (";lr" if lr else "")

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task failed", self.name, exc_info=task.exception())

    # ----- input -----------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def inject(self, message: Request | Response, source: Source) -> None:
        """Feed a message that arrived on another transport (a WebSocket flow)."""
        self._received(message, source)

    def _received(self, message: Request | Response, source: Source) -> None:
        now = self._now()
        reliable = source.transport != "UDP"
        if isinstance(message, Request):
            if message.method == "CANCEL":
                self._cancel_received(message, source, now)
            tx = self.layer.receive_request(message, reliable=reliable, now=now)
            if tx is not None:
                self._sources.setdefault(id(tx), source)
            else:
                self._sources[-1] = source
        else:
            self.layer.receive_response(message, now)
        self._pump()

    def _cancel_received(self, cancel: Request, source: Source, now: float) -> None:
        target = self.layer.cancel_target(cancel)
        if target is None:
            return
        handler = self._cancel_handlers.pop(id(target), None)
        if handler is not None:
            handler(cancel.get("Reason"))
        elif self.on_cancel is not None:
            self.on_cancel(target)

    def _fire(self) -> None:
        self._timer = None
        self.layer.handle_timer(self._now())
        self._pump()

    async def _serve(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        """Run the node's core on a new request; whatever happens, the request is answered.

        RFC 3261 8.2 and 16: every request is answered with a final response. The core
        raises :class:`SipError` for a request it cannot handle (its ``status``: 400 for
        a header that does not parse, 483 for Max-Forwards 0, 482 for a loop); anything
        else is a fault of ours, answered 500 and logged once with its traceback. A
        transaction the core already answered is left alone.
        """
        assert self.on_request is not None
        try:
            await self.on_request(tx, request, source)
        except asyncio.CancelledError:
            raise
        except SipError as exc:
            log.info("%s: %s answered %d: %s", self.name, request.summary(), exc.status, exc)
            self._answer(tx, request, exc.status, str(exc) or exc.reason)
        except Exception:
            log.exception("%s: internal error on %s", self.name, request.summary())
            self._answer(tx, request, 500, "Server Internal Error")

    def _answer(self, tx: ServerTransaction, request: Request, status: int, reason: str) -> None:
        if tx.terminated or tx.final_response is not None:
            return
        reason = " ".join(reason.split())[:80] or "Error"
        try:
            self.respond(tx, make_response(request, status, reason))
        except SipError as exc:  # a request too broken to answer (no usable Via or CSeq)
            log.info("%s: %s cannot be answered: %s", self.name, request.summary(), exc)

    # ----- output ----------------------------------------------------------------------

    def _pump(self) -> None:
        for tx, message in self.layer.messages_to_send():
            target = self._target_of(tx)
            if target is not None:
                self.spawn(self._send(tx, message, target))
        while (item := self.layer.next_event()) is not None:
            self._dispatch(item.transaction, item.event)
        when = self.layer.get_timer()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if when is not None:
            self._timer = asyncio.get_running_loop().call_at(when, self._fire)

    def _target_of(self, tx: Transaction) -> Target | None:
        if isinstance(tx, ClientTransaction):
            handle = self._clients.get(id(tx))
            return None if handle is None else handle.target
        source = self._sources.get(id(tx))
        return None if source is None else Target.of(source)

    async def _send(self, tx: Transaction, message: Request | Response, target: Target) -> None:
        try:
            await self.endpoint.send(message, target)
        except TransportFailure as exc:
            log.warning("%s: %s", self.name, exc)
            self.layer.transport_failed(tx, self._now())
            self._pump()

    def _dispatch(self, tx: Transaction | None, event: object) -> None:
        if isinstance(event, RequestReceived):
            source = self._sources.pop(-1, None) if tx is None else self._sources.get(id(tx))
            if tx is None:
                if self.on_ack is not None and source is not None:
                    self.spawn(self.on_ack(event.request, source))
                return
            assert isinstance(tx, ServerTransaction) and source is not None
            if event.request.method == "CANCEL":
                target = self.layer.cancel_target(event.request)
                status = 200 if target is not None else 481  # RFC 3261 9.2
                self.respond(tx, make_response(event.request, status))
                return
            if self.on_request is None:
                self.respond(tx, make_response(event.request, 501))
                return
            self.spawn(self._serve(tx, event.request, source))
            return
        if isinstance(tx, ClientTransaction):
            handle = self._clients.get(id(tx))
            if handle is None:
                return
            if isinstance(event, ResponseReceived):
                if event.response.is_provisional and handle.cancel_reason and not handle.cancelled:
                    self.cancel(handle, handle.cancel_reason)
                handle.on_response(event.response)
                if event.response.is_final and not handle.final.done():
                    handle.final.set_result(event.response)
            elif isinstance(event, (TimedOut, TransportFailed)):
                # RFC 3261 8.1.3.1: a timeout is treated as 408, a transport error as 503.
                status = 408 if isinstance(event, TimedOut) else 503
                synthetic = make_response(handle.request, status)
                handle.on_response(synthetic)
                if not handle.final.done():
                    handle.final.set_result(synthetic)
            if tx.terminated:
                self._clients.pop(id(tx), None)
        elif tx is not None and tx.terminated:
            self._sources.pop(id(tx), None)
            self._cancel_handlers.pop(id(tx), None)

    # ----- API for the node's core ------------------------------------------------------

    def send_request(
        self,
        request: Request,
        target: Target,
        *,
        on_response: ResponseCallback | None = None,
        add_via: bool = True,
    ) -> ClientHandle:
        """Start a client transaction (a Via with a fresh branch is pushed on top)."""
        now = self._now()
        tx = self.layer.send_request(
            request,
            reliable=target.transport.upper() != "UDP",
            now=now,
            via=self.via(target.transport) if add_via else None,
        )
        handle = ClientHandle(
            tx, target, on_response or (lambda r: None), asyncio.get_running_loop().create_future()
        )
        self._clients[id(tx)] = handle
        self._pump()
        return handle

    async def request(self, request: Request, target: Target) -> Response:
        """Send a request and wait for its final response (408/503 synthesised on failure)."""
        return await self.send_request(request, target).final

    def when_cancelled(self, tx: ServerTransaction, handler: Callable[[str | None], None] | None) -> None:
        """Call ``handler(reason)`` if a CANCEL matches ``tx`` (None removes it)."""
        if handler is None:
            self._cancel_handlers.pop(id(tx), None)
        else:
            self._cancel_handlers[id(tx)] = handler

    def respond(self, tx: ServerTransaction, response: Response) -> None:
        """Send a response through its server transaction."""
        if tx.terminated:
            return
        self.layer.send_response(tx, response, self._now())
        self._pump()

    def cancel(self, handle: ClientHandle, reason: str | None = None) -> None:
        """CANCEL a pending INVITE client transaction (RFC 3261 9.1), as its own transaction."""
        tx = handle.transaction
        handle.cancel_reason = reason or handle.cancel_reason or "SIP;cause=487"
        if handle.cancelled or not isinstance(tx, InviteClientTransaction) or not tx.may_cancel:
            return  # sent later, on the first provisional response, if any (9.1)
        handle.cancelled = True
        cancel = tx.cancel_request()
        if reason:
            cancel = cancel.with_header("Reason", reason)
        self.send_request(cancel, handle.target, add_via=False)

    async def send_ack(self, ack: Request, target: Target) -> None:
        """Send an ACK for a 2xx: end to end, outside any transaction (RFC 3261 13.2.2.4)."""
        await self.endpoint.send(ack, target)

    async def forward_stateless(self, message: Request | Response, target: Target) -> None:
        await self.endpoint.send(message, target)
