"""The system under test as the harness sees it: addresses, trust, identities, and nothing else.

Two kinds, one interface (:class:`Sut`):

- :class:`ReferenceSut`: the bundled reference stack, started in-process for one scenario on
  a loopback address of its own (the default run, every PIXIT node ``reference``);
- :class:`ExternalSut`: nodes running elsewhere, described only by a PIXIT
  (``pytest --sut PIXIT``): the vendor's nodes, or the reference started as separate
  processes with ``wimpu-ref up --pixit-out``. Nothing of the reference's internals is
  reached: addresses, CA certificates, the WWSF signing key, the test users and the IMS
  users' credentials all come from the PIXIT.

The harness plays the peers of the SUT (WICs, the remote party, an ordinary IMS user) and,
when a scenario needs a token the WWSF would not issue (a forged identity, an expired token),
the WWSF's token issuer: in-process it asks the reference WWSF, against an external SUT it
signs with the PIXIT's ``[wwsf] signing_key`` (the tester plays the WWSF).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conformance.pixit import Block, ImsUser, Pixit, User
from conformance.sut_process import SutProcess
from reference.clock import OffsetFileClock, write_offset
from reference.nodes.p_cscf.lease import LeaseTiming
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.nodes.wimpu_registrar.model import RegistrationStatus
from reference.nodes.wwsf.tokens import Token, TokenIssuer
from reference.stack import Stack, StackConfig
from reference.stack_access import OBSERVER
from reference.tls import DEFAULT_SANS
from reference.transport.endpoint import Target

from .errors import HarnessError
from .views import DirectoryEntry

if TYPE_CHECKING:
    from reference.transport.sip_node import SipNode

    from .ims_core import ImsCore

__all__ = ["PICS_ANSWERS_KEY", "PIXIT_KEY", "ExternalSut", "ReferenceSut", "Sut", "Unobservable"]

PIXIT_KEY = pytest.StashKey["Pixit | None"]()
"Where conftest.py keeps the PIXIT of ``--sut`` (None: the bundled reference, in-process)."
PICS_ANSWERS_KEY = pytest.StashKey["dict[str, str]"]()
"Where conftest.py keeps the SUT's PICS answers (item id -> answer), for the profile checks."


class Unobservable(Exception):
    """The SUT, as the PIXIT describes it, does not let the harness make this observation or action.

    The scenario's verdict is inconclusive, with this message as the reason.
    """


class Sut:
    """What the harness knows of the system under test."""

    ims_domain: str
    remote_domain: str
    wwsf_origin: str
    registrar_url: str
    icscf: Target
    scscf: Target
    users: dict[str, User]
    ims_users: dict[str, ImsUser]
    capture_hosts: list[str]
    "Loopback addresses whose every packet belongs to this scenario (empty: filter on ports)."
    started_by_suite: bool
    """Every node starts in :meth:`start` (after the scenario's capture began), so the capture holds
    all their connections from the first packet; False for an external SUT already running."""

    async def start(self) -> None:
        """Start what the suite runs itself (nothing for an external SUT)."""

    async def stop(self, log: Path | None = None) -> None:
        """Stop what :meth:`start` started; ``log``: where the output of a SUT process the suite
        started goes (the scenario's evidence, beside its capture)."""

    def registrar_tls(self) -> ssl.SSLContext | None:
        """The suite's client context towards the registrar (mutual TLS, read only), or None."""
        return None

    def log_tls_secrets(self, keylog_file: str) -> None:
        """Have the SUT write its TLS secrets to ``keylog_file`` where the suite can (the legs
        between SUT nodes, W6/W7 among them, stay decodable); by default it cannot."""

    def client_context(self) -> ssl.SSLContext:
        """A TLS client context trusting the SUT's certificates (WWSF, eP-CSCF)."""
        raise NotImplementedError

    def ports(self) -> dict[int, str]:
        """Listening port -> node name (``wwsf``, ``registrar``, ``<ep-cscf>/wss``, ``<ep-cscf>/sip``,
        ``i-cscf``, ``s-cscf``): what an external SUT's capture is filtered on; names go by
        :meth:`endpoints`."""
        raise NotImplementedError

    def endpoints(self) -> dict[tuple[str, int], str]:
        """Listening (address, port) -> node name (the names of :meth:`ports`): what names the
        ends of a captured message and the hops of a Via, Path or Record-Route. A port alone
        does not tell a node: the remote party may listen on 127.0.0.1 on a port number a node
        of the scenario's own loopback address also uses."""
        raise NotImplementedError

    def ep_cscfs(self) -> dict[str, DirectoryEntry]:
        """Each eP-CSCF instance: its identity (token audience) and WSS URL."""
        raise NotImplementedError

    def issue_token(self, identity: str, audience: str) -> Token:
        """A token for ``identity`` and eP-CSCF ``audience``, issued now, as the WWSF would."""
        raise NotImplementedError

    def wwsf_signing_key_pem(self) -> bytes:
        """The WWSF's signing key (PEM), for the tester to sign what the WWSF could have signed.

        Raises:
            Unobservable: the SUT's description gives no such key.
        """
        raise NotImplementedError

    def add_remote(self, domain: str, target: Target) -> None:
        """Make the S-CSCF route ``domain`` to ``target`` (the harness's remote party)."""
        raise NotImplementedError

    def remote_listen(self) -> tuple[str, int]:
        """Where the remote party must listen: (host, 0) for any port, or the PIXIT's fixed address."""
        raise NotImplementedError

    def peer_host(self) -> str:
        """Where the suite's other SIP peers (an IMS user's UE) listen, on any port."""
        return "127.0.0.1"

    def now(self) -> float:
        return time.time()

    def blocks(self) -> tuple[Block, ...]:
        """The wIMPU blocks with their identity and registration options."""
        raise NotImplementedError

    async def fail_ep_cscf(self, name: str) -> None:
        """Make eP-CSCF ``name`` fail as a crash would (nothing released, connections dropped)."""
        raise Unobservable(
            f"making eP-CSCF {name} of an external SUT fail needs a fault-injection command the PIXIT "
            "does not offer yet"
        )

    async def restart_ep_cscf(self, name: str) -> None:
        """Restart eP-CSCF ``name``: a crash (nothing released, connections dropped), then a start
        on the same addresses with nothing kept in memory."""
        raise Unobservable(
            f"restarting eP-CSCF {name} of an external SUT needs a fault-injection command "
            "([[ep_cscf]] restart) the PIXIT does not give"
        )

    def can_start_again(self, name: str) -> bool:
        """Whether :meth:`start_ep_cscf_again` can start eP-CSCF ``name`` after its failure (asked
        before it is made to fail: a scenario that cannot start it again must not leave it down)."""
        return False

    async def start_ep_cscf_again(self, name: str) -> None:
        """Start eP-CSCF ``name``, which :meth:`fail_ep_cscf` made fail, again on its addresses,
        as its operator would once it is repaired."""
        raise Unobservable(
            f"starting eP-CSCF {name} of an external SUT again after its failure needs a "
            "fault-injection command ([[ep_cscf]] start_again) the PIXIT does not give"
        )

    def misprovision_hss(self, impi: str) -> None:
        """Before the SUT starts: the HSS holds a digest password for ``impi`` (a block's private
        identity) other than the one its eP-CSCF is provisioned with, as an operator's provisioning
        error would leave it: the S-CSCF refuses the block's authenticated REGISTER (403, RFC 3261
        22.4). Only where the S-CSCF/HSS is the suite's own (in-process, or emulated)."""
        raise Unobservable(
            "the S-CSCF/HSS is external: the suite cannot make it refuse a block's registration"
        )

    async def stall_registrar(self) -> None:
        """Make the wIMPU Registrar stop answering, as a hung one would (connections and requests
        accepted, none answered), until :meth:`resume_registrar`."""
        raise Unobservable(
            "making the wIMPU Registrar of an external SUT stop answering needs the fault-injection "
            "commands [registrar] stall and resume, which the PIXIT does not give"
        )

    async def resume_registrar(self) -> None:
        """Make the wIMPU Registrar answer again (after :meth:`stall_registrar`)."""

    def scscf_node(self) -> SipNode:
        """The S-CSCF's SIP node, when the S-CSCF runs in the suite's own process (the in-process
        reference's IMS core, or the one the harness emulates): the tester's IMS core, where a
        scenario can hold a terminating session for a moment (``World.call_held_at_scscf``)."""
        raise Unobservable(
            "the S-CSCF runs outside the suite's process: the suite cannot hold a session at it"
        )

    async def wait_block_holder(self, wimpu: str, name: str, within: float) -> float:
        """Not observable for an external SUT: the re-allocation is observed on the wire instead."""
        raise Unobservable("the lease of a block is internal to an external SUT")


class ReferenceSut(Sut):
    """The bundled reference stack, in this process, on the loopback address ``host``."""

    def __init__(
        self,
        host: str,
        clock: Callable[[], float] | None = None,
        *,
        standby: tuple[str, str] | None = None,
        registration: Mapping[str, int] | None = None,
    ) -> None:
        """``standby``: (wIMPU block, eP-CSCF) - that eP-CSCF stands by to take over the block
        (the block lease of the reference, short timings: a crash is noticed within 1.5 s);
        ``registration``: wIMPU block -> the block registration option (5.2.2.5.1: 1 at start-up, 2
        upon the first WIC registration) it is provisioned for, where the profile's is not wanted."""
        config = StackConfig(host=host)
        if registration:
            config = dataclasses.replace(
                config,
                blocks=tuple(
                    dataclasses.replace(b, registration=registration.get(b.wimpu, b.registration))
                    for b in config.blocks
                ),
            )
        if standby is not None:
            wimpu, name = standby
            config = dataclasses.replace(
                config,
                failover=LeaseTiming(duration=1.5, renew_interval=0.5),
                blocks=tuple(
                    dataclasses.replace(b, standby=(name,)) if b.wimpu == wimpu else b for b in config.blocks
                ),
            )
        self.stack = Stack(config, clock=clock)
        for name in ("ep-cscf", "wwsf"):  # the servers' certificates name the scenario's address
            self.stack.pki.issue(name, (*DEFAULT_SANS, host))
        config = self.stack.config
        self.ims_domain, self.remote_domain = config.ims_domain, config.remote_domain
        self.users = {  # a user with a password_hash only is no use to the suite: it logs in with a password
            u.username: User(u.username, u.password, u.identity, u.block)
            for u in config.users
            if u.password is not None
        }
        self.ims_users = {}
        self.capture_hosts = [host]
        self.started_by_suite = True
        self.host = host
        self._clock = clock

    async def start(self) -> None:
        await self.stack.start()
        self.wwsf_origin = self.stack.wwsf.origin
        self.registrar_url = self.stack.registrar.base_url
        self.icscf = Target("TCP", self.stack.icscf.node.host, self.stack.icscf.node.port)
        self.scscf = self.stack.resolver.resolve(f"sip:{self.ims_domain}")
        for identity in self.stack.config.ims_users:
            found = self.stack.hss.lookup_public_identity(identity)
            if found is not None:  # the HSS data set's test subscriber credentials
                sub = found.subscription
                self.ims_users[identity] = ImsUser(identity, sub.impi, sub.password)

    async def stop(self, log: Path | None = None) -> None:
        await self.stack.stop()  # its nodes log through the suite's own logging

    def client_context(self) -> ssl.SSLContext:
        return self.stack.pki.client_context()

    def registrar_tls(self) -> ssl.SSLContext | None:
        return self.stack.pki.client_context(node=OBSERVER)

    def log_tls_secrets(self, keylog_file: str) -> None:
        self.stack.log_tls_secrets(keylog_file)

    def ports(self) -> dict[int, str]:
        from captures import stack_ports

        return stack_ports(self.stack)

    def endpoints(self) -> dict[tuple[str, int], str]:
        from captures import stack_endpoints

        return stack_endpoints(self.stack)

    def ep_cscfs(self) -> dict[str, DirectoryEntry]:
        return {name: DirectoryEntry("", ep.identity, ep.wss_url) for name, ep in self.stack.ep_cscfs.items()}

    def issue_token(self, identity: str, audience: str) -> Token:
        return self.stack.wwsf.issue_token(identity, audience)

    def wwsf_signing_key_pem(self) -> bytes:
        return self.stack.wwsf.signing_key_pem()

    def add_remote(self, domain: str, target: Target) -> None:
        self.stack.resolver.add(domain, target)

    def remote_listen(self) -> tuple[str, int]:
        """On the scenario's own address, so that its traffic is in the scenario's capture
        (nodes are named by address and port, :meth:`endpoints`)."""
        return (self.host, 0)

    def peer_host(self) -> str:
        return self.host

    def now(self) -> float:
        return self._clock() if self._clock is not None else time.time()

    async def fail_ep_cscf(self, name: str) -> None:
        await self.stack.crash_ep_cscf(name)

    async def restart_ep_cscf(self, name: str) -> None:
        await self.stack.restart_ep_cscf(name)

    def can_start_again(self, name: str) -> bool:
        return self.stack.can_start_again(name)

    async def start_ep_cscf_again(self, name: str) -> None:
        await self.stack.start_ep_cscf_again(name)

    def misprovision_hss(self, impi: str) -> None:
        self.stack.hss.provision_password(impi, f"not-the-password-of-{impi}")

    async def stall_registrar(self) -> None:
        self.stack.stall_registrar()

    def scscf_node(self) -> SipNode:
        return self.stack.scscf.node

    async def resume_registrar(self) -> None:
        self.stack.resume_registrar()

    def blocks(self) -> tuple[Block, ...]:
        return tuple(
            Block(
                b.block,
                b.ep_cscf,
                b.registration,  # type: ignore[arg-type]
                b.password or "",
                standby=b.standby,
                representative=self.stack.block_representative(b),
            )
            for b in self.stack.config.blocks
        )


class ExternalSut(Sut):
    """Nodes running elsewhere, reached at the addresses of a PIXIT whose nodes are external or
    emulated: the harness plays an emulated S-CSCF/HSS and I-CSCF (:class:`ImsCore`) at the
    PIXIT's addresses, started before the SUT (which registers its blocks with it at start-up)."""

    def __init__(
        self,
        pixit: Pixit,
        *,
        standby: tuple[str, str] | None = None,
        registration: Mapping[str, int] | None = None,
    ) -> None:
        """``standby``: (wIMPU block, eP-CSCF) the scenario needs standing by for the block;
        ``registration``: wIMPU block -> the block registration option the scenario needs it
        provisioned for. The PIXIT must declare them (``[[block]] standby``, ``registration``): the
        suite cannot configure an external SUT."""
        self.pixit = pixit
        for wimpu, option in (registration or {}).items():
            declared = next((b.registration for b in pixit.blocks if b.wimpu == wimpu), None)
            if declared != option:
                raise Unobservable(
                    f"the scenario needs block {wimpu} provisioned for block registration option {option}, "
                    f"and the PIXIT's [[block]] registration is {declared}"
                )
        if standby is not None:
            wimpu, name = standby
            if not any(b.wimpu == wimpu and name in b.standby for b in pixit.blocks):
                raise Unobservable(
                    f"the scenario needs eP-CSCF {name} standing by for block {wimpu}, and the PIXIT "
                    "declares no such [[block]] standby"
                )
        not_external = sorted(n.name for n in pixit.nodes.values() if n.mode == "reference")
        if not_external:
            raise Unobservable(
                f"PIXIT {pixit.path}: nodes {not_external} are 'reference': a run against an external "
                "SUT needs every node external or emulated (start reference nodes as processes with "
                "wimpu-ref up --nodes, and describe them as external)"
            )
        self.ims_domain, self.remote_domain = pixit.ims_domain, pixit.remote_domain
        wwsf, registrar = pixit.node("wwsf"), pixit.node("registrar")
        assert wwsf.url is not None and registrar.url is not None  # external nodes have addresses
        self.wwsf_origin = wwsf.url.rstrip("/")
        self.registrar_url = registrar.url.rstrip("/")
        self.icscf = _target(pixit, "i_cscf")
        self.scscf = _target(pixit, "s_cscf")
        self.users = {u.username: u for u in pixit.users}
        self.ims_users = {u.identity: u for u in pixit.ims_users}
        self.capture_hosts = []
        self.started_by_suite = bool(pixit.start)
        self._issuer: TokenIssuer | None = None
        self.clock = TesterClock(pixit.clock_file) if pixit.clock_file is not None else None
        "The clock every external node reads (PIXIT ``[clock] offset_file``), None without one."
        self._process: SutProcess | None = None
        self._keylog: str | None = None
        self._registrar = RegistrarClient(self.registrar_url, ssl=self.registrar_tls)
        self.core = emulated_core(pixit, clock=self.now, w7=self._registrar.status)
        "The S-CSCF/HSS (and I-CSCF) the harness plays, when the PIXIT says ``emulated``."

    async def start(self) -> None:
        """Start the emulated IMS core, then run the PIXIT's ``[sut] start`` command (when there is
        one) and wait until every node answers.

        A SUT started afresh for each scenario is captured from its start-up (its block
        registrations of option 1), as the in-process reference is.
        """
        if self.core is not None:
            try:
                await self.core.start()
            except OSError as exc:
                raise HarnessError(
                    "the suite's emulated IMS core cannot listen at the PIXIT's [s_cscf]/[i_cscf] sip "
                    f"addresses: {exc.strerror or exc}"
                ) from None
        if not self.pixit.start:
            return
        self._process = await asyncio.to_thread(SutProcess, self.pixit, self._keylog)
        from conformance.preflight import PreflightError, require_ready

        try:
            deadline = time.monotonic() + self.pixit.ready
            if not await asyncio.to_thread(self._process.wait_for_files, deadline):  # its test PKI
                raise PreflightError([])
            await asyncio.to_thread(
                require_ready, self.pixit, within=max(0.0, deadline - time.monotonic()), keylog=self._keylog
            )
            await self._initialised(deadline)
        except PreflightError as exc:
            status, tail = self._process.status(), self._process.output_tail()
            await self.stop()
            why = f"exited with status {status}" if status is not None else str(exc) or "files missing"
            raise RuntimeError(
                f"the SUT started with {list(self.pixit.start)} is not ready: {why}; its last output: {tail}"
            ) from None
        except BaseException:  # cancelled, or a check that broke: never leave the SUT running
            await self.stop()
            raise

    async def _initialised(self, deadline: float) -> None:
        """TR 23.701 5.2.2.5.1 option 1: the eP-CSCF "autonomously registers each block upon
        initialization". A SUT whose nodes answer may still be initialising: with the emulated
        S-CSCF, wait until each option 1 block's REGISTER has had a final answer other than the
        digest challenge (registered, or refused: the scenario judges which), or until ``deadline``
        (the PIXIT's ``ready``), whichever comes first; what is then missing is the scenario's to
        find (TP_WIMPU_BLK_001 checks the block registration, a WIC's registration its own answer).
        Without this a scenario's first WIC REGISTER could race the block's registration, which
        5.2.2.5.2 takes as done ("the wIMPU block has already registered in HSS")."""
        core = self.core
        if core is None:
            return
        from .expect import wait_until_async

        aors = [b.representative for b in self.pixit.blocks if b.registration == 1]
        try:
            await wait_until_async(
                lambda: all(core.register_answered(aor) for aor in aors),
                "the option 1 block registrations",
                max(0.0, deadline - time.monotonic()),
            )
        except AssertionError:
            pass  # the scenario's own checks say what is missing

    async def stop(self, log: Path | None = None) -> None:
        """Stop what :meth:`start` started: the SUT's process group (SIGTERM, SIGKILL after 10 s),
        its output kept in ``log`` (redacted), then the emulated IMS core."""
        process, self._process = self._process, None
        if process is not None:
            await asyncio.to_thread(process.stop, log)
        if self.core is not None:
            await self.core.stop()
        await self._registrar.close()

    def now(self) -> float:
        return self.clock() if self.clock is not None else time.time()

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        for ca in self.pixit.trust:
            context.load_verify_locations(cafile=str(ca))
        return context

    def registrar_tls(self) -> ssl.SSLContext | None:
        """The PIXIT's ``[registrar] client_cert``/``client_key`` over its ``[trust] ca`` (read when
        first needed: a SUT started by ``[sut] start`` makes them)."""
        context = self.client_context()
        if self.pixit.registrar_client is not None:
            cert, key = self.pixit.registrar_client
            context.load_cert_chain(cert, key)
        return context

    def log_tls_secrets(self, keylog_file: str) -> None:
        """A SUT the suite starts (``[sut] start``) gets ``SSLKEYLOGFILE`` (every TLS server and
        client of the reference writes its secrets there); a SUT already running cannot be told."""
        self._keylog = keylog_file

    def ports(self) -> dict[int, str]:
        return {port: name for (_, port), name in self.pixit.endpoints().items()}

    def endpoints(self) -> dict[tuple[str, int], str]:
        """The PIXIT's listening addresses; a host name also under each address it resolves to
        (a capture shows addresses)."""
        found: dict[tuple[str, int], str] = {}
        for (host, port), name in self.pixit.endpoints().items():
            found[(host, port)] = name
            for address in _addresses_of(host):
                found.setdefault((address, port), name)
        return found

    def blocks(self) -> tuple[Block, ...]:
        return self.pixit.blocks

    def ep_cscfs(self) -> dict[str, DirectoryEntry]:
        return {n.name: DirectoryEntry("", n.identity or "", n.url or "") for n in self.pixit.ep_cscfs}

    def wwsf_signing_key_pem(self) -> bytes:
        if self.pixit.wwsf_signing_key is None:
            raise Unobservable("the PIXIT gives no [wwsf] signing_key: the tester cannot play the WWSF")
        return self.pixit.wwsf_signing_key.read_bytes()

    def issue_token(self, identity: str, audience: str) -> Token:
        if self._issuer is None:
            pem = self.wwsf_signing_key_pem()
            self._issuer = TokenIssuer(self.wwsf_origin, clock=self.now, signing_key_pem=pem)
        return self._issuer.issue(identity, audience)

    def add_remote(self, domain: str, target: Target) -> None:
        if self.core is not None:  # the harness's own S-CSCF routes the remote domain there
            self.core.add_remote(domain, target)
        listen = self.remote_listen()
        if (target.host, target.port) != listen:
            raise Unobservable(f"the remote party listens on {target.host}:{target.port}, not {listen}")

    async def fail_ep_cscf(self, name: str) -> None:
        """Run the PIXIT's ``[[ep_cscf]] fail`` command of ``name``.

        Raises:
            Unobservable: the PIXIT gives no such command.
            RuntimeError: the command did not succeed (:meth:`_fault_injection`).
        """
        command = self.pixit.nodes[name].fail
        if not command:
            raise Unobservable(
                f"making eP-CSCF {name} of an external SUT fail needs a fault-injection command "
                "([[ep_cscf]] fail) the PIXIT does not give"
            )
        await self._fault_injection(f"the fail command of {name}", command)

    def misprovision_hss(self, impi: str) -> None:
        if self.core is None:
            super().misprovision_hss(impi)
        if not self.started_by_suite:
            raise Unobservable(
                "the SUT was started before the scenario ([sut] start is not given): its eP-CSCF has "
                "initialised already, and a change of the HSS now cannot refuse its start-up registration"
            )
        assert self.core is not None
        self.core.provision_password(impi, f"not-the-password-of-{impi}")

    async def restart_ep_cscf(self, name: str) -> None:
        """Run the PIXIT's ``[[ep_cscf]] restart`` command of ``name`` (Unobservable without one)."""
        command = self.pixit.nodes[name].restart
        if not command:
            await super().restart_ep_cscf(name)
            return
        await self._fault_injection(f"the restart command of {name}", command, brings_up_the_sut=True)

    def can_start_again(self, name: str) -> bool:
        node = self.pixit.nodes.get(name)
        return node is not None and bool(node.fail and node.start_again)

    async def start_ep_cscf_again(self, name: str) -> None:
        """Run the PIXIT's ``[[ep_cscf]] start_again`` command of ``name`` (Unobservable without one)."""
        command = self.pixit.nodes[name].start_again
        if not command:
            await super().start_ep_cscf_again(name)
            return
        await self._fault_injection(f"the start_again command of {name}", command, brings_up_the_sut=True)

    async def stall_registrar(self) -> None:
        """Run the PIXIT's ``[registrar] stall`` command (Unobservable without one)."""
        if self.pixit.registrar_stall is None:
            await super().stall_registrar()
            return
        await self._fault_injection("the registrar's stall command", self.pixit.registrar_stall[0])

    async def resume_registrar(self) -> None:
        """Run the PIXIT's ``[registrar] resume`` command."""
        if self.pixit.registrar_stall is not None:
            await self._fault_injection("the registrar's resume command", self.pixit.registrar_stall[1])

    def scscf_node(self) -> SipNode:
        if self.core is None:
            return super().scscf_node()
        return self.core.scscf_node

    async def _fault_injection(
        self, what: str, command: tuple[str, ...], *, brings_up_the_sut: bool = False
    ) -> None:
        """Run a fault-injection command of the PIXIT (from the PIXIT's folder).

        Raises:
            HarnessError: the command could not run, or did not succeed within 20 s (the scenario's
                verdict is ERROR: the suite could not do what the scenario needs, which says nothing
                of the SUT).
            Unobservable: ``brings_up_the_sut`` (a ``restart`` or ``start_again``, which waits until
                the eP-CSCF listens again) and it ran but failed or timed out: the eP-CSCF may not
                have come back, which is the SUT's, not the suite's; the scenario cannot go on
                (inconclusive), with the command's last lines.
        """
        cwd = self.pixit.path.parent if self.pixit.path is not None else None
        failed: type[Exception] = Unobservable if brings_up_the_sut else HarnessError
        try:
            done = await asyncio.to_thread(
                subprocess.run, list(command), cwd=cwd, capture_output=True, text=True, timeout=20
            )
        except OSError as exc:
            raise HarnessError(f"{what} {list(command)} did not run: {exc}") from None
        except subprocess.TimeoutExpired:
            raise failed(f"{what} {list(command)} did not end within 20 s") from None
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            raise failed(f"{what} {list(command)} exited with status {done.returncode}: {tail}")

    def remote_listen(self) -> tuple[str, int]:
        remote = self.pixit.node("remote")
        if remote.sip is None:
            raise Unobservable(
                "the PIXIT gives no [remote] sip address: the S-CSCF of the SUT cannot reach the remote party"
            )
        return (remote.sip.host, remote.sip.port)


def emulated_core(
    pixit: Pixit,
    *,
    clock: Callable[[], float] = time.time,
    w7: Callable[[str], Awaitable[RegistrationStatus]] | None = None,
) -> ImsCore | None:
    """The IMS core the harness plays for this PIXIT: its S-CSCF/HSS (and plain I-CSCF) with the
    subscriptions of the PIXIT's blocks and IMS users, at the PIXIT's addresses; None when the
    S-CSCF is not emulated."""
    if not pixit.emulated("s_cscf"):
        return None
    from .ims_core import ImsCore, Subscriber  # only a run with an emulated IMS core needs it

    subscribers = [
        Subscriber(f"{b.name}@{pixit.ims_domain}", b.password, (b.representative,), (b.wimpu,))
        for b in pixit.blocks
    ] + [Subscriber(u.impi, u.secret(), (u.identity,)) for u in pixit.ims_users]
    scscf, icscf = pixit.node("s_cscf").sip, pixit.node("i_cscf").sip
    assert scscf is not None  # an emulated node has its address (conformance.pixit)
    external = [d for b in pixit.blocks for d in b.external_domains]
    return ImsCore(
        domain=pixit.ims_domain,
        subscribers=subscribers,
        scscf=(scscf.host, scscf.port),
        icscf=(icscf.host, icscf.port) if icscf is not None and pixit.emulated("i_cscf") else None,
        clock=clock,
        w7=w7,  # the I-CSCF's W7 query goes to the SUT's registrar (5.2.2.3.3), as an enhanced one's
        webrtc_domains=[*(wildcard_host(b.wimpu) for b in pixit.blocks), *external],
        external_domains=external,
    )


def wildcard_host(wimpu: str) -> str:
    """The domain of a wildcarded IMPU (``block1.ims.example.net``): a webRTC domain (5.2.2.3.3)."""
    return wimpu.rpartition("@")[2].split(";")[0].split(":")[0].lower()


class TesterClock(OffsetFileClock):
    """The external nodes' shared clock (:class:`reference.clock.OffsetFileClock`), moved by the tester."""

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock only moves forward, not by {seconds} s")
        write_offset(self.path, self.offset() + seconds)


def _addresses_of(host: str) -> list[str]:
    """The IP addresses of ``host`` (itself when it is one; none when it does not resolve)."""
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _target(pixit: Pixit, role: str) -> Target:
    node = pixit.node(role)
    if node.sip is None:
        raise Unobservable(f"the PIXIT gives no SIP address for the {role}")
    return Target(node.sip.transport.upper(), node.sip.host, node.sip.port)
