"""eP-CSCF failure: its block is re-allocated to another eP-CSCF (TR 23.701 5.2.2.2).

"If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF shall be
re-allocated to another eP-CSCF." Every node is its own OS process (``wimpu-ref up
--nodes``); eP-CSCF 1 serves block 1 and eP-CSCF 2 stands by for it (and serves block 2).
eP-CSCF 1 is killed with SIGKILL while WICs are registered through it and calls are
placed to them. Measured: when eP-CSCF 2 holds the block's lease, when every WIC is
registered again, what the calls placed in between got, and that every WIC is reachable
again afterwards (lost = 0). Sessions in progress through eP-CSCF 1 are lost by design.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from system_nodes import BLOCK1, Cluster, block1_user, cluster, registrar_client, write_config
from system_wics import Attached, attach, closed, reattach

from conformance.harness.remote import RemoteParty
from reference.config import load_config
from reference.nodes.wimpu_registrar.backends import is_postgres
from reference.sip.message import Header, Request, Response
from reference.stack import StackConfig
from reference.tls import TestPki
from reference.transport.endpoint import Target

WICS = 6
LEASE = {"lease_duration": 1.5, "renew_interval": 0.5, "standby_delay": 1.5, "retry_interval": 0.25}
EP1 = "sip:ep-cscf1.ims.example.net"
EP2 = "sip:ep-cscf2.ims.example.net"


@pytest.fixture
def failover_cluster(tmp_path: Path, registrar_store: str) -> Iterator[tuple[Cluster, StackConfig]]:
    """Every node a process; the registrar's store on each backend, named by the configuration's
    ``[registrar] store`` for PostgreSQL (the registrar process finds the password in PGPASSWORD)."""
    store = f'\n[registrar]\nstore = "{registrar_store}"\n' if is_postgres(registrar_store) else ""
    config = write_config(
        tmp_path, failover=LEASE, standby={"block1": ["ep-cscf2"]}, block1_users=WICS, extra=store
    )
    with cluster(config, tmp_path / "state") as c:
        yield c, load_config(config)


async def call(remote: RemoteParty, identity: str, icscf: Target) -> tuple[int, float, Request, Response]:
    """A terminating session through the I-CSCF (5.2.2.5.4); returns status, seconds, INVITE, answer."""
    invite = remote.invite_request(identity)
    started = time.monotonic()
    handle = remote.node.send_request(invite, icscf, on_response=remote.responses.append)
    final = await asyncio.wait_for(handle.final, 10)
    if final.status == 200:
        ack = remote.ack_for(handle.request, final)
        await remote.node.send_ack(ack, icscf_route(final, icscf))
    return final.status, time.monotonic() - started, handle.request, final


def icscf_route(final: Response, fallback: Target) -> Target:
    """Where in-dialog requests go first: the top Record-Route (the S-CSCF), read as an address."""
    routes = list(reversed(final.get_all("Record-Route")))
    if not routes:
        return fallback
    uri = routes[0].strip("<>").split(">")[0].split(";")[0].removeprefix("sip:")
    host, _, port = uri.rpartition("@")[2].partition(":")
    return Target("TCP", host, int(port))


def bye_for(invite: Request, final: Response) -> Request:
    """The caller's BYE of an established dialog (RFC 3261 15.1.1), along the route set."""
    routes = list(reversed(final.get_all("Record-Route")))
    headers = [
        Header("Max-Forwards", "70"),
        Header("To", final.get("To") or ""),
        Header("From", invite.get("From") or ""),
        Header("Call-ID", invite.call_id),
        Header("CSeq", "2 BYE"),
        *(Header("Route", r) for r in routes),
        Header("Content-Length", "0"),
    ]
    target = final.contacts[0].uri
    return Request(headers=tuple(headers), body=b"", method="BYE", uri=target)


async def test_killed_ep_cscf_block_is_reallocated_and_wics_come_back(
    failover_cluster: tuple[Cluster, StackConfig], tmp_path: Path
) -> None:
    nodes, config = failover_cluster
    wwsf = f"https://127.0.0.1:{config.ports['wwsf']}"
    icscf = Target("TCP", "127.0.0.1", config.ports["i_cscf"])
    ep1_url = f"wss://127.0.0.1:{config.ep_ports['ep-cscf1'][0]}"
    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    remote = RemoteParty("remote.example.org")
    await remote.start()
    wics: list[Attached] = []
    back_again: list[Attached] = []
    bob: Attached | None = None
    try:
        # Before: every WIC of block 1 registers through eP-CSCF 1, bob (block 2) through 2.
        wics = [await attach(wwsf, f"user{i}", "pw", ctx) for i in range(WICS)]
        assert {w.ep_cscf_url for w in wics} == {ep1_url}
        bob = await attach(wwsf, "bob", "bob-password", ctx)
        for w in wics:
            assert (await call(remote, w.identity, icscf))[0] == 200
        # One session stays up through eP-CSCF 1: it is lost with it (by design).
        _, _, invite, answer = await call(remote, wics[0].identity, icscf)
        in_progress = 1

        async with registrar_client(tmp_path / "state", config.ports["registrar"]) as w6:
            lease = await w6.lease(BLOCK1)
            assert lease is not None and lease.holder == EP1

            # The failure: SIGKILL, no clean-up of any kind.
            killed = nodes.nodes["ep-cscf1"].kill()
            kill_mono = time.monotonic()
            deadline = kill_mono + 15

            async def back(w: Attached) -> Attached:
                await asyncio.wait_for(closed(w.wic), 5)
                return await reattach(wwsf, w, "pw", ctx, BLOCK1, deadline=deadline)

            returning = [asyncio.ensure_future(back(w)) for w in wics]
            gap: collections.Counter[int] = collections.Counter()
            gap_slowest = 0.0
            takeover: float | None = None
            while not all(t.done() for t in returning) and time.monotonic() < deadline:
                if takeover is None:
                    current = await w6.lease(BLOCK1)
                    if current is not None and current.holder == EP2 and current.live:
                        takeover = time.time()
                status, seconds, _, _ = await call(remote, block1_user(WICS - 1), icscf)
                gap[status] += 1
                gap_slowest = max(gap_slowest, seconds)
                await asyncio.sleep(0.05)
            back_again = await asyncio.gather(*returning)
            if takeover is None:
                current = await w6.lease(BLOCK1)
                assert current is not None and current.holder == EP2
                takeover = time.time()
            final_lease = await w6.lease(BLOCK1)

        # After: every WIC is registered through eP-CSCF 2 and reachable again.
        before = {w.user: len(w.wic.answered_invites()) for w in back_again}
        after_calls = [await call(remote, w.identity, icscf) for w in back_again]
        lost = [
            w.user
            for w, (status, _, _, _) in zip(back_again, after_calls, strict=True)
            if status != 200 or len(w.wic.answered_invites()) != before[w.user] + 1
        ]
        bye_status = (await remote.node.request(bye_for(invite, answer), icscf_route(answer, icscf))).status
        bob_status = (await call(remote, bob.identity, icscf))[0]
        reregistered = max(w.registered_at for w in back_again) - killed
        first_back = min(w.registered_at for w in back_again) - killed
        ep2 = nodes.nodes["ep-cscf2"]
        print(
            f"\nfailover: WICs attempted={WICS} re-registered={len(back_again)} lost={len(lost)}; "
            f"lease {LEASE['lease_duration']} s renewed every {LEASE['renew_interval']} s; "
            f"takeover after {takeover - killed:.3f} s; first WIC back after {first_back:.3f} s, "
            f"all after {reregistered:.3f} s; calls during the gap {dict(gap)} "
            f"(slowest {gap_slowest:.3f} s); sessions in progress lost={in_progress} "
            f"(BYE answered {bye_status}); block 2 call {bob_status}; "
            f"generation {final_lease.generation if final_lease else None}"
        )
        assert lost == [], f"WICs not reachable again after the failover: {lost}"
        assert {w.ep_cscf_url for w in back_again} == {f"wss://127.0.0.1:{config.ep_ports['ep-cscf2'][0]}"}
        assert takeover - killed < LEASE["lease_duration"] + 1.0, "the standby took the block too late"
        assert reregistered < LEASE["lease_duration"] + 3.0
        assert set(gap) <= {200, 480, 500}, f"calls in the gap got {dict(gap)}: no timeouts, clear answers"
        assert gap_slowest < 2.0, "a call in the gap waited for a timeout"
        assert bye_status >= 400 and bob_status == 200
        assert ep2.find(r"lease acquired by sip:ep-cscf2.*block1|block1.*lease acquired by sip:ep-cscf2")
        assert ep2.find(r"removed the other binding"), "eP-CSCF 1's binding stayed at the S-CSCF"
    finally:
        for w in [*wics, *back_again, *([bob] if bob else [])]:
            await w.wic.close()
        await remote.stop()
