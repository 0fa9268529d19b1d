"""The eP-CSCF: an IWF and a P-CSCF bundled through their internal interface.

TR 23.701 5.2.2.2: "The eP-CSCF includes an Inter-Working-Function (IWF) and a P-CSCF
communicating through an internal interface (bundled as eP-CSCF)". The two are
separate objects here; the bundle only connects :attr:`Iwf.pcscf` and
:attr:`Pcscf.iwf`.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

from reference.nodes.iwf.service import Iwf, TrustedWwsf
from reference.nodes.p_cscf.block_registration import BlockCredentials
from reference.nodes.p_cscf.flows import BlockConfig, RegistrationPolicy
from reference.nodes.p_cscf.service import Pcscf
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.transport.resolver import Resolver

__all__ = ["EpCscf"]


class EpCscf:
    """One eP-CSCF instance serving one or more wIMPU blocks."""

    def __init__(
        self,
        *,
        name: str,
        identity: str,
        blocks: Sequence[BlockConfig],
        registrar_url: str,
        wwsf: TrustedWwsf,
        ssl_context: ssl.SSLContext | None,
        resolver: Resolver | None = None,
        credentials: Sequence[BlockCredentials] = (),
        host: str = "127.0.0.1",
        wss_port: int = 0,
        sip_port: int = 0,
        policy: RegistrationPolicy | None = None,
        clock: Any = None,
    ) -> None:
        self.name = name
        self.identity = identity
        self.registrar = RegistrarClient(registrar_url)
        self.iwf = Iwf(
            name=name,
            identity=identity,
            wwsf=wwsf,
            ssl_context=ssl_context,
            host=host,
            port=wss_port,
            clock=clock,
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
        )
        self.iwf.pcscf = self.pcscf

    @property
    def wss_url(self) -> str:
        return self.iwf.url

    @property
    def sip_uri(self) -> str:
        return self.pcscf.uri

    async def start(self) -> None:
        await self.pcscf.start()
        await self.iwf.start()

    async def stop(self) -> None:
        await self.iwf.stop()
        await self.pcscf.stop()
        await self.registrar.close()
