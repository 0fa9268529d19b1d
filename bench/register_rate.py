"""Registration rate and latency of the reference eP-CSCF beside Kamailio, in the same run (issue 18, 1).

The reference stack runs as ``wimpu-ref up`` (its own process, one block of option A and N users)
with every check on: WSS with the WWSF's Origin and the ``sip`` subprotocol, the WWSF token on
every REGISTER, the W6 write to the wIMPU Registrar (mutual TLS) before the 200. The peer is
Kamailio 5.6 as a plain SIP-over-WebSocket registrar (``ws://``, no TLS, no token, ``usrloc`` in
memory), started from a configuration written here; it does less work per REGISTER, which is the
point of the ratio: what the checks the text asks for cost against a registrar that does none.

One client process drives both: one emulated WIC (``conformance.harness.wic.Wic``, the JsSIP
dialect) per held connection, each re-registering back to back (the next REGISTER when the last
200 arrived). Printed per level of held connections: REGISTER/s, p50 and p99 latency, errors, and
the client's own CPU share (near 100 % of one core: the client, not the server, bounds the
figure). The machine's cores are shared by the server, the registrar and the client.

With ``--kamailio-ep`` the same-function peer is measured too: the Kamailio eP-CSCF of
``interop/kamailio`` (WSS with the Origin check, the token validated, the W6 write), started by its
``start.sh`` on a loopback address of its own; its lab has one user, so every connection is a WIC
of alice (one contact each).

With ``--iwf-workers 1,2`` the reference is also measured decomposed (TR 23.701 5.2.2.2): ep-cscf1's
IWF alone in that many processes on one WSS port (``iwf_workers``, ``reference/nodes/ep_cscf/workers.py``),
its P-CSCF in a process of its own, the other nodes (registrar, WWSF, S-CSCF, I-CSCF, ep-cscf2) in a
third (``wimpu-ref up --nodes``, :data:`SPLIT`); one such stack per count, each on its own address.
The ``server`` column is the CPU the stack's processes (IWF workers included) used under the load, in
cores: beside the client's share, what the SUT could use of the machine.

Each server (the reference stack, Kamailio, the Kamailio lab) listens on a loopback address that
this run claims for itself (``conformance.harness.scenario_capture.scenario_host``, as the
conformance scenarios do), so two runs at once, or a run beside the tests, never meet on a port.

The load users are configured with a ``password_hash`` each (one hash shared by all, computed once):
start-up only parses it, so 1,000 users add well under a second (``bench/startup_time.py``).

With ``--rate R`` the load is paced instead (open loop): the held connections are opened first,
then together they send R REGISTERs a second, each connection one every N/R s (N connections, their
sends spread evenly), whether or not the server keeps up. A REGISTER's latency counts from the moment
it was due, not from when it went out (a server falling behind shows in p99 rather than in a lower
send rate: no coordinated omission), and ``late`` counts the REGISTERs that were sent after their
time because the connection's previous one was still unanswered. Back to back, N connections keep N
REGISTERs in flight, so p99 is N over the rate (Little's law) and says nothing of a server that has
capacity to spare; paced, p99 is the latency a WIC sees at that load, which is what a p99 target at
1,000 connections (issue 18) means. Every SUT of the run gets the same offered rate.

Usage: ``python3 bench/register_rate.py [--connections 1,100] [--seconds 10] [--kamailio-ep]
[--iwf-workers 1,2] [--rate R]``.
Needs Kamailio (``scripts/install.sh``); without it only the reference is measured and the ratio is
not printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import glob
import math
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conformance.harness.scenario_capture import release_host, scenario_host
from conformance.harness.wic import HandshakeRefused, Wic, web_login
from reference.config import default_config_text
from reference.nodes.wwsf.users import hash_password
from reference.tls import TestPki

ROOT = Path(__file__).resolve().parent.parent
KAM_PORT = 8090
BLOCK = "sip:wrtc-!.*!@block1.ims.example.net"
START_TIMEOUT = 600.0


@dataclass(frozen=True)
class Hosts:
    """The loopback addresses of one run, each claimed for the run (:func:`claim_hosts`)."""

    ref: str
    "The reference stack (``wimpu-ref up``)."
    kam: str
    "Kamailio as a plain WS registrar."
    ep: str
    "The Kamailio eP-CSCF lab (interop/kamailio/start.sh, ``--kamailio-ep``): its WWSF, registrar and WSS."


@contextlib.contextmanager
def claimed(count: int) -> Iterator[list[str]]:
    """Claim ``count`` loopback addresses no other run, benchmark or scenario uses now
    (``scenario_host``); give them back at the end."""
    hosts: list[str] = []
    try:
        for _ in range(count):
            hosts.append(scenario_host())
        yield hosts
    finally:
        for host in hosts:
            release_host(host)


@contextlib.contextmanager
def claim_hosts() -> Iterator[Hosts]:
    """Claim the three loopback addresses of one run (:func:`claimed`)."""
    with claimed(3) as hosts:
        yield Hosts(*hosts)


@dataclass(frozen=True)
class Target:
    url: str
    origin: str | None
    identity: str
    token: str | None


@dataclass(frozen=True)
class Figures:
    connections: int
    registers: int
    errors: Counter[str]
    "Why a REGISTER did not get its 200: the status code it got, ``timeout`` (no final response in 30 s:"
    "the connection gives up), or ``refused`` (the WebSocket could not be opened)."
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu: float
    server_cpu: float | None = None
    "Cores the SUT's processes used during the load (None: not measured, a peer's)."
    server_parts: dict[str, float] = dataclasses.field(default_factory=dict)
    "The same by process (:func:`tree_cpu`)."

    @property
    def rate(self) -> float:
        return self.registers / self.seconds


DECOMPOSED = """
[[ep_cscf]]
name = "ep-cscf1"
wss_port = 7443
p_cscfs = ["p-cscf1a"]
iwf_workers = {workers}

[[p_cscf]]
name = "p-cscf1a"
sip_port = 5080
link_port = 5084

[failover]
lease_duration = 10.0
"""
"ep-cscf1 decomposed, its IWF in ``workers`` processes (``--iwf-workers``)."


def stack_config(users: int, password: str, workers: int = 0) -> str:
    """The reference profile with ``users`` more users in block1, each of ``password`` (one stored
    hash), and limits above the load; ``workers`` > 0: ep-cscf1 decomposed, its IWF in that many
    processes (:data:`DECOMPOSED`)."""
    stored = hash_password(password)
    profile = default_config_text()
    if workers:
        bundled = '[[ep_cscf]]\nname = "ep-cscf1"\nwss_port = 7443\nsip_port = 5080\n'
        assert bundled in profile, "the reference profile's ep-cscf1 changed: update DECOMPOSED"
        profile = profile.replace(bundled, "").replace(
            "\n[[block]]", DECOMPOSED.format(workers=workers) + "\n[[block]]", 1
        )
    limits = "\n[limits]\nwss_max_connections = 20000\nwss_max_per_source = 20000\n"
    parts = [profile, limits]
    for n in range(users):
        parts.append(
            f"\n[[user]]\nusername = 'load-{n}'\npassword_hash = '{stored}'\n"
            f"identity = 'sip:wrtc-load-{n}@block1.ims.example.net'\nblock = '{BLOCK}'\n"
        )
    return "".join(parts)


REGISTRAR_ROUTE = """\
    if (is_method("REGISTER")) { save("location"); exit; }
    sl_send_reply("405", "Method Not Allowed");
"""
"The request route of the plain registrar: REGISTER saved in ``usrloc``, anything else refused."


def kamailio_config(
    directory: Path,
    host: str,
    port: int = KAM_PORT,
    *,
    modules: tuple[str, ...] = (),
    params: str = "",
    route: str = REGISTRAR_ROUTE,
    sip_port: int | None = None,
) -> Path:
    """Kamailio as a plain SIP-over-WebSocket registrar: no TLS, no authentication. ``modules``,
    ``params`` and ``route`` (the body of ``request_route``) make it more (a proxy,
    ``bench/terminating_setup.py``); ``sip_port``: a plain SIP-over-TCP listener too."""
    found = sorted(glob.glob("/usr/lib/*/kamailio/modules"))
    if not found:
        raise FileNotFoundError("no /usr/lib/*/kamailio/modules")
    load = "".join(
        f'loadmodule "{m}.so"\n' for m in ("kex", "corex", "tm", "sl", "pv", "xhttp", "websocket", "usrloc",
                                          "registrar", "textops", "siputils", *modules)
    )  # fmt: skip
    listen = f"listen=tcp:{host}:{port}\n" + (f"listen=tcp:{host}:{sip_port}\n" if sip_port else "")
    path = directory / "kamailio.cfg"
    path.write_text(
        f"""#!KAMAILIO
debug=0
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
tcp_accept_no_cl=yes
{listen}mpath="{found[0]}/"
{load}modparam("registrar", "max_contacts", 0)
{params}event_route[xhttp:request] {{
    if ($hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade" && $rm =~ "GET") {{
        if (ws_handle_handshake()) {{ exit; }}
    }}
    xhttp_reply("404", "Not Found", "", "");
}}
request_route {{
{route}}}
"""
    )
    return path


def wait_port(host: str, port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on {host}:{port} within {START_TIMEOUT} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def hold(target: Target, ssl: object, deadline: float, latencies: list[float]) -> Counter[str]:
    """One held connection: REGISTER after REGISTER until ``deadline``; returns the errors by kind
    (a REGISTER with no final response in 30 s ends the connection's load, counted ``timeout``)."""
    wic = Wic(f"load-{secrets.token_hex(3)}", ssl_context=ssl, timeout=30.0)  # type: ignore[arg-type]
    errors: Counter[str] = Counter()
    try:
        await wic.connect(target.url, origin=target.origin)
    except (OSError, HandshakeRefused, TimeoutError):
        errors["refused"] += 1
        return errors
    try:
        while time.monotonic() < deadline:
            if not await register_once(wic, target, time.perf_counter(), latencies, errors):
                break
    finally:
        await wic.close()
    return errors


async def register_once(
    wic: Wic, target: Target, since: float, latencies: list[float], errors: Counter[str]
) -> bool:
    """One REGISTER of ``wic``: its latency counted from ``since`` when it got its 200, else its
    status in ``errors``; False when it got no final answer (``timeout``: the connection gives up)."""
    wic.sent.clear()
    wic.received.clear()
    try:
        response = await wic.register(target.identity, token=target.token)
    except TimeoutError:
        errors["timeout"] += 1
        return False
    if response.status == 200:
        latencies.append(time.perf_counter() - since)
    else:
        errors[str(response.status)] += 1
    return True


async def hold_paced(
    wic: Wic, target: Target, due: float, interval: float, deadline: float, latencies: list[float]
) -> Counter[str]:
    """One held connection, paced: a REGISTER due at ``due`` and every ``interval`` s after, until
    ``deadline``; each latency counts from when the REGISTER was due (its answer's time minus the
    due time). Returns the errors by kind, with ``late``: REGISTERs sent after their due time because
    the connection's previous one was still unanswered."""
    errors: Counter[str] = Counter()
    try:
        while due < deadline:
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.001:
                errors["late"] += 1
            if not await register_once(wic, target, due, latencies, errors):
                # the connection gives up: its REGISTERs still due are counted, not forgotten (a
                # stalled server must not look faster by the answers it never gave)
                errors["omitted"] += max(0, math.ceil((deadline - due) / interval) - 1)
                break
            due += interval
    finally:
        await wic.close()
    return errors


async def opened(targets: list[Target], ssl: object) -> tuple[list[tuple[Wic, Target]], Counter[str]]:
    """A WIC connected to each target (at most 50 handshakes at a time); the refused counted."""
    gate = asyncio.Semaphore(50)
    errors: Counter[str] = Counter()

    async def one(target: Target) -> tuple[Wic, Target] | None:
        wic = Wic(f"load-{secrets.token_hex(3)}", ssl_context=ssl, timeout=30.0)  # type: ignore[arg-type]
        async with gate:
            try:
                await wic.connect(target.url, origin=target.origin)
            except (OSError, HandshakeRefused, TimeoutError):
                errors["refused"] += 1
                return None
        return wic, target

    held = [h for h in await asyncio.gather(*(one(t) for t in targets)) if h is not None]
    return held, errors


def tree_cpu(pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by processes ``pids`` and their live descendants
    (Linux ``/proc``), by process: its ``--nodes`` (``all`` for a whole stack) or ``IWF worker``, and
    its pid (a worker started again during the load counts from its start)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:  # gone meanwhile
            continue
        fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ... utime, stime
        child = int(text.split(" ", 1)[0])
        parent[child] = int(fields[1])
        ticks[child] = int(fields[11]) + int(fields[12])
    tree, grown = set(pids), True
    while grown:
        more = {child for child, up in parent.items() if up in tree} - tree
        tree |= more
        grown = bool(more)
    tick = os.sysconf("SC_CLK_TCK")
    return {f"{_process_name(pid)} ({pid})": ticks.get(pid, 0) / tick for pid in sorted(tree)}


def _process_name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return str(pid)
    if "reference.nodes.ep_cscf.workers" in argv:
        return "IWF worker"
    return argv[argv.index("--nodes") + 1] if "--nodes" in argv[:-1] else "all"


async def measure(
    targets: list[Target], ssl: object, seconds: float, server: list[int] | None = None,
    rate: float | None = None,
) -> Figures:  # fmt: skip
    """Load ``targets`` for ``seconds``, back to back, or paced at ``rate`` REGISTERs a second over
    all of them (the connections opened first); ``server``: the SUT's processes, whose CPU (with
    their descendants') is measured too."""
    latencies: list[float] = []
    refused: Counter[str] = Counter()
    held: list[tuple[Wic, Target]] = []
    if rate is not None:
        held, refused = await opened(targets, ssl)
    served = tree_cpu(server) if server is not None else {}
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    begin = time.monotonic()
    deadline = begin + seconds
    if rate is None:
        errors = await asyncio.gather(*(hold(t, ssl, deadline, latencies) for t in targets))
    elif held:
        interval = len(held) / rate  # the connections opened carry the whole offered rate
        start = time.perf_counter()
        errors = await asyncio.gather(*(
            hold_paced(wic, t, start + i * interval / len(held), interval, start + seconds, latencies)
            for i, (wic, t) in enumerate(held)
        ))  # fmt: skip
    else:
        errors = []
    if rate is not None:
        errors.append(refused)
    wall = time.monotonic() - begin
    used = resource.getrusage(resource.RUSAGE_SELF)
    ordered = sorted(latencies) or [float("nan")]
    return Figures(
        connections=len(targets),
        registers=len(latencies),
        errors=sum(errors, Counter()),
        seconds=wall,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        client_cpu=(used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime) / wall,
        server_cpu=sum(parts.values()) if (parts := _cores(served, server, wall)) else None,
        server_parts=parts,
    )


def _cores(before: dict[str, float], server: list[int] | None, wall: float) -> dict[str, float]:
    """Cores each process of ``server`` used since ``before`` (:func:`tree_cpu`)."""
    if server is None:
        return {}
    after = tree_cpu(server)
    return {name: (seconds - before.get(name, 0.0)) / wall for name, seconds in after.items()}


SPLIT = ("registrar,wwsf,s-cscf,i-cscf,ep-cscf2", "p-cscf1a", "ep-cscf1")
"""The decomposed stack's processes (``wimpu-ref up --nodes``), in the order they start, each once the
last is up: the core nodes, ep-cscf1's P-CSCF, then its IWF (up once its workers are)."""


def start_reference(
    directory: Path, name: str, workers: int, host: str, users: int, password: str
) -> Reference:
    """A reference stack on ``host``: one ``wimpu-ref up`` process for the bundled profile
    (``workers`` 0); else ep-cscf1 decomposed with ``workers`` IWF processes, and the stack split in
    processes (:data:`SPLIT`) so that no process does the IWF's, the P-CSCF's and the registrar's
    work at once."""
    started = time.monotonic()
    tag = f"w{workers}" if workers else "bundled"
    config, state = directory / f"stack-{tag}.toml", directory / f"state-{tag}"
    config.write_text(stack_config(users, password, workers))
    up = [sys.executable, "-m", "reference.cli", "up", "--config", str(config), "--host", host]
    up += ["--state-dir", str(state)]
    ref = Reference(name, host, state, [])
    try:
        for nodes in SPLIT if workers else ("",):
            log = directory / f"ref-{tag}-{nodes.split(',')[0] or 'all'}.log"
            ref.processes.append(spawn([*up, "--nodes", nodes] if nodes else up, log))
            wait_up(log, ref.processes[-1], f"wimpu-ref up {nodes}".strip())
    except BaseException:
        for part in reversed(ref.processes):
            stop(part)
        raise
    return dataclasses.replace(ref, started=time.monotonic() - started)


@dataclass(frozen=True)
class Reference:
    """One reference stack of the run: its row's name, address, state directory and processes."""

    name: str
    host: str
    state: Path
    processes: list[subprocess.Popen[bytes]]
    started: float = 0.0
    "Seconds until the last process listened."


async def reference_targets(ref: Reference, password: str, count: int) -> tuple[list[Target], object]:
    """Log ``count`` load users in at the WWSF of ``ref`` (step 1): their tokens and the eP-CSCF
    to use."""
    host = ref.host
    context = TestPki(ref.state / "pki").client_context()
    origin = f"https://{host}:8443"
    targets = []
    for n in range(count):
        login = await web_login(origin, f"load-{n}", password, context)
        targets.append(Target(login.ep_cscf_url, origin, login.identity, login.token))
    return targets, context


LAB_BLOCKS = (("block1", "bench-block1"), ("block2", "bench-block2"))
"The lab's blocks and the passwords ``main`` gives ``start.sh``."


@contextlib.contextmanager
def lab_core(host: str, directory: Path, within: float = 30.0) -> Iterator[None]:
    """The S-CSCF/HSS of the Kamailio lab, as a conformance run gives it (the suite's emulated IMS
    core on ``host``:5070), up for the whole run in a thread of its own (its own event loop: only that
    thread touches it), once it has registered block1 of the lab's eP-CSCF: Kamailio refuses a WIC
    of a block IMS has not registered (503, TP_WIMPU_BLK_008). It used to be stopped as soon as it
    held block1's binding; once in CI at stop 43, and once in 32 loaded runs here, the lab then
    refused every WIC 503 for the whole run (a lost 200 suspected, not proven: uac_reg's retry ten
    seconds later found no S-CSCF). A real IMS core stays up; :func:`lab_serves_wics` then waits
    until the lab serves WICs. ``directory``: the run's, whose lab log a time-out quotes."""
    from conformance.harness.ims_core import ImsCore, Subscriber

    domain = "ims.example.net"
    core = ImsCore(
        domain=domain,
        subscribers=[
            Subscriber(
                f"{name}@{domain}",
                password,
                (f"sip:{name}@wrtc.{domain}",),
                (f"sip:wrtc-!.*!@{name}.{domain}",),
            )
            for name, password in LAB_BLOCKS
        ],
        scscf=(host, 5070),
    )

    async def registered(aor: str = f"sip:block1@wrtc.{domain}") -> None:
        deadline = time.monotonic() + within
        while not core.register_answered(aor) or not core.bindings(aor):
            if time.monotonic() > deadline:
                late = f"the Kamailio lab did not register block1 within {within:.0f} s"
                raise TimeoutError(f"{late}\n{lab_excerpt(directory)}")
            await asyncio.sleep(0.1)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kamailio-lab-ims-core", daemon=True)
    thread.start()
    try:
        try:
            asyncio.run_coroutine_threadsafe(core.start(), loop).result(within)
            asyncio.run_coroutine_threadsafe(registered(), loop).result(within + 5)
            yield
        finally:
            asyncio.run_coroutine_threadsafe(core.stop(), loop).result(within)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(within)
        if not thread.is_alive():  # a loop still running cannot be closed; the daemon thread ends with us
            loop.close()


LAB_NOTES = ("WARNING", "ERROR", "<script>", "sr_kemi_core", "Traceback", "-> 4", "-> 5")
"""What the Kamailio lab's log says of why a WIC was refused: Kamailio's warnings and errors, its
script's lines (route[BLOCK_NOT_REGISTERED], block registrations, leases held and lost), and the
registrar's and WWSF's refusals (their requests answered 4xx, 5xx)."""


def lab_excerpt(directory: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of the Kamailio lab's log (``lab.log``) that say why it refused a
    WIC: printed under a row of the Kamailio eP-CSCF with errors, so that the run says why."""
    log = directory / "lab.log"
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    notes = [line for line in text if any(word in line for word in LAB_NOTES)][-lines:]
    return "\n".join([f"{'':<34} the lab's log ({log}), last of what it says of refusals:", *notes])


async def lab_serves_wics(directory: Path, host: str, within: float = 30.0) -> None:
    """Until the Kamailio lab answers a WIC's REGISTER 200 (a 503 is its block not live yet at
    Kamailio: tried again, as a WIC does after Retry-After), then that contact de-registered: the
    run measures a lab that serves WICs, not one still taking its block's 200 in."""
    [target], context = await kamailio_ep_targets(directory, 1, host)
    wic = Wic(f"preflight-{secrets.token_hex(3)}", ssl_context=context, timeout=10.0)  # type: ignore[arg-type]
    deadline = time.monotonic() + within
    await wic.connect(target.url, origin=target.origin)
    try:
        while (response := await wic.register(target.identity, token=target.token)).status != 200:
            if response.status != 503 or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Kamailio lab answered a WIC's REGISTER {response.status} {response.reason}"
                    + (f" for {within:.0f} s" if response.status == 503 else "")
                    + "\n"
                    + lab_excerpt(directory)
                )
            await asyncio.sleep(0.2)
        await wic.register(target.identity, token=target.token, expires=0)
    finally:
        await wic.close()


async def kamailio_ep_targets(directory: Path, count: int, host: str) -> tuple[list[Target], object]:
    """``count`` WICs of alice (the lab's one user) through the Kamailio eP-CSCF on ``host``: one
    log-in, one token, a contact per WIC (each its own +sip.instance)."""
    context = TestPki(directory / "kam-lab" / "pki").client_context()
    origin = f"https://{host}:8443"
    login = await web_login(origin, "alice", "alice-password", context)
    return [Target(login.ep_cscf_url, origin, login.identity, login.token)] * count, context


def kamailio_targets(count: int, host: str) -> list[Target]:
    """``count`` load users registering with the plain Kamailio registrar on ``host``."""
    url = f"ws://{host}:{KAM_PORT}"
    return [Target(url, None, f"sip:wrtc-load-{n}@block1.ims.example.net", None) for n in range(count)]


def spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen(command, cwd=ROOT, stdout=err, stderr=err, start_new_session=True, env=env)


UP = "Ctrl-C stops it."
"What ``wimpu-ref up`` prints once every node of the process has started (IWF workers included)."


def wait_up(log: Path, process: subprocess.Popen[bytes], what: str) -> None:
    """Until ``process`` (``wimpu-ref up``, its output in ``log``) says it is up."""
    deadline = time.monotonic() + START_TIMEOUT
    while UP not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before it was up: see {log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} was not up within {START_TIMEOUT} s: see {log}")
        time.sleep(0.1)


def row(name: str, f: Figures) -> str:
    server = "-" if f.server_cpu is None else f"{f.server_cpu:.2f}"
    return (
        f"{name:<34} {f.connections:>6} {f.rate:>10.0f} {f.p50_ms:>9.1f} {f.p99_ms:>9.1f} "
        f"{f.errors.total() - f.errors['late']:>6} {f.client_cpu:>9.0%} {server:>7}"
        + (f"  ({', '.join(f'{n} {kind}' for kind, n in sorted(f.errors.items()))})" if f.errors else "")
    )


HEADER = (
    f"{'SUT':<34} {'conns':>6} {'REG/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>6} {'client':>9} "
    f"{'server':>7}"
)


def ratio(peer: str, level: int, ours: Figures, theirs: Figures, rate: float | None) -> str:
    """The reference's rate over the peer's (back to back), or its p99 over the peer's (paced: both
    were offered the same rate, the latency is what differs)."""
    name = f"{'ratio reference / ' if rate is None else 'p99 reference / '}{peer}"
    failed = {"timeout", "omitted", "refused"}
    if any(f.errors[kind] for f in (ours, theirs) for kind in failed) or not theirs.registers:
        return f"{name:<34} {level:>6} {'-':>10}  (a side's REGISTERs went unanswered: no ratio)"
    if rate is None:
        return f"{name:<34} {level:>6} {ours.rate / theirs.rate:>9.3f}x"
    return f"{name:<34} {level:>6} {ours.p99_ms / theirs.p99_ms:>9.1f}x"


def run_levels(
    directory: Path, password: str, levels: list[int], seconds: float, hosts: Hosts, peer: bool, ep: bool,
    refs: list[Reference], rate: float | None = None,
) -> None:  # fmt: skip
    """Measure and print each level of held connections: each reference stack, then each peer
    started (the ratios are to the first reference, the bundled eP-CSCF); ``rate``: paced load
    (:func:`hold_paced`), the same for every SUT."""
    print(HEADER)
    for level in levels:
        rates = []
        for ref in refs:
            targets, ssl = asyncio.run(reference_targets(ref, password, level))
            figures = asyncio.run(measure(targets, ssl, seconds, [p.pid for p in ref.processes], rate))
            print(row(ref.name, figures))
            if len(figures.server_parts) > 1:
                parts = ", ".join(f"{name} {cores:.2f}" for name, cores in figures.server_parts.items())
                print(f"{'':<34} cores by process: {parts}")
            rates.append(figures)
        ours = rates[0]
        if peer:
            theirs = asyncio.run(measure(kamailio_targets(level, hosts.kam), None, seconds, rate=rate))
            print(row("Kamailio 5.6 plain WS registrar", theirs))
            print(ratio("Kamailio", level, ours, theirs, rate))
        if ep:
            same, context = asyncio.run(kamailio_ep_targets(directory, level, hosts.ep))
            theirs = asyncio.run(measure(same, context, seconds, rate=rate))
            print(row("Kamailio eP-CSCF (WSS+token+W6)", theirs))
            print(ratio("Kamailio eP", level, ours, theirs, rate))
            if theirs.errors.total() - theirs.errors["late"]:
                print(lab_excerpt(directory))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--connections", default="1,100", help="levels of held connections (1,100)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per level (10)")
    parser.add_argument(
        "--kamailio-ep",
        action="store_true",
        help="also the Kamailio eP-CSCF of interop/kamailio (the same functions: WSS, token, W6), all "
        "connections WICs of its one user",
    )
    parser.add_argument(
        "--iwf-workers",
        default="",
        help="also the reference with ep-cscf1 decomposed, its IWF in each of these numbers of processes "
        "(e.g. 1,2)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="paced load: this many REGISTERs a second over all held connections, opened first (latency "
        "from each REGISTER's due time); default: back to back",
    )
    args = parser.parse_args()
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be above 0")
    levels = [int(x) for x in args.connections.split(",")]
    workers = [int(x) for x in args.iwf_workers.split(",") if x.strip()]
    kamailio = shutil.which("kamailio")
    with contextlib.ExitStack() as claims:
        tmp = claims.enter_context(tempfile.TemporaryDirectory(prefix="wimpu-bench-"))
        hosts = claims.enter_context(claim_hosts())
        more = claims.enter_context(claimed(len(workers)))
        directory = Path(tmp)
        password = secrets.token_hex(12)
        variants = [("reference eP-CSCF (WSS+token+W6)", 0, hosts.ref)]
        for n, host in zip(workers, more, strict=True):
            variants.append((f"reference, {n} IWF worker{'s' if n > 1 else ''}", n, host))
        refs: list[Reference] = []
        kam = lab = None
        try:
            for name, count, host in variants:
                refs.append(start_reference(directory, name, count, host, max(levels), password))
                took = refs[-1].started
                print(f"{name}: stack listening after {took:.1f} s, {max(levels) + 2} users")
            if kamailio:
                # 256 MB of shared memory: with its default 64 MB, Kamailio answers 500 and refuses
                # connections at 1,000 held WebSockets (measured: 1,827 x 500 in 20 s at 200/s)
                config = str(kamailio_config(directory, hosts.kam))
                command = [kamailio, "-f", config, "-DD", "-E", "-m", "256", "-M", "16"]
                kam = spawn(command, directory / "kam.log")
                wait_port(hosts.kam, KAM_PORT, kam, "kamailio")
            if kamailio and args.kamailio_ep:
                lab_dir = str(directory / "kam-lab")
                script = "interop/kamailio/start.sh"
                # the same memory as the plain Kamailio above, for each of the lab's instances
                lab = spawn(
                    ["sh", script, lab_dir, *(password for _, password in LAB_BLOCKS), hosts.ep],
                    directory / "lab.log",
                    {**os.environ, "KAM_SHM_MB": "256", "KAM_PKG_MB": "16"},
                )
                wait_port(hosts.ep, 7443, lab, "the Kamailio eP-CSCF lab")
                wait_port(hosts.ep, 8443, lab, "the Kamailio lab's WWSF")
                claims.enter_context(lab_core(hosts.ep, directory))
                asyncio.run(lab_serves_wics(directory, hosts.ep))
            load = "back to back" if args.rate is None else f"paced at {args.rate:g} REGISTER/s"
            print(f"{os.cpu_count()} cores; one client process; {args.seconds:.0f} s per level; {load}\n")
            run_levels(
                directory,
                password,
                levels,
                args.seconds,
                hosts,
                kam is not None,
                lab is not None,
                refs,
                args.rate,
            )
        finally:
            for ref in refs:
                for part in reversed(ref.processes):
                    stop(part)
            for process in (kam, lab):
                if process is not None:
                    stop(process)
    print("\nclient: the client process's CPU share of one core; near 100 % it bounds that row's rate")
    print("server: the cores the reference stack's processes (its IWF workers with it) used under the load")
    if not kamailio:
        print("kamailio not installed (scripts/install.sh): no peer, no ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
