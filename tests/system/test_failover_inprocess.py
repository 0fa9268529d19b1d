"""Block re-allocation in one process (TR 23.701 5.2.2.2): the API a conformance step uses.

The multi-process tests kill OS processes; these drive the same code through
:meth:`Stack.crash_ep_cscf` (a crash imitated: nothing released, no close handshake)
and :meth:`Stack.wait_block_holder`, and cover what a process kill cannot reach: a WIC
sent to the eP-CSCF that lost a race for a block, a graceful switch-over, the
reference profile untouched when failover is off, and the configuration's checks.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.config import ConfigError, default_config_text, parse_config
from reference.nodes.wimpu_registrar.model import LeaseState
from reference.nodes.wwsf.service import EpCscf
from reference.stack import LeaseTiming, Stack, StackConfig
from reference.transport.endpoint import Target

B1 = "sip:wrtc-!.*!@block1.ims.example.net"
ALICE = "sip:wrtc-alice@block1.ims.example.net"


def failover_config(*standby: str, duration: float = 0.6) -> StackConfig:
    base = StackConfig()
    block1 = dataclasses.replace(base.blocks[0], standby=standby)
    return dataclasses.replace(base, blocks=(block1, base.blocks[1]), failover=LeaseTiming(duration=duration))


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = Stack(failover_config("ep-cscf2"))
    await s.start()
    yield s
    await s.stop()


async def alice(stack: Stack) -> tuple[Wic, str]:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic("alice", ssl_context=ctx)
    wic.answer_mode = "answer"
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await wic.register(login.identity, token=login.token)).status == 200
    return wic, login.ep_cscf_url


async def test_a_crashed_ep_cscf_block_moves_and_alice_is_reachable_again(stack: Stack) -> None:
    remote = RemoteParty("remote.example.org")
    await remote.start()
    icscf = Target("TCP", "127.0.0.1", stack.icscf.node.port)
    first, url = await alice(stack)
    assert url == stack.ep_cscfs["ep-cscf1"].wss_url
    try:
        await stack.crash_ep_cscf("ep-cscf1")
        waited = await stack.wait_block_holder(B1, "ep-cscf2")
        assert waited < 0.6 + 0.5
        second, url = await alice(stack)
        assert url == stack.ep_cscfs["ep-cscf2"].wss_url
        assert (await remote.call(ALICE, icscf)).status == 200
        assert len(second.answered_invites()) == 1
        # The S-CSCF holds the new eP-CSCF's binding of block 1 only.
        [registration] = [r for r in stack.scscf.core.registrar.registrations if "block1" in r.impu]
        assert [b.contact.uri for b in registration.bindings] == [
            f"sip:block1@127.0.0.1:{stack.ep_cscfs['ep-cscf2'].pcscf.node.port};transport=tcp"
        ]
        await second.close()
    finally:
        await first.close()
        await remote.stop()


async def test_a_graceful_stop_hands_the_block_over_at_once() -> None:
    """A stopping eP-CSCF releases its lease: the standby takes the block at its next
    claim (every 0.3 s), not when the lease would have lapsed (60 s)."""
    base = StackConfig()
    block1 = dataclasses.replace(base.blocks[0], standby=("ep-cscf2",))
    timing = LeaseTiming(duration=60, renew_interval=0.3, standby_delay=0.3)
    stack = Stack(dataclasses.replace(base, blocks=(block1, base.blocks[1]), failover=timing))
    await stack.start()
    try:
        keeper = stack.ep_cscfs["ep-cscf2"].keeper
        assert keeper is not None
        await wait_until_async(lambda: keeper.owner_of(B1) is not None, "the standby looking at block 1")
        ep1 = stack.ep_cscfs.pop("ep-cscf1")
        stack._started.remove(ep1.stop)
        await ep1.stop()
        await stack.wait_block_holder(B1, "ep-cscf2", within=30)  # half the lease: not its lapse
    finally:
        await stack.stop()


async def test_the_loser_of_a_race_answers_503_then_serves_when_the_winner_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two standbys claim block 1 at once (its eP-CSCF crashed): one wins; a WIC sent to
    the other gets 503 with Retry-After and a log line says why; when the winner fails
    too, the other takes the block and the same WIC registers there."""
    # A 2 s lease: the winner must not lose it to a loaded machine's pause between two
    # renewals (every 0.67 s) while the test speaks to the loser.
    stack = Stack(failover_config("ep-cscf2", "ep-cscf3", duration=2.0))
    await stack.start()
    try:
        await stack.crash_ep_cscf("ep-cscf1")
        standbys = (stack.ep_identity("ep-cscf2"), stack.ep_identity("ep-cscf3"))

        async def taken() -> str | None:
            holder = await stack.block_holder(B1)
            return holder if holder in standbys else None

        holder = await wait_until_async(taken, "a standby holding block 1")
        winner = "ep-cscf2" if holder == stack.ep_identity("ep-cscf2") else "ep-cscf3"
        loser = "ep-cscf3" if winner == "ep-cscf2" else "ep-cscf2"
        # The loser names the holder it last heard of (its next claim hears the winner's);
        # under load that claim can come after the registrar already records the winner.
        keeper = stack.ep_cscfs[loser].keeper
        assert keeper is not None

        async def heard() -> bool:
            return keeper.owner_of(B1) == holder

        await wait_until_async(heard, f"{loser} hearing that {winner} holds block 1")
        ctx = stack.pki.client_context()
        token = stack.wwsf.issue_token(ALICE, stack.ep_identity(loser)).value
        wic = Wic("stale", ssl_context=ctx)
        await wic.connect(stack.ep_cscfs[loser].wss_url, origin=stack.wwsf.origin)
        with caplog.at_level(logging.WARNING, logger="wimpu.p_cscf"):
            refused = await wic.register(ALICE, token=token)
        assert refused.status == 503 and refused.get("Retry-After") == "2"  # about one lease
        assert any(f"block {B1} is served by {holder}" in r.getMessage() for r in caplog.records)
        await stack.crash_ep_cscf(winner)
        await stack.wait_block_holder(B1, loser)
        assert (await wic.register(ALICE, token=token)).status == 200
        await wic.close()
    finally:
        await stack.stop()


async def test_without_failover_no_lease_is_taken_and_the_directory_is_static() -> None:
    stack = Stack(StackConfig())
    await stack.start()
    try:
        wic, url = await alice(stack)
        await wic.close()
        assert url == stack.ep_cscfs["ep-cscf1"].wss_url
        assert stack.registrar.store.all_leases() == []
        assert all(ep.keeper is None for ep in stack.ep_cscfs.values())
    finally:
        await stack.stop()


def lease(wimpu: str, access: dict[str, str] | None) -> LeaseState:
    """A block's lease as W6 answers it."""
    return LeaseState(wimpu, "sip:b", access, live=True, remaining=1.0, generation=1, released=False)


async def test_the_wwsf_follows_the_lease_holders_and_keeps_its_directory_when_it_cannot() -> None:
    from reference.nodes.wwsf.service import WwsfService
    from reference.tls import TestPki

    answers: list[Any] = [
        [lease("SIP:wrtc-!.*!@BLOCK1.ims.example.net", {"uri": "wss://b", "identity": "sip:b"})],
        RuntimeError("registrar down"),
        [lease(B1, None)],
    ]

    async def owners() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        wwsf = WwsfService(
            pki=TestPki(d), users={}, blocks=[{"wimpu": B1, "option": "A", "ep_cscf": {"uri": "wss://a"}}],
            block_owners=owners,
        )  # fmt: skip
        for _ in range(3):
            await wwsf.follow_block_owners()
            assert wwsf.directory()[0].ep_cscf == EpCscf("wss://b", "sip:b")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["block"][0].update(standby=["ep-cscf2"]), "needs a [failover] table"),
        (lambda d: (d.update(failover={}), d["block"][0].update(standby=["ep-cscf9"])), "'ep-cscf9' is not"),
        (lambda d: (d.update(failover={}), d["block"][0].update(standby=["ep-cscf1"])), "serves the block"),
        (lambda d: d.update(failover={"lease_duration": -1}), "positive number of seconds"),
        (lambda d: d.update(failover={"lease_duration": 1, "renew_interval": 2}), "renew interval"),
        (lambda d: d.update(failover={"colour": 1}), "[failover]: unknown key 'colour'"),
        (lambda d: d["ep_cscf"][0].update(p_cscfs=["p1"]), "needs a [failover] table"),
        (lambda d: (d.update(failover={}), d["ep_cscf"][0].update(p_cscfs=["p1"])), "'p1' has no [[p_cscf]]"),
        (lambda d: (d.update(failover={}), d.update(p_cscf=[{"name": "p1"}])), "in no eP-CSCF's p_cscfs"),
    ],
)
def test_failover_configuration_errors_are_one_line(edit: Any, message: str) -> None:
    data = tomllib.loads(default_config_text())
    edit(data)
    with pytest.raises(ConfigError) as info:
        parse_config(data, "stack.toml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_failover_configuration_parses() -> None:
    data = tomllib.loads(default_config_text())
    data["failover"] = {"lease_duration": 1.5, "renew_interval": 0.5}
    data["block"][0]["standby"] = ["ep-cscf2"]
    data["ep_cscf"].append({"name": "ep-cscf3", "wss_port": 0, "p_cscfs": ["p-a", "p-b"]})
    data["p_cscf"] = [{"name": "p-a", "link_port": 0}, {"name": "p-b"}]
    config = parse_config(data, "stack.toml")
    assert config.failover == LeaseTiming(duration=1.5, renew_interval=0.5)
    assert config.blocks[0].standby == ("ep-cscf2",)
    assert [(p.name, p.ep_cscf) for p in config.p_cscfs] == [("p-a", "ep-cscf3"), ("p-b", "ep-cscf3")]
    assert "p-a" in Stack(config).node_names()
