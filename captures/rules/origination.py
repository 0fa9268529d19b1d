"""The rules of session origination: TR 23.701 5.2.2.5.3 (steps 1-3), with 5.2.2.3.2."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from reference.sip.address import parse_uri
from reference.sip.errors import SipError
from reference.sip.grammar import parse_params

from ..flows import (
    BlockRecord,
    Flow,
    Hop,
    Role,
    identity_key,
)
from ..topology import PlacedBlock as Block
from .core import (
    Context,
    Finding,
    Verdict,
    _absent,
    _aliases,
    _answer,
    _caused,
    _final,
    _identity,
    _initial,
    _json,
    _naming,
    _no_registrar,
    _query,
    _reads,
    _registrar,
    _registrar_unseen,
    _requests,
    _responses,
    _Say,
    _unretrieved,
    block_for,
    rule,
)

# ----- 5.2.2.5.3 origination ----------------------------------------------------------------------


ORIGINATING_METHODS = ("INVITE", "MESSAGE", "OPTIONS")
"""The initial requests whose origination the rules judge: a session's INVITE, an out-of-dialog
MESSAGE (RFC 3428) and OPTIONS (RFC 3261 11). Step 3's "standard IMS session origination procedure"
(TS 24.229 5.2.6.3) is the same for every initial request, so the identity and routing rules
(ORIG_PAI_IMPU, ORIG_FROM_UNTOUCHED, ORIG_SERVICE_ROUTE) judge them all; the W6 rules judge the
INVITE only: the text's step 2 speaks of sessions."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Origination:
    """One originating request (an INVITE or a MESSAGE): as the WIC sent it, as the eP-CSCF
    forwarded it to the S-CSCF."""

    sent: Hop | None
    forwarded: Hop | None
    node: str
    identity: str | None

    @property
    def first(self) -> Hop:
        hop = self.sent or self.forwarded
        assert hop is not None
        return hop

    @property
    def method(self) -> str:
        return self.first.method or ""


def _originations(flow: Flow, methods: Sequence[str] = ORIGINATING_METHODS) -> list[_Origination]:
    found = []
    for method in methods:
        sent = [h for h in _requests(flow, method, dst=Role.IWF) if h.on_wic_leg]
        forwarded = _requests(flow, method, src=Role.P_CSCF, dst=Role.S_CSCF)
        for hop in sent:
            onward = _caused(flow, hop, Role.P_CSCF, Role.S_CSCF)
            if onward:
                forwarded = [f for f in forwarded if f is not onward[0]]
            found.append(
                _Origination(hop, onward[0] if onward else None, hop.dst.node, _identity(hop.request, "From"))
            )
        for hop in forwarded:  # the WIC's leg is missing (WSS not decrypted, or not captured)
            found.append(_Origination(None, hop, hop.src.node, _identity(hop.request, "From")))
    return found


def _refused_locally(flow: Flow, origination: _Origination) -> bool:
    """The eP-CSCF answered the WIC with an error without forwarding (e.g. 403)."""
    final = _final(flow, origination.sent) if origination.sent else None
    return final is not None and final.response is not None and final.response.status >= 300


def _uris(hop: Hop | None, header: str) -> list[str] | None:
    """The URIs of the name-addr list ``header`` of the hop's request or response, in order: empty
    when there is no such header (or no SIP message), None when the header does not parse."""
    message = (hop.request or hop.response) if hop is not None else None
    try:
        return [a.uri for a in message.addresses(header)] if message is not None else []
    except SipError:
        return None


def _asserted(hop: Hop) -> list[str]:
    return _uris(hop, "P-Asserted-Identity") or []


def _w6_impu(flow: Flow, ctx: Context, origination: _Origination) -> str | None:
    """The IMPU the W6 read of step 2 returned (or one learned from the capture)."""
    if origination.sent is not None and origination.forwarded is not None:
        for asked in _reads(_registrar(flow, "W6", origination.sent, origination.forwarded)):
            answer = _answer(flow, asked)
            data = _json(answer.message.http) if answer else None
            if isinstance(data, dict) and data.get("impu"):
                return identity_key(str(data["impu"]))
    return ctx.knowledge.alias(origination.identity) if origination.identity else None


@rule("ORIG_PAI_IMPU", "TR 23.701 5.2.2.5.3 steps 2-3", "the forwarded INVITE asserts the IMPU")
def origination_asserts_the_impu(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.3 step 2 (option B): "The eP-CSCF includes the allocated individual IMPU
    before proxying the session onwards" (P-Asserted-Identity: the IMPU the W6 read
    returned); step 3 (option A): standard P-CSCF procedures assert the WIC's registered
    identity (or its P-Preferred-Identity). A P-Asserted-Identity the WIC wrote itself
    counts for nothing (RFC 3325 9.1): only one SIP value may be forwarded, the expected one."""
    say = _Say("ORIG_PAI_IMPU", flow)
    found = []
    for orig in _originations(flow):
        if orig.forwarded is None:
            if not _refused_locally(flow, orig):
                what = "the INVITE the eP-CSCF forwards to the S-CSCF"
                found.append(
                    say("inconclusive", _absent(ctx, what, Role.P_CSCF, Role.S_CSCF, orig.node), orig.first)
                )
            continue
        block = block_for(ctx, orig.node, orig.identity)
        asserted = _asserted(orig.forwarded)
        if block is None:
            found.append(
                say("inconclusive", f"the block of {orig.identity} at {orig.node} is unknown (PIXIT)")
            )
            continue
        if not asserted:
            found.append(say("fail", "the forwarded INVITE has no P-Asserted-Identity", orig.forwarded))
            continue
        # RFC 3325 9.1: one asserted identity per URI scheme, all of them the eP-CSCF's;
        # a second sip: value is one the eP-CSCF did not assert (the WIC's own claim).
        sip_values = [a for a in asserted if not a.lower().startswith("tel:")]
        if len(sip_values) > 1:
            detail = f"{len(sip_values)} SIP P-Asserted-Identity values: {', '.join(sip_values)}"
            found.append(say("fail", detail, orig.forwarded))
            continue
        pai = identity_key(asserted[0])
        if block.block.option == "A":
            if orig.sent is None:
                verdict: Verdict = (
                    "pass" if pai and block.block.holds(pai) and pai == orig.identity else "fail"
                )
                expected = orig.identity
            else:
                allowed = _assertable(ctx, orig)
                verdict = "pass" if pai in allowed else "fail"
                expected = " or ".join(sorted(i for i in allowed if i))
            found.append(
                say(
                    verdict,
                    f"option A: P-Asserted-Identity {asserted[0]}, expected {expected}",
                    orig.forwarded,
                )
            )
            continue
        impu = _w6_impu(flow, ctx, orig)
        if impu is not None:
            verdict = "pass" if pai == impu else "fail"
            found.append(
                say(verdict, f"option B: P-Asserted-Identity {asserted[0]}, W6 gave {impu}", orig.forwarded)
            )
        elif pai is not None and block.block.holds(pai):
            found.append(
                say(
                    "inconclusive",
                    f"option B: {asserted[0]} is in the block; no W6 answer to compare"
                    + ("" if ctx.knowledge.registrar_messages else f" ({_no_registrar(ctx)})"),
                    orig.forwarded,
                )
            )
        else:
            found.append(
                say(
                    "fail",
                    f"option B: {asserted[0]} is not an IMPU of block {block.block.wimpu}",
                    orig.forwarded,
                )
            )
    return say.summary(found)


def _assertable(ctx: Context, orig: _Origination) -> set[str | None]:
    """Option A, step 3 (standard P-CSCF procedures, TS 24.229 5.2.6.3.3 and RFC 3325): the identity
    the eP-CSCF may assert for the WIC's INVITE. The WIC's P-Preferred-Identity when it is one the
    WIC registered over its connection; else one it registered there (the WIC's own From is its
    claim, on which the text puts the "shall" on the WIC: open point 19). When the capture holds
    no registration over that connection: the P-Preferred-Identity, else the From."""
    assert orig.sent is not None
    registered = set(ctx.knowledge.registered_over(orig.sent.message.src, orig.sent.message.time))
    preferred = _asserted_preferred(orig.sent)
    if not registered:
        return {preferred or orig.identity}
    if preferred in registered:
        return {preferred}
    return set(registered)


def _asserted_preferred(hop: Hop | None) -> str | None:
    values = _uris(hop, "P-Preferred-Identity")
    return identity_key(values[0]) if values else None


def _from_line(hop: Hop) -> bytes | None:
    message = hop.message.message
    if message is None:
        return None
    line = next((h for h in message.headers if h.key == "from"), None)
    return line.to_bytes() if line is not None else None


@rule("ORIG_FROM_UNTOUCHED", "TR 23.701 5.2.2.5.3 step 2", "From is forwarded byte for byte")
def origination_keeps_from(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.3 step 2: "The external address include in the from field in not touched":
    the From header line the eP-CSCF forwards is the one the WIC sent, byte for byte."""
    say = _Say("ORIG_FROM_UNTOUCHED", flow)
    found = []
    for orig in _originations(flow):
        if orig.sent is None:
            what = "the WIC's INVITE"
            found.append(say("inconclusive", _absent(ctx, what, Role.WIC, Role.IWF, orig.node), orig.first))
            continue
        if orig.forwarded is None:
            if not _refused_locally(flow, orig):
                what = "the INVITE the eP-CSCF forwards to the S-CSCF"
                found.append(
                    say("inconclusive", _absent(ctx, what, Role.P_CSCF, Role.S_CSCF, orig.node), orig.first)
                )
            continue
        sent, forwarded = _from_line(orig.sent), _from_line(orig.forwarded)
        if sent == forwarded:
            found.append(say("pass", f"{(sent or b'').decode('utf-8', 'replace')} unchanged", orig.forwarded))
        else:
            found.append(say("fail", f"From changed: sent {sent!r}, forwarded {forwarded!r}", orig.forwarded))
    return say.summary(found)


def _block_registration(ctx: Context, node: str, block: Block, at: float) -> BlockRecord | None:
    """The latest registration of ``block`` by the eP-CSCF ``node`` that is live at ``at``."""
    wimpu = str(block.block.wimpu)
    live = [
        r for r in ctx.knowledge.blocks if r.ep_cscf == node and r.holds(wimpu) and r.since <= at < r.until
    ]
    return max(live, key=lambda r: r.since) if live else None


@rule(
    "ORIG_SERVICE_ROUTE",
    "TR 23.701 5.2.2.5.3 step 3; 5.2.2.5.1",
    "the forwarded request follows the block registration's Service-Route",
)
def origination_follows_service_route(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.3 step 3, "standard IMS session origination procedure", with 5.2.2.5.1 (the block
    is the IMS registration the WICs' sessions use): TS 24.229 5.2.6.3.3, the P-CSCF routes a
    UE's initial request by the Service-Route of the 200 OK to the last registration (RFC 3608
    6), and a Route the UE preloaded that differs from it is replaced (or the request is refused
    with 400, then nothing is forwarded and nothing is judged here). The Route of the request the
    eP-CSCF forwards to the S-CSCF is that Service-Route, entry for entry, and a request it sends
    on to any other node (past the S-CSCF) fails; ``inconclusive`` when the capture lacks the 200
    OK to the eP-CSCF's registration of the WIC's block."""
    say = _Say("ORIG_SERVICE_ROUTE", flow)
    found = []
    for orig in _originations(flow):
        if orig.forwarded is None:
            astray = _caused(flow, orig.sent, Role.P_CSCF) if orig.sent is not None else []
            if astray:  # sent on, but past the S-CSCF the Service-Route names
                detail = f"sent to {astray[0].dst.name}, not to the S-CSCF by the Service-Route"
                found.append(say("fail", detail, astray[0]))
            continue
        block = block_for(ctx, orig.node, orig.identity)
        if block is None or orig.node is None:
            found.append(
                say("inconclusive", f"the block of {orig.identity} at {orig.node} is unknown (PIXIT)")
            )
            continue
        registration = _block_registration(ctx, orig.node, block, orig.forwarded.message.time)
        if registration is None or not registration.service_route:
            what = f"a 200 OK with a Service-Route to {orig.node}'s registration of {block.block.wimpu}"
            found.append(say("inconclusive", f"{what} is not in the capture", orig.forwarded))
            continue
        route, wanted = _uris(orig.forwarded, "Route"), list(registration.service_route)
        if route == wanted:
            detail = f"Route {', '.join(route)}: the Service-Route of frame {registration.frame}"
            found.append(say("pass", detail, orig.forwarded))
        else:
            shown = route if route is not None else "unparsable"
            detail = f"Route {shown}, expected the Service-Route {wanted} (frame {registration.frame})"
            found.append(say("fail", detail, orig.forwarded))
    return say.summary(found)


def _origination_window(flow: Flow, ctx: Context, option: str) -> list[tuple[_Origination, Block]]:
    """The sessions originated in an option whose two INVITEs are both in the capture (step 2 and
    5.2.2.3.2 speak of sessions: a MESSAGE is not judged here)."""
    chosen = []
    for orig in _originations(flow, ("INVITE",)):
        block = block_for(ctx, orig.node, orig.identity)
        if block is None or block.block.option != option or orig.forwarded is None:
            continue
        chosen.append((orig, block))
    return chosen


def _wic_invite_missing(say: _Say, ctx: Context, orig: _Origination) -> Finding:
    """Inconclusive: the forwarded INVITE is captured, the WIC's own is not (its leg is missing)."""
    why = _absent(ctx, "the WIC's INVITE", Role.WIC, Role.IWF, orig.node)
    return say("inconclusive", why, orig.forwarded)


@rule("ORIG_W6_OPTION_B", "TR 23.701 5.2.2.5.3 step 2; 5.2.2.3.2", "option B: W6 read before forwarding")
def origination_reads_w6(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.3: "if the eP-CSCF allocated the individual IMPU then the eP-CSCF shall
    first retrieve the registration context for the WIC from the wIMPU Registrar" (step 2):
    a W6 read naming the WIC between its INVITE and the forwarded one. The WIC is the identity
    in its From, or the one it registered over the same WebSocket connection: the text puts the
    "shall" on the From on the WIC (open point 19), so an eP-CSCF that looks the WIC up by what
    was registered over its connection retrieves the WIC's context as much as one that reads the
    From."""
    say = _Say("ORIG_W6_OPTION_B", flow)
    found = []
    for orig, _ in _origination_window(flow, ctx, "B"):
        assert orig.forwarded is not None
        if orig.sent is None:
            found.append(_wic_invite_missing(say, ctx, orig))
            continue
        window = _registrar(flow, "W6", orig.sent, orig.forwarded)
        registered = ctx.knowledge.registered_over(orig.sent.message.src, orig.sent.message.time)
        naming = _naming(window, _aliases(ctx, orig.identity, *registered))
        others = [h for h in window if h not in naming]
        what = "W6 read before the INVITE goes on"
        unanswered = _unretrieved(flow, _reads(naming), orig.forwarded)
        if unanswered is not None:
            # "shall first retrieve ... Following that": a read the registrar never answered
            # (or refused) retrieved no context, whatever the INVITE then asserts.
            detail = (
                f"{what}: the INVITE went on (frame {orig.forwarded.message.frame}) with no answer to the"
                f" W6 read of frame {unanswered.message.frame}: the registration context was not retrieved"
            )
            found.append(say("fail", detail, orig.forwarded))
            continue
        found.append(_query(say, ctx, "W6", _reads(naming), others, what, orig.forwarded))
    return say.summary(found)


@rule("ORIG_NO_W6_OPTION_A", "TR 23.701 5.2.2.5.3; 5.2.2.3.2", "option A: no W6 request for an origination")
def origination_option_a_without_w6(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.3 step 2 "is applicable only when the individual IMPU is allocated by the
    eP-CSCF"; 5.2.2.3.2: "If identities were not allocated by the eP-CSCF, standard
    originating IMS procedures apply": no W6 request between the WIC's INVITE and the
    forwarded one. The text does not forbid a W6 read there: that is the solution profile's
    choice (PROFILE_ORIG_OPTA_NO_W6), so a read gives ``deviation``, never ``fail``."""
    say = _Say("ORIG_NO_W6_OPTION_A", flow)
    found = []
    for orig, _ in _origination_window(flow, ctx, "A"):
        assert orig.forwarded is not None
        if orig.sent is None:
            found.append(_wic_invite_missing(say, ctx, orig))
            continue
        window = _registrar(flow, "W6", orig.sent, orig.forwarded)
        named = _naming(window, _aliases(ctx, orig.identity, *_asserted(orig.forwarded)))
        if named:
            info = named[0].message.http
            assert info is not None
            detail = f"option A origination queried W6: {info.method} {info.path}"
            found.append(say.profile(ctx, "PROFILE_ORIG_OPTA_NO_W6", detail, named[0]))
        elif window:
            found.append(say("inconclusive", f"{len(window)} W6 request(s) in between name other identities"))
        elif (why := _registrar_unseen(ctx)) is not None:
            found.append(say("inconclusive", why))
        else:
            found.append(
                say("pass", "no W6 request between the WIC's INVITE and the forwarded one", orig.forwarded)
            )
    return say.summary(found)


# ----- a WIC's requests in its dialogs --------------------------------------------------------


def _in_dialog(flow: Flow, to: Role) -> list[Hop]:
    """The requests in a dialog (a To tag) sent to a node of role ``to``, retransmissions left out.
    A CANCEL is left out (RFC 3261 9.1: it follows the INVITE it cancels, not a route set); an ACK
    is kept (that of a 2xx is end to end; that of a non-2xx is hop by hop, and a stateful proxy
    sends none on, so the rules judge only what was sent on)."""
    seen: set[tuple[str, str, str]] = set()
    found = []
    for hop in flow.hops:
        request = hop.request
        if request is None or hop.method == "CANCEL" or hop.dst.role is not to:
            continue
        try:
            if request.to.tag is None:
                continue
        except SipError:
            continue
        key = (hop.leg, hop.cseq, str(request.branch))
        if key not in seen:
            seen.add(key)
            found.append(hop)
    return found


def _contact(hop: Hop) -> str | None:
    uris = _uris(hop, "Contact")
    return uris[0] if uris else None


def _to_tag(hop: Hop) -> str | None:
    message = hop.request or hop.response
    try:
        return message.to.tag if message is not None else None
    except SipError:
        return None


def _next_hop_past(flow: Flow, sent: Hop) -> str | None:
    """The next hop past the eP-CSCF of the dialog of the WIC's in-dialog request ``sent``: the
    first entry of the dialog's route set past the eP-CSCF's own entries, or, with none, the remote
    target (RFC 3261 12.1.1 for the WIC as the callee, 12.1.2 as the caller, 12.2.1.1); None when the
    dialog's set-up is not in the capture. The eP-CSCF's own entries are those it added: for a WIC
    callee, the Record-Route of the INVITE the eP-CSCF delivered to that WIC less that of the INVITE
    it received; for a WIC caller, those of the INVITE it sent on less those of the WIC's, the
    Record-Route read from the 2xx of the dialog the request names (its To tag: with forking,
    each branch's 2xx is a dialog of its own, RFC 3261 13.2.2.4)."""
    node, wic = sent.dst.node, sent.message.src
    for hop in flow.hops:
        if hop.method != "INVITE" or not _initial(hop) or hop.message.index > sent.message.index:
            continue
        if hop.src.role is Role.IWF and hop.src.node == node and hop.message.dst == wic:
            received = [
                h
                for h in flow.hops
                if h.method == "INVITE"
                and _initial(h)
                and h.cseq == hop.cseq
                and h.dst.role is Role.P_CSCF
                and h.dst.node == node
                and h.message.index < hop.message.index
            ]
            if not received:
                return None
            route = _uris(received[-1], "Record-Route") or []
            return route[0] if route else _contact(received[-1])
        if hop.dst.role is Role.IWF and hop.dst.node == node and hop.message.src == wic:
            onward = _caused(flow, hop, Role.P_CSCF)
            tag = _to_tag(sent)
            ok = next(
                (
                    r
                    for o in onward
                    for r in _responses(flow, o)
                    if r.response and 200 <= r.response.status < 300 and _to_tag(r) == tag
                ),
                None,
            )
            if ok is None:
                continue
            own = len(_uris(onward[0], "Record-Route") or []) - len(_uris(hop, "Record-Route") or [])
            route = list(reversed(_uris(ok, "Record-Route") or []))[max(own, 0) :]
            return route[0] if route else _contact(ok)
    return None


def _uri_key(uri: str) -> tuple[object, ...] | None:
    """A URI in the form RFC 3261 19.1.4 compares: scheme and host without case, the user as
    written, the port as written (a default port written is not the same URI), the parameters in
    any order, their names and values without case; None when it does not parse."""
    try:
        parsed = parse_uri(uri)
        params = parse_params(str(parsed.parameters or ""))
    except ValueError:
        return None
    return (
        str(parsed.scheme).lower(),
        parsed.user,
        str(parsed.host).lower(),
        parsed.port,
        frozenset((name.lower(), (value or "").lower()) for name, value in params),
    )


def _same_uri(a: str, b: str) -> bool:
    key = _uri_key(a)
    return key is not None and key == _uri_key(b)


@rule(
    "ORIG_IN_DIALOG_ROUTE_SET",
    "TR 23.701 5.2.2.5.3 step 3; 5.2.2.3.2",
    "a WIC's in-dialog request goes on to the next hop of its dialog's route set",
)
def in_dialog_follows_route_set(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.3 step 3 with 5.2.2.3.2: a request a WIC sends in one of its dialogs that the eP-CSCF
    sends on goes to the next hop of the dialog's route set past the eP-CSCF (the first Route value
    of the request sent on, or with none its Request-URI, is the route set's first entry past the
    eP-CSCF, or with none the remote target), not to one the WIC's own Route names around the
    S-CSCF. The solution profile's choice (PROFILE_SEC_IN_DIALOG_ROUTE_SET, "to the next hop of its
    route set; anything else is 403"): the text's step 3 is "standard IMS session origination
    procedure", and which check TS 24.229's P-CSCF makes of a UE's Route in a dialog (a 403, or the
    Route rebuilt from the stored route set) is not read from the text here (open point 26), so a
    request sent elsewhere gives ``deviation``, never ``fail``. A request the eP-CSCF refused is not
    judged here; ``inconclusive`` when the dialog's set-up is not in the capture."""
    say = _Say("ORIG_IN_DIALOG_ROUTE_SET", flow)
    found = []
    for sent in _in_dialog(flow, Role.IWF):
        onward = _caused(flow, sent, Role.P_CSCF)
        if not onward:
            continue
        wanted = _next_hop_past(flow, sent)
        if wanted is None:
            what = f"the set-up of the dialog of the {sent.method}"
            found.append(say("inconclusive", f"{what} is not in the capture"))
            continue
        request = onward[0].request
        assert request is not None
        route = _uris(onward[0], "Route")
        got = (route[0] if route else request.uri) if route is not None else None
        if got is not None and _same_uri(got, wanted):
            detail = f"the {sent.method} goes on to {got}, the next hop of the dialog's route set"
            found.append(say("pass", detail, onward[0]))
        else:
            shown = got if got is not None else "a Route that does not parse"
            detail = f"the {sent.method} went on to {shown}, not to {wanted}, the route set's next hop"
            found.append(say.profile(ctx, "PROFILE_SEC_IN_DIALOG_ROUTE_SET", detail, onward[0]))
    return say.summary(found)


DIALOG_ONLY_METHODS = frozenset({"BYE", "INFO", "UPDATE", "PRACK"})
"""Methods that exist only in a dialog (RFC 3261 15.1.1 "A UAC MUST NOT send a BYE outside of a dialog",
RFC 6086 4.2 for INFO, RFC 3311 5.1 for UPDATE, RFC 3262 4 for PRACK): without a To tag such a request
names no dialog at all."""


@rule(
    "ORIG_DIALOG_METHOD_REFUSED",
    "TR 23.701 5.2.2.5.3 step 3; 5.2.2.3.2",
    "a BYE, INFO, UPDATE or PRACK a WIC sends in no dialog goes no further than the eP-CSCF",
)
def dialog_method_refused(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.3.2 ("The eP-CSCF shall perform the WIC authorization at WIC registration") with 5.2.2.5.3
    step 3: a request of a method that exists only in a dialog (:data:`DIALOG_ONLY_METHODS`) that a
    WIC sends without a To tag is in no dialog the eP-CSCF record-routed on the WIC's WebSocket. The
    solution profile relays a WIC's request in a dialog only on such a dialog, "anything else is 403"
    (PROFILE_SEC_DIALOG_METHODS): the eP-CSCF answers it with a final non-2xx and sends nothing on.
    RFC 3261 16 lets a proxy forward any request (the UAS answers 481, RFC 3261 15.1.2), so a
    request sent on, or answered 2xx, gives ``deviation``, never ``fail``; ``inconclusive`` when the
    eP-CSCF's answer is not in the capture, or when "sent on nowhere" cannot be told: no message of
    the eP-CSCF to the S-CSCF in the capture, or a TLS connection at the eP-CSCF unreadable. The rule
    follows the request within its Call-ID: an eP-CSCF that sent it on under another (a B2BUA) is not
    seen. Retransmissions are judged once."""
    say = _Say("ORIG_DIALOG_METHOD_REFUSED", flow)
    found = []
    seen: set[tuple[str, str]] = set()
    for hop in flow.hops:
        request = hop.request
        if request is None or hop.method not in DIALOG_ONLY_METHODS or hop.dst.role is not Role.IWF:
            continue
        try:
            if request.to.tag is not None or (hop.cseq, str(request.branch)) in seen:
                continue
        except SipError:
            continue
        seen.add((hop.cseq, str(request.branch)))
        onward = _caused(flow, hop, Role.P_CSCF)
        answer = _final(flow, hop)
        status = answer.response.status if answer is not None and answer.response is not None else None
        if onward:
            detail = (
                f"the eP-CSCF sent the {hop.method} that names no dialog (no To tag) on to "
                f"{onward[0].dst.name}, as a new request"
            )
            found.append(say.profile(ctx, "PROFILE_SEC_DIALOG_METHODS", detail, onward[0]))
        elif status is None:
            missing = f"the eP-CSCF's answer to the {hop.method} is not in the capture"
            found.append(say("inconclusive", missing, hop))
        elif 200 <= status < 300:
            detail = f"the eP-CSCF accepted ({status}) the {hop.method} that names no dialog"
            found.append(say.profile(ctx, "PROFILE_SEC_DIALOG_METHODS", detail, answer))
        elif not ctx.knowledge.seen(Role.P_CSCF, Role.S_CSCF) or ctx.knowledge.opaque_at(hop.dst.node):
            what = f"a {hop.method} the eP-CSCF may have sent on"
            reason = _absent(ctx, what, Role.P_CSCF, Role.S_CSCF, hop.dst.node)
            found.append(say("inconclusive", reason, answer))
        else:
            detail = f"the {hop.method} that names no dialog is refused ({status}) and sent on nowhere"
            found.append(say("pass", detail, answer))
    return say.summary(found)
