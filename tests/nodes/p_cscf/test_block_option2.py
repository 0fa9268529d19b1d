"""5.2.2.5.1 option 2 at the eP-CSCF: WIC registrations arriving while the block's first registration
is under way wait for it, and start no registration of their own (TP_WIMPU_BLK_006 on the wire)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest

from reference.nodes.p_cscf.block_registration import BlockRegistration
from reference.nodes.p_cscf.flows import BlockCredentials, BlockRegistrationError


def option2_block(register: Any) -> BlockRegistration:
    """A block registration of option 2 whose REGISTER transaction is ``register`` (no SIP node)."""
    node: Any = types.SimpleNamespace(host="127.0.0.1", port=5080, spawn=asyncio.ensure_future)
    credentials = BlockCredentials(
        "sip:wrtc-!.*!@block2.ims.example.net", "sip:block2@wrtc.ims.example.net", "block2@ims",
        "not-a-secret", "sip:ims.example.net", option=2,
    )  # fmt: skip
    block = BlockRegistration(node, credentials, target=None, name="block2", timers=None)  # type: ignore[arg-type]
    block.register = register  # type: ignore[method-assign]
    return block


class GatedRegister:
    """A block REGISTER transaction that is answered 200 only once ``gate`` is set; counts the
    registrations started."""

    def __init__(self) -> None:
        self.started = 0
        self.gate = asyncio.Event()
        self.block = option2_block(self)

    async def __call__(self, expires: int | None = None) -> Any:
        self.started += 1
        await self.gate.wait()
        self.block.binding.registered = True
        return "200 OK"


async def test_wic_registrations_arriving_together_make_one_block_registration() -> None:
    gated = GatedRegister()
    block = gated.block
    waiting = [asyncio.ensure_future(block.ensure()) for _ in range(3)]
    await asyncio.sleep(0)
    gated.gate.set()
    await asyncio.gather(*waiting)
    assert gated.started == 1
    await block.ensure()  # registered: a later WIC registration starts nothing
    assert gated.started == 1


async def test_a_failed_first_registration_fails_every_wic_waiting_and_the_next_one_tries_again() -> (
    None
):
    attempts = 0

    async def register(expires: int | None = None) -> Any:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        raise RuntimeError("the S-CSCF refused the block")

    block = option2_block(register)
    results = await asyncio.gather(*(block.ensure() for _ in range(2)), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError] and attempts == 1
    with pytest.raises(RuntimeError):
        await block.ensure()
    assert attempts == 2


async def test_a_wic_registration_waits_for_the_block_registration_at_most_its_bound() -> None:
    """An S-CSCF that does not answer the block's REGISTER (TP_WIMPU_BLK_009): the WIC's registration
    gets BlockRegistrationError (the WIC is answered 503) once ``within`` has passed; the block's
    registration goes on, and the next WIC registration waits for that same one."""
    gated = GatedRegister()
    block = gated.block
    with pytest.raises(BlockRegistrationError, match="has not answered its registration within 0.05 s"):
        await block.ensure(within=0.05)
    later = asyncio.ensure_future(block.ensure(within=5))
    await asyncio.sleep(0)
    gated.gate.set()
    await later
    assert gated.started == 1


async def test_a_registration_under_way_that_succeeds_leaves_nothing_to_register_for_a_wic() -> None:
    """A refresh holds the block's lock when a WIC registration finds the block unregistered (its
    lifetime ran out): the WIC's registration waits for the refresh, whose 200 OK registers the block
    again, and sends no REGISTER of its own (a single registration, 5.2.2.5.1)."""

    async def register(expires: int | None = None) -> Any:
        raise AssertionError("no REGISTER of its own")

    block = option2_block(register)
    async with block._lock:  # the refresh under way
        waiting = asyncio.ensure_future(block.ensure(within=5))
        await asyncio.sleep(0)
        block.binding.registered = True  # its 200 OK
    await waiting
