"""The lease of one block as an eP-CSCF sees it (sans-I/O, TR 23.701 5.2.2.2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reference.nodes.p_cscf.lease import Acquired, BlockLease, LeaseTiming, Lost, Role, State

W = "sip:wrtc-!.*!@block1.ims.example.net"
ME = "sip:ep-cscf2.ims.example.net"
TIMING = LeaseTiming(duration=3.0)


def test_timing_defaults_follow_the_duration() -> None:
    assert (TIMING.renew, TIMING.standby, TIMING.retry) == (1.0, 3.0, 1.0)
    assert LeaseTiming(duration=0.3).retry == pytest.approx(0.1)
    with pytest.raises(ValueError, match="renew interval"):
        LeaseTiming(duration=1.0, renew_interval=1.0)
    with pytest.raises(ValueError, match="positive"):
        LeaseTiming(duration=0)


def test_primary_claims_at_once_a_standby_after_its_delay() -> None:
    assert BlockLease(W, ME, Role.PRIMARY, TIMING, now=100.0).claim_due(100.0)
    standby = BlockLease(W, ME, Role.STANDBY, TIMING, now=100.0)
    assert not standby.claim_due(102.9) and standby.claim_due(103.0)


def test_a_grant_acquires_then_renews_quietly() -> None:
    lease = BlockLease(W, ME, Role.PRIMARY, TIMING, now=0.0)
    assert lease.receive_granted(0.0, previous=None, generation=1) == Acquired(W, None, 1)
    assert lease.state is State.HOLDING and lease.get_timer() == 1.0
    assert lease.receive_granted(1.0, previous=ME, generation=1) is None
    assert lease.get_timer() == 2.0


def test_a_regained_lease_is_acquired_again() -> None:
    """Held, lost to someone in between unnoticed (generation moved), then granted again."""
    lease = BlockLease(W, ME, Role.PRIMARY, TIMING, now=0.0)
    lease.receive_granted(0.0, previous=None, generation=1)
    assert lease.receive_granted(5.0, previous="sip:other", generation=3) == Acquired(W, "sip:other", 3)


def test_a_standby_refused_waits_for_the_holders_lease_to_lapse() -> None:
    lease = BlockLease(W, ME, Role.STANDBY, TIMING, now=0.0)
    assert lease.receive_held(3.0, holder="sip:ep-cscf1", remaining=0.5) is None
    assert lease.get_timer() == pytest.approx(3.52) and lease.owner == "sip:ep-cscf1"
    lease.receive_held(4.0, holder="sip:ep-cscf1", remaining=2.5)  # renewed: look again in one interval
    assert lease.get_timer() == pytest.approx(5.0)


def test_a_holder_refused_has_lost_the_block() -> None:
    lease = BlockLease(W, ME, Role.PRIMARY, TIMING, now=0.0)
    lease.receive_granted(0.0, previous=None, generation=1)
    assert lease.receive_held(1.0, holder="sip:ep-cscf1", remaining=3.0) == Lost(W, "sip:ep-cscf1")
    assert lease.state is State.IDLE


def test_an_unreachable_registrar_changes_nothing_but_the_next_try() -> None:
    lease = BlockLease(W, ME, Role.PRIMARY, TIMING, now=0.0)
    lease.receive_granted(0.0, previous=None, generation=1)
    lease.receive_unreachable(1.0)
    assert lease.state is State.HOLDING and lease.get_timer() == 2.0


SANS_IO = [
    "nodes/p_cscf/lease.py",
    "blocks.py",
    "nodes/internal_interface.py",
    "nodes/iwf/routing.py",
    "nodes/wimpu_registrar/leases.py",
]


@pytest.mark.parametrize("module", SANS_IO)
def test_failover_cores_import_no_io_and_no_clock(module: str) -> None:
    """House style 1: the lease, the internal interface and the IWF's routing are sans-I/O."""
    path = Path(__file__).resolve().parents[3] / "reference" / module
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    assert not names & {"asyncio", "socket", "time", "selectors", "ssl", "aiohttp", "websockets"}
