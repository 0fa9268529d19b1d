"""Interop (issue 16): JsSIP, a real WIC nobody here wrote, against the Kamailio eP-CSCF.

The same ``interop/jssip/wic.js`` as ``test_jssip.py``, pointed at the Kamailio lab of
``examples/pixit/kamailio.toml`` (started by its ``[sut] start``, on a loopback address of its own)
instead of the reference stack: web log-in at the lab's WWSF (step 1), WSS to Kamailio with the
WWSF's Origin (step 2), REGISTER with ``Authorization: Bearer`` (steps 3-7), the binding checked at
the lab's wIMPU Registrar over W6 (the PIXIT's read-only client certificate), then JsSIP's
un-REGISTER (5.2.2.3.2). Two JsSIP instances of alice register two contacts of one IMPU.

The lab runs with the suite's emulated S-CSCF/HSS of the PIXIT, as a conformance run does, started
before Kamailio: a WIC registers only within its block's registration (5.2.2.5.1), and Kamailio
refuses a WIC of a block the S-CSCF has not registered (503, TP_WIMPU_BLK_008), so the fixture waits
for every option 1 block's registration before a test starts.
``scripts/install.sh`` installs Kamailio, Node and JsSIP; CI runs this. Only a machine without
``kamailio`` skips it, as the validation test does.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kamailio_lab import PIXIT, private_pixit, remove_lab
from node_wic import ALICE, close_all, contact_uri, header
from test_jssip import JssipWic

from conformance.harness.ims_core import ImsCore
from conformance.harness.scenario_capture import release_host, scenario_host
from conformance.harness.sut import emulated_core
from conformance.pixit import Pixit, load_pixit
from conformance.sut_process import SutProcess
from reference.nodes.wimpu_registrar.client import RegistrarClient

pytestmark = pytest.mark.skipif(
    shutil.which("kamailio") is None, reason="kamailio is not installed (scripts/install.sh)"
)


@dataclass(frozen=True)
class Lab:
    pixit: Pixit
    origin: str
    ca: Path
    ep_cscf_url: str


def _listening(address: tuple[str, int]) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(address, timeout=1):
        return True
    return False


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    """The Kamailio lab started afresh beside the PIXIT's emulated IMS core, until its WWSF and
    Kamailio's WSS listeners answer and the S-CSCF holds the registration of every block of option 1
    (registered upon initialisation; an option 2 block only upon its first WIC's registration)."""
    host = scenario_host()
    private = private_pixit(host)
    process: SutProcess | None = None
    core: ImsCore | None = None
    try:
        pixit = load_pixit(private)
        core = emulated_core(pixit)
        assert core is not None, f"{PIXIT}: the S-CSCF is not emulated"
        await core.start()
        process = SutProcess(pixit)
        deadline = time.monotonic() + pixit.ready
        assert await asyncio.to_thread(process.wait_for_files, deadline), (
            f"the Kamailio lab did not write its CA and keys within {pixit.ready} s: "
            f"{process.output_tail(10)}"
        )
        # two eP-CSCFs (ep-cscf2 serves block2, option B); the JsSIP and SIP.js users are alice's, of
        # block1, whose eP-CSCF is ep-cscf1
        wwsf, eps = pixit.node("wwsf"), pixit.ep_cscfs
        ep = next(e for e in eps if e.name == "ep-cscf1")
        ends = [*wwsf.listening(), *(end for e in eps for end in e.listening())]
        while not all([await asyncio.to_thread(_listening, end) for end in ends]) or not all(
            core.bindings(block.representative) for block in pixit.blocks if block.registration == 1
        ):
            assert process.status() is None, f"the Kamailio lab exited: {process.output_tail(10)}"
            assert time.monotonic() < deadline, (
                f"{ends} not all listening, or blocks not all registered, within {pixit.ready} s"
            )
            await asyncio.sleep(0.1)
        assert wwsf.url is not None and ep.url is not None
        yield Lab(pixit, wwsf.url, pixit.trust[0], ep.url)
    finally:
        if process is not None:
            process.stop()
        if core is not None:
            await core.stop()
        remove_lab(private, host)
        release_host(host)


@pytest.fixture
async def w6(lab: Lab) -> AsyncIterator[RegistrarClient]:
    """The lab's registrar over W6, read only (the PIXIT's observer certificate)."""
    context = ssl.create_default_context(cafile=str(lab.ca))
    assert lab.pixit.registrar_client is not None
    context.load_cert_chain(*lab.pixit.registrar_client)
    registrar = lab.pixit.node("registrar")
    assert registrar.url is not None
    async with RegistrarClient(registrar.url, ssl=context) as client:
        yield client


@pytest.fixture
async def jssip() -> AsyncIterator[list[JssipWic]]:
    started: list[JssipWic] = []
    yield started
    await close_all(started)


async def test_jssip_registers_and_deregisters_through_kamailio(
    lab: Lab, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    wic = await JssipWic.start_at(lab.origin, lab.ca, "alice", "alice-password")
    jssip.append(wic)
    login = await wic.expect("login")
    assert login["identity"] == ALICE and login["ep_cscf"] == lab.ep_cscf_url, login
    registered = await wic.expect("registered", "registrationFailed")
    assert registered["event"] == "registered" and registered["status"] == 200, registered
    register = wic.sent("REGISTER")[0]
    assert header(register, "Authorization") == ["Bearer <token>"]
    [contact] = header(register, "Contact")
    entry = await w6.read(ALICE)
    assert entry is not None, "JsSIP got 200 from Kamailio but the registrar holds no entry"
    assert [c.uri for c in entry.contacts] == [contact_uri(contact)], entry.contacts
    assert await wic.stop() == 0
    assert header(wic.sent("REGISTER")[-1], "Expires") == ["0"]
    assert await w6.read(ALICE) is None, "JsSIP de-registered from Kamailio but the entry is still there"


async def test_two_jssip_instances_register_two_contacts_of_one_impu_through_kamailio(
    lab: Lab, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    """5.2.2.3.2: a WIC registering from several devices adds a contact to the same IMPU (RFC
    5626: each instance its own +sip.instance)."""
    first = await JssipWic.start_at(lab.origin, lab.ca, "alice", "alice-password", name="alice-1")
    second = await JssipWic.start_at(lab.origin, lab.ca, "alice", "alice-password", name="alice-2")
    jssip += [first, second]
    for wic in (first, second):
        registered = await wic.expect("registered", "registrationFailed")
        assert registered["event"] == "registered", f"{wic.name}: {registered}"
    entry = await w6.read(ALICE)
    assert entry is not None and len(entry.contacts) == 2, entry
    assert len({c.instance_id for c in entry.contacts}) == 2, entry.contacts
    assert await first.stop() == 0
    entry = await w6.read(ALICE)
    assert entry is not None and len(entry.contacts) == 1, f"the other instance's contact must stay: {entry}"
    assert await second.stop() == 0
    assert await asyncio.wait_for(w6.read(ALICE), 10) is None
