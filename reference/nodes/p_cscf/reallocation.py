"""What a P-CSCF does when a block is re-allocated to it, or away from it (TR 23.701 5.2.2.2).

"If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF shall be
re-allocated to another eP-CSCF." :class:`~.failover.BlockKeeper` decides when (the
block's lease); these two actions are what follows, on the P-CSCF's own state, the
wIMPU Registrar (W6) and the S-CSCF (block registration, 5.2.2.5.1).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reference.blocks import WimpuBlock
from reference.nodes.p_cscf.block_registration import BlockRegistrationError
from reference.nodes.p_cscf.flows import Trigger, block_registration_due
from reference.nodes.wimpu_registrar.client import RegistrarRejected, RegistrarUnavailable
from reference.sip.identity import IdentityError
from reference.spec import clause

if TYPE_CHECKING:
    from reference.nodes.p_cscf.service import Pcscf

__all__ = ["drop_block", "remove_unreachable_contacts", "take_block"]

log = logging.getLogger("wimpu.p_cscf.failover")


@clause("TR 23.701 5.2.2.2")
@clause("TR 23.701 5.2.2.5.1")
async def take_block(pcscf: Pcscf, wimpu: str, previous: str | None) -> None:
    """``pcscf`` now serves ``wimpu`` (5.2.2.2: "re-allocated to another eP-CSCF").

    1. The registrar's contacts of the block that this P-CSCF cannot reach (their
       WebSocket was on the failed eP-CSCF, or on this one before a restart) are removed,
       so the I-CSCF's W7 check rejects calls to those WICs until they re-register
       instead of offering them to a dead flow.
    2. The block is registered with the S-CSCF (5.2.2.5.1): at once when it was taken
       over from another holder (the re-allocation is the trigger), else by its option
       (1: now, 2: on the first WIC registration). The other holder's binding is then
       removed, so terminating requests reach this P-CSCF only.
    """
    removed = await remove_unreachable_contacts(pcscf, wimpu)
    reg = pcscf.block_registrations.get(wimpu)
    holder = pcscf.keeper.holder if pcscf.keeper else pcscf.policy.ep_cscf
    taken_over = previous is not None and previous != holder
    log.warning(
        "P-CSCF %s: serving block %s (previous holder %s); %d unreachable contact(s) removed",
        pcscf.name, wimpu, previous, removed,
    )  # fmt: skip
    trigger = Trigger.TAKE_OVER if taken_over else Trigger.START
    if reg is not None and block_registration_due(reg.credentials.option, trigger, reg.registered):
        try:
            response = await reg.register()
            await reg.remove_other_bindings(response)
        except BlockRegistrationError as exc:
            log.error("P-CSCF %s: block %s not registered yet: %s", pcscf.name, wimpu, exc)
    pcscf.iwf.serving_changed()


async def remove_unreachable_contacts(pcscf: Pcscf, wimpu: str) -> int:
    """Remove the block's contacts whose flow ``pcscf`` cannot reach; returns how many."""
    try:
        entries = await pcscf.registrar.block_registrations(wimpu)
    except (RegistrarUnavailable, RegistrarRejected) as exc:
        log.error("P-CSCF %s: cannot list the contacts of block %s: %s", pcscf.name, wimpu, exc)
        return 0
    removed = 0
    for entry in entries:
        for contact in entry.contacts:
            if pcscf.iwf.flow_is_open(contact.flow):
                continue
            try:
                await pcscf.registrar.remove(entry.impu, contact.contact_id)
                removed += 1
            except (RegistrarUnavailable, RegistrarRejected) as exc:
                log.error(
                    "P-CSCF %s: cannot remove %s of %s: %s", pcscf.name, contact.contact_id, entry.impu, exc
                )
    return removed


@clause("TR 23.701 5.2.2.2")
async def drop_block(pcscf: Pcscf, wimpu: str, holder: str) -> None:
    """Another eP-CSCF (``holder``) serves ``wimpu`` now: ``pcscf`` stops serving it.

    Its own S-CSCF binding of the block is removed (its contact only, never the new
    holder's). Bundled, the WebSockets of WICs registered in the block are closed
    (1013 Try Again Later), so they go back to the WWSF and reach the new eP-CSCF;
    decomposed, the IWF keeps them and moves them to the block's new P-CSCF itself.
    """
    reg = pcscf.block_registrations.get(wimpu)
    if reg is not None:
        reg.cancel()
        if reg.binding.registered:  # its lifetime may have run out unrefreshed: the S-CSCF's binding stays
            try:
                await reg.register(expires=0)
            except BlockRegistrationError as exc:
                log.error("P-CSCF %s: could not remove its binding of block %s: %s", pcscf.name, wimpu, exc)
    pcscf.iwf.serving_changed()
    block = next((b for b in pcscf.blocks if str(b.wimpu) == wimpu), None)
    closed = 0
    if block is not None:
        for flow in pcscf.registrations.drop_flows(lambda identity: _in_block(pcscf, identity, block)):
            if not pcscf.iwf.reroutes:  # decomposed: the IWF moves the WIC to the new P-CSCF
                pcscf.iwf.close_flow(flow, f"wIMPU block moved to {holder}")
                closed += 1
    log.warning(
        "P-CSCF %s: block %s now served by %s; %d WIC flow(s) closed", pcscf.name, wimpu, holder, closed
    )


def _in_block(pcscf: Pcscf, identity: str, block: WimpuBlock) -> bool:
    try:
        return pcscf.block_for(identity) is block or block.holds(identity)
    except IdentityError:
        return False
