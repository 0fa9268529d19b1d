"""The whole reference stack on loopback, from one configuration.

Nodes start in dependency order: the wIMPU Registrar, the WWSF (its origin and token
keys are what the eP-CSCFs trust), then each eP-CSCF, whose WSS URL the WWSF directory
then announces. :class:`StackConfig` holds the defaults of the reference profile: one
third party with two blocks, one per identity option, each served by its own eP-CSCF
(TR 23.701 5.2.2.1: "Each block of wIMPU allocated to a third party is associated with
a different eP-CSCF").
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reference.nodes.ep_cscf import EpCscf
from reference.nodes.hss.data import HssData, Subscription
from reference.nodes.i_cscf.service import Icscf
from reference.nodes.iwf.service import TrustedWwsf
from reference.nodes.iwf.token_check import keys_from_jwks
from reference.nodes.p_cscf.block_registration import BlockCredentials
from reference.nodes.p_cscf.flows import Allocation, BlockConfig
from reference.nodes.s_cscf.config import ScscfConfig
from reference.nodes.s_cscf.service import ScscfService
from reference.nodes.wimpu_registrar.service import RegistrarService
from reference.nodes.wwsf.service import WwsfService
from reference.sip.identity import WildcardImpu
from reference.tls import TestPki
from reference.transport.endpoint import Target
from reference.transport.resolver import Resolver

__all__ = ["BlockSpec", "Stack", "StackConfig", "UserSpec"]

log = logging.getLogger("wimpu.stack")


@dataclasses.dataclass(frozen=True, slots=True)
class BlockSpec:
    wimpu: str
    option: str
    "A (third-party allocation) or B (eP-CSCF allocation)."
    ep_cscf: str
    "Name of the eP-CSCF serving the block."
    external_domains: tuple[str, ...] = ()
    name: str = "block"
    "Short name: the block's IMPI is <name>@<ims domain>, its distinct IMPU sip:<name>@wrtc.<ims domain>."
    password: str = "block-secret"
    registration: int = 1
    "TR 23.701 5.2.2.5.1 option: 1 at eP-CSCF start-up, 2 on the first WIC registration."


@dataclasses.dataclass(frozen=True, slots=True)
class UserSpec:
    username: str
    password: str
    identity: str
    block: str


@dataclasses.dataclass(frozen=True, slots=True)
class StackConfig:
    host: str = "127.0.0.1"
    ims_domain: str = "ims.example.net"
    blocks: tuple[BlockSpec, ...] = (
        BlockSpec("sip:wrtc-!.*!@block1.ims.example.net", "A", "ep-cscf1", name="block1", registration=1),
        BlockSpec(
            "sip:wrtc-!.*!@block2.ims.example.net",
            "B",
            "ep-cscf2",
            ("enterprise.com",),
            name="block2",
            registration=2,
        ),
    )
    users: tuple[UserSpec, ...] = (
        UserSpec(
            "alice",
            "alice-password",
            "sip:wrtc-alice@block1.ims.example.net",
            "sip:wrtc-!.*!@block1.ims.example.net",
        ),
        UserSpec("bob", "bob-password", "sip:bob@enterprise.com", "sip:wrtc-!.*!@block2.ims.example.net"),
    )
    state_dir: str | None = None
    "Where the PKI and the registrar database live; a temporary directory when None."
    ims_users: tuple[str, ...] = ("sip:carol@ims.example.net",)
    "Ordinary IMS subscribers (not webRTC): the I-CSCF routes to them without any W7 query."
    remote_domain: str = "remote.example.org"
    "The domain of the remote party outside the home network (S-CSCF breakout hop)."
    ports: Mapping[str, int] = dataclasses.field(default_factory=dict)
    "registrar, wwsf, i_cscf, s_cscf -> port (0 or absent: any free port)."
    ep_ports: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    "eP-CSCF name -> (WSS port, SIP port)."
    registrar_url: str | None = None
    "Use a wIMPU Registrar running elsewhere (its base URL) instead of starting one."


class Stack:
    """Registrar, WWSF and eP-CSCFs, started and stopped together."""

    def __init__(self, config: StackConfig | None = None, *, clock: Any = None) -> None:
        self.config = config or StackConfig()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if self.config.state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wimpu-")
            self.state = Path(self._tmp.name)
        else:
            self.state = Path(self.config.state_dir)
            self.state.mkdir(parents=True, exist_ok=True)
        self.pki = TestPki(self.state / "pki")
        self.clock = clock
        kwargs = {"clock": clock} if clock else {}
        port = self.config.ports.get
        self.registrar = RegistrarService(
            db_path=str(self.state / "registrar.db"),
            host=self.config.host,
            port=port("registrar", 0),
            **kwargs,
        )
        self.wwsf = WwsfService(
            pki=self.pki,
            users={
                u.username: {"password": u.password, "identity": u.identity, "block": u.block}
                for u in self.config.users
            },
            blocks=[
                {
                    "wimpu": b.wimpu,
                    "option": b.option,
                    "ep_cscf": {"uri": "wss://unassigned.invalid", "identity": self.ep_identity(b.ep_cscf)},
                }
                for b in self.config.blocks
            ],
            host=self.config.host,
            port=port("wwsf", 0),
            **kwargs,
        )
        self.ep_cscfs: dict[str, EpCscf] = {}
        self.resolver = Resolver()
        domain = self.config.ims_domain
        self.hss = HssData(self._subscriptions())
        self.scscf = ScscfService(
            config=ScscfConfig(
                uri=f"sip:scscf.{domain}",
                orig_uri=f"sip:orig@scscf.{domain};lr",
                realm=domain,
                i_cscf_uri=f"sip:icscf.{domain};lr",
                remote_party_uri=f"sip:{self.config.remote_domain};lr",
                i_cscf_domains=tuple(d for b in self.config.blocks for d in b.external_domains),
            ),
            hss=self.hss,
            resolver=self.resolver,
            host=self.config.host,
            port=port("s_cscf", 0),
        )
        self.icscf = Icscf(
            registrar_url="http://unassigned.invalid",
            hss=self.hss,
            resolver=self.resolver,
            webrtc_domains=self.webrtc_domains(),
            external_domains=tuple(d for b in self.config.blocks for d in b.external_domains),
            host=self.config.host,
            port=port("i_cscf", 0),
        )

    def webrtc_domains(self) -> tuple[str, ...]:
        """TR 23.701 5.2.2.3.3: the domains the enhanced I-CSCF checks over W7."""
        found: list[str] = []
        for b in self.config.blocks:
            wildcard = WildcardImpu.parse(b.wimpu)
            found += [*(b.external_domains), *([wildcard.host] if wildcard.host else [])]
        return tuple(dict.fromkeys(found))

    def _subscriptions(self) -> list[Subscription]:
        domain = self.config.ims_domain
        subs = [
            Subscription(
                impi=f"{b.name}@{domain}",
                password=b.password,
                distinct_impus=(self.block_representative(b),),
                wildcard_impus=(WildcardImpu.parse(b.wimpu),),
                scscf=f"sip:scscf.{domain}",
            )
            for b in self.config.blocks
        ]
        for i, user in enumerate(self.config.ims_users):
            subs.append(
                Subscription(
                    impi=f"ims-user-{i}@{domain}",
                    password=f"ims-{i}",
                    distinct_impus=(user,),
                    wildcard_impus=(),
                    scscf=f"sip:scscf.{domain}",
                )
            )
        return subs

    def block_representative(self, block: BlockSpec) -> str:
        """The distinct IMPU registered for a block (5.2.2.5.1)."""
        return f"sip:{block.name}@wrtc.{self.config.ims_domain}"

    def ep_identity(self, name: str) -> str:
        """The identity of an eP-CSCF (the ``aud`` of its tokens)."""
        return f"sip:{name}.{self.config.ims_domain}"

    @property
    def registrar_url(self) -> str:
        return self.config.registrar_url or self.registrar.base_url

    async def start(self) -> None:
        if self.config.registrar_url is None:
            await self.registrar.start()
        await self.scscf.start()
        self.icscf.registrar = type(self.icscf.registrar)(self.registrar_url)
        await self.icscf.start()
        domain = self.config.ims_domain
        scscf = Target("TCP", self.config.host, self.scscf.node.port)
        self.resolver.add(f"scscf.{domain}", scscf)
        self.resolver.add(domain, scscf)
        self.resolver.add(f"icscf.{domain}", Target("TCP", self.config.host, self.icscf.node.port))
        await self.wwsf.start()
        trusted = TrustedWwsf(
            self.wwsf.origin, keys_from_jwks(self.wwsf.jwks()), realm=self.config.ims_domain
        )
        names = sorted({b.ep_cscf for b in self.config.blocks})
        for name in names:
            blocks = [
                BlockConfig(
                    wimpu=WildcardImpu.parse(b.wimpu),
                    allocation=Allocation.THIRD_PARTY if b.option == "A" else Allocation.EP_CSCF,
                    external_domains=b.external_domains,
                    name=b.name,
                )
                for b in self.config.blocks
                if b.ep_cscf == name
            ]
            ep = EpCscf(
                name=name,
                identity=self.ep_identity(name),
                blocks=blocks,
                registrar_url=self.registrar_url,
                wwsf=trusted,
                ssl_context=self.pki.server_context("ep-cscf"),
                resolver=self.resolver,
                credentials=[
                    BlockCredentials(
                        wimpu=b.wimpu,
                        representative=self.block_representative(b),
                        impi=f"{b.name}@{domain}",
                        password=b.password,
                        registrar=f"sip:{domain}",
                        option=b.registration,
                    )
                    for b in self.config.blocks
                    if b.ep_cscf == name
                ],
                host=self.config.host,
                wss_port=self.config.ep_ports.get(name, (0, 0))[0],
                sip_port=self.config.ep_ports.get(name, (0, 0))[1],
                clock=self.clock,
            )
            await ep.start()
            self.ep_cscfs[name] = ep
            for b in self.config.blocks:
                if b.ep_cscf == name:
                    self.wwsf.set_block_ep_cscf(b.wimpu, {"uri": ep.wss_url, "identity": ep.identity})

    async def stop(self) -> None:
        for ep in self.ep_cscfs.values():
            await ep.stop()
        await self.icscf.stop()
        await self.scscf.stop()
        await self.wwsf.stop()
        if self.config.registrar_url is None:
            await self.registrar.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def endpoints(self) -> dict[str, str]:
        """Every endpoint of the stack, for printing."""
        found = {
            "wIMPU Registrar (W6/W7)": self.registrar_url,
            "WWSF": self.wwsf.origin,
        }
        for name, ep in self.ep_cscfs.items():
            found[f"eP-CSCF {name} (IWF, WSS)"] = ep.wss_url
            found[f"eP-CSCF {name} (P-CSCF, SIP)"] = ep.sip_uri
        found["I-CSCF (SIP)"] = self.icscf.node.uri(lr=False)
        found["S-CSCF (SIP)"] = self.scscf.node.uri(lr=False)
        return found
