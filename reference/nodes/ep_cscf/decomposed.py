"""The decomposed eP-CSCF: an IWF alone, and P-CSCFs alone, over the internal interface.

TR 23.701 5.2.2.2: "Note that implicit in this architecture for solution 2 is a
decomposed architecture for the eP-CSCF. [...] The IWF can communicate with any P-CSCF
since this is internal. [...] This decomposed architecture of the eP-CSCF promotes
scalability at different levels, resiliency, and redundancy, as opposed to a single box
that implements everything. The IWFs can scale separately then the P-CSCFs."

:class:`IwfAlone` is the WICs' contact point (WSS, Origin and token checks) with links
to the P-CSCFs of the eP-CSCF; :class:`PcscfAlone` is one of those P-CSCFs, each in its
own process if wanted. The P-CSCFs of one eP-CSCF hold its blocks by lease: the first
one listed serves them, the others stand by, and when the serving one fails another
takes the blocks over while the IWF keeps the WICs' WebSockets and registers them
again there (``reference.nodes.iwf.routing``).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reference.blocks import WimpuBlock
from reference.limits import DEFAULT_LIMITS, Limits
from reference.nodes.iwf.pool import PcscfPool, PcscfTarget
from reference.nodes.iwf.service import Iwf, TrustedWwsf
from reference.nodes.p_cscf.block_registration import BlockCredentials
from reference.nodes.p_cscf.failover import BlockKeeper
from reference.nodes.p_cscf.flows import RegistrationPolicy
from reference.nodes.p_cscf.lease import LeaseTiming, Role
from reference.nodes.p_cscf.link import IwfLinks
from reference.nodes.p_cscf.service import Pcscf
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.timers import Timers
from reference.transport.resolver import Resolver

__all__ = ["IwfAlone", "PcscfAlone"]


class IwfAlone:
    """The IWF of a decomposed eP-CSCF, linked to its P-CSCFs."""

    def __init__(
        self,
        *,
        name: str,
        identity: str,
        wwsf: TrustedWwsf,
        ssl_context: ssl.SSLContext | None,
        p_cscfs: Sequence[PcscfTarget],
        host: str = "127.0.0.1",
        wss_port: int = 0,
        retry_after: int = 2,
        clock: Any = None,
        limits: Limits = DEFAULT_LIMITS,
        sock: socket.socket | None = None,
    ) -> None:
        self.name = name
        self.identity = identity
        self.iwf = Iwf(
            name=name, identity=identity, wwsf=wwsf, ssl_context=ssl_context, host=host, port=wss_port,
            clock=clock, limits=limits, sock=sock,
        )  # fmt: skip
        self.pool = PcscfPool(self.iwf, p_cscfs, retry_after=retry_after)
        self.iwf.pcscf = self.pool

    @property
    def wss_url(self) -> str:
        return self.iwf.url

    async def start(self) -> None:
        await self.iwf.start()
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()
        await self.iwf.stop()


class PcscfAlone:
    """One P-CSCF of a decomposed eP-CSCF: SIP to the IMS core, the internal interface to IWFs.

    Args:
        name: the P-CSCF's name (its node name, and the user of nothing on the wire).
        identity: the identity its block leases are held under.
        ep_identity: the eP-CSCF's identity, stored with each contact it registers.
        roles: each block -> primary (serves it from the start) or standby.
        failover: the lease timings.
    """

    def __init__(
        self,
        *,
        name: str,
        identity: str,
        ep_identity: str,
        blocks: Sequence[WimpuBlock],
        registrar_url: str,
        registrar_ssl: ssl.SSLContext | Callable[[], ssl.SSLContext | None] | None = None,
        failover: LeaseTiming,
        roles: Mapping[str, Role],
        resolver: Resolver | None = None,
        credentials: Sequence[BlockCredentials] = (),
        host: str = "127.0.0.1",
        sip_port: int = 0,
        link_port: int = 0,
        clock: Callable[[], float] | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.name = name
        self.identity = identity
        self.registrar = RegistrarClient(registrar_url, ssl=registrar_ssl)
        self.links = IwfLinks(name=name, host=host, port=link_port)
        keeper = BlockKeeper(holder=identity, registrar=self.registrar, timing=failover, roles=roles)
        self.pcscf = Pcscf(
            name=name,
            blocks=blocks,
            registrar=self.registrar,
            policy=RegistrationPolicy(ep_cscf=ep_identity),
            iwf=self.links,
            resolver=resolver,
            credentials=credentials,
            host=host,
            port=sip_port,
            keeper=keeper,
            clock=clock,
            timers=timers,
        )
        self.links.pcscf = self.pcscf

    @property
    def keeper(self) -> BlockKeeper | None:
        return self.pcscf.keeper

    @property
    def link_port(self) -> int:
        return self.links.port

    @property
    def sip_uri(self) -> str:
        return self.pcscf.uri

    async def start(self) -> None:
        await self.pcscf.start()
        await self.links.start()
        await self.pcscf.start_leases()

    async def stop(self) -> None:
        """A graceful stop: the leases are released, another P-CSCF takes the blocks at once."""
        await self.pcscf.stop()
        await self.links.stop()
        await self.registrar.close()

    async def crash(self) -> None:
        """Stop as a crash would (in-process tests): links dropped, nothing released."""
        self.links.abort()
        await self.pcscf.stop(graceful=False)
        await self.links.stop()
        await self.registrar.close()
