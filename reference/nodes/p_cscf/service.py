"""The P-CSCF half of the eP-CSCF: carries out the flows of ``flows.py`` (asyncio).

It receives WIC messages from an IWF over the internal interface, resolves which wIMPU
block an identity belongs to, and runs the registration flow, answering each W6 effect
with a call to the wIMPU Registrar.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import Any, Protocol

from reference.nodes.p_cscf.flows import (
    Allocation,
    BlockConfig,
    Flow,
    Registered,
    RegistrationPolicy,
    W6Read,
    W6ReadByExternal,
    W6Remove,
    W6Write,
    register_wic,
)
from reference.nodes.wimpu_registrar.client import (
    RegistrarClient,
    RegistrarRejected,
    RegistrarUnavailable,
)
from reference.sip.identity import IdentityError, canonical_identity
from reference.sip.message import Request, Response
from reference.sip.transaction_base import make_response
from reference.transport.endpoint import TransportFailure

__all__ = ["Pcscf", "WicSender"]

log = logging.getLogger("wimpu.p_cscf")


class WicSender(Protocol):
    """The way back to WICs: the IWF's ``send_to_flow`` (internal interface P-CSCF -> IWF)."""

    async def send_to_flow(self, flow_token: str, message: Request | Response) -> None: ...


class Pcscf:
    """P-CSCF for wIMPU-based WebRTC access."""

    def __init__(
        self,
        *,
        blocks: Sequence[BlockConfig],
        registrar: RegistrarClient,
        policy: RegistrationPolicy,
        iwf: WicSender,
    ) -> None:
        self.blocks = list(blocks)
        self.registrar = registrar
        self.policy = policy
        self.iwf = iwf
        self.flows: dict[str, set[str]] = {}
        "flow token -> IMPUs registered over it (the P-CSCF's own registration state)."

    def block_for(self, identity: str) -> BlockConfig | None:
        """The block an identity belongs to: option A by the wildcard, option B by domain."""
        for block in self.blocks:
            if block.allocation is Allocation.THIRD_PARTY and block.wimpu.matches(identity):
                return block
        host = canonical_identity(identity).partition("@")[2]
        for block in self.blocks:
            if block.allocation is Allocation.EP_CSCF and host in block.external_domains:
                return block
        return None

    async def from_wic(self, message: Request | Response, flow_token: str, identity: str | None) -> None:
        if isinstance(message, Response):
            log.info("P-CSCF: response from WIC on %s ignored (no client transaction yet)", flow_token)
            return
        if message.method == "REGISTER" and identity is not None:
            response = await self.register(message, flow_token, identity)
        else:
            response = make_response(message, 403, "Not registered", to_tag=secrets.token_hex(4))
        await self._send(flow_token, response)

    async def register(self, request: Request, flow_token: str, identity: str) -> Response:
        """Run the registration flow (TR 23.701 5.2.2.5.2 steps 5-7) for a token-checked WIC."""
        tag = secrets.token_hex(4)
        try:
            block = self.block_for(identity)
        except IdentityError as exc:
            return make_response(request, 400, str(exc)[:80], to_tag=tag)
        if block is None:
            log.warning(
                "P-CSCF: REGISTER for %s refused: the identity is in no wIMPU block of this eP-CSCF", identity
            )
            return make_response(request, 403, "Identity outside every wIMPU block", to_tag=tag)
        flow = register_wic(
            request,
            identity=identity,
            block=block,
            flow=flow_token,
            path=(),
            policy=self.policy,
            to_tag=tag,
        )
        try:
            return await self._drive(flow, flow_token)
        except RegistrarUnavailable as exc:
            log.error("P-CSCF: REGISTER for %s failed: %s", identity, exc)
            response = make_response(request, 503, "wIMPU Registrar unavailable", to_tag=tag)
            return response.with_header("Retry-After", "5")
        except RegistrarRejected as exc:
            log.warning("P-CSCF: REGISTER for %s refused by the registrar: %s", identity, exc)
            status = 403 if exc.status == 409 else 500
            return make_response(request, status, "Registration refused by wIMPU Registrar", to_tag=tag)

    async def _drive(self, flow: Flow, flow_token: str) -> Response:
        result: Any = None
        while True:
            try:
                effect = flow.send(result)
            except StopIteration as stop:
                response: Response = stop.value
                return response
            result = await self._effect(effect, flow_token)

    async def _effect(self, effect: object, flow_token: str) -> Any:
        if isinstance(effect, W6Read):
            return await self.registrar.read(effect.impu)
        if isinstance(effect, W6ReadByExternal):
            return await self.registrar.read_by_external(effect.external_identity)
        if isinstance(effect, W6Write):
            body = {
                "wimpu": effect.wimpu,
                "allocated_by": effect.allocated_by,
                "contact": {k: v for k, v in effect.contact.items() if v is not None},
            }
            if effect.external_identity is not None:
                body["external_identity"] = effect.external_identity
            return await self.registrar.write(effect.impu, effect.contact_id, body)
        if isinstance(effect, W6Remove):
            await self.registrar.remove(effect.impu, effect.contact_id)
            if effect.contact_id is None:
                for impus in self.flows.values():
                    impus.discard(effect.impu)
            return None
        if isinstance(effect, Registered):
            self.flows.setdefault(flow_token, set()).add(effect.impu)
            log.info("P-CSCF: %s registered (%s) on %s", effect.impu, effect.outcome, flow_token)
            return None
        raise TypeError(f"unknown effect {effect!r}")

    async def _send(self, flow_token: str, message: Request | Response) -> None:
        try:
            await self.iwf.send_to_flow(flow_token, message)
        except TransportFailure as exc:
            log.info("P-CSCF: could not reach WIC on %s: %s", flow_token, exc)

    def flow_closed(self, flow_token: str) -> None:
        """TR 23.701 Lifecycle: a closed WebSocket makes its contacts unreachable."""
        self.flows.pop(flow_token, None)
