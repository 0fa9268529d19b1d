"""The whole reference stack on loopback, from one configuration.

Nodes start in dependency order: the wIMPU Registrar, the WWSF (its origin and token
keys are what the eP-CSCFs trust), then each eP-CSCF, whose WSS URL the WWSF directory
then announces. :class:`StackConfig` holds the defaults of the reference profile: one
third party with two blocks, one per identity option, each served by its own eP-CSCF
(TR 23.701 5.2.2.1: "Each block of wIMPU allocated to a third party is associated with
a different eP-CSCF").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import aiohttp

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

    def __init__(
        self, config: StackConfig | None = None, *, clock: Any = None, nodes: Collection[str] | None = None
    ) -> None:
        self.config = config or StackConfig()
        self.nodes = None if nodes is None else frozenset(nodes)
        "The nodes this process runs (None: all); the others are reached at their configured ports."
        self._started: list[Callable[[], Awaitable[None]]] = []
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

    # ----- where each node is: started here, or at its configured port ----------------

    def runs(self, node: str) -> bool:
        """True if this process runs ``node`` (registrar, wwsf, s-cscf, i-cscf, an eP-CSCF)."""
        return self.nodes is None or node in self.nodes

    def _fixed_port(self, key: str) -> int:
        port = self.config.ports.get(key, 0)
        if not port:
            raise ValueError(
                f"node {key} does not run in this process and has no fixed port in the configuration"
            )
        return port

    @property
    def registrar_url(self) -> str:
        if self.config.registrar_url:
            return self.config.registrar_url
        if self.runs("registrar"):
            return self.registrar.base_url
        return f"http://{self.config.host}:{self._fixed_port('registrar')}"

    @property
    def wwsf_origin(self) -> str:
        return (
            self.wwsf.origin
            if self.runs("wwsf")
            else f"https://{self.config.host}:{self._fixed_port('wwsf')}"
        )

    def _sip_target(self, node: str, key: str) -> Target:
        service = self.scscf if node == "s-cscf" else self.icscf
        port = service.node.port if self.runs(node) else self._fixed_port(key)
        return Target("TCP", self.config.host, port)

    def ep_wss_url(self, name: str) -> str:
        if name in self.ep_cscfs:
            return self.ep_cscfs[name].wss_url
        wss = self.config.ep_ports.get(name, (0, 0))[0]
        if not wss:
            raise ValueError(f"eP-CSCF {name} does not run in this process and has no fixed wss_port")
        return f"wss://{self.config.host}:{wss}"

    async def _wwsf_keys(self) -> dict[str, Any]:
        """The WWSF's token keys: in process, or its JWKS over HTTPS (retried while it starts)."""
        if self.runs("wwsf"):
            return keys_from_jwks(self.wwsf.jwks())
        url = f"{self.wwsf_origin}/.well-known/jwks.json"
        context = self.pki.client_context()
        for _ in range(100):
            try:
                async with aiohttp.ClientSession() as http, http.get(url, ssl=context) as r:
                    if r.status == 200:
                        return keys_from_jwks(await r.json())
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the WWSF's JWKS at {url} did not answer within 10 s")

    # ----- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start this process's nodes in dependency order."""
        if self.runs("registrar") and self.config.registrar_url is None:
            await self.registrar.start()
            self._started.append(self.registrar.stop)
        if self.runs("s-cscf"):
            await self.scscf.start()
            self._started.append(self.scscf.stop)
        if self.runs("i-cscf"):
            self.icscf.registrar = type(self.icscf.registrar)(self.registrar_url)
            await self.icscf.start()
            self._started.append(self.icscf.stop)
        domain = self.config.ims_domain
        # The stand-in for DNS: where the S-CSCF and I-CSCF are, in this process or at
        # their configured ports (a node with neither is simply not resolvable).
        if self.runs("s-cscf") or self.config.ports.get("s_cscf"):
            scscf = self._sip_target("s-cscf", "s_cscf")
            self.resolver.add(f"scscf.{domain}", scscf)
            self.resolver.add(domain, scscf)
        if self.runs("i-cscf") or self.config.ports.get("i_cscf"):
            self.resolver.add(f"icscf.{domain}", self._sip_target("i-cscf", "i_cscf"))
        if self.runs("wwsf"):
            await self.wwsf.start()
            self._started.append(self.wwsf.stop)
        names = sorted({b.ep_cscf for b in self.config.blocks})
        if any(self.runs(name) for name in names):
            trusted = TrustedWwsf(self.wwsf_origin, await self._wwsf_keys(), realm=domain)
            for name in names:
                if self.runs(name):
                    await self._start_ep_cscf(name, trusted)
        if self.runs("wwsf"):
            for b in self.config.blocks:
                self.wwsf.set_block_ep_cscf(
                    b.wimpu, {"uri": self.ep_wss_url(b.ep_cscf), "identity": self.ep_identity(b.ep_cscf)}
                )

    async def _start_ep_cscf(self, name: str, trusted: TrustedWwsf) -> None:
        domain = self.config.ims_domain
        mine = [b for b in self.config.blocks if b.ep_cscf == name]
        ep = EpCscf(
            name=name,
            identity=self.ep_identity(name),
            blocks=[
                BlockConfig(
                    wimpu=WildcardImpu.parse(b.wimpu),
                    allocation=Allocation.THIRD_PARTY if b.option == "A" else Allocation.EP_CSCF,
                    external_domains=b.external_domains,
                    name=b.name,
                )
                for b in mine
            ],
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
                for b in mine
            ],
            host=self.config.host,
            wss_port=self.config.ep_ports.get(name, (0, 0))[0],
            sip_port=self.config.ep_ports.get(name, (0, 0))[1],
            clock=self.clock,
        )
        await ep.start()
        self.ep_cscfs[name] = ep
        self._started.append(ep.stop)

    async def stop(self) -> None:
        """Stop what this process started, in reverse order."""
        while self._started:
            await self._started.pop()()
        if self._tmp is not None:
            self._tmp.cleanup()

    def endpoints(self) -> dict[str, str]:
        """Every endpoint this process runs, for printing."""
        found: dict[str, str] = {}
        if self.runs("registrar") and self.config.registrar_url is None:
            found["wIMPU Registrar (W6/W7)"] = self.registrar_url
        if self.runs("wwsf"):
            found["WWSF"] = self.wwsf.origin
        for name, ep in self.ep_cscfs.items():
            found[f"eP-CSCF {name} (IWF, WSS)"] = ep.wss_url
            found[f"eP-CSCF {name} (P-CSCF, SIP)"] = ep.sip_uri
        if self.runs("i-cscf"):
            found["I-CSCF (SIP)"] = self.icscf.node.uri(lr=False)
        if self.runs("s-cscf"):
            found["S-CSCF (SIP)"] = self.scscf.node.uri(lr=False)
        return found

    def node_names(self) -> list[str]:
        """Every node of the configuration."""
        return ["registrar", "wwsf", "s-cscf", "i-cscf", *sorted({b.ep_cscf for b in self.config.blocks})]
