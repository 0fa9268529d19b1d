"""The IWF of a decomposed eP-CSCF in two processes on one WSS port (TR 23.701 5.2.2.2, issue 18).

"The IWF can communicate with any P-CSCF since this is internal. [...] The IWFs can scale
separately then the P-CSCFs." eP-CSCF 3 is decomposed: its IWF (``--nodes ep-cscf3``) runs with
``iwf_workers = 2``, so a second process, ``ep-cscf3-w2``, accepts on the same WSS socket (inherited
from the first); its one P-CSCF ``p-cscf3a`` is a process of its own. Each WIC connection goes to the
worker that accepts it first; WICs connect until both hold one (the flow of each registration,
read over W6, names the worker). Then every WIC is called from the IMS core (the P-CSCF reaches it
through the worker holding its WebSocket) and a WIC of one worker calls a WIC of the other.
"""

from __future__ import annotations

from pathlib import Path

from system_nodes import BLOCK3, CORE, block3_user, cluster, decomposed_block, registrar_client, write_config
from system_wics import Attached, attach

from conformance.harness.remote import RemoteParty
from reference.config import load_config
from reference.tls import TestPki
from reference.transport.endpoint import Target

LEASE = {"lease_duration": 1.5, "renew_interval": 0.5, "standby_delay": 1.5, "retry_interval": 0.25}
MAX_WICS = 24
"WICs connect until both workers hold one (seen: both within the first 2 to 4 WICs)."
WORKERS = ("ep-cscf3", "ep-cscf3-w2")


async def test_two_iwf_workers_share_the_wss_port_and_each_reaches_its_wics(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, failover=LEASE, extra=decomposed_block(MAX_WICS, ("p-cscf3a",), iwf_workers=2)
    )
    config = load_config(path)
    assert config.iwf_workers == {"ep-cscf3": 2}
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    icscf = Target("TCP", "127.0.0.1", config.ports["i_cscf"])
    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    remote = RemoteParty("remote.example.org")
    wics: dict[str, list[Attached]] = {name: [] for name in WORKERS}
    with cluster(path, tmp_path / "state", [*CORE, "p-cscf3a", "ep-cscf3"]) as nodes:
        await remote.start()
        try:
            async with registrar_client(tmp_path / "state", config.ports["registrar"]) as w6:
                for i in range(MAX_WICS):
                    if all(wics.values()):
                        break
                    wic = await attach(wwsf, f"carol{i}", "pw", ctx)
                    entry = await w6.read(block3_user(i))
                    assert entry is not None and entry.wimpu == BLOCK3 and len(entry.contacts) == 1
                    worker = entry.contacts[0].flow.partition(".")[0]
                    assert worker in wics, f"flow {entry.contacts[0].flow} names no worker of ep-cscf3"
                    wics[worker].append(wic)
            print(f"\nWICs per IWF worker: { {name: len(held) for name, held in wics.items()} }")
            assert all(wics.values()), f"{MAX_WICS} connections, all on one worker: {wics}"
            # 5.2.2.5.4: the IMS core reaches each WIC through the worker holding its WebSocket.
            for held in wics.values():
                for w in held:
                    answered = len(w.wic.answered_invites())
                    assert (await remote.call(w.identity, icscf)).status == 200, w.user
                    assert len(w.wic.answered_invites()) == answered + 1, w.user
            # 5.2.2.5.3 then 5.2.2.5.4: a WIC of worker 1 calls a WIC of worker 2, and back.
            one, two = wics["ep-cscf3"][0], wics["ep-cscf3-w2"][0]
            assert (await one.wic.invite(one.identity, two.identity)).status == 200
            assert (await two.wic.invite(two.identity, one.identity)).status == 200
            # An identity of no block of the eP-CSCF (PROFILE_SEC_FOREIGN_403): each worker hands the
            # request to a P-CSCF, which refuses it as the bundled eP-CSCF does; no 503 to retry.
            for w in (one, two):
                refused = await w.wic.invite("sip:mallory@evil.example.com", one.identity)
                assert (refused.status, refused.reason) == (403, "Originating identity not served here")
            p_cscf = nodes.nodes["p-cscf3a"]
            for name in WORKERS:
                assert p_cscf.find(rf"P-CSCF p-cscf3a: IWF {name} linked"), p_cscf.text()[-2000:]
        finally:
            for held in wics.values():
                for w in held:
                    await w.wic.close()
            await remote.stop()
