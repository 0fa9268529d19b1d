"""The rules of block registration: TR 23.701 5.2.2.5.1 (options 1 and 2), 5.2.2.1 (a single
IMS registration per block) and 5.2.2.2 (a failed eP-CSCF's block re-allocated)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from reference.sip.errors import SipError

from ..flows import (
    BlockRecord,
    Flow,
    Hop,
    Role,
    block_key,
)
from ..topology import PlacedBlock as Block
from .core import (
    Context,
    Finding,
    _final,
    _granted,
    _identity,
    _requests,
    _Say,
    _wic_registers,
    _wildcard,
    block_for,
    rule,
)
from .registration import _block_of_wic

# ----- 5.2.2.5.1 block registration ---------------------------------------------------------------


def _block_registers(flow: Flow) -> list[Hop]:
    return _requests(flow, "REGISTER", src=Role.P_CSCF, dst=Role.S_CSCF)


@rule("BLK_PATH", "TR 23.701 5.2.2.5.1", "the block REGISTER carries Path")
def block_register_has_path(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.1: the block is registered "as per existing 23.228 procedures": the
    eP-CSCF (P-CSCF) puts itself on the path of terminating requests with ``Path``
    (RFC 3327; TS 24.229 5.2.2.1), so that the S-CSCF routes them back to it."""
    say = _Say("BLK_PATH", flow)
    found = []
    for asked in _block_registers(flow):
        request = asked.request
        if request is not None and request.has("Path"):
            found.append(say("pass", f"Path: {request.get('Path')}", asked))
        else:
            found.append(say("fail", "the block REGISTER has no Path header", asked))
    return say.summary(found)


@rule("BLK_CHALLENGE", "TR 23.701 5.2.2.5.1", "the block registration is challenged, then accepted")
def block_register_challenged(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.1: "A single IMS registration is required to register the wIMPU block as
    per existing 23.228 procedures": a REGISTER without credentials is challenged (401
    with WWW-Authenticate), the authenticated one gets 200 OK. A 403 to the REGISTER that
    answered the challenge is ``inconclusive``, not ``fail``: the S-CSCF refused the
    credentials (RFC 3261 22.4), and the capture cannot tell a wrong digest of the eP-CSCF from
    a password the HSS holds otherwise (an operator's error, TP_WIMPU_BLK_008); neither
    password is on the wire. Whether the block then got registered is judged by the scenarios
    and by BLK_BEFORE_WIC (no WIC of it accepted before its registration)."""
    say = _Say("BLK_CHALLENGE", flow)
    registers = _block_registers(flow)
    if not registers:
        return []
    challenged = None
    for asked in registers:
        final = _final(flow, asked)
        request, response = asked.request, final.response if final else None
        authorized = request is not None and request.has("Authorization")
        if final is None or response is None:
            continue
        if response.status == 401:
            if not response.has("WWW-Authenticate"):
                return [say("fail", "401 without WWW-Authenticate", final)]
            challenged = final
        elif 200 <= response.status < 300:
            if not authorized:
                return [say("fail", "200 OK to a block REGISTER that carries no credentials", final)]
            if challenged is not None:
                return [say("pass", f"challenged (frame {challenged.message.frame}), then 200 OK", final)]
            return [
                say(
                    "inconclusive",
                    "200 OK to an authenticated REGISTER; the challenge is not in the capture",
                    final,
                )
            ]
        elif response.status == 403 and authorized and challenged is not None:
            why = (
                "the S-CSCF refused the credentials that answered its challenge (403): a wrong digest, or "
                "a password the HSS holds otherwise; the capture holds neither password"
            )
            return [say("inconclusive", why, final)]
        elif response.status >= 300:
            return [say("fail", f"the block registration was answered {response.status}", final)]
    return [say("inconclusive", "the block registration has no final answer in the capture", registers[-1])]


def _blocks_registered(ctx: Context, hop: Hop) -> list[Block]:
    """The PIXIT blocks a block registration's 200 OK lists (P-Associated-URI)."""
    message = hop.message.message
    try:
        listed = [a.uri for a in message.addresses("P-Associated-URI")] if message else []
    except SipError:
        listed = []
    wildcards = {w for u in listed if "!" in u and (w := _wildcard(u)) is not None}
    return [b for b in ctx.blocks if b.block.wimpu in wildcards]


def _block_oks(flow: Flow) -> Iterator[Hop]:
    """The 2xx of the S-CSCF to each block REGISTER of ``flow`` that left a binding."""
    for asked in _block_registers(flow):
        final = _final(flow, asked)
        if final is not None and final.response is not None and 200 <= final.response.status < 300:
            if _granted(asked) != 0:
                yield final


def _block_ok(flow: Flow) -> Hop | None:
    return next(_block_oks(flow), None)


@rule("BLK_FROM_ITS_EP_CSCF", "TR 23.701 5.2.2.1; 5.2.2.5.1", "each block is registered by its own eP-CSCF")
def block_registered_by_its_ep_cscf(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.1: "Each block of wIMPU allocated to a third party is associated with a
    different eP-CSCF"; 5.2.2.5.1: "The eP-CSCF would need to trigger the IMS registration
    of the wIMPU block". The block the 200 OK lists is one the PIXIT gives to the eP-CSCF
    that registered it, or one it stands by for: 5.2.2.2, "If an eP-CSCF fails then the wIMPU
    associated with the failed eP-CSCF shall be re-allocated to another eP-CSCF" (the PIXIT's
    ``standby`` of the block names the eP-CSCFs it may be re-allocated to)."""
    say = _Say("BLK_FROM_ITS_EP_CSCF", flow)
    ok = _block_ok(flow)
    if ok is None:
        return []
    if not ctx.blocks:
        return [say("inconclusive", "the PIXIT gives no blocks", ok)]
    node = ok.dst.node
    listed = _blocks_registered(ctx, ok)
    if not listed:
        own = [b for b in ctx.blocks if b.ep_cscf == node]
        if len(own) == 1:
            return [
                say(
                    "pass", f"{node} registers {own[0].block.wimpu} (the 200 OK lists no wildcarded IMPU)", ok
                )
            ]
        if not own:
            return [say("fail", f"{node} registers a block but the PIXIT gives it none", ok)]
        return [
            say("inconclusive", f"the 200 OK lists no wildcarded IMPU and {node} has {len(own)} blocks", ok)
        ]
    taken = []
    for block in listed:
        if block.ep_cscf != node and node in block.standby:
            # 5.2.2.2: the block of a failed eP-CSCF "shall be re-allocated to another eP-CSCF": one
            # that stands by for it registers it (not a fault of the eP-CSCF that takes it over)
            taken.append(f"{block.block.wimpu} of {block.ep_cscf}, re-allocated to it (5.2.2.2)")
        elif block.ep_cscf != node:
            return [
                say(
                    "fail",
                    f"{node} registered block {block.block.wimpu}, which belongs to {block.ep_cscf}",
                    ok,
                )
            ]
    if taken:
        return [say("pass", f"{node} stands by for block {'; '.join(taken)}", ok)]
    return [say("pass", f"{node} registered its block {', '.join(str(b.block.wimpu) for b in listed)}", ok)]


@rule("BLK_SINGLE", "TR 23.701 5.2.2.1; 5.2.2.5.1", "a single IMS registration per block")
def block_registered_once(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.1: "A single IMS registration is performed per block of wIMPU"; 5.2.2.5.1: "A
    single IMS registration is required". No other registration of the same block (another
    binding: another Call-ID, or another contact under the same one, RFC 3261 10.3 step 7) may be
    live when this one is accepted, unless (5.2.2.2 re-allocation) it is another eP-CSCF's and this
    eP-CSCF removes it before it serves the block (:func:`_removed_on_take_over`). A refresh of this
    binding is not another: it ended when this began."""
    say = _Say("BLK_SINGLE", flow)
    return say.summary([_single_registration(say, ok, ctx) for ok in _block_oks(flow)])


def _single_registration(say: _Say, ok: Hop, ctx: Context) -> Finding:
    """BLK_SINGLE of one accepted block registration ``ok`` of ``flow``."""
    call_id = ok.message.message.get("Call-ID") if ok.message.message is not None else None
    wimpus = {block_key(str(b.block.wimpu)) for b in _blocks_registered(ctx, ok)} or {
        a for r in ctx.knowledge.blocks if r.call_id == call_id for a in r.wimpus
    }
    at = ok.message.time
    node = ok.dst.node
    replaced = []
    for record in ctx.knowledge.blocks:
        same = bool(set(record.wimpus) & wimpus) if wimpus else record.ep_cscf == node
        if same and record.since < at < record.until:
            if _removed_on_take_over(record, ok, wimpus, ctx):
                replaced.append(
                    f"the registration of {record.ep_cscf} (frame {record.frame}) removed by {node} "
                    f"at frame {record.removed_frame}"
                )
                continue
            return say(
                "fail",
                f"block already registered by {record.ep_cscf} "
                f"(Call-ID {record.call_id}, contact {record.contact or '?'}, frame {record.frame})",
                ok,
            )
    if replaced:
        return say("pass", f"re-allocated (5.2.2.2): {'; '.join(replaced)}", ok)
    return say("pass", "no other registration of this block is live", ok)


TAKE_OVER_REMOVAL: Final = 32.0
"""Seconds after a take-over's registration within which it removes the failed eP-CSCF's binding:
64*T1, the lifetime of the non-INVITE transaction that registration was (RFC 3261 17.1.2.2), so a
REGISTER sent right after it is not a second registration left live (``BLK_SINGLE``)."""


def _removed_on_take_over(record: BlockRecord, ok: Hop, wimpus: set[str], ctx: Context) -> bool:
    """5.2.2.2: the block of a failed eP-CSCF "shall be re-allocated to another eP-CSCF". The failed
    one cannot release its registration; the one taking the block over registers it and removes the
    failed one's binding (RFC 3261 10.2.2), so that one registration of the block is left before it
    serves the block: in this registration (the same Call-ID, as the reference does), or by a
    REGISTER of its own after this one was accepted (another transaction and Call-ID, as Kamailio's
    uac module sends it) and before the eP-CSCF accepted anything else for the block: its next
    registration of it, or the registration of a WIC of the block through it; and within
    :data:`TAKE_OVER_REMOVAL` of it. The text does not say how, only that one registration is left:
    the Call-ID of the removal is the implementation's. Left live past that, it stays a second
    registration (fail)."""
    node = ok.dst.node
    if record.ep_cscf == node or record.removed_by != node or record.removed_frame is None:
        return False
    if record.removed_frame < ok.message.frame:
        return False
    at, removed_at = ok.message.time, record.until
    if removed_at - at > TAKE_OVER_REMOVAL:
        return False
    for other in ctx.knowledge.blocks:
        same = bool(set(other.wimpus) & wimpus) if wimpus else True
        if other.ep_cscf == node and same and other.frame > ok.message.frame and other.since < removed_at:
            return False
    for contacts in ctx.knowledge.contacts.values():
        for contact in contacts:
            if contact.ep_cscf != node or not at < contact.since < removed_at:
                continue
            block = block_for(ctx, node, contact.identity)
            if block is None or not wimpus or block_key(str(block.block.wimpu)) in wimpus:
                return False
    return True


@rule(
    "BLK_BEFORE_WIC",
    "TR 23.701 5.2.2.5.2 (note); 5.2.2.5.1 options 1-2",
    "the block is registered before a WIC of it is",
)
def block_registered_before_wic(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2: "Note that the wIMPU block has already registered in HSS"; 5.2.2.5.1
    option 1 registers it at start-up, option 2 "upon receiving the first individual IMPU
    registration request from a WIC". Either way the block's 200 OK comes before the 200 OK
    to the WIC. No registration of the block in the capture is ``inconclusive`` (it may have
    been made before the capture began), unless the capture holds every packet of the nodes
    since they started (``Knowledge.complete``): then the block was never registered, and the
    200 OK to the WIC fails (a block the S-CSCF refused, TP_WIMPU_BLK_008)."""
    say = _Say("BLK_BEFORE_WIC", flow)
    found = []
    for asked in _wic_registers(flow):
        final = _final(flow, asked)
        if final is None or final.response is None or final.response.status >= 300 or _granted(asked) == 0:
            continue
        block = _block_of_wic(ctx, asked, _identity(asked.request))
        if block is None:
            found.append(say("inconclusive", "the WIC's block is unknown (PIXIT)", final))
            continue
        records = [
            r
            for r in ctx.knowledge.blocks
            if r.holds(str(block.block.wimpu)) or (not r.wimpus and r.ep_cscf == block.ep_cscf)
        ]
        before = [r for r in records if r.since <= final.message.time]
        if before:
            found.append(
                say("pass", f"block {block.block.wimpu} registered at frame {before[-1].frame}", final)
            )
        elif records:
            found.append(
                say(
                    "fail", f"block {block.block.wimpu} is registered only at frame {records[0].frame}", final
                )
            )
        elif ctx.knowledge.complete:
            detail = (
                f"block {block.block.wimpu} was never registered: the capture holds every packet of the "
                "nodes since they started, and no 200 OK of the S-CSCF to a registration of it"
            )
            found.append(say("fail", detail, final))
        else:
            option = "at start-up, before the capture?" if block.registration == 1 else "before the capture?"
            found.append(
                say(
                    "inconclusive",
                    f"no registration of block {block.block.wimpu} in the capture ({option})",
                    final,
                )
            )
    return say.summary(found)


def _block_records_of(ctx: Context, block: Block) -> list[BlockRecord]:
    """The registrations of ``block`` the S-CSCF accepted in the capture (its wildcard in their
    P-Associated-URI, or none listed and made by the block's configured eP-CSCF)."""
    wimpu = str(block.block.wimpu)
    return [
        r for r in ctx.knowledge.blocks if r.holds(wimpu) or (not r.wimpus and r.ep_cscf == block.ep_cscf)
    ]


def _wic_registrations_granted(flow: Flow, ctx: Context) -> Iterator[tuple[Hop, Hop, Block]]:
    """Each WIC REGISTER of ``flow`` answered 2xx that asked for a binding (not a de-registration),
    with its final response and the PIXIT block of its identity (those of no known block left out)."""
    for asked in _wic_registers(flow):
        final = _final(flow, asked)
        if final is None or final.response is None or not 200 <= final.response.status < 300:
            continue
        block = _block_of_wic(ctx, asked, _identity(asked.request))
        if _granted(asked) != 0 and block is not None and _binds(asked):
            yield asked, final, block


def _binds(asked: Hop) -> bool:
    """The REGISTER names a contact to bind (not ``*``, not a query without Contact, RFC 3261 10.2.3)."""
    request = asked.request
    try:
        return request is not None and not request.contact_is_star and bool(request.contacts)
    except SipError:
        return False


@rule(
    "REG_AT_BLOCK_HOLDER",
    "TR 23.701 5.2.2.2; 5.2.2.5.2 step 3 (note); 5.2.2.5.1",
    "a WIC is registered at the eP-CSCF that holds its block's registration",
)
def registered_at_block_holder(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2: "Note that the wIMPU block has already registered in HSS", by the eP-CSCF the block
    is associated with (5.2.2.1); 5.2.2.2: "If an eP-CSCF fails then the wIMPU associated with the
    failed eP-CSCF shall be re-allocated to another eP-CSCF", which registers it (5.2.2.5.1). A WIC
    registered at an eP-CSCF that holds no live registration of its block while another eP-CSCF
    does is registered outside its block's registration: terminating requests reach the block
    through the other eP-CSCF, which has no flow to the WIC (a WIC that kept the token and address
    of its first log-in, reaching the failed eP-CSCF once it is up again).

    Where the registration lands is what is judged, not the answer: the text does not mandate a
    refusal, since "the IWF can communicate with any P-CSCF" (5.2.2.2), so a decomposed eP-CSCF
    may register the WIC through the P-CSCF that holds the block. A 2xx (to a REGISTER that binds a
    contact) of an eP-CSCF that holds a live registration of the WIC's block passes. Of one that
    holds none while another eP-CSCF does: inconclusive when the PICS says the SUT's IWF hands WICs
    to whichever P-CSCF serves their block (``PICS_EPCSCF_IWF_ANY_PCSCF``), or when that eP-CSCF
    registered no block in the capture (an IWF alone, whose hand-over is not on the wire); a fail
    otherwise (an eP-CSCF that registers blocks itself, as the capture shows: its own registration
    of this block ended, or it never had one). No live registration of the block at all is
    ``BLK_BEFORE_WIC``'s."""
    say = _Say("REG_AT_BLOCK_HOLDER", flow)
    found = []
    for asked, final, block in _wic_registrations_granted(flow, ctx):
        node, at = asked.dst.node, final.message.time
        records = _block_records_of(ctx, block)
        live = [r for r in records if r.since <= at < r.until]
        if not live:
            continue
        wimpu = block.block.wimpu
        mine = [r for r in live if r.ep_cscf == node]
        holders = ", ".join(sorted({f"{r.ep_cscf} (frame {r.frame})" for r in live}))
        if mine:
            detail = f"{node} holds the registration of block {wimpu} (frame {mine[-1].frame})"
            found.append(say("pass", detail, final))
        elif ctx.pics is not None and ctx.pics.get("PICS_EPCSCF_IWF_ANY_PCSCF") == "yes":
            detail = (
                f"{node} holds no registration of block {wimpu}, which {holders} does; the SUT's IWF hands "
                "WICs to the P-CSCF serving their block (PICS_EPCSCF_IWF_ANY_PCSCF = yes, 5.2.2.2), which is "
                "not on the wire"
            )
            found.append(say("inconclusive", detail, final))
        elif any(r.ep_cscf == node for r in ctx.knowledge.blocks):
            detail = (
                f"the WIC was registered at {node}, which holds no registration of block {wimpu}"
                f"{_how_it_ended(records, node, at)}: the block is registered by {holders}, so its "
                "terminating requests do not reach this WIC"
            )
            found.append(say("fail", detail, final))
        else:
            detail = (
                f"{node} registered no block in the capture: an IWF that hands the REGISTER to a P-CSCF "
                f"over its internal interface (5.2.2.2), which is not on the wire; block {wimpu} is "
                f"registered by {holders}"
            )
            found.append(say("inconclusive", detail, final))
    return say.summary(found)


PER_WIC_SLACK = 1.0
"""Seconds after the 200 OK to a WIC within which a REGISTER of the block still counts as sent for it
(an eP-CSCF that answers the WIC first and registers the block right after)."""


def _refresh_due(ctx: Context, binding: BlockRecord, at: float) -> bool:
    """A refresh of ``binding`` at capture time ``at`` is due, or nearly: half its granted lifetime
    has passed on the nodes' clock (the reference refreshes at half), less a margin (5 %, at least
    1 s) for the eP-CSCF's timer."""
    margin = max(1.0, 0.05 * binding.granted)
    return ctx.knowledge.elapsed(binding.since, at) >= binding.granted / 2 - margin


@rule(
    "BLK_NOT_PER_WIC",
    "TR 23.701 5.2.2.1; 5.2.2.5.1 options 1-2; 5.2.2.5.2",
    "a WIC's registration sends nothing to the S-CSCF (solution profile PROFILE_BLK_NO_PER_WIC)",
)
def block_not_registered_per_wic(flow: Flow, ctx: Context) -> list[Finding]:
    """Solution profile, ``PROFILE_BLK_NO_PER_WIC``: 5.2.2.5.2 has no step towards the S-CSCF ("the
    wIMPU block has already registered in HSS"), and 5.2.2.5.1 registers the block upon
    initialisation (option 1) or upon the first WIC registration (option 2); the reference sends the
    S-CSCF nothing for any other WIC registration. The text does not forbid more: a refresh of the
    block's one binding is not a second registration (5.2.2.1 "a single IMS registration is
    performed per block" stays ``BLK_SINGLE``'s), so a REGISTER of the block sent for a WIC is a
    profile deviation, not a failure.

    For each WIC registration answered 2xx at an eP-CSCF whose registration of the WIC's block is
    live at the WIC's REGISTER: a REGISTER of that block, in the same registration (Call-ID), that
    the eP-CSCF sends the S-CSCF from the WIC's REGISTER to ``PER_WIC_SLACK`` after its 2xx, whatever
    its answer, while no refresh is due (:func:`_refresh_due`), deviates; none passes. A new
    registration (another Call-ID: an eP-CSCF that restarted) and a WIC registration with no live
    registration of its block at that eP-CSCF (option 2's first, a decomposed IWF) are not judged."""
    say = _Say("BLK_NOT_PER_WIC", flow)
    found = []
    for asked, final, block in _wic_registrations_granted(flow, ctx):
        node, start, end = asked.dst.node, asked.message.time, final.message.time + PER_WIC_SLACK
        live = [r for r in _block_records_of(ctx, block) if r.ep_cscf == node and r.since <= start < r.until]
        if not live:
            continue
        binding, wimpu = live[-1], block.block.wimpu
        sent = [
            q
            for q in ctx.knowledge.block_requests
            if q.ep_cscf == node
            and q.call_id == binding.call_id
            and start <= q.time <= end
            and not _refresh_due(ctx, binding, q.time)
        ]
        if sent:
            detail = (
                f"{node} sent the S-CSCF a REGISTER of block {wimpu} (frame {sent[0].frame}) for this WIC's "
                f"registration, its registration of frame {binding.frame} not due for refresh"
            )
            found.append(say.profile(ctx, "PROFILE_BLK_NO_PER_WIC", detail, final))
        else:
            detail = (
                f"block {wimpu} registered by {node} at frame {binding.frame}; nothing sent to the S-CSCF"
            )
            found.append(say("pass", detail, final))
    return say.summary(found)


def _how_it_ended(records: list[BlockRecord], node: str, at: float) -> str:
    """How ``node``'s last registration of a block ended before ``at`` (removed or run out)."""
    ended = [r for r in records if r.ep_cscf == node and r.until <= at]
    if not ended:
        return ""
    last = ended[-1]
    if last.removed_by:
        return (
            f"; its own registration of it ended at frame {last.removed_frame}, removed by {last.removed_by}"
        )
    return f"; its own registration of it (frame {last.frame}) had run out"
