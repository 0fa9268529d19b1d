"""The decomposed eP-CSCF: the IWF uses any P-CSCF; losing one keeps WICs registered (5.2.2.2).

"The IWF can communicate with any P-CSCF since this is internal. [...] This decomposed
architecture of the eP-CSCF promotes scalability at different levels, resiliency, and
redundancy [...] The IWFs can scale separately then the P-CSCFs."

eP-CSCF 3 is an IWF alone (``--nodes ep-cscf3``) with two P-CSCFs, each its own OS
process (``--nodes p-cscf3a`` and ``p-cscf3b``): p-cscf3a serves block 3, p-cscf3b stands
by. p-cscf3a is killed with SIGKILL. The WICs keep their WebSockets to the IWF; when
p-cscf3b has taken the block over, the IWF registers them there again on its own, and
they are reachable again without doing anything. Counts: WICs attempted, reconnected
(expected 0), lost (expected 0); REGISTERs and calls in the gap and what they got.
Then p-cscf3a comes back as a standby (no fail-back), and the same happens the other way.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from system_nodes import BLOCK3, CORE, Cluster, cluster, decomposed_block, registrar_client, write_config
from system_wics import Attached, attach

from conformance.harness.remote import RemoteParty
from reference.config import load_config
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.stack import StackConfig
from reference.tls import TestPki
from reference.transport.endpoint import Target

WICS = 4
LEASE = {"lease_duration": 1.5, "renew_interval": 0.5, "standby_delay": 1.5, "retry_interval": 0.25}
PA = "sip:p-cscf3a.ims.example.net"
PB = "sip:p-cscf3b.ims.example.net"


@pytest.fixture
def decomposed(tmp_path: Path) -> Iterator[tuple[Cluster, StackConfig]]:
    config = write_config(tmp_path, failover=LEASE, extra=decomposed_block(WICS))
    with cluster(config, tmp_path / "state", [*CORE, "p-cscf3a", "p-cscf3b", "ep-cscf3"]) as c:
        yield c, load_config(config)


@dataclasses.dataclass
class Outage:
    """What one P-CSCF loss did, as the WICs and a caller saw it."""

    killed: float
    takeover: float | None = None
    reachable: dict[str, float] = dataclasses.field(default_factory=dict)
    "WIC -> when a call reached it again."
    registers: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    calls: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    retry_after_missing: int = 0
    slowest: float = 0.0

    def line(self, label: str, wics: int, reconnected: int) -> str:
        takeover = f"{self.takeover - self.killed:.3f} s" if self.takeover else "not seen"
        back = max(self.reachable.values(), default=self.killed) - self.killed
        return (
            f"decomposed eP-CSCF, {label}: WICs attempted={wics} lost={wics - len(self.reachable)} "
            f"reconnected={reconnected}; takeover after {takeover}; all reachable after {back:.3f} s; "
            f"REGISTERs in the gap {dict(self.registers)} "
            f"(503 without Retry-After: {self.retry_after_missing}); "
            f"calls {dict(self.calls)} (slowest {self.slowest:.3f} s)"
        )


async def lose_and_recover(
    nodes: Cluster, victim: str, survivor_identity: str, wics: list[Attached], remote: RemoteParty,
    icscf: Target, w6: RegistrarClient,
) -> Outage:  # fmt: skip
    """Kill ``victim``; keep re-registering and calling until every WIC answers again."""
    run = Outage(killed=nodes.nodes[victim].kill())
    deadline = time.monotonic() + 15
    while len(run.reachable) < len(wics) and time.monotonic() < deadline:
        if run.takeover is None:
            lease = await w6.lease(BLOCK3)
            if lease is not None and lease.holder == survivor_identity and lease.live:
                run.takeover = time.time()
        for w in wics:
            if w.user in run.reachable:
                continue
            started = time.monotonic()
            answer = await w.wic.register(w.identity, token=w.token)
            run.registers[answer.status] += 1
            run.retry_after_missing += answer.status == 503 and not answer.get("Retry-After")
            answered = len(w.wic.answered_invites())
            status = (await remote.call(w.identity, icscf, wait=5)).status
            run.calls[status] += 1
            run.slowest = max(run.slowest, time.monotonic() - started)
            if status == 200 and len(w.wic.answered_invites()) == answered + 1:
                run.reachable[w.user] = time.time()
        await asyncio.sleep(0.05)
    return run


async def test_losing_a_p_cscf_keeps_wics_registered_through_the_iwf(
    decomposed: tuple[Cluster, StackConfig], tmp_path: Path
) -> None:
    nodes, config = decomposed
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    icscf = Target("TCP", "127.0.0.1", config.ports["i_cscf"])
    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    remote = RemoteParty("remote.example.org")
    await remote.start()
    wics: list[Attached] = []
    try:
        wics = [await attach(wwsf, f"carol{i}", "pw", ctx) for i in range(WICS)]
        for w in wics:
            assert (await remote.call(w.identity, icscf)).status == 200
        # A WIC-to-WIC session through the IWF and the serving P-CSCF (5.2.2.5.3, 5.2.2.5.4).
        assert (await wics[0].wic.invite(wics[0].identity, wics[1].identity)).status == 200

        async with registrar_client(tmp_path / "state", config.ports["registrar"]) as w6:
            first = await lose_and_recover(nodes, "p-cscf3a", PB, wics, remote, icscf, w6)
            # p-cscf3a comes back: a standby now (the block stays with p-cscf3b, no fail-back).
            nodes.start("p-cscf3a")
            await asyncio.sleep(LEASE["lease_duration"])
            lease = await w6.lease(BLOCK3)
            assert lease is not None and lease.holder == PB, "the block went back on its own"
            second = await lose_and_recover(nodes, "p-cscf3b", PA, wics, remote, icscf, w6)

        reconnected = [
            w.user for w in wics if w.wic.connection is None or w.wic.connection.close_code is not None
        ]
        origination = (await wics[2].wic.invite(wics[2].identity, wics[3].identity)).status
        for label, run in (("p-cscf3a killed", first), ("p-cscf3b killed", second)):
            print("\n" + run.line(label, WICS, len(reconnected)))
            assert len(run.reachable) == WICS, f"{label}: WICs not reachable again"
            assert run.retry_after_missing == 0
            assert set(run.registers) <= {200, 503}
            assert set(run.calls) <= {200, 480, 500}
            assert run.slowest < 3.0, "a REGISTER or call waited for a timeout"
            assert max(run.reachable.values()) - run.killed < LEASE["lease_duration"] + 3.0
        assert reconnected == [], "a WIC lost its WebSocket although its IWF stayed up"
        assert origination == 200
        iwf = nodes.nodes["ep-cscf3"]
        assert iwf.find(r"P-CSCF p-cscf3a (closed the internal link|unreachable|.*lost)")
    finally:
        for w in wics:
            await w.wic.close()
        await remote.stop()
