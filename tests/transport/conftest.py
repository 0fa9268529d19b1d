"""Two SIP nodes on loopback, a UAC and a UAS, for the node shell's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reference.transport.sip_node import SipNode


@pytest.fixture
async def pair() -> AsyncIterator[tuple[SipNode, SipNode]]:
    uac, uas = SipNode("uac"), SipNode("uas")
    await uac.start()
    await uas.start()
    yield uac, uas
    await uac.stop()
    await uas.stop()
