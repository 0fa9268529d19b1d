"""The whole reference stack on loopback, from one configuration.

Nodes start in dependency order: the wIMPU Registrar, the WWSF (its origin and token
keys are what the eP-CSCFs trust), then each eP-CSCF, whose WSS URL the WWSF directory
then announces. :class:`StackConfig` holds the defaults of the reference profile: one
third party with two blocks, one per identity option, each served by its own eP-CSCF
(TR 23.701 5.2.2.1: "Each block of wIMPU allocated to a third party is associated with
a different eP-CSCF").

The wIMPU Registrar speaks HTTPS with mutual TLS (TS 33.501 13.1): every node calling it
presents a client certificate of the stack's test CA naming it, and the registrar
authorises each for its operations (``reference.stack_access``). Block passwords are
taken from the configuration or generated into the state directory
(``reference.node_secrets``): the code holds no password of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import ssl
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from reference.blocks import WimpuBlock
from reference.clock import OffsetFileClock
from reference.limits import DEFAULT_LIMITS, Limits
from reference.node_secrets import SecretStore
from reference.nodes.ep_cscf.bundled import EpCscf
from reference.nodes.ep_cscf.decomposed import IwfAlone, PcscfAlone
from reference.nodes.ep_cscf.workers import IwfWorkers, WorkerSpec, worker_name
from reference.nodes.hss.data import HssData, Subscription
from reference.nodes.i_cscf.service import Icscf
from reference.nodes.iwf.pool import PcscfTarget
from reference.nodes.iwf.service import TrustedWwsf
from reference.nodes.iwf.token_check import keys_from_jwks
from reference.nodes.p_cscf.block_registration import BlockCredentials
from reference.nodes.p_cscf.lease import LeaseTiming, Role
from reference.nodes.s_cscf.config import ScscfConfig
from reference.nodes.s_cscf.service import ScscfService
from reference.nodes.wimpu_registrar.client import RegistrarClient, RegistrarRejected, RegistrarUnavailable
from reference.nodes.wimpu_registrar.model import LeaseState
from reference.nodes.wimpu_registrar.service import RegistrarService
from reference.nodes.wwsf.service import DirectoryEntry, WwsfService
from reference.nodes.wwsf.service import EpCscf as EpCscfAccess
from reference.nodes.wwsf.throttle import Budget, LoginThrottle
from reference.stack_access import I_CSCF, OBSERVER, WWSF, client_nodes, registrar_access
from reference.timers import Timers
from reference.tls import DEFAULT_SANS, TestPki
from reference.transport.endpoint import Target
from reference.transport.resolver import Resolver

__all__ = ["BlockSpec", "LeaseTiming", "PcscfSpec", "Stack", "StackConfig", "UserSpec"]

log = logging.getLogger("wimpu.stack")

TIMER_POLL = 0.5
"""Seconds between two reads of a given clock by the stack's timers: a tester's jump of the
clock (its offset file, out of process) is acted on within this (docs/pixit.md, [clock])."""


@dataclasses.dataclass(frozen=True, slots=True)
class BlockSpec:
    """A wIMPU block as this stack deploys it: the block itself (:attr:`block`, the one
    model of ``reference.blocks``) and where and how it is served."""

    block: WimpuBlock
    "The block: its wildcard, identity option (A/B), external domains and short name."
    ep_cscf: str
    "Name of the eP-CSCF serving the block."
    password: str | None = None
    """Its digest password at the S-CSCF/HSS; None: generated into the state directory
    (``secrets/block.<name>.password``, kept with ``--state-dir``)."""
    registration: int = 1
    "TR 23.701 5.2.2.5.1 option: 1 at eP-CSCF start-up, 2 on the first WIC registration."
    standby: tuple[str, ...] = ()
    "eP-CSCFs the block is re-allocated to if its eP-CSCF fails (5.2.2.2; needs ``failover``)."

    @property
    def wimpu(self) -> str:
        """The wildcarded IMPU as configured (``block.wimpu``)."""
        return str(self.block.wimpu)

    @property
    def option(self) -> str:
        """A (third-party allocation) or B (eP-CSCF allocation) (``block.option``)."""
        return self.block.option

    @property
    def external_domains(self) -> tuple[str, ...]:
        """Option B: the external identities' domains (``block.external_domains``)."""
        return self.block.external_domains

    @property
    def name(self) -> str:
        """Short name: the block's IMPI is <name>@<ims domain>, its distinct IMPU
        sip:<name>@wrtc.<ims domain> (``block.name``)."""
        return self.block.name


@dataclasses.dataclass(frozen=True, slots=True)
class PcscfSpec:
    """A P-CSCF of a decomposed eP-CSCF, run as its own node (TR 23.701 5.2.2.2)."""

    name: str
    ep_cscf: str
    "The eP-CSCF whose IWF uses this P-CSCF (its blocks are this P-CSCF's)."
    sip_port: int = 0
    link_port: int = 0
    "Where IWFs connect (the internal interface)."


@dataclasses.dataclass(frozen=True, slots=True)
class UserSpec:
    """A WWSF user: exactly one of ``password`` (plaintext, demo and test users) and
    ``password_hash`` (a PHC scrypt string, ``reference.nodes.wwsf.users``)."""

    username: str
    password: str | None
    identity: str
    block: str
    password_hash: str | None = None

    def credential(self) -> dict[str, str]:
        """``{"password": ...}`` or ``{"password_hash": ...}``, as the WWSF's user store takes it."""
        if self.password_hash is not None:
            return {"password_hash": self.password_hash}
        return {"password": self.password} if self.password is not None else {}


@dataclasses.dataclass(frozen=True, slots=True)
class StackConfig:
    host: str = "127.0.0.1"
    ims_domain: str = "ims.example.net"
    blocks: tuple[BlockSpec, ...] = (
        BlockSpec(WimpuBlock.parse("sip:wrtc-!.*!@block1.ims.example.net", "A", name="block1"), "ep-cscf1"),
        BlockSpec(
            WimpuBlock.parse("sip:wrtc-!.*!@block2.ims.example.net", "B", ("enterprise.com",), name="block2"),
            "ep-cscf2",
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
        UserSpec(
            "dave",
            "dave-password",
            "sip:wrtc-dave@block1.ims.example.net",
            "sip:wrtc-!.*!@block1.ims.example.net",
        ),
        UserSpec("bob", "bob-password", "sip:bob@enterprise.com", "sip:wrtc-!.*!@block2.ims.example.net"),
    )
    state_dir: str | None = None
    "Where the PKI and the registrar database live; a temporary directory when None."
    keylog: str | None = None
    """An NSS key log every TLS server and client of the stack appends its secrets to (WSS,
    the WWSF's HTTPS, W6/W7), so a lab capture decrypts (``docs/verify.md``); None: the
    ``SSLKEYLOGFILE`` environment variable if set, else no key log."""
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
    registrar_store: str | None = None
    """Where the wIMPU Registrar keeps its registrations and leases: a SQLite file path, or a
    ``postgresql://`` URI of a database that several registrar processes may share (without a
    password: ``registrar_password_file`` or libpq's ``PGPASSWORD``/``PGPASSFILE``). None: the
    embedded default, ``registrar.db`` in the state directory."""
    registrar_password_file: str | None = None
    "A file whose first line is the PostgreSQL store's password; None: libpq's environment."
    p_cscfs: tuple[PcscfSpec, ...] = ()
    """P-CSCFs of decomposed eP-CSCFs: an eP-CSCF with P-CSCFs runs its IWF alone and
    reaches them over the internal interface; the first serves its blocks, the others
    stand by (needs ``failover``)."""
    iwf_workers: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Decomposed eP-CSCF -> the processes its IWF runs in on its WSS port, when more than one
    (``reference.nodes.ep_cscf.workers``)."""
    limits: Limits = DEFAULT_LIMITS
    "Limits that protect legitimate users: WSS connections and web log-ins (docs/security.md)."
    failover: LeaseTiming | None = None
    """Block leases in the wIMPU Registrar decide which eP-CSCF serves each block, and the
    WWSF directory follows them (TR 23.701 5.2.2.2, docs/failover.md). None: each block is
    served by its configured eP-CSCF, unconditionally (the reference profile)."""


def login_throttle(limits: Limits) -> LoginThrottle:
    """The WWSF's log-in throttle for the configured ``[limits]``."""
    window = limits.login_window
    return LoginThrottle(
        per_source=Budget(limits.login_per_source, window),
        per_user_source=Budget(limits.login_per_user_source, window),
        per_user=Budget(limits.login_per_user, window),
    )


class Stack:
    """Registrar, WWSF and eP-CSCFs, started and stopped together."""

    def __init__(
        self, config: StackConfig | None = None, *, clock: Any = None, nodes: Collection[str] | None = None
    ) -> None:
        self.config = config or StackConfig()
        self.nodes = None if nodes is None else frozenset(nodes)
        "The nodes this process runs (None: all); the others are reached at their configured ports."
        workers = [ep for ep in self.config.iwf_workers if self.runs(ep)]
        if workers and clock is not None and not isinstance(clock, OffsetFileClock):
            raise ValueError(
                f"eP-CSCF {workers[0]}: iwf_workers needs a clock other processes can read "
                "(the wall clock, or wimpu-ref up --clock-offset-file), not an in-process one"
            )
        self._started: list[Callable[[], Awaitable[None]]] = []
        self._trusted: TrustedWwsf | None = None
        "How the eP-CSCFs of this process check the WWSF's tokens (set at start)."
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if self.config.state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wimpu-")
            self.state = Path(self._tmp.name)
        else:
            self.state = Path(self.config.state_dir)
            self.state.mkdir(parents=True, exist_ok=True)
        keylog = self.config.keylog or os.environ.get("SSLKEYLOGFILE") or None
        self.pki = TestPki(self.state / "pki", keylog=keylog)
        self.secrets = SecretStore(self.state / "secrets")
        "Generated credentials (block passwords), shared by the processes of one state directory."
        self.config = dataclasses.replace(
            self.config,
            blocks=tuple(
                b if b.password else dataclasses.replace(b, password=self.secrets.get(f"block.{b.name}"))
                for b in self.config.blocks
            ),
        )
        self.clock = clock
        kwargs = {"clock": clock} if clock else {}
        self.timers = Timers(clock or time.time, poll=TIMER_POLL if clock else None)
        """The timers of the text and the profile (block refresh, binding expiry), on the stack's
        clock; a clock given (a tester's) is re-read every :data:`TIMER_POLL` s for its jumps."""
        port = self.config.ports.get
        self.access = registrar_access(self.config, self.ep_identity, self.p_cscf_identity)
        "Who may call the registrar, and for what (mutual TLS, TS 33.501 13.1/13.4)."
        tls: ssl.SSLContext | None = None
        if self.runs("registrar") and self.config.registrar_url is None:
            for node in client_nodes(self.config):  # an external node of a lab finds its certificate
                self.pki.ensure_client(node)
            sans = tuple(dict.fromkeys((*DEFAULT_SANS, self.config.host)))
            tls = self.pki.mtls_server_context("registrar", sans)
        self.registrar = RegistrarService(
            db_path=self.config.registrar_store or str(self.state / "registrar.db"),
            db_password_file=self.config.registrar_password_file,
            host=self.config.host,
            port=port("registrar", 0),
            tls=tls,
            access=self.access if tls is not None else None,
            **kwargs,
        )
        self.wwsf = WwsfService(
            pki=self.pki,
            users={
                u.username: {**u.credential(), "identity": u.identity, "block": u.block}
                for u in self.config.users
            },
            blocks=[
                DirectoryEntry(b.block, EpCscfAccess("wss://unassigned.invalid", self.ep_identity(b.ep_cscf)))
                for b in self.config.blocks
            ],
            host=self.config.host,
            port=port("wwsf", 0),
            block_owners=self._block_owners if self.config.failover else None,
            throttle=login_throttle(self.config.limits),
            hash_workers=self.config.limits.login_hash_workers,
            **kwargs,
        )
        self._w6: RegistrarClient | None = None
        self.ep_cscfs: dict[str, EpCscf] = {}
        self._crashed: dict[str, tuple[int, int]] = {}
        "The WSS and SIP ports of each crashed bundled eP-CSCF (:meth:`start_ep_cscf_again`)."
        self.iwfs: dict[str, IwfAlone] = {}
        "Decomposed eP-CSCFs: their IWFs (TR 23.701 5.2.2.2)."
        self.p_cscfs: dict[str, PcscfAlone] = {}
        "Decomposed eP-CSCFs: their P-CSCFs."
        self.iwf_workers: dict[str, IwfWorkers] = {}
        "Decomposed eP-CSCFs with ``iwf_workers``: the IWF's other processes."
        self._jwks: dict[str, Any] | None = None
        "The WWSF's JWK Set the eP-CSCFs trust (what an IWF worker is given)."
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
            clock=clock,
            timers=self.timers,
        )
        self.icscf = Icscf(
            registrar_url="https://unassigned.invalid",
            registrar_ssl=self.client_tls(I_CSCF),
            hss=self.hss,
            resolver=self.resolver,
            webrtc_domains=self.webrtc_domains(),
            external_domains=tuple(d for b in self.config.blocks for d in b.external_domains),
            host=self.config.host,
            port=port("i_cscf", 0),
        )

    def client_tls(self, node: str) -> Callable[[], ssl.SSLContext]:
        """The mutual-TLS client context of ``node`` towards the registrar, made when first
        needed (its certificate is issued then if the registrar's process has not yet)."""
        return lambda: self.pki.client_context(node=node)

    def observer(self, timeout: float = 2.0) -> RegistrarClient:
        """A read-only W6/W7 client of the registrar (the ``observer`` certificate)."""
        return RegistrarClient(self.registrar_url, timeout=timeout, ssl=self.client_tls(OBSERVER))

    def log_tls_secrets(self, keylog_file: str) -> None:
        """From now on, write the TLS secrets of every connection of this process's nodes, as
        server (WSS, the WWSF's HTTPS, the registrar) and as client (W6/W7, the JWKS), to
        ``keylog_file`` (NSS key log): a capture of them stays decodable."""
        self.pki.log_secrets(keylog_file)

    def webrtc_domains(self) -> tuple[str, ...]:
        """TR 23.701 5.2.2.3.3: the domains the enhanced I-CSCF checks over W7."""
        found: list[str] = []
        for b in self.config.blocks:
            host = b.block.wimpu.host
            found += [*(b.external_domains), *([host] if host else [])]
        return tuple(dict.fromkeys(found))

    def _subscriptions(self) -> list[Subscription]:
        domain = self.config.ims_domain
        subs = [
            Subscription(
                impi=f"{b.name}@{domain}",
                password=b.password or "",
                distinct_impus=(self.block_representative(b),),
                wildcard_impus=(b.block.wimpu,),
                scscf=f"sip:scscf.{domain}",
            )
            for b in self.config.blocks
        ]
        for i, user in enumerate(self.config.ims_users):
            subs.append(
                Subscription(
                    impi=f"ims-user-{i}@{domain}",
                    password=self.secrets.get(f"ims-user-{i}"),
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
        return f"https://{self.config.host}:{self._fixed_port('registrar')}"

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
        if name in self.iwfs:
            return self.iwfs[name].wss_url
        wss = self.config.ep_ports.get(name, (0, 0))[0]
        if not wss:
            raise ValueError(f"eP-CSCF {name} does not run in this process and has no fixed wss_port")
        return f"wss://{self.config.host}:{wss}"

    async def _wwsf_keys(self) -> dict[str, Any]:
        """The WWSF's token keys: in process, or its JWKS over HTTPS (retried while it starts)."""
        self._jwks = await self._wwsf_jwks()
        return keys_from_jwks(self._jwks)

    async def _wwsf_jwks(self) -> dict[str, Any]:
        if self.runs("wwsf"):
            return dict(self.wwsf.jwks())
        url = f"{self.wwsf_origin}/.well-known/jwks.json"
        context = self.pki.client_context()
        for _ in range(100):
            try:
                async with aiohttp.ClientSession() as http, http.get(url, ssl=context) as r:
                    if r.status == 200:
                        document: dict[str, Any] = await r.json()
                        keys_from_jwks(document)  # a JWK Set with a signing key, or ValueError
                        return document
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the WWSF's JWKS at {url} did not answer within 10 s")

    async def _block_owners(self) -> list[LeaseState]:
        """The block leases, for the WWSF directory (failover)."""
        if self._w6 is None:
            self._w6 = RegistrarClient(self.registrar_url, timeout=1.0, ssl=self.client_tls(WWSF))
        return await self._w6.leases()

    # ----- failover (TR 23.701 5.2.2.2) ----------------------------------------------------

    async def crash_p_cscf(self, name: str) -> None:
        """Make P-CSCF ``name`` of a decomposed eP-CSCF fail as a crash would."""
        part = self.p_cscfs.pop(name)
        self._started.remove(part.stop)
        await part.crash()

    def stall_registrar(self) -> None:
        """Make the wIMPU Registrar of this process stop answering, as one that hangs would
        (:meth:`RegistrarService.hold`), until :meth:`resume_registrar` or :meth:`stop`."""
        if not self.runs("registrar") or self.config.registrar_url is not None:
            raise RuntimeError("this process does not run the wIMPU Registrar")
        self.registrar.hold()

    def resume_registrar(self) -> None:
        """Make the wIMPU Registrar answer again, the requests it held first."""
        self.registrar.release()

    async def crash_ep_cscf(self, name: str) -> None:
        """Make eP-CSCF ``name`` of this process fail as a crash would (see :meth:`EpCscf.crash`).

        Its blocks stay leased to it until the lease lapses; then a standby takes them.
        """
        ep = self.ep_cscfs.pop(name)
        self._started.remove(ep.stop)
        if isinstance(ep, EpCscf):
            self._crashed[name] = (urllib.parse.urlsplit(ep.wss_url).port or 0, ep.pcscf.node.port)
        await ep.crash()

    async def restart_ep_cscf(self, name: str) -> None:
        """Restart eP-CSCF ``name`` of this process as its operator would after a crash: it stops
        as a crash would (:meth:`crash_ep_cscf`: nothing released, connections dropped) and starts
        again on the same addresses with nothing kept in memory, so that (5.2.2.5.1 option 1) it
        registers its blocks "upon initialization" once more."""
        ep = self.ep_cscfs.get(name)
        if not isinstance(ep, EpCscf) or self._trusted is None:
            raise RuntimeError(f"eP-CSCF {name} is not a bundled eP-CSCF of this process")
        await self.crash_ep_cscf(name)
        await self.start_ep_cscf_again(name)

    def can_start_again(self, name: str) -> bool:
        """Whether :meth:`start_ep_cscf_again` can start eP-CSCF ``name`` once it has crashed: a
        bundled eP-CSCF of this process (a decomposed one's parts are started apart)."""
        return isinstance(self.ep_cscfs.get(name), EpCscf) and self._trusted is not None

    async def start_ep_cscf_again(self, name: str) -> None:
        """Start eP-CSCF ``name``, which crashed (:meth:`crash_ep_cscf`), again on its addresses with
        nothing kept in memory, as its operator would once it is repaired: with failover on it claims
        its blocks' leases and, refused those another eP-CSCF took meanwhile, stands by for them
        (no fail-back, ``docs/failover.md``)."""
        ports = self._crashed.pop(name, None)
        if ports is None or self._trusted is None:
            raise RuntimeError(f"eP-CSCF {name} is not a crashed bundled eP-CSCF of this process")
        await self._start_ep_cscf(name, self._trusted, ports=ports)

    async def block_holder(self, wimpu: str) -> str | None:
        """The identity of the eP-CSCF whose live lease serves ``wimpu``, read over W6."""
        async with RegistrarClient(self.registrar_url, ssl=self.client_tls(OBSERVER)) as w6:
            lease = await w6.lease(wimpu)
        return None if lease is None or not lease.live else lease.holder

    async def wait_block_holder(self, wimpu: str, name: str, within: float = 10.0) -> float:
        """Wait until eP-CSCF ``name`` serves ``wimpu`` (its lease is live and, for a block
        registered at once, it is registered with the S-CSCF); returns the seconds waited.

        Raises:
            TimeoutError: not within ``within`` seconds.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        identity = self.ep_identity(name)
        while loop.time() - started < within:
            try:
                holder = await self.block_holder(wimpu)
            except (RegistrarUnavailable, RegistrarRejected):
                holder = None
            ep = self.ep_cscfs.get(name)
            reg = ep.pcscf.block_registrations.get(wimpu) if ep else None
            if holder == identity and (reg is None or reg.registered or reg.credentials.option == 2):
                return loop.time() - started
            await asyncio.sleep(0.02)
        raise TimeoutError(f"block {wimpu} not served by {name} within {within} s")

    # ----- time --------------------------------------------------------------------------

    async def advance(self, seconds: float) -> int:
        """Let ``seconds`` pass on the stack's clock, a clock the caller moves (``clock.advance``,
        a tester's :class:`FakeClock`): stepped to each timer's deadline in order, each timer's
        work (a block refresh: REGISTER, 401, REGISTER, 200) done before the next step
        (:meth:`reference.timers.Timers.advance`). Returns how many timers fired.

        Raises:
            TypeError: the stack's clock is not one the caller moves.
        """
        move = getattr(self.clock, "advance", None)
        if not callable(move):
            raise TypeError(f"the stack's clock {self.clock!r} cannot be advanced")
        return await self.timers.advance(seconds, move)

    # ----- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start this process's nodes in dependency order."""
        self.timers.start()
        self._started.append(self.timers.stop)  # stopped last
        if self.runs("registrar") and self.config.registrar_url is None:
            await self.registrar.start()
            self._started.append(self.registrar.stop)
        if self.runs("s-cscf"):
            await self.scscf.start()
            self._started.append(self.scscf.stop)
        if self.runs("i-cscf"):
            self.icscf.registrar = type(self.icscf.registrar)(self.registrar_url, ssl=self.client_tls(I_CSCF))
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
        if self.config.ports.get("remote"):  # the remote IMS party the suite plays, at a fixed address
            remote = Target("TCP", self.config.host, self.config.ports["remote"])
            self.resolver.add(self.config.remote_domain, remote)
        if self.runs("wwsf"):
            await self.wwsf.start()
            self._started.append(self.wwsf.stop)
        for spec in self.config.p_cscfs:
            if self.runs(spec.name):
                await self._start_p_cscf(spec)
        names = self.ep_cscf_names()
        if any(self.runs(name) for name in names):
            trusted = self._trusted = TrustedWwsf(self.wwsf_origin, await self._wwsf_keys(), realm=domain)
            for name in names:
                if self.runs(name) and self.pool_of(name):
                    await self._start_iwf(name, trusted)
                elif self.runs(name):
                    await self._start_ep_cscf(name, trusted)
        if self.runs("wwsf"):
            for b in self.config.blocks:
                self.wwsf.set_block_ep_cscf(
                    b.wimpu, {"uri": self.ep_wss_url(b.ep_cscf), "identity": self.ep_identity(b.ep_cscf)}
                )

    def _credentials(self, blocks: Collection[BlockSpec]) -> list[BlockCredentials]:
        domain = self.config.ims_domain
        return [
            BlockCredentials(
                wimpu=b.wimpu,
                representative=self.block_representative(b),
                impi=f"{b.name}@{domain}",
                password=b.password or "",
                registrar=f"sip:{domain}",
                option=b.registration,
            )
            for b in blocks
        ]

    def pool_of(self, name: str) -> list[PcscfSpec]:
        """The P-CSCFs of a decomposed eP-CSCF, in order (none for a bundled one)."""
        return [spec for spec in self.config.p_cscfs if spec.ep_cscf == name]

    def p_cscf_identity(self, name: str) -> str:
        """The identity a P-CSCF of a decomposed eP-CSCF holds its block leases under."""
        return f"sip:{name}.{self.config.ims_domain}"

    async def _start_p_cscf(self, spec: PcscfSpec) -> None:
        """One P-CSCF of a decomposed eP-CSCF (TR 23.701 5.2.2.2); the first of its pool
        serves the eP-CSCF's blocks, the others stand by."""
        if self.config.failover is None:
            raise ValueError(f"P-CSCF {spec.name}: a decomposed eP-CSCF needs failover (block leases)")
        first = self.pool_of(spec.ep_cscf)[0].name == spec.name
        mine = [b for b in self.config.blocks if b.ep_cscf == spec.ep_cscf]
        part = PcscfAlone(
            name=spec.name,
            identity=self.p_cscf_identity(spec.name),
            ep_identity=self.ep_identity(spec.ep_cscf),
            blocks=[b.block for b in mine],
            registrar_url=self.registrar_url,
            registrar_ssl=self.client_tls(spec.name),
            failover=self.config.failover,
            roles={b.wimpu: Role.PRIMARY if first else Role.STANDBY for b in mine},
            resolver=self.resolver,
            credentials=self._credentials(mine),
            host=self.config.host,
            sip_port=spec.sip_port,
            link_port=spec.link_port,
            clock=self.clock,
            timers=self.timers,
        )
        await part.start()
        self.p_cscfs[spec.name] = part
        self._started.append(part.stop)

    async def _start_iwf(self, name: str, trusted: TrustedWwsf) -> None:
        """The IWF of a decomposed eP-CSCF, linked to its P-CSCFs."""
        targets = []
        for spec in self.pool_of(name):
            port = self.p_cscfs[spec.name].link_port if spec.name in self.p_cscfs else spec.link_port
            if not port:
                raise ValueError(f"P-CSCF {spec.name} does not run here and has no fixed link_port")
            targets.append(PcscfTarget(spec.name, self.config.host, port))
        workers = self.config.iwf_workers.get(name, 1)
        retry_after = max(1, round(self.config.failover.duration)) if self.config.failover else 2
        iwf = IwfAlone(
            name=name,
            identity=self.ep_identity(name),
            wwsf=trusted,
            ssl_context=self.pki.server_context("ep-cscf"),
            p_cscfs=targets,
            host=self.config.host,
            wss_port=self.config.ep_ports.get(name, (0, 0))[0],
            retry_after=retry_after,
            clock=self.clock,
            limits=self.config.limits,
        )
        await iwf.start()
        self.iwfs[name] = iwf
        self._started.append(iwf.stop)
        if workers > 1:
            await self._start_iwf_workers(iwf, workers, retry_after)

    async def _start_iwf_workers(self, first: IwfAlone, count: int, retry_after: int) -> None:
        """Workers 2..``count`` of ``first``'s IWF, accepting on its listening socket (TR 23.701
        5.2.2.2: "The IWFs can scale separately then the P-CSCFs")."""
        assert self._jwks is not None and self._trusted is not None
        spec = WorkerSpec(
            name=first.name,
            identity=first.identity,
            origin=self._trusted.origin,
            jwks=self._jwks,
            realm=self._trusted.realm,
            cert=str(self.pki.cert_path("ep-cscf")),
            key=str(self.pki.key_path("ep-cscf")),
            keylog=self.pki.keylog,
            fd=first.iwf.listener.listening_fd(),
            p_cscfs=[(t.name, t.host, t.port) for t in first.pool.targets],
            retry_after=retry_after,
            clock_offset_file=str(self.clock.path) if isinstance(self.clock, OffsetFileClock) else None,
            limits=dataclasses.asdict(self.config.limits),
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        others = IwfWorkers(
            [dataclasses.replace(spec, name=worker_name(first.name, i)) for i in range(2, count + 1)]
        )
        self.iwf_workers[first.name] = others
        self._started.append(others.stop)  # before start: a start that fails part-way stops them too
        await others.start()

    async def _start_ep_cscf(
        self, name: str, trusted: TrustedWwsf, *, ports: tuple[int, int] | None = None
    ) -> None:
        """Bundled eP-CSCF ``name`` on ``ports`` (WSS, SIP), by default its configured ones."""
        wss_port, sip_port = ports or self.config.ep_ports.get(name, (0, 0))
        mine = [b for b in self.config.blocks if b.ep_cscf == name or name in b.standby]
        roles = {b.wimpu: Role.PRIMARY if b.ep_cscf == name else Role.STANDBY for b in mine}
        ep = EpCscf(
            name=name,
            identity=self.ep_identity(name),
            blocks=[b.block for b in mine],
            registrar_url=self.registrar_url,
            registrar_ssl=self.client_tls(name),
            wwsf=trusted,
            ssl_context=self.pki.server_context("ep-cscf"),
            resolver=self.resolver,
            credentials=self._credentials(mine),
            host=self.config.host,
            wss_port=wss_port,
            sip_port=sip_port,
            clock=self.clock,
            failover=self.config.failover,
            roles=roles,
            limits=self.config.limits,
            timers=self.timers,
        )
        await ep.start()
        self.ep_cscfs[name] = ep
        self._started.append(ep.stop)

    async def stop(self) -> None:
        """Stop what this process started, in reverse order."""
        self.registrar.release()  # nodes stopping before it must not wait on a held W6 request
        while self._started:
            await self._started.pop()()
        if self._w6 is not None:
            await self._w6.close()
            self._w6 = None
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
        for name, iwf in self.iwfs.items():
            found[f"eP-CSCF {name} (IWF alone, WSS)"] = iwf.wss_url
        for name, part in self.p_cscfs.items():
            found[f"P-CSCF {name} (SIP)"] = part.sip_uri
            found[f"P-CSCF {name} (internal link)"] = f"tcp://{self.config.host}:{part.link_port}"
        if self.runs("i-cscf"):
            found["I-CSCF (SIP)"] = self.icscf.node.uri(lr=False)
        if self.runs("s-cscf"):
            found["S-CSCF (SIP)"] = self.scscf.node.uri(lr=False)
        return found

    def node_names(self) -> list[str]:
        """Every node of the configuration."""
        return [
            "registrar", "wwsf", "s-cscf", "i-cscf", *self.ep_cscf_names(),
            *(spec.name for spec in self.config.p_cscfs),
        ]  # fmt: skip

    def ep_cscf_names(self) -> list[str]:
        """Every eP-CSCF of the configuration: those blocks are configured with, and standbys."""
        blocks = self.config.blocks
        return sorted({b.ep_cscf for b in blocks} | {name for b in blocks for name in b.standby})
