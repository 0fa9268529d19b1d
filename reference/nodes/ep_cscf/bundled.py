"""The bundled eP-CSCF: an IWF and a P-CSCF in one node, the internal interface a method call.

TR 23.701 5.2.2.2: "The eP-CSCF includes an Inter-Working-Function (IWF) and a P-CSCF
communicating through an internal interface (bundled as eP-CSCF)". The two are
separate objects here; the bundle only connects :attr:`Iwf.pcscf` and
:attr:`Pcscf.iwf`.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reference.blocks import WimpuBlock
from reference.limits import DEFAULT_LIMITS, Limits
from reference.nodes.iwf.service import Iwf, TrustedWwsf
from reference.nodes.p_cscf.block_registration import BlockCredentials
from reference.nodes.p_cscf.failover import BlockKeeper
from reference.nodes.p_cscf.flows import RegistrationPolicy
from reference.nodes.p_cscf.lease import LeaseTiming, Role
from reference.nodes.p_cscf.service import Pcscf
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.timers import Timers
from reference.transport.resolver import Resolver

__all__ = ["EpCscf"]


class EpCscf:
    """One eP-CSCF instance serving one or more wIMPU blocks."""

    def __init__(
        self,
        *,
        name: str,
        identity: str,
        blocks: Sequence[WimpuBlock],
        registrar_url: str,
        registrar_ssl: ssl.SSLContext | Callable[[], ssl.SSLContext | None] | None = None,
        wwsf: TrustedWwsf,
        ssl_context: ssl.SSLContext | None,
        resolver: Resolver | None = None,
        credentials: Sequence[BlockCredentials] = (),
        host: str = "127.0.0.1",
        wss_port: int = 0,
        sip_port: int = 0,
        policy: RegistrationPolicy | None = None,
        clock: Any = None,
        failover: LeaseTiming | None = None,
        roles: Mapping[str, Role] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        timers: Timers | None = None,
    ) -> None:
        """``failover``: hold the blocks by lease (TR 23.701 5.2.2.2); ``roles`` says which
        blocks are this eP-CSCF's own (primary) and which it stands by for (default: all
        its own). Without ``failover`` it serves its blocks unconditionally."""
        self.name = name
        self.identity = identity
        self.registrar = RegistrarClient(registrar_url, ssl=registrar_ssl)
        keeper = None
        if failover is not None:
            keeper = BlockKeeper(
                holder=identity,
                registrar=self.registrar,
                timing=failover,
                roles=roles or {str(b.wimpu): Role.PRIMARY for b in blocks},
                access=lambda: {"uri": self.iwf.url, "identity": identity},
            )
        self.iwf = Iwf(
            name=name,
            identity=identity,
            wwsf=wwsf,
            ssl_context=ssl_context,
            host=host,
            port=wss_port,
            clock=clock,
            limits=limits,
        )
        self.pcscf = Pcscf(
            name=name,
            blocks=blocks,
            registrar=self.registrar,
            policy=policy or RegistrationPolicy(ep_cscf=identity),
            iwf=self.iwf,
            resolver=resolver,
            credentials=credentials,
            host=host,
            port=sip_port,
            clock=clock,
            keeper=keeper,
            timers=timers,
        )
        self.iwf.pcscf = self.pcscf

    @property
    def wss_url(self) -> str:
        return self.iwf.url

    @property
    def sip_uri(self) -> str:
        return self.pcscf.uri

    @property
    def keeper(self) -> BlockKeeper | None:
        """The block leases (None without failover)."""
        return self.pcscf.keeper

    async def start(self) -> None:
        await self.pcscf.start()
        await self.iwf.start()
        await self.pcscf.start_leases()

    async def stop(self) -> None:
        """A graceful stop: with failover the leases are released, so a standby takes
        over at once (a planned switch-over)."""
        await self.iwf.stop()
        await self.pcscf.stop()
        await self.registrar.close()

    async def crash(self) -> None:
        """Stop as a crash would, for in-process failover tests: no lease is released,
        no registration entry removed, no binding de-registered, every WebSocket and TCP
        connection dropped without a close handshake. A system test kills the process
        instead (SIGKILL), which this imitates."""
        self.iwf.down = True
        self.iwf.listener.abort()
        await self.pcscf.stop(graceful=False)
        await self.iwf.stop()
        await self.registrar.close()
