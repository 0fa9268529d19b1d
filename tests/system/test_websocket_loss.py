"""WebSocket loss: a dropped WIC is no longer offered a call; the live one is, at once.

Solution profile, Lifecycle: "A WebSocket that closes makes its contacts unreachable; a
request to them fails fast (no hanging transaction), and the reference removes them";
RFC 5626 5.3 for a flow that has failed: 430 Flow Failed. TR 23.701 5.2.2.5.4: the
eP-CSCF forks "to all contacts associated with a called IMPU".

Every node is its own OS process (the reference profile). Each user of block 1 has two
WICs (two contacts of one IMPU, 5.2.2.5.2 step 6); one of them goes away, either with
a WebSocket close or by a dropped TCP connection (no close frame, as a crashed browser),
and a remote party calls the user. Then users whose only WIC went away are called.
Counts: calls attempted, reaching the live WIC, offered to a dead one (expected 0),
lost (expected 0), and the slowest answer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from system_nodes import ALL_NODES, Cluster, cluster, registrar_client, write_config
from system_wics import Attached, attach

from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from reference.config import load_config
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.stack import StackConfig
from reference.tls import TestPki
from reference.transport.endpoint import Target

USERS = 6


@pytest.fixture
def reference_profile(tmp_path: Path) -> Iterator[tuple[Cluster, StackConfig]]:
    config = write_config(tmp_path, block1_users=2 * USERS + 1)
    with cluster(config, tmp_path / "state", [n for n in ALL_NODES if n != "ep-cscf2"]) as c:
        yield c, load_config(config)


def drop(w: Attached, how: str) -> None:
    """The WIC goes away: a WebSocket close, or its TCP connection dropped (no close frame)."""
    assert w.wic.connection is not None
    if how == "abort":
        w.wic.connection.transport.abort()
    else:
        asyncio.get_running_loop().create_task(w.wic.close())


async def contacts(w6: RegistrarClient, identity: str) -> int:
    entry = await w6.read(identity)
    return 0 if entry is None else len(entry.contacts)


async def test_a_dropped_wic_is_skipped_and_a_lone_dropped_wic_fails_fast(
    reference_profile: tuple[Cluster, StackConfig], tmp_path: Path
) -> None:
    nodes, config = reference_profile
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    icscf = Target("TCP", "127.0.0.1", config.ports["i_cscf"])
    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    remote = RemoteParty("remote.example.org")
    await remote.start()
    live: list[Attached] = []
    try:
        # Users 0..5: two WICs each (same login, two contacts). Users 6..11: one WIC each.
        pairs = [(await attach(wwsf, f"user{i}", "pw", ctx), await attach(wwsf, f"user{i}", "pw", ctx))
                 for i in range(USERS)]  # fmt: skip
        alone = [await attach(wwsf, f"user{USERS + i}", "pw", ctx) for i in range(USERS)]
        live = [b for _, b in pairs]
        async with registrar_client(tmp_path / "state", config.ports["registrar"]) as w6:
            assert [await contacts(w6, a.identity) for a, _ in pairs] == [2] * USERS
            for i, (dead, _) in enumerate(pairs):
                drop(dead, "abort" if i % 2 else "close")
            for i, w in enumerate(alone):
                drop(w, "abort" if i % 2 else "close")

            async def reported() -> bool:  # the eP-CSCF sees the connections go, tells the registrar
                left = [await contacts(w6, a.identity) for a, _ in pairs]
                return left == [1] * USERS and [await contacts(w6, w.identity) for w in alone] == [0] * USERS

            with contextlib.suppress(AssertionError):  # the assertions below say what was kept
                await wait_until_async(reported, "the dropped WICs' contacts removed")
            left = [await contacts(w6, a.identity) for a, _ in pairs]
            lone_left = [await contacts(w6, w.identity) for w in alone]

        reached_live = offered_dead = lost = 0
        slowest = 0.0
        for dead, alive in pairs:
            started = time.monotonic()
            status = (await remote.call(alive.identity, icscf, wait=5)).status
            slowest = max(slowest, time.monotonic() - started)
            reached_live += status == 200 and len(alive.wic.answered_invites()) == 1
            offered_dead += len(dead.wic.answered_invites()) > 1 or bool(dead.wic.cancels())
            lost += status != 200
        lone: collections.Counter[int] = collections.Counter()
        lone_slowest = 0.0
        for w in alone:
            started = time.monotonic()
            lone[(await remote.call(w.identity, icscf, wait=5)).status] += 1
            lone_slowest = max(lone_slowest, time.monotonic() - started)
        print(
            f"\nWebSocket loss: calls to users with a live and a dead WIC attempted={USERS} "
            f"reached-live={reached_live} offered-to-dead={offered_dead} lost={lost} "
            f"(slowest {slowest:.3f} s); "
            f"contacts left per IMPU {left}; users with only a dead WIC called={USERS} answers={dict(lone)} "
            f"(slowest {lone_slowest:.3f} s, contacts left {lone_left})"
        )
        assert lost == 0 and reached_live == USERS and offered_dead == 0
        # No timing bound: a call that waited on the dead contact would end in a timeout
        # (408 or no answer within the 5 s wait), not in the 200 counted above.
        assert left == [1] * USERS and lone_left == [0] * USERS, "a dropped WIC's contact was kept"
        # Only dead contacts: refused at once with a clear answer (480 once removed, 430 if not yet).
        assert set(lone) <= {480, 430}
        assert nodes.nodes["ep-cscf1"].find(r"flow .* closed: contact .* removed")

        # A drop the eP-CSCF could not report (the registrar was down then): the contact
        # is still registered, its flow is gone. RFC 5626 5.3: 430 Flow Failed, at once.
        stale = await attach(wwsf, f"user{2 * USERS}", "pw", ctx)
        nodes.nodes["registrar"].kill()
        drop(stale, "abort")
        await asyncio.sleep(0.3)
        nodes.start("registrar")
        started = time.monotonic()
        status = (await remote.call(stale.identity, icscf, wait=5)).status
        took = time.monotonic() - started
        print(f"stale contact of a dropped WIC: call answered {status} in {took:.3f} s; lost=0")
        assert status == 430  # 430 names the failed flow; a timeout would be 408
        assert nodes.nodes["ep-cscf1"].find(r"flow .* closed: could not remove")
    finally:
        for w in live:
            await w.wic.close()
        await remote.stop()
