"""Block registration of a wIMPU range with IMS (TR 23.701 5.2.2.5.1): the I/O around the
flows ``register_block`` and ``remove_other_bindings`` of :mod:`.flows`.

"A single IMS registration is required to register the wIMPU block as per existing
23.228 procedures. The eP-CSCF would need to trigger the IMS registration of the wIMPU
block with IMS." Option 1: registered autonomously at start-up; option 2: on the first
WIC registration for the block (:func:`.flows.block_registration_due` decides). The
protocol (REGISTER dialog, digest answer, what the 200 OK says) is in :mod:`.flows`;
this module sends the REGISTERs over a :class:`SipNode`, serialises them per block and
refreshes the registration on a timer of the stack's clock (:mod:`reference.timers`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Generator
from typing import Any, TypeVar

from reference.nodes.p_cscf.flows import (
    BlockBinding,
    BlockCredentials,
    BlockRegistrationError,
    SendRegister,
    Trigger,
    block_registration_due,
    register_block,
    remove_other_bindings,
)
from reference.sip.address import NameAddr
from reference.sip.message import Response
from reference.spec import clause
from reference.timers import Timer, Timers
from reference.transport.endpoint import Target
from reference.transport.sip_node import SipNode

__all__ = ["BlockCredentials", "BlockRegistration", "BlockRegistrationError"]

log = logging.getLogger("wimpu.p_cscf.block")

T = TypeVar("T")

WIC_WAIT = 8.0
"""Seconds a WIC's REGISTER waits at most for the registration of its block it triggered
(:meth:`BlockRegistration.ensure`), in real time; then the WIC is answered 503 and the block's
registration goes on. Well inside the WIC's own Timer F (64*T1 = 32 s, RFC 3261 17.1.2.2), as the
W6 calls' 2 s (``RegistrarClient``); generous, so that a loaded machine's S-CSCF answer, a few
round trips on the loopback, never reaches it."""


class BlockRegistration:
    """One block's registration: its :class:`~.flows.BlockBinding`, carried out over SIP."""

    def __init__(
        self, node: SipNode, credentials: BlockCredentials, target: Target, name: str, timers: Timers
    ) -> None:
        self.node = node
        self.timers = timers
        "The stack's timers: the refresh runs on the stack's clock."
        self.target = target
        self.binding = BlockBinding(
            credentials, contact_user=name, host=node.host, port=node.port,
            call_id=f"{secrets.token_hex(8)}@{node.host}", from_tag=secrets.token_hex(5),
        )  # fmt: skip
        self._lock = asyncio.Lock()
        self._refresh: Timer | None = None
        self._first: asyncio.Future[Any] | None = None
        "Option 2: the registration a WIC registration started, while it is under way."
        self._until: float | None = None
        "When the lifetime the S-CSCF's last 200 OK granted runs out, on the stack's clock."
        self._sent_at = 0.0
        "The stack's clock when the REGISTERs under way began (a lifetime is counted from then)."
        self._refreshing: asyncio.Future[Any] | None = None
        "The refresh under way, started by its timer."

    # The binding's state, read (and, by tests, written) as before.
    @property
    def credentials(self) -> BlockCredentials:
        return self.binding.credentials

    @property
    def contact_user(self) -> str:
        return self.binding.contact_user

    @contact_user.setter
    def contact_user(self, value: str) -> None:
        self.binding.contact_user = value

    @property
    def contact(self) -> str:
        return self.binding.contact

    @property
    def registered(self) -> bool:
        """The S-CSCF accepted the block's last REGISTER and the lifetime its 200 OK granted has not
        run out on the stack's clock: a refresh still unanswered when it runs out (an S-CSCF that no
        longer answers) leaves the block unregistered, not registered until a final response comes
        (TP_WIMPU_BLK_009)."""
        return self.binding.registered and (self._until is None or self.timers.clock() < self._until)

    @property
    def service_route(self) -> tuple[str, ...]:
        return self.binding.service_route

    @service_route.setter
    def service_route(self, value: tuple[str, ...]) -> None:
        self.binding.service_route = value

    @property
    def associated(self) -> tuple[str, ...]:
        return self.binding.associated

    def is_own(self, contact: NameAddr) -> bool:
        """True if ``contact`` is this eP-CSCF's binding of the block."""
        return self.binding.is_own(contact)

    async def _run(self, flow: Generator[SendRegister, Response, T]) -> T:
        """Carry a flow's REGISTERs out, one at a time per block."""
        async with self._lock:
            self._sent_at = self.timers.clock()
            result: Response | None = None
            while True:
                try:
                    effect = flow.send(result) if result is not None else next(flow)
                except StopIteration as stop:
                    value: T = stop.value
                    return value
                result = await self.node.request(effect.request, self.target)

    @clause("TR 23.701 5.2.2.5.1")
    async def register(self, expires: int | None = None) -> Response:
        """Register (or refresh, or with ``expires=0`` de-register) the block
        (:func:`.flows.register_block`); a registration is refreshed at half its interval.

        Raises:
            BlockRegistrationError: the registration was not accepted.
        """
        response, granted = await self._run(register_block(self.binding, expires=expires, cnonce=_cnonce()))
        self._until = self._sent_at + granted if granted else None
        if granted:
            log.info(
                "block %s registered as %s for %ds; Service-Route %s",
                self.credentials.wimpu, self.credentials.representative, granted,
                ", ".join(self.service_route),
            )  # fmt: skip
            self._schedule_refresh(granted)
        return response

    @clause("TR 23.701 5.2.2.2")
    async def remove_other_bindings(self, response: Response) -> int:
        """Remove the block's bindings that are not this eP-CSCF's
        (:func:`.flows.remove_other_bindings`). Returns how many.

        Raises:
            BlockRegistrationError: the S-CSCF refused the removal.
        """
        removed = await self._run(remove_other_bindings(self.binding, response, cnonce=_cnonce()))
        if removed:
            log.info("block %s: removed the other binding(s) %s", self.credentials.wimpu, ", ".join(removed))
        return len(removed)

    @clause("TR 23.701 5.2.2.5.1")
    def _schedule_refresh(self, granted: int) -> None:
        """Refresh the block registration at half the interval the S-CSCF granted, on the
        stack's clock (the reference profile: well before it expires)."""
        if self._refresh is not None:
            self._refresh.cancel()
        self._refresh = self.timers.call_later(
            max(granted / 2, 1.0), self._start_refresh, name=f"refresh of block {self.credentials.wimpu}"
        )

    def _start_refresh(self) -> asyncio.Future[Any]:
        self._refreshing = self.node.spawn(self._refresh_now())
        return self._refreshing

    @clause("TR 23.701 5.2.2.5.1")
    async def _refresh_now(self) -> None:
        """The refresh of the block registration, when its timer fires."""
        try:
            await self.register()
        except BlockRegistrationError as exc:
            log.error("block refresh failed: %s", exc)

    @clause("TR 23.701 5.2.2.5.1")
    async def ensure(self, within: float = WIC_WAIT) -> None:
        """Option 2: register the block upon a WIC registration if it is not registered yet (option
        1 too, when its registration failed or a refresh went unanswered). WIC registrations that
        arrive while that registration is under way wait for it: one registration of the block, not
        one REGISTER per WIC (TP_WIMPU_BLK_006).

        Raises:
            BlockRegistrationError: the S-CSCF refused the block, or did not answer within
                ``within`` seconds (real time): the WIC is answered at once, the registration goes
                on (TP_WIMPU_BLK_009: an S-CSCF that no longer answers the block's REGISTERs).
        """
        if not block_registration_due(self.credentials.option, Trigger.WIC_REGISTRATION, self.registered):
            return
        if self._first is None:
            self._first = self.node.spawn(self._register_for_wics())
            self._first.add_done_callback(self._first_done)
        try:
            refused = await asyncio.wait_for(asyncio.shield(self._first), within)
        except TimeoutError:
            raise BlockRegistrationError(
                f"block {self.credentials.wimpu}: the S-CSCF has not answered its registration "
                f"within {within:g} s"
            ) from None
        if refused is not None:
            raise refused

    async def _register_for_wics(self) -> BlockRegistrationError | None:
        """The registration :meth:`ensure` starts: after the REGISTER under way, if any (a refresh
        whose 200 OK makes the block registered again), and only if the block is still not
        registered then (a single registration, 5.2.2.5.1). Returns the refusal, not raises it: each
        waiting WIC registration raises it."""
        async with self._lock:
            pass
        if self.registered:
            return None
        try:
            await self.register()
        except BlockRegistrationError as exc:
            return exc
        return None

    def _first_done(self, done: asyncio.Future[Any]) -> None:
        self._first = None

    def cancel(self) -> None:
        """Stop keeping the block registered: its refresh timer, a refresh under way and a
        registration WICs started (the node stops them too when it stops)."""
        if self._refresh is not None:
            self._refresh.cancel()
        for task in (self._refreshing, self._first):
            if task is not None and not task.done():
                task.cancel()


def _cnonce() -> str:
    return secrets.token_hex(8)
