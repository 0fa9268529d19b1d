"""Terminating set-up of the reference stack beside Kamailio, in the same run (issue 18, 2).

A call from the IMS core to a webRTC user with N registered WICs (TR 23.701 5.2.2.5.4): the INVITE
enters at the I-CSCF (step 1), which asks the wIMPU Registrar over W7 which S-CSCF serves the
wildcarded IMPU; the S-CSCF (steps 2-3) routes it to the eP-CSCF, whose P-CSCF and IWF fork it over
WSS to every contact of the called identity (steps 4-5). Measured per call: the time from sending
the INVITE until the **last** of the N WICs received it (set-up to every contact), and until the
first 180 Ringing reached the caller.

The reference stack runs as ``wimpu-ref up`` (its own process, the reference profile); the called
user is alice (option A, block1), with N emulated WICs (``conformance.harness.wic.Wic``, each
logged in at the WWSF and registered over WSS with its token) in ``ring`` mode: 180 and no final
response. The caller is the suite's remote IMS party (``conformance.harness.remote.RemoteParty``,
the reference's SIP core over TCP on loopback), sending its INVITE to the I-CSCF.

Each call ends with a CANCEL (RFC 3261 9.1), sent as soon as every WIC received the INVITE and the
first 180 reached the caller; the call is over when its 487 arrives, which a forking proxy sends
only once every branch has its final response (RFC 3261 16.7 step 6; each WIC answers the CANCEL
200 and the INVITE 487). Calls are back to back: the next INVITE leaves when the last call's 487
arrived, so at most one call is in flight and nothing is left in the stack between calls. A CANCEL
rather than a 486 from every WIC: the caller's ringing then ends as a caller hanging up does, and
no WIC sends a final response a proxy could pass on before the slower branches rang.

The peer, in the same run: Kamailio 5.6 as a plain SIP-over-WebSocket registrar and forking proxy
(``ws://``, no TLS, no token, ``usrloc`` in memory; an INVITE is ``lookup("location")`` then
``t_relay()``, in parallel to every contact), with the same N WICs registered to it over
``ws://`` (no Origin, no token), and the same caller sending its INVITEs to Kamailio's SIP port
directly. It does less per call: no W7 query, no I-CSCF and S-CSCF hops (one proxy instead of
three SIP nodes), no TLS, no identity checks. The ratio says what the text's hops and checks cost
against a proxy that does none of them.

One client process holds the caller and the WICs of both; its CPU share of one core is printed
(near 100 %: the client bounds the figure), and so is the SUT's (its process group's, from /proc:
near 100 % for the reference, one asyncio process for every node, it bounds itself). The machine's
cores are shared by the stack, Kamailio and the client. Printed per level of contacts: calls/s,
p50 and p99 of the set-up to every contact, p50 to the first 180, errors by kind (a status code
other than the 487 the CANCEL asks for, ``timeout``: no WIC or caller event within 5 s, or no 487
within 5 s of the CANCEL).

``wimpu-ref up`` logs every SIP message each node sends and receives at INFO (one line each, to a
file here); Kamailio logs nothing (``debug=0``). The reference has no switch to turn that off, so
its rows include it.

Usage: ``python3 bench/terminating_setup.py [--contacts 1,2,5] [--seconds 10]``. Needs Kamailio
(``scripts/install.sh``) for the peer and the ratio; without it only the reference is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# register_rate is a sibling: `python3 bench/<name>.py` puts bench/ first on the path
from register_rate import claimed, kamailio_config, spawn, stop, wait_port

from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.config import default_config_text
from reference.sip.message import Request, Response
from reference.tls import TestPki
from reference.transport.endpoint import Target

KAM_WS_PORT = 8090
KAM_SIP_PORT = 5060
ICSCF_PORT = 5060
"The I-CSCF's port in the reference profile (``[ports] i_cscf``)."
ALICE = "sip:wrtc-alice@block1.ims.example.net"
WAIT = 5.0
"The longest wait for each event of a call (every WIC's INVITE and the first 180, then the 487)."
TARGET_P99_MS = 10.0
TARGET_CONTACTS = 5

PROXY_PARAMS = """\
modparam("nathelper", "received_avp", "$avp(received)")
modparam("registrar", "received_avp", "$avp(received)")
"""
PROXY_ROUTE = """\
    if (is_method("REGISTER")) { fix_nated_register(); save("location"); exit; }
    if (is_method("CANCEL|ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    if (!is_method("INVITE")) { sl_send_reply("405", "Method Not Allowed"); exit; }
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    if (!t_relay()) { sl_reply_error(); }
"""
"""The peer's request route: a WIC's contact is reached over the WebSocket it registered on (its
address kept as the contact's ``received``); an INVITE forks to every contact (``t_relay``)."""


class TimedWic(Wic):
    """A WIC that reports each INVITE it receives, as it arrives, to ``arrived(call_id)``."""

    def __init__(self, name: str, arrived: Callable[[str], None], **kwargs: object) -> None:
        super().__init__(name, **kwargs)  # type: ignore[arg-type]
        self.arrived = arrived

    async def _uas(self, request: Request) -> None:
        if request.method == "INVITE":
            self.arrived(request.call_id)
        await super()._uas(request)


@dataclass(frozen=True)
class Sut:
    """Where the WICs register and where the caller sends its INVITEs."""

    name: str
    ws_url: str
    origin: str | None
    wwsf: str | None
    "The WWSF to log in at (one log-in per WIC, its token on the REGISTER); None: no log-in."
    ssl: object
    via: Target
    caller_host: str
    "Where the caller listens (a loopback address of this run)."
    server: int | None = None
    "The process group of the SUT's processes (its CPU is read from /proc); None: not measured."


@dataclass(frozen=True)
class Figures:
    contacts: int
    calls: int
    errors: Counter[str]
    seconds: float
    p50_ms: float
    p99_ms: float
    ring_p50_ms: float
    client_cpu: float
    server_cpu: float
    "The SUT's processes' CPU share of one core while loaded (NaN: not measured)."

    @property
    def rate(self) -> float:
        return self.calls / self.seconds


def group_cpu(pgid: int | None) -> float:
    """CPU seconds used so far by the processes of group ``pgid`` (Linux /proc; NaN elsewhere):
    the SUT's own CPU share tells whether it, the client or the machine bounds a row."""
    if pgid is None or not os.path.isdir("/proc/self"):
        return float("nan")
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid:  # pgrp; utime and stime are fields 14 and 15 of stat(5)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``values`` in ms (nearest rank); NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if fraction == 0.5:
        return statistics.median(ordered) * 1000
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


class Caller:
    """The caller and the N WICs of one level: places calls back to back and times each."""

    def __init__(self, sut: Sut, contacts: int) -> None:
        self.sut = sut
        self.contacts = contacts
        self.party = RemoteParty("remote.example.org", host=sut.caller_host)
        self.wics: list[TimedWic] = []
        self.arrivals: dict[str, list[float]] = {}
        self.complete: asyncio.Event = asyncio.Event()

    def _arrived(self, call_id: str) -> None:
        times = self.arrivals.get(call_id)
        if times is not None:
            times.append(time.perf_counter())
            if len(times) >= self.contacts:
                self.complete.set()

    async def start(self) -> None:
        """Start the caller, log each WIC in (reference) and register it over its WebSocket."""
        await self.party.start()
        for n in range(self.contacts):
            wic = TimedWic(f"bench-{n}", self._arrived, ssl_context=self.sut.ssl, timeout=WAIT)
            identity, token = ALICE, None
            if self.sut.wwsf is not None:
                login = await web_login(self.sut.wwsf, "alice", "alice-password", self.sut.ssl)  # type: ignore[arg-type]
                identity, token = login.identity, login.token
            await wic.connect(self.sut.ws_url, origin=self.sut.origin)
            response = await wic.register(identity, token=token)
            if response.status != 200:
                raise RuntimeError(f"{self.sut.name}: REGISTER of WIC {n} answered {response.status}")
            self.wics.append(wic)

    async def stop(self) -> None:
        """De-register every WIC (so the next level forks to its own contacts only), then close."""
        for wic in self.wics:
            try:
                await wic.register(ALICE, token=wic.token, expires=0)
            finally:
                await wic.close()
        await self.party.stop()

    async def call(self) -> tuple[float, float] | str:
        """One call: INVITE, wait for every WIC's INVITE and the first 180, CANCEL, wait for the
        487. Returns (seconds to every contact, seconds to the first 180), or the error's kind."""
        invite = self.party.invite_request(ALICE)
        self.arrivals[invite.call_id] = []
        self.complete.clear()
        ringing: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        def response(r: Response) -> None:
            if r.status == 180 and not ringing.done():
                ringing.set_result(time.perf_counter())

        start = time.perf_counter()
        handle = self.party.node.send_request(invite, self.sut.via, on_response=response)
        try:
            events = asyncio.gather(self.complete.wait(), asyncio.shield(ringing))
            final_or_events: list[asyncio.Future[Any]] = [events, handle.final]
            done, _ = await asyncio.wait(final_or_events, timeout=WAIT, return_when="FIRST_COMPLETED")
            if handle.final in done:
                events.cancel()
                return str(handle.final.result().status)
            if not done:
                events.cancel()
                self.party.node.cancel(handle)
                return "timeout"
            everyone = max(self.arrivals[invite.call_id])
            first_ring = ringing.result()
            self.party.node.cancel(handle)
            try:
                final = await asyncio.wait_for(asyncio.shield(handle.final), WAIT)
            except TimeoutError:
                return "timeout"
            if final.status != 487:
                return str(final.status)
            return everyone - start, first_ring - start
        finally:
            del self.arrivals[invite.call_id]
            for wic in self.wics:  # the WICs keep every message: not over a whole level
                wic.incoming.clear()
                wic.received.clear()
                wic.sent.clear()
                wic.finals_sent.clear()
            self.party.received.clear()
            self.party.responses.clear()
            self.party.response_times.clear()


async def measure(sut: Sut, contacts: int, seconds: float) -> Figures:
    """Calls back to back for ``seconds`` to alice with ``contacts`` WICs registered at ``sut``."""
    caller = Caller(sut, contacts)
    await caller.start()
    setup: list[float] = []
    ring: list[float] = []
    errors: Counter[str] = Counter()
    try:
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        server = group_cpu(sut.server)
        begin = time.monotonic()
        while time.monotonic() - begin < seconds:
            outcome = await caller.call()
            if isinstance(outcome, str):
                errors[outcome] += 1
            else:
                setup.append(outcome[0])
                ring.append(outcome[1])
        wall = time.monotonic() - begin
        used = resource.getrusage(resource.RUSAGE_SELF)
        server = group_cpu(sut.server) - server
    finally:
        await caller.stop()
    return Figures(
        contacts=contacts,
        calls=len(setup),
        errors=errors,
        seconds=wall,
        p50_ms=percentile(setup, 0.5),
        p99_ms=percentile(setup, 0.99),
        ring_p50_ms=percentile(ring, 0.5),
        client_cpu=(used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime) / wall,
        server_cpu=server / wall,
    )


HEADER = (
    f"{'SUT':<36} {'contacts':>8} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'180 p50':>8} "
    f"{'errors':>6} {'client':>7} {'server':>7}"
)


def row(name: str, f: Figures) -> str:
    return (
        f"{name:<36} {f.contacts:>8} {f.rate:>8.0f} {f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.ring_p50_ms:>8.2f} "
        f"{f.errors.total():>6} {f.client_cpu:>7.0%} {f.server_cpu:>7.0%}"
        + (f"  ({', '.join(f'{n} {kind}' for kind, n in sorted(f.errors.items()))})" if f.errors else "")
    )


def reference_sut(directory: Path, host: str, caller_host: str, server: int) -> Sut:
    origin = f"https://{host}:8443"
    context = TestPki(directory / "state" / "pki").client_context()
    return Sut(
        "reference I-CSCF..eP-CSCF", f"wss://{host}:7443", origin, origin, context,
        Target("TCP", host, ICSCF_PORT), caller_host, server,
    )  # fmt: skip


def kamailio_sut(host: str, caller_host: str, server: int) -> Sut:
    return Sut(
        "Kamailio 5.6 plain WS proxy", f"ws://{host}:{KAM_WS_PORT}", None, None, None,
        Target("TCP", host, KAM_SIP_PORT), caller_host, server,
    )  # fmt: skip


def run_levels(reference: Sut, peer: Sut | None, levels: list[int], seconds: float) -> list[str]:
    """Measure each level on both SUTs; returns the summary lines (ratio, target)."""
    print(HEADER, flush=True)
    summary = []
    for level in levels:
        ours = asyncio.run(measure(reference, level, seconds))
        print(row(reference.name, ours), flush=True)
        if peer is not None:
            theirs = asyncio.run(measure(peer, level, seconds))
            print(row(peer.name, theirs), flush=True)
            summary.append(
                f"{'ratio reference / Kamailio':<36} {level:>8} calls/s {ours.rate / theirs.rate:.3f}x, "
                f"p99 {ours.p99_ms / theirs.p99_ms:.1f}x"
            )
        if level == TARGET_CONTACTS:
            met = "met" if ours.p99_ms < TARGET_P99_MS and not ours.errors else "NOT met"
            summary.append(
                f"target (issue 18): forking set-up to {TARGET_CONTACTS} contacts, p99 under "
                f"{TARGET_P99_MS:.0f} ms: {met} ({ours.p99_ms:.2f} ms)"
            )
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--contacts", default="1,2,5", help="levels of contacts of the called user (1,2,5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of calls per level (10)")
    args = parser.parse_args()
    levels = [int(x) for x in args.contacts.split(",") if x.strip()]
    kamailio = shutil.which("kamailio")
    with tempfile.TemporaryDirectory(prefix="wimpu-term-") as tmp, claimed(3) as (ref_host, kam_host, caller):
        directory = Path(tmp)
        (directory / "stack.toml").write_text(default_config_text())
        up = [sys.executable, "-m", "reference.cli", "up", "--config", str(directory / "stack.toml")]
        ref = spawn([*up, "--host", ref_host, "--state-dir", str(directory / "state")], directory / "ref.log")
        kam = None
        try:
            wait_port(ref_host, 7443, ref, "wimpu-ref up")
            wait_port(ref_host, ICSCF_PORT, ref, "wimpu-ref up (I-CSCF)")
            if kamailio:
                config = kamailio_config(
                    directory, kam_host, KAM_WS_PORT, modules=("nathelper",), params=PROXY_PARAMS,
                    route=PROXY_ROUTE, sip_port=KAM_SIP_PORT,
                )  # fmt: skip
                kam = spawn([kamailio, "-f", str(config), "-DD", "-E"], directory / "kam.log")
                wait_port(kam_host, KAM_SIP_PORT, kam, "kamailio")
            print(f"{os.cpu_count()} cores; one client process; {args.seconds:g} s per level; back to back\n")
            peer = kamailio_sut(kam_host, caller, kam.pid) if kam is not None else None
            ours = reference_sut(directory, ref_host, caller, ref.pid)
            summary = run_levels(ours, peer, levels, args.seconds)
        finally:
            stop(ref)
            if kam is not None:
                stop(kam)
    print()
    for line in summary:
        print(line)
    print("\np50/p99: INVITE sent until the last WIC received it; 180 p50: until the first 180 at the caller")
    print("client: the client process's CPU share of one core; near 100 % it bounds that row's rate")
    print("server: the SUT's processes' CPU share of one core (the reference: one process, every node)")
    if not kamailio:
        print("kamailio not installed (scripts/install.sh): no peer, no ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
