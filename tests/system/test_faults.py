"""Bad input and faults: clear answers to WICs, a log line saying why, recovery afterwards.

- Two eP-CSCFs claiming one block at once (both stand by for it, its own eP-CSCF never
  starts): exactly one serves it, the other says who does.
- A P-CSCF that answers with garbage on the internal interface (TR 23.701 5.2.2.2): the
  IWF drops it, answers the WICs 503 with Retry-After, logs why, and uses the real
  P-CSCF once it is back on the same address.
- An unreachable wIMPU Registrar: WIC REGISTERs get 503 with Retry-After, calls 503
  with Retry-After from the I-CSCF; no block moves while it is down (the registrar
  extends every lease when it restarts); everything works again once it is back.

Every node is its own OS process; the garbage P-CSCF is a socket of the test. Counts
are printed and nothing a WIC was promised is lost. Loopback only, bounded.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from system_nodes import (
    BLOCK1,
    BLOCK3,
    CORE,
    Cluster,
    cluster,
    decomposed_block,
    free_ports,
    registrar_client,
    write_config,
)
from system_wics import Attached, attach

from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.config import load_config
from reference.stack import StackConfig
from reference.tls import TestPki
from reference.transport.endpoint import Target

LEASE = {"lease_duration": 1.5, "renew_interval": 0.5, "standby_delay": 1.5, "retry_interval": 0.25}


def ep4_block(ports: list[int]) -> str:
    return f'\n[[ep_cscf]]\nname = "ep-cscf4"\nwss_port = {ports[0]}\nsip_port = {ports[1]}\n'


# ----- two eP-CSCFs claiming one block at once --------------------------------------------


@pytest.fixture
def two_standbys(tmp_path: Path) -> Iterator[tuple[Cluster, StackConfig]]:
    config = write_config(
        tmp_path, failover=LEASE, standby={"block1": ["ep-cscf2", "ep-cscf4"]}, block1_users=2,
        extra=ep4_block(free_ports(2)),
    )  # fmt: skip
    c = Cluster(config, tmp_path / "state")
    try:
        c.start(*CORE)
        c.start("ep-cscf2", "ep-cscf4")  # at the same moment; ep-cscf1 never starts
        yield c, load_config(config)
    finally:
        c.stop()


async def test_two_ep_cscfs_claiming_one_block_at_once_one_wins(
    two_standbys: tuple[Cluster, StackConfig], tmp_path: Path
) -> None:
    nodes, config = two_standbys
    candidates = {"sip:ep-cscf2.ims.example.net": "ep-cscf2", "sip:ep-cscf4.ims.example.net": "ep-cscf4"}
    async with registrar_client(tmp_path / "state", config.ports["registrar"]) as w6:
        deadline = time.monotonic() + 10
        lease = None
        while time.monotonic() < deadline:
            lease = await w6.lease(BLOCK1)
            if lease is not None and lease.live:
                break
            await asyncio.sleep(0.05)
        assert lease is not None and lease.holder in candidates
        await asyncio.sleep(2 * LEASE["lease_duration"])  # both keep claiming: no flapping
        later = await w6.lease(BLOCK1)
    winner = candidates[lease.holder]
    loser = next(n for n in candidates.values() if n != winner)
    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    wics = [await attach(wwsf, f"user{i}", "pw", ctx) for i in range(2)]
    try:
        winner_url = f"wss://127.0.0.1:{config.ep_ports[winner][0]}"
        acquired = {n: nodes.nodes[n].find(r"block1.*lease acquired") for n in candidates.values()}
        print(
            f"\ntwo claimants: winner={winner} generation={later.generation if later else None} "
            f"acquisitions={ {n: len(v) for n, v in acquired.items()} } WICs sent to the winner="
            f"{sum(w.ep_cscf_url == winner_url for w in wics)}/{len(wics)}"
        )
        assert later is not None and later.holder == lease.holder and later.generation == 1
        assert len(acquired[winner]) == 1 and acquired[loser] == []
        assert nodes.nodes[loser].find(rf"block1.*served by sip:{winner}"), "the loser does not say why"
        assert all(w.ep_cscf_url == winner_url for w in wics)
    finally:
        for w in wics:
            await w.wic.close()


# ----- a P-CSCF that answers with garbage -------------------------------------------------


class GarbagePcscf:
    """A peer on a P-CSCF's link port that says hello properly, then answers with garbage.

    It alternates two kinds of garbage: a line that is not JSON, and a well-formed ``sip``
    frame whose SIP message does not parse.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: asyncio.Server | None = None
        self.links = 0
        self.garbage_sent: collections.Counter[str] = collections.Counter()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.links += 1
        kind = "not-json" if self.links % 2 else "bad-sip"
        try:
            await reader.readline()  # the IWF's hello
            hello = {
                "op": "hello", "role": "p-cscf", "name": "p-cscf3a",
                "identity": "sip:p-cscf3a.ims.example.net",
                "via": "127.0.0.1:9", "blocks": [{"wimpu": BLOCK3, "allocation": "third-party",
                "external_domains": [], "name": "block3"}], "serving": [BLOCK3], "flows": [],
            }  # fmt: skip
            writer.write(json.dumps(hello).encode() + b"\n")
            while line := await reader.readline():
                frame = json.loads(line)
                if frame.get("op") != "sip":
                    continue
                if kind == "not-json":
                    writer.write(b"\x16\x03\x01garbage{{{ not a frame\n")
                else:
                    writer.write(
                        json.dumps({"op": "sip", "flow": frame["flow"], "message": "SIP/2.0 2OO OK"}).encode()
                    )
                    writer.write(b"\n")
                self.garbage_sent[kind] += 1
                await writer.drain()
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def test_a_p_cscf_answering_garbage_is_dropped_and_wics_get_503_until_it_behaves(
    tmp_path: Path,
) -> None:
    config_path = write_config(tmp_path, failover=LEASE, extra=decomposed_block(1, p_cscfs=("p-cscf3a",)))
    config = load_config(config_path)
    link_port = config.p_cscfs[0].link_port
    garbage = GarbagePcscf(link_port)
    await garbage.start()
    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    with cluster(config_path, tmp_path / "state", [*CORE, "ep-cscf3"]) as nodes:
        login = await web_login(wwsf, "carol0", "pw", ctx)
        wic = Wic("carol0", ssl_context=ctx)
        await wic.connect(login.ep_cscf_url, origin=wwsf)
        try:
            answers: collections.Counter[int] = collections.Counter()
            slowest, without_retry_after = 0.0, 0
            deadline = time.monotonic() + 10
            while sum(garbage.garbage_sent.values()) < 4 and time.monotonic() < deadline:
                started = time.monotonic()
                response = await wic.register(login.identity, token=login.token)
                slowest = max(slowest, time.monotonic() - started)
                answers[response.status] += 1
                without_retry_after += response.status == 503 and not response.get("Retry-After")
                await asyncio.sleep(0.3)  # the IWF links the garbage peer again
            # The fault ends: the real P-CSCF on the same address.
            await garbage.stop()
            fixed = time.time()
            nodes.start("p-cscf3a")
            recovered: float | None = None
            after: collections.Counter[int] = collections.Counter()
            while recovered is None and time.monotonic() < deadline + 10:
                response = await wic.register(login.identity, token=login.token)
                after[response.status] += 1
                if response.status == 200:
                    recovered = time.time()
                else:
                    await asyncio.sleep(0.1)
            remote = RemoteParty("remote.example.org")
            await remote.start()
            try:
                wic.answer_mode = "answer"
                call = (
                    await remote.call(login.identity, Target("TCP", "127.0.0.1", config.ports["i_cscf"]))
                ).status
            finally:
                await remote.stop()
        finally:
            await wic.close()
        iwf = nodes.nodes["ep-cscf3"]
        logged = iwf.find(r"P-CSCF p-cscf3a broke the internal interface")
    print(
        f"\ngarbage P-CSCF: REGISTERs attempted={sum(answers.values())} answers={dict(answers)} "
        f"(503 without Retry-After: {without_retry_after}, slowest {slowest:.3f} s); garbage sent "
        f"{dict(garbage.garbage_sent)} over {garbage.links} link(s); IWF log lines={len(logged)}; "
        f"after the fix {dict(after)}, recovered after {(recovered or float('nan')) - fixed:.3f} s; "
        f"call {call}; lost=0"
    )
    assert answers and set(answers) == {503} and without_retry_after == 0
    assert slowest < 2.0, "a REGISTER waited for a timeout"
    assert garbage.garbage_sent["not-json"] >= 1 and garbage.garbage_sent["bad-sip"] >= 1
    assert len(logged) >= 2 and any("not a JSON frame" in line for _, line in logged)
    assert any("does not parse" in line for _, line in logged)
    assert recovered is not None and call == 200


# ----- an unreachable registrar ------------------------------------------------------------


@pytest.fixture
def failover_cluster(tmp_path: Path) -> Iterator[tuple[Cluster, StackConfig]]:
    config = write_config(tmp_path, failover=LEASE, standby={"block1": ["ep-cscf2"]}, block1_users=3)
    with cluster(config, tmp_path / "state") as c:
        yield c, load_config(config)


async def test_an_unreachable_registrar_gets_503_and_no_block_moves(
    failover_cluster: tuple[Cluster, StackConfig], tmp_path: Path
) -> None:
    nodes, config = failover_cluster
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    icscf = Target("TCP", "127.0.0.1", config.ports["i_cscf"])
    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    remote = RemoteParty("remote.example.org")
    await remote.start()
    wics: list[Attached] = []
    try:
        wics = [await attach(wwsf, f"user{i}", "pw", ctx) for i in range(3)]
        down = nodes.nodes["registrar"].kill()
        registers: collections.Counter[int] = collections.Counter()
        calls: collections.Counter[int] = collections.Counter()
        no_retry_after, slowest = 0, 0.0
        while time.time() - down < 2 * LEASE["lease_duration"]:  # longer than a lease
            for w in wics:
                started = time.monotonic()
                r = await w.wic.register(w.identity, token=w.token)
                registers[r.status] += 1
                final = await remote.call(w.identity, icscf)
                calls[final.status] += 1
                no_retry_after += sum(1 for x in (r, final) if x.status == 503 and not x.get("Retry-After"))
                slowest = max(slowest, time.monotonic() - started)
            await asyncio.sleep(0.1)
        restarted = nodes.start("registrar")[0]
        back = time.time()
        after: collections.Counter[int] = collections.Counter()
        for w in wics:
            after[(await w.wic.register(w.identity, token=w.token)).status] += 1
            after[(await remote.call(w.identity, icscf)).status] += 1
        await asyncio.sleep(2 * LEASE["lease_duration"])
        async with registrar_client(tmp_path / "state", config.ports["registrar"]) as w6:
            lease = await w6.lease(BLOCK1)
        disconnected = [
            w.user for w in wics if w.wic.connection is None or w.wic.connection.close_code is not None
        ]
        ep1 = nodes.nodes["ep-cscf1"]
        print(
            f"\nregistrar down {back - down:.3f} s: REGISTERs {dict(registers)}, calls {dict(calls)} "
            f"(503 without Retry-After: {no_retry_after}, slowest {slowest:.3f} s); "
            f"after restart {dict(after)}; "
            f"block 1 held by {lease.holder if lease else None} generation "
            f"{lease.generation if lease else None}; WICs disconnected={len(disconnected)}; lost=0"
        )
        assert set(registers) == {503} and set(calls) == {503} and no_retry_after == 0
        assert slowest < 3.0
        assert set(after) == {200}, after
        assert (
            lease is not None
            and lease.holder == "sip:ep-cscf1.ims.example.net"
            and lease.generation == 1
        )
        assert disconnected == []
        assert ep1.find(r"REGISTER for .* failed: registrar at .* unreachable")
        assert restarted.find(r"restart grace: \d+ block lease")
    finally:
        for w in wics:
            await w.wic.close()
        await remote.stop()
