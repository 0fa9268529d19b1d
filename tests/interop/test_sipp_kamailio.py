"""Interop (issues 16, 17): SIPp, a caller nobody here wrote, calls through the Kamailio eP-CSCF.

The lab of ``examples/pixit/kamailio.toml`` (Kamailio as the eP-CSCF, started by its ``[sut] start``
on a loopback address of its own) with the suite's IMS core around it, as the Kamailio validation
runs it: a :class:`~conformance.harness.world.World` on the lab's PIXIT starts the lab, the emulated
I-CSCF and S-CSCF, and registers two emulated WICs of alice through Kamailio (5.2.2.5.2). SIPp
(Debian ``sip-tester``) then places the terminating session of 5.2.2.5.4 at that I-CSCF over UDP
and over TCP, as ``test_sipp.py`` does at the reference stack: ``interop/sipp/uac_call.xml``, one
call, answered, ACK and BYE. Kamailio forks it to both WICs (5.2.2.3.2), the WIC that answers first
gets SIPp's ACK and BYE, the other a CANCEL; no 2xx but the winner's reaches SIPp.

SIPp sends its ACK and BYE to the I-CSCF, with the route set. It found that the suite's own emulated
I-CSCF (``conformance/harness/ims_core.py``, in front of every external eP-CSCF) still refused such
a BYE 403, as the reference I-CSCF did before bc02a7c: it now forwards it along its Route.

The capture of each run is judged by the capture rules when the World closes, with the lab's PICS
(``examples/pixit/kamailio-pics.toml``), as every validation scenario is: a FAIL of a rule fails
the test. Only a machine without ``kamailio`` skips it (``scripts/install.sh`` installs it and SIPp).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from kamailio_lab import PICS, private_pixit, remove_lab
from test_sipp import ALICE, DAVE, TRANSPORTS, run_sipp_at

from conformance.harness import expect
from conformance.harness.loop import BackgroundLoop
from conformance.harness.scenario_capture import release_host, scenario_host
from conformance.harness.world import World
from conformance.pixit import load_pixit
from conformance.traceability import load_pics

pytestmark = pytest.mark.skipif(
    shutil.which("kamailio") is None, reason="kamailio is not installed (scripts/install.sh)"
)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """The lab on a loopback address of its own, started by the World from its PIXIT (``[sut] start``)
    with the suite's IMS core around it, captured and judged by the capture rules on close."""
    host = scenario_host()
    private = private_pixit(host)
    loop = BackgroundLoop()
    scenario = {
        "feature": "interop/sipp_kamailio.feature",
        "test": request.node.name,
        "scenario": "SIPp calls alice through the Kamailio eP-CSCF, forked, answered, ACK and BYE",
    }
    try:
        pics = {item.id: item.answer for item in load_pics(PICS)}
        world = World(loop, scenario=scenario, pixit=load_pixit(private), pics=pics)
        try:
            yield world
        finally:
            world.close()
    finally:
        loop.close()
        remove_lab(private, host)
        release_host(host)


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_sipp_calls_alice_through_kamailio_forked_answered_ack_and_bye(
    world: World, tmp_path: Path, transport: str
) -> None:
    for response in world.register_wics("alice", 2):
        expect.status(response, 200)
    world.answer_first("alice", 2)
    loser, winner = (world.wics[world.wic_number("alice", n)] for n in (1, 2))
    icscf = world.sut.icscf
    run = world.loop.run(
        run_sipp_at(
            (icscf.host, icscf.port), world.sut.peer_host(), "uac_call.xml", TRANSPORTS[transport], ALICE,
            tmp_path / "call",
        )
    )  # fmt: skip
    run.all_successful(1)

    def context() -> str:
        wics = "\n".join(f"{w.name} got: {[r.start_line() for r in w.incoming]}" for w in (loser, winner))
        return f"{wics}\n{run.context()}"

    call_id = run.sent("INVITE")[0].parsed().call_id
    assert run.received(180), f"expected SIPp to hear alice ring (180)\n{context()}"
    assert len([m for m in run.received(200) if m.parsed().cseq.method == "INVITE"]) == 1, (
        f"expected exactly one 200 to SIPp's INVITE\n{context()}"
    )
    for wic in (loser, winner):
        delivered = expect.single(
            [r for r in wic.answered_invites() if r.call_id == call_id], f"INVITE {call_id} at {wic.name}"
        )
        assert delivered.from_.uri == DAVE, f"{wic.name}: From {delivered.from_.uri}, expected {DAVE}"
        assert b"m=audio" in delivered.body, f"{wic.name}: the INVITE lost SIPp's SDP offer\n{context()}"
    cancels = world.eventually(loser.cancels, 1)
    expect.cancelled(cancels, loser.name)
    assert "BYE" not in [r.method for r in loser.incoming], f"{loser.name} got the BYE\n{context()}"
    assert [r.method for r in winner.incoming if r.call_id == call_id] == ["INVITE", "ACK", "BYE"], (
        f"expected INVITE, ACK, BYE at {winner.name}\n{context()}"
    )
    expect.none(winner.cancels(), f"CANCEL at the winner {winner.name}")
