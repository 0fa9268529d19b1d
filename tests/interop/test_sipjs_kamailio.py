"""Interop (issues 16 and 17): SIP.js 0.21, a real WIC nobody here wrote, against the Kamailio eP-CSCF.

The same ``interop/sipjs/wic.js`` as ``test_sipjs.py``, pointed at the Kamailio lab of
``examples/pixit/kamailio.toml`` (the lab fixture of ``test_jssip_kamailio.py``): web log-in at the
lab's WWSF (TR 23.701 5.2.2.5.2 step 1), WSS to Kamailio with the WWSF's Origin (step 2),
``Registerer.register()`` with the token as an extra header (steps 3-7), the binding read at the
lab's registrar over W6, then ``Registerer.unregister()``.

SIP.js sends no extra header on its un-REGISTER, so that one carries no token. The reference
accepts it (solution profile, "De-registration without a token", ``PROFILE_REG_DEREG_NO_TOKEN``);
Kamailio's configuration does not, and its PICS says so (``PICS_PROFILE_REG_DEREG_NO_TOKEN = no``):
the un-REGISTER is challenged (401) and the binding stays until it expires or the WIC registers
again. The text allows either (5.2.2.3.2 asks for authorisation at registration; it says nothing of a
de-registration's); this test records what a SIP.js user meets on such an eP-CSCF
(``docs/validation.md``, "Real clients against Kamailio").
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import pytest
from node_wic import ALICE, close_all, contact_uri, header
from test_jssip_kamailio import Lab, lab, w6  # noqa: F401 (the Kamailio lab's fixtures)
from test_sipjs import TEST_TIMEOUT, SipjsWic

from reference.nodes.wimpu_registrar.client import RegistrarClient

pytestmark = pytest.mark.skipif(
    shutil.which("kamailio") is None, reason="kamailio is not installed (scripts/install.sh)"
)


@pytest.fixture
async def sipjs() -> AsyncIterator[list[SipjsWic]]:
    """Every wic.js a test starts; killed at teardown, whatever the outcome."""
    started: list[SipjsWic] = []
    yield started
    await close_all(started)


async def test_sipjs_registers_through_kamailio_and_its_tokenless_unregister_is_challenged(
    lab: Lab,  # noqa: F811
    w6: RegistrarClient,  # noqa: F811
    sipjs: list[SipjsWic],
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic = await SipjsWic.start_at(lab.origin, lab.ca, "alice", "alice-password", name="alice")
        sipjs.append(wic)
        login = await wic.expect("login")
        assert login["identity"] == ALICE and login["ep_cscf"] == lab.ep_cscf_url, login
        await wic.registered()
        [register] = wic.sent("REGISTER")
        assert header(register, "Authorization") == ["Bearer <token>"], register
        [contact] = header(register, "Contact")
        entry = await w6.read(ALICE)
        assert entry is not None, "SIP.js got 200 from Kamailio but the registrar holds no entry"
        assert [c.uri for c in entry.contacts] == [contact_uri(contact)], entry.contacts

        outcome = await wic.unregister()
        unregister = wic.sent("REGISTER")[-1]
        assert header(unregister, "Authorization") == [], unregister
        assert outcome["event"] == "unregistrationFailed" and outcome["status"] == 401, (
            f"expected Kamailio to challenge SIP.js's token-less un-REGISTER (its PICS: "
            f"PICS_PROFILE_REG_DEREG_NO_TOKEN = no), got {outcome}\n{wic._context()}"
        )
        entry = await w6.read(ALICE)
        assert entry is not None and [c.uri for c in entry.contacts] == [contact_uri(contact)], (
            f"a refused de-registration must remove nothing (5.2.2.3.2), the registrar holds {entry}"
        )
        assert await wic.leave() == 0
