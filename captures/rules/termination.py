"""The rules of session termination: TR 23.701 5.2.2.5.4 (steps 1-5), with 5.2.2.3.2-5.2.2.3.3:
the I-CSCF's W7 check, the eP-CSCF's W6 read, forking, CANCEL and Timer C."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections.abc import Iterable, Sequence

from reference.sip.errors import SipError
from reference.sip.grammar import parse_params, split_commas

from ..flows import (
    Flow,
    Hop,
    Role,
    identity_key,
)
from ..model import TcpConnection
from .core import (
    Context,
    Finding,
    _absent,
    _aliases,
    _answer,
    _caused,
    _domain,
    _final,
    _identities_in_response,
    _json,
    _naming,
    _query,
    _reads,
    _registrar,
    _registrar_unseen,
    _requests,
    _responses,
    _retrieved,
    _Say,
    _unretrieved,
    rule,
)
from .origination import _in_dialog, _same_uri, _uri_key, _uris

# ----- 5.2.2.5.4 termination ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _AtIcscf:
    """An INVITE that arrived at the I-CSCF, what the I-CSCF did with it, and its W7 window."""

    arrived: Hop
    called: str | None
    webrtc: bool
    forwarded: Hop | None
    final: Hop | None

    @property
    def end(self) -> Hop | None:
        """The first thing the I-CSCF sent for it: the forwarded INVITE or its final answer."""
        sent = [h for h in (self.forwarded, self.final) if h is not None]
        return min(sent, key=lambda h: h.message.index) if sent else None


def _at_icscf(flow: Flow, ctx: Context) -> list[_AtIcscf]:
    found = []
    for hop in _requests(flow, "INVITE", dst=Role.I_CSCF):
        called = identity_key(hop.request.uri) if hop.request else None
        onward = _caused(flow, hop, Role.I_CSCF)
        final = _final(flow, hop)
        if final is not None and final.response is not None and final.response.status < 300 and onward:
            final = None  # a 2xx relayed from downstream: the forward is what the I-CSCF did
        webrtc = _domain(called) in ctx.webrtc_domains
        found.append(_AtIcscf(hop, called, webrtc, onward[0] if onward else None, final))
    return found


def _w7(flow: Flow, ctx: Context, at: _AtIcscf) -> tuple[list[Hop], list[Hop]]:
    """(W7 requests naming the called identity, all W7 requests) between arrival and end."""
    window = _registrar(flow, "W7", at.arrived, at.end)
    return _naming(window, _aliases(ctx, at.called)), window


@rule(
    "TERM_W7_WEBRTC", "TR 23.701 5.2.2.5.4 steps 1-2; 5.2.2.3.3", "the I-CSCF queries W7 for a webRTC domain"
)
def termination_queries_w7(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 step 2: "The I-CSCF validates through the interaction with the wIMPU
    registrar if the called webRTC user is registered" before it routes or rejects the
    session (5.2.2.3.3 "shall initially query"); step 1: a webRTC user is one of the
    configured domains (the PIXIT's blocks and external domains)."""
    say = _Say("TERM_W7_WEBRTC", flow)
    found = []
    for at in _at_icscf(flow, ctx):
        if not ctx.blocks:
            found.append(
                say("inconclusive", "the webRTC domains are unknown: the PIXIT gives no blocks", at.arrived)
            )
            continue
        if not at.webrtc:
            continue
        if at.end is None:
            found.append(
                say(
                    "inconclusive", "the I-CSCF neither forwarded nor answered within the capture", at.arrived
                )
            )
            continue
        named, window = _w7(flow, ctx, at)
        what = f"W7 query for {at.called} before the I-CSCF routes it"
        found.append(_query(say, ctx, "W7", named, [h for h in window if h not in named], what, at.end))
    return say.summary(found)


@rule("TERM_NO_W7_OTHER", "TR 23.701 5.2.2.5.4; 5.2.2.3.3", "no W7 query for other domains")
def termination_other_domain_without_w7(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4: the additional step "shall be performed by the I-CSCF based on configured
    domains associated with the called individual IMPU"; 5.2.2.3.3: "Not all I-CSCFs have
    to enhanced": a session for a domain that is not a webRTC domain gets no W7 query."""
    say = _Say("TERM_NO_W7_OTHER", flow)
    found = []
    for at in _at_icscf(flow, ctx):
        if not ctx.blocks or at.webrtc:
            continue
        named, window = _w7(flow, ctx, at)
        if named:
            found.append(say("fail", f"the I-CSCF queried W7 for {at.called}, not a webRTC domain", named[0]))
        elif window:
            found.append(say("inconclusive", f"{len(window)} W7 request(s) in between name other identities"))
        elif (why := _registrar_unseen(ctx)) is not None:
            found.append(say("inconclusive", why, at.arrived))
        else:
            found.append(say("pass", f"no W7 query for {at.called}", at.end or at.arrived))
    return say.summary(found)


def _w7_registered(flow: Flow, ctx: Context, at: _AtIcscf) -> tuple[bool | None, Hop | None]:
    named, _ = _w7(flow, ctx, at)
    for asked in named:
        answer = _answer(flow, asked)
        data = _json(answer.message.http) if answer else None
        if isinstance(data, dict) and isinstance(data.get("registered"), bool):
            return data["registered"], answer
    return None, None


@rule(
    "TERM_UNREGISTERED_REJECTED",
    "TR 23.701 5.2.2.5.4; 5.2.2.3.3",
    "an unregistered webRTC user is rejected, nothing forwarded",
)
def termination_rejects_unregistered(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4: "If the user is not registered, the I-CSCF shall reject the session with
    the appropriate code"; 5.2.2.3.3 "otherwise the session is rejected": nothing goes on to
    the S-CSCF (``fail`` otherwise). Which code is "appropriate" the text does not say: 480, or
    404 outside every block, is the solution profile's (PROFILE_TERM_REJECT_CODE), so another
    rejection gives ``deviation``."""
    say = _Say("TERM_UNREGISTERED_REJECTED", flow)
    found = []
    for at in _at_icscf(flow, ctx):
        registered, answer = _w7_registered(flow, ctx, at) if at.webrtc else (None, None)
        if registered is not False:
            continue
        if at.forwarded is not None:
            found.append(
                say("fail", "the I-CSCF forwarded a session for an unregistered webRTC user", at.forwarded)
            )
        elif at.final is None or at.final.response is None:
            found.append(say("inconclusive", "the I-CSCF's answer is not in the capture", answer))
        elif at.final.response.status in (404, 480):
            found.append(
                say("pass", f"rejected with {at.final.response.status}, nothing forwarded", at.final)
            )
        else:
            detail = f"rejected with {at.final.response.status}, not 480 or 404"
            found.append(say.profile(ctx, "PROFILE_TERM_REJECT_CODE", detail, at.final))
    return say.summary(found)


@rule(
    "TERM_REGISTERED_ROUTED", "TR 23.701 5.2.2.5.4 steps 2-3", "a registered webRTC user's session is routed"
)
def termination_routes_registered(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 step 3: "The I-CSCF then performs standard IMS session termination
    procedure"; 5.2.2.3.3: "If the called webRTC user is registered, the I-CSCF shall
    proceed": the INVITE goes on towards the S-CSCF."""
    say = _Say("TERM_REGISTERED_ROUTED", flow)
    found = []
    for at in _at_icscf(flow, ctx):
        registered, answer = _w7_registered(flow, ctx, at) if at.webrtc else (None, None)
        if registered is not True:
            continue
        if at.forwarded is not None:
            found.append(say("pass", f"routed on to the {at.forwarded.dst.name}", at.forwarded))
        elif at.final is not None:
            found.append(say("fail", "the I-CSCF rejected a registered webRTC user", at.final))
        else:
            what = "the INVITE the I-CSCF routes on"
            found.append(say("inconclusive", _absent(ctx, what, Role.I_CSCF, Role.S_CSCF), answer))
    return say.summary(found)


@dataclasses.dataclass(frozen=True, slots=True)
class _AtEpCscf:
    """A terminating INVITE at the eP-CSCF and the branches it forked to WICs."""

    arrived: Hop
    called: set[str]
    branches: list[Hop]
    final: Hop | None

    @property
    def end(self) -> Hop | None:
        sent = [h for h in (*self.branches[:1], self.final) if h is not None]
        return min(sent, key=lambda h: h.message.index) if sent else None


def _at_ep_cscf(flow: Flow, ctx: Context) -> list[_AtEpCscf]:
    found = []
    for hop in _requests(flow, "INVITE", src=Role.S_CSCF, dst=Role.P_CSCF):
        request = hop.request
        assert request is not None
        try:
            called = [a.uri for a in request.addresses("P-Called-Party-ID")] or [request.uri]
        except SipError:
            called = [request.uri]
        branches: dict[str, Hop] = {}
        for branch in _caused(flow, hop, Role.IWF, Role.WIC):
            branches.setdefault(branch.dst.name, branch)
        final = _final(flow, hop)
        found.append(_AtEpCscf(hop, _aliases(ctx, *called), list(branches.values()), final))
    return found


@rule(
    "TERM_CALLED_PARTY",
    "TR 23.701 5.2.2.5.4 step 5; 5.2.2.1",
    "the INVITE delivered to a WIC names the identity it registered with (profile)",
)
def termination_names_the_registered_identity(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 step 5: "The eP-CSCF delivers the session to the WIC associated with the
    individual IMPU"; the text names no header. That each INVITE the eP-CSCF delivers to a WIC
    carries in P-Called-Party-ID (RFC 3455 4.2) the identity that WIC registered with over its
    connection (option A its IMPU; option B its external identity, 5.2.2.1) is the solution
    profile's choice (PROFILE_TERM_PCPID): another value, or none, gives ``deviation``, never
    ``fail``. Inconclusive when the capture holds no registration over the WIC's connection."""
    say = _Say("TERM_CALLED_PARTY", flow)
    found = []
    for at in _at_ep_cscf(flow, ctx):
        for branch in at.branches:
            registered = ctx.knowledge.registered_over(branch.message.dst, branch.message.time)
            if not registered:
                why = f"no registration over the connection of {branch.dst.name} is in the capture"
                found.append(say("inconclusive", why, branch))
                continue
            values = _uris(branch, "P-Called-Party-ID") or []
            if values and identity_key(values[0]) in registered:
                found.append(
                    say("pass", f"P-Called-Party-ID {values[0]}, registered by {branch.dst.name}", branch)
                )
                continue
            detail = (
                f"P-Called-Party-ID {values[0] if values else 'absent'} at {branch.dst.name}, "
                f"which registered {', '.join(registered)}"
            )
            found.append(say.profile(ctx, "PROFILE_TERM_PCPID", detail, branch))
    return say.summary(found)


@rule(
    "TERM_RESPONSE_ASSERTED",
    "TR 23.701 5.2.2.3.2; 5.2.2.5.4 step 5",
    "a WIC's answer enters the core asserting no identity the WIC wrote",
)
def termination_answer_keeps_the_wics_claim_out(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.3.2: "The eP-CSCF is a standard eP-CSCF", and the WIC to which it delivers the session
    (5.2.2.5.4 step 5) is outside the IMS trust domain, authorised at registration for the identity it
    registered only. A standard P-CSCF (TS 24.229 5.2.6.4; RFC 3325 9.1: an assertion received from
    outside the trust domain is removed or replaced) does not let an identity the WIC wrote itself
    into its answer (P-Asserted-Identity or P-Preferred-Identity) go into the core as asserted. So in
    each 1xx/2xx of a terminating INVITE that the eP-CSCF sends to the S-CSCF, an asserted identity
    that the WIC wrote into its own 1xx/2xx and that is not the called identity (the IMPU the S-CSCF
    asked for, or its alias) is ``fail``. What the eP-CSCF asserts otherwise, if anything, the text
    does not say: ``pass``. Inconclusive when an asserted identity is not the called one and the
    WIC's answers are not in the capture (whether the WIC wrote it cannot be told), or when a WIC's
    1xx/2xx is on its leg and none reached the S-CSCF."""
    say = _Say("TERM_RESPONSE_ASSERTED", flow)
    found = []
    for at in _at_ep_cscf(flow, ctx):
        answers = [
            h
            for branch in at.branches
            for h in _responses(flow, branch)
            if h.response is not None and 100 < h.response.status < 300
        ]
        relayed = [h for h in _responses(flow, at.arrived) if h.response and 100 < h.response.status < 300]
        if not relayed:
            if answers:
                what = "the WIC's provisional or 2xx response, relayed"
                found.append(say("inconclusive", _absent(ctx, what, Role.P_CSCF, Role.S_CSCF), answers[0]))
            continue
        written = {
            _claim_key(value)
            for h in answers
            for header in ("P-Asserted-Identity", "P-Preferred-Identity")
            for value in _identities_in_response(h, header)
        }
        for hop in relayed:
            asserted = _identities_in_response(hop, "P-Asserted-Identity")
            other = [a for a in asserted if _claim_key(a) not in at.called]
            status = hop.response.status if hop.response else 0
            claimed = [a for a in other if _claim_key(a) in written]
            if claimed:
                detail = f"the {status} asserts {', '.join(claimed)}, which the WIC wrote into its answer"
                found.append(say("fail", detail, hop))
            elif other and not answers:
                what = f"the {status} asserts {', '.join(other)}; the WIC's own answer is not in the capture"
                found.append(say("inconclusive", what, hop))
            else:
                what = ", ".join(asserted) if asserted else "nothing"
                found.append(say("pass", f"the {status} asserts {what}, nothing the WIC wrote", hop))
    return say.summary(found)


def _claim_key(uri: str) -> str:
    """An asserted or claimed identity, compared as :func:`identity_key` compares a SIP URI (a tel
    URI, or one that does not parse, by its lower-case text)."""
    return identity_key(uri) or uri.strip().lower()


@rule("TERM_W6_CONTACTS", "TR 23.701 5.2.2.5.4 step 4", "the eP-CSCF reads the contacts over W6")
def termination_reads_contacts(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 step 4: "The eP-CSCF fetches the contact information for the individual
    IMPU from the wIMPU registrar" before it delivers the session (step 5): a W6 read naming the
    called IMPU, answered (2xx, or 404) before the first delivery. A session answered without
    delivery is judged only when a read is on the wire."""
    say = _Say("TERM_W6_CONTACTS", flow)
    found = []
    for at in _at_ep_cscf(flow, ctx):
        if at.end is None:
            found.append(
                say("inconclusive", "the eP-CSCF neither forked nor answered within the capture", at.arrived)
            )
            continue
        window = _registrar(flow, "W6", at.arrived, at.end)
        naming = _naming(window, at.called)
        others = [h for h in window if h not in naming]
        what = "W6 read of the called IMPU's contacts before delivery"
        if not at.branches and not _reads(naming):
            # answered without delivering and without a read on the wire: step 4 is at stake only
            # before step 5 delivers (a registrar that never completed the TLS handshake of a new
            # connection leaves no W6 request to see; a wrong refusal is TERM_FORK_ALL's)
            continue
        unanswered = _unretrieved(flow, _reads(naming), at.branches[0]) if at.branches else None
        if unanswered is not None:
            # Step 4 "fetches the contact information" before step 5 delivers: a read the
            # registrar never answered (or refused) fetched nothing to deliver to.
            detail = (
                f"{what}: the INVITE was delivered (frame {at.branches[0].message.frame}) with no answer"
                f" to the W6 read of frame {unanswered.message.frame}: no contact information was fetched"
            )
            found.append(say("fail", detail, at.branches[0]))
            continue
        found.append(_query(say, ctx, "W6", _reads(naming), others, what, at.end))
    return say.summary(found)


def _expected_contacts(flow: Flow, ctx: Context, at: _AtEpCscf) -> tuple[dict[str, str], str] | None:
    """Contact URI -> WIC end name (or '') the INVITE must reach, and where that list comes
    from: the registrar's W6 answer when it is in the capture (what the eP-CSCF was told),
    else the registrations the capture shows live; None when neither is known."""
    reads = _reads(_naming(_registrar(flow, "W6", at.arrived, at.end), at.called))
    fetched = False
    for asked in reads:
        answer = _answer(flow, asked)
        if answer is None or answer.message.http is None:
            continue
        source = f"the W6 answer (frame {answer.message.frame})"
        if answer.message.http.status == 404:
            return {}, source
        fetched = fetched or _retrieved(answer)
        data = _json(answer.message.http)
        if isinstance(data, dict) and isinstance(data.get("contacts"), list):
            return {
                str(c.get("uri")): "" for c in data["contacts"] if isinstance(c, dict) and c.get("uri")
            }, source
    if reads and not fetched:
        # the registrar never answered the eP-CSCF's read (or refused it): it fetched no contact
        # to fork to (step 4); whether it delivered anyway is TERM_W6_CONTACTS's
        return {}, f"the W6 read of frame {reads[0].message.frame}, which got no 2xx answer,"
    silent = _silent_registrar(ctx, at)
    if not reads and silent is not None:
        # no read on the wire because none got that far: a connection to the registrar, opened while
        # the eP-CSCF held the session, got not a byte back (not even its TLS handshake), so no
        # contact could be fetched (found on Kamailio, whose W6 client opens a connection per read)
        return {}, f"the wIMPU Registrar, which answered nothing on the connection of frame {silent.frame},"
    records = ctx.knowledge.contacts_of(at.called, at.arrived.message.time)
    if records:
        return {r.uri: f"WIC@{r.wic[1]}" for r in records}, "the registrations in the capture"
    return None


def _silent_registrar(ctx: Context, at: _AtEpCscf) -> TcpConnection | None:
    """The first TCP connection to the wIMPU Registrar opened after the INVITE reached the
    eP-CSCF that got not a byte back before the eP-CSCF forked or answered (else the flow's end)."""
    if ctx.ends is None:
        return None
    decided = at.end
    until = decided.message.time if decided is not None else float("inf")
    for connection in ctx.knowledge.unanswered(at.arrived.message.time, until):
        server = ctx.ends.listening(connection.server)
        if server is not None and server.role is Role.REGISTRAR:
            return connection
    return None


def _gone(ctx: Context, at: _AtEpCscf, uris: Iterable[str]) -> dict[str, TcpConnection]:
    """Of the contact ``uris``, those registered (in the capture) over a WebSocket that had closed
    before the INVITE reached the eP-CSCF, with that connection: nothing can be delivered over it
    any more (RFC 7118 5; the eP-CSCF cannot open a connection to a WIC)."""
    arrived = at.arrived.message.time
    wics = {r.uri: r.wic for r in ctx.knowledge.contacts_of(at.called, arrived)}
    gone = {}
    for uri in uris:
        closed = ctx.knowledge.closed_connection(wics[uri], arrived) if uri in wics else None
        if closed is not None:
            gone[uri] = closed
    return gone


@rule(
    "TERM_FORK_ALL", "TR 23.701 5.2.2.5.4 step 5; 5.2.2.3.2", "the eP-CSCF forks to every registered contact"
)
def termination_forks_to_all(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4: "the eP-CSCF shall fork the sessions to all contacts associated with a
    called IMPU" (step 5 delivers it; 5.2.2.3.2 "shall support forking"): every contact
    registered for the IMPU, over the WebSocket connection it registered on, gets the INVITE; not
    one whose WebSocket had closed before the session arrived (nothing can reach it over that
    connection any more, RFC 7118 5), and none when the registrar gave no contact (step 4)."""
    say = _Say("TERM_FORK_ALL", flow)
    found = []
    for at in _at_ep_cscf(flow, ctx):
        node = at.arrived.dst.node
        expected = _expected_contacts(flow, ctx, at)
        if expected is None:
            # Unknown contacts: inconclusive when the INVITE was forked or when a TLS
            # connection that may hold them (W6 answer, WIC registration) is opaque.
            if at.branches or ctx.knowledge.opaque_at(node) or ctx.knowledge.opaque_at():
                what = f"the contacts of {', '.join(sorted(at.called))} (W6 answer or registration)"
                found.append(say("inconclusive", _absent(ctx, what, Role.WIC, Role.IWF, node), at.arrived))
            continue
        contacts, source = expected
        if not contacts:
            continue
        reached_uris = {b.request.uri for b in at.branches if b.request is not None}
        reached_ends = {b.dst.name for b in at.branches}
        missing = [
            u for u, wic in contacts.items() if u not in reached_uris and (not wic or wic not in reached_ends)
        ]
        gone = _gone(ctx, at, missing)
        missing = [u for u in missing if u not in gone]
        unreadable = ctx.knowledge.opaque_at(node) or not ctx.knowledge.seen(Role.IWF, Role.WIC)
        if missing and unreadable:
            what = f"the INVITE to {missing[0]}"
            found.append(say("inconclusive", _absent(ctx, what, Role.IWF, Role.WIC, node), at.arrived))
        elif missing:
            detail = f"{len(missing)} of {len(contacts)} contacts got no INVITE: {missing[0]}"
            found.append(say("fail", detail, at.arrived))
        else:
            names = ", ".join(sorted(reached_ends))
            closed = "".join(
                f"; not to {u}, whose WebSocket (the connection of frame {c.frame}) had closed"
                for u, c in gone.items()
            )
            live = len(contacts) - len(gone)
            what = f"forked to all {live} contact(s) of {source}: {names}{closed}"
            found.append(say("pass", what, at.arrived))
    return say.summary(found)


@rule(
    "TERM_ONLY_REGISTERED",
    "TR 23.701 5.2.2.5.4 steps 4-5",
    "the eP-CSCF delivers only to contacts of the called IMPU",
)
def termination_delivers_only_to_registered(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 step 4: "The eP-CSCF fetches the contact information for the individual IMPU
    from the wIMPU registrar"; step 5: it "delivers the session to the WIC associated with the
    individual IMPU". An INVITE to a WIC whose contact the W6 answer (else the registrations the
    capture shows live when the session arrived) does not list for the called IMPU went to a WIC
    not associated with it: one that de-registered meanwhile, or another user's. Matched as
    TERM_FORK_ALL matches: by Request-URI, or by the WIC's connection. A session the eP-CSCF
    answered without delivering it passes."""
    say = _Say("TERM_ONLY_REGISTERED", flow)
    found = []
    for at in _at_ep_cscf(flow, ctx):
        if not at.branches:
            if at.final is not None:
                found.append(say("pass", "the eP-CSCF answered and delivered it to no WIC", at.final))
            continue
        expected = _expected_contacts(flow, ctx, at)
        called = ", ".join(sorted(at.called))
        if expected is None:
            what = f"the contacts of {called} (W6 answer or registration)"
            found.append(say("inconclusive", _absent(ctx, what, Role.WIC, Role.IWF, at.arrived.dst.node)))
            continue
        contacts, source = expected
        ends = {wic for wic in contacts.values() if wic}
        extra = [
            b
            for b in at.branches
            if (b.request is None or b.request.uri not in contacts) and b.dst.name not in ends
        ]
        if extra:
            names = ", ".join(b.dst.name for b in extra)
            detail = f"{len(extra)} INVITE(s) to a WIC {source} does not list for {called}: {names}"
            found.append(say("fail", detail, extra[0]))
        else:
            found.append(say("pass", f"every INVITE went to a contact of {source}", at.branches[0]))
    return say.summary(found)


def _has_cause_200(hop: Hop) -> bool:
    """RFC 3326 2: a Reason value of protocol ``SIP`` with ``cause=200``, among the values of every
    Reason header field (a field may list several, comma-separated; the ``text`` is free)."""
    return has_sip_cause(hop.request.get_all("Reason") if hop.request is not None else [], "200")


def has_sip_cause(reasons: Iterable[str], cause: str) -> bool:
    """Whether the Reason header field values ``reasons`` hold protocol ``SIP`` with ``cause``
    (RFC 3326 2); a value that does not parse holds nothing."""
    for line in reasons:
        try:
            values = split_commas(line)
        except ValueError:
            continue
        for value in values:
            protocol, semi, params = value.partition(";")
            try:
                parsed = {name.lower(): value for name, value in parse_params(semi + params)}
            except ValueError:
                continue
            if protocol.strip().upper() == "SIP" and parsed.get("cause") == cause:
                return True
    return False


_EP_CSCF_SIDES = (Role.P_CSCF, Role.IWF)

TIMER_C_FLOOR = 180.0
'RFC 3261 16.6 item 11: Timer C "MUST be larger than 3 minutes" (16.7 step 2: also when it is reset).'

TIMER_C_GRACE = 10.0
"""Seconds of capture time, after the nodes' clock has passed the eP-CSCF's Timer C, within which its
CANCEL must be on the wire: the time a node takes to see a tester's jump of its clock (the
reference's timers re-read the clock every 0.5 s) and send the CANCEL, not a figure of the text."""


def _cseq_number(hop: Hop) -> str:
    return hop.cseq.split(" ", 1)[0]


def _call_id(hop: Hop) -> str | None:
    sip = hop.message.message
    return sip.get("Call-ID") if sip is not None else None


def _via_branch(hop: Hop) -> str | None:
    """The branch of the message's top Via: a branch's INVITE, its responses and its CANCEL share it
    (RFC 3261 8.1.3.3, 9.1)."""
    sip = hop.message.message
    try:
        return sip.branch if sip is not None else None
    except SipError:
        return None


def _ep_cscf_invite_branches(flow: Flow) -> list[Hop]:
    """The INVITEs an eP-CSCF sent on (to the IMS core or to a WIC), retransmissions left out."""
    seen: set[tuple[str, str, str]] = set()
    found = []
    for hop in flow.hops:
        if hop.method != "INVITE" or hop.src.role not in _EP_CSCF_SIDES or hop.request is None:
            continue
        key = (hop.leg, hop.cseq, str(_via_branch(hop) or ""))
        if key not in seen:
            seen.add(key)
            found.append(hop)
    return found


def _on_branch(flow: Flow, branch: Hop, method: str | None) -> list[Hop]:
    """What came back on ``branch`` (``method`` None: its responses) or went out on it (``method``:
    CANCEL), after it: the same leg, Call-ID and top Via branch."""
    via, call_id = _via_branch(branch), _call_id(branch)
    found = []
    for hop in flow.hops:
        if hop.message.index <= branch.message.index or _call_id(hop) != call_id or _via_branch(hop) != via:
            continue
        if method is None and hop.response is not None and hop.src.name == branch.dst.name:
            if hop.dst.name == branch.src.name and hop.cseq == branch.cseq:
                found.append(hop)
        elif method is not None and hop.method == method and hop.src.name == branch.src.name:
            if hop.dst.name == branch.dst.name:
                found.append(hop)
    return found


def _cause(flow: Flow, branch: Hop) -> Hop | None:
    """The request the eP-CSCF received that ``branch`` relays: the INVITE of the same Call-ID and
    CSeq that reached the same eP-CSCF before it."""
    return next(
        (
            h
            for h in reversed(flow.hops[: flow.hops.index(branch)])
            if h.method == "INVITE"
            and h.dst.node == branch.src.node
            and h.dst.role in _EP_CSCF_SIDES
            and _call_id(h) == _call_id(branch)
            and h.cseq == branch.cseq
        ),
        None,
    )


def _cancel_explained(flow: Flow, ctx: Context, branch: Hop, cancel: Hop) -> bool:
    """An eP-CSCF's CANCEL of ``branch`` that RFC 3261 asks for without Timer C: the sender of the
    INVITE it relays cancelled it (16.10), another branch of that INVITE answered 2xx (16.7 step
    10) or 6xx (16.7 step 5), or that sender's connection closed (its WebSocket gone: TS 24.229
    5.2.8.1 lets the P-CSCF release the session), before the CANCEL."""
    cause = _cause(flow, branch)
    if cause is None:
        return False
    siblings = [
        b
        for b in _ep_cscf_invite_branches(flow)
        if b is not branch and b.src.node == branch.src.node and _cause(flow, b) is cause
    ]
    answers = [r for b in siblings for r in _on_branch(flow, b, None)]
    for hop in flow.hops:
        if hop.message.index >= cancel.message.index:
            break
        if hop.method == "CANCEL" and hop.src.name == cause.src.name and hop.dst.node == branch.src.node:
            if _via_branch(hop) == _via_branch(cause):
                return True
    if any(
        r.message.index < cancel.message.index
        and r.response is not None
        and (200 <= r.response.status < 300 or r.response.status >= 600)
        for r in answers
    ):
        return True
    return ctx.knowledge.closed_connection(cause.message.src, cancel.message.time) is not None


@rule(
    "SESSION_TIMER_C",
    "TR 23.701 5.2.2.5.3 step 3; 5.2.2.5.4 step 5",
    "a ringing INVITE branch of the eP-CSCF is cancelled at its Timer C, never before 3 minutes",
)
def ep_cscf_timer_c(flow: Flow, ctx: Context) -> list[Finding]:
    """The eP-CSCF relays a session as a proxy of "the standard IMS session origination procedure"
    (5.2.2.5.3 step 3) and delivers it to the WIC, forking (5.2.2.5.4 step 5; 5.2.2.3.2): RFC 3261
    16.6 item 11 sets Timer C on each INVITE branch, "larger than 3 minutes", and 16.7 step 2 resets
    it at every provisional response "with status codes 101 to 199 inclusive"; when it fires on a
    branch that had a provisional response, "the proxy MUST generate a CANCEL request matching that
    transaction" (16.8). Judged on the nodes' clock (the tester's jumps counted), for each branch
    that had a provisional response (its CANCEL, responses and INVITE matched by their top Via
    branch, RFC 3261 9.1):

    - ``fail``: the eP-CSCF cancelled it of itself (no CANCEL from the sender of the INVITE it
      relays, no 2xx or 6xx of another branch of that INVITE, and that sender's connection still
      open before it: 16.10, 16.7 steps 5 and 10) less than 3 minutes after Timer C last started
      (the branch's last 101-199 response, else its INVITE);
    - with the eP-CSCF's Timer C known (``[timing] timer_c`` of the PIXIT, carried by the capture):
      ``fail`` when no final response and no CANCEL of the eP-CSCF ended the branch within
      :data:`TIMER_C_GRACE` seconds of capture time after the Timer C it declares had passed, the
      capture going on past that; a CANCEL that came, only later than that, is ``inconclusive``
      (RFC 3261 sets Timer C no upper bound: the PIXIT's figure is not the SUT's);
    - otherwise a CANCEL after 3 minutes is ``pass``.

    A branch that ended with a final response before Timer C gives no finding."""
    say = _Say("SESSION_TIMER_C", flow)
    knowledge, found = ctx.knowledge, []
    for branch in _ep_cscf_invite_branches(flow):
        responses = _on_branch(flow, branch, None)
        final = next((r for r in responses if r.response and r.response.status >= 200), None)
        cancels = _on_branch(flow, branch, "CANCEL")
        cancel = cancels[0] if cancels else None
        if cancel is not None and final is not None and final.message.index < cancel.message.index:
            cancel = None  # a CANCEL after the final response cancels nothing
        if cancel is not None and _cancel_explained(flow, ctx, branch, cancel):
            continue
        ended = min(
            (h for h in (cancel, final) if h is not None), key=lambda h: h.message.index, default=None
        )
        until = ended.message.index if ended is not None else math.inf
        provisional = [
            r for r in responses if r.response and r.response.status < 200 and r.message.index < until
        ]
        if not provisional:
            continue  # no provisional response: Timer B or the transport ends it (16.8 makes that a 408)
        reset = [r for r in provisional if r.response and r.response.status > 100]
        started = (reset[-1] if reset else branch).message.time
        late = None if ctx.timer_c is None else knowledge.lapse(started, ctx.timer_c) + TIMER_C_GRACE
        if ended is cancel and cancel is not None:
            rang_for = knowledge.elapsed(started, cancel.message.time)
            if rang_for <= TIMER_C_FLOOR:
                detail = (
                    f"the eP-CSCF cancelled {branch.dst.name}'s branch {rang_for:.0f} s of the nodes' clock "
                    "after Timer C started, with no CANCEL of the previous hop nor another branch's answer: "
                    "Timer C MUST be larger than 3 minutes (RFC 3261 16.6 item 11)"
                )
                found.append(say("fail", detail, cancel))
            elif late is not None and cancel.message.time > late:
                over = cancel.message.time - late
                detail = (
                    f"the eP-CSCF cancelled {branch.dst.name}'s branch {over:.1f} s of capture time later "
                    f"than the Timer C of {ctx.timer_c:.0f} s its PIXIT declares ([timing] timer_c) allows: "
                    "RFC 3261 sets Timer C no upper bound, the PIXIT's figure is not the SUT's"
                )
                found.append(say("inconclusive", detail, cancel))
            else:
                detail = (
                    f"{branch.dst.name}'s branch rang {rang_for:.0f} s of the nodes' clock and was "
                    "cancelled (Timer C)"
                )
                found.append(say("pass", detail, cancel))
            continue
        if late is None:
            continue
        if (ended is None and knowledge.seen_until > late) or (
            ended is not None and ended.message.time > late
        ):
            detail = (
                f"{branch.dst.name}'s branch rang past the Timer C of {ctx.timer_c:.0f} s of the nodes' "
                "clock the eP-CSCF's PIXIT declares ([timing] timer_c), and the eP-CSCF did not cancel it "
                "(RFC 3261 16.8)"
                + (
                    ""
                    if ended is None
                    else f"; it ended with {ended.response.status if ended.response else '?'}"
                )
            )
            found.append(say("fail", detail, (reset[-1] if reset else provisional[-1])))
    return say.summary(found)


@rule(
    "TERM_FORK_CANCEL",
    "TR 23.701 5.2.2.5.4; 5.2.2.3.2",
    "the first 2xx wins, the other branches are cancelled",
)
def termination_cancels_other_branches(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.3.2 "shall support forking", read with RFC 3261 16.7 step 10: once a branch
    answers 2xx, the eP-CSCF cancels every other branch still pending and never the one that
    answered (``fail`` otherwise). ``Reason: SIP;cause=200`` on those CANCELs (RFC 3326) is the
    solution profile's (PROFILE_FORK_CANCEL_REASON): a CANCEL without it gives ``deviation``."""
    say = _Say("TERM_FORK_CANCEL", flow)
    found = []
    for at in _at_ep_cscf(flow, ctx):
        if len(at.branches) < 2:
            continue
        answers = {b.dst.name: _responses(flow, b) for b in at.branches}
        wins = [r for rs in answers.values() for r in rs if r.response and 200 <= r.response.status < 300]
        if not wins:
            continue
        winner = min(wins, key=lambda h: h.message.index)
        cancels = [
            h for h in flow.hops if h.method == "CANCEL" and h.src.role is Role.IWF and h.dst.role is Role.WIC
        ]
        problem = deviation = None
        for branch in at.branches:
            mine = [c for c in cancels if c.dst.name == branch.dst.name]
            if branch.dst.name == winner.src.name:
                if mine:
                    problem = say("fail", "the branch that answered 2xx was cancelled", mine[0])
                continue
            finals = [r for r in answers[branch.dst.name] if r.response and r.response.status >= 200]
            if finals and finals[0].message.index < winner.message.index:
                continue  # that branch had ended before the 2xx
            later = [c for c in mine if c.message.index > winner.message.index]
            if not later:
                problem = problem or say("fail", f"{branch.dst.name} was not cancelled after the 2xx", branch)
            elif not _has_cause_200(later[0]):
                detail = "the CANCEL has no Reason: SIP;cause=200"
                deviation = deviation or say.profile(ctx, "PROFILE_FORK_CANCEL_REASON", detail, later[0])
        losers = len(at.branches) - 1
        found.append(
            problem
            or deviation
            or say("pass", f"{winner.src.name} answered first; {losers} other branch(es) cancelled", winner)
        )
    return say.summary(found)


# ----- a request in a dialog sent to the I-CSCF -------------------------------------------------


def _names(uri: str, endpoint: tuple[str, int]) -> bool | None:
    """Whether the URI names ``endpoint``: by an IP address, host and port (the default port of its
    scheme and transport when the URI gives none, RFC 3263); None when its host is a name, which the
    capture cannot resolve, or it does not parse."""
    key = _uri_key(uri)
    if key is None:
        return None
    scheme, _, host, port, params = key
    try:
        address = ipaddress.ip_address(str(host).strip("[]"))
        same = address == ipaddress.ip_address(endpoint[0].strip("[]"))
    except ValueError:
        return None
    secure = scheme == "sips" or ("transport", "tls") in params  # type: ignore[operator]
    return same and (port or (5061 if secure else 5060)) == endpoint[1]


def _same_route(got: Sequence[str], wanted: Sequence[str]) -> bool:
    return len(got) == len(wanted) and all(_same_uri(a, b) for a, b in zip(got, wanted, strict=True))


@rule(
    "TERM_ICSCF_IN_DIALOG_ROUTE",
    "TR 23.701 5.2.2.5.4; 5.2.2.3.3",
    "a request in a dialog sent to the I-CSCF goes on along its Route",
)
def icscf_in_dialog_follows_route(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 (the I-CSCF's terminating procedure is for initial requests; it record-routes
    nothing): a request in a dialog that a caller sends to the I-CSCF anyway (RFC 3261 8.1.2, one
    connection to the IMS entry point) with a Route naming nodes past it goes on with that Route,
    less only a first value that names the I-CSCF itself (RFC 3261 16.4), not with a value of
    another node removed, nor refused. A first value whose host is a name the capture cannot
    resolve may be either. The solution profile's choice (PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE: "goes
    to the next hop of its Route"); RFC 3261 16.6 item 7 lets a proxy's local policy send a request
    to another loose router, and the text says nothing of such requests, so another outcome gives
    ``deviation``, never ``fail``. A request whose Route names nothing past the I-CSCF is not judged
    (the profile refuses it with 403), nor an ACK the I-CSCF sent nothing on for (that of its own
    non-2xx answer is hop by hop)."""
    say = _Say("TERM_ICSCF_IN_DIALOG_ROUTE", flow)
    found = []
    for received in _in_dialog(flow, Role.I_CSCF):
        route = _uris(received, "Route")
        if not route:
            continue
        own = _names(route[0], received.message.dst)
        wanted = [route[1:]] if own else [route] if own is False else [route, route[1:]]
        if not any(wanted):
            continue
        onward = _caused(flow, received, Role.I_CSCF)
        if not onward:
            if received.method == "ACK":
                continue
            final = _final(flow, received)
            answered = f"answered {final.response.status}" if final and final.response else "not sent on"
            detail = f"the {received.method} with Route {route} was {answered}"
            found.append(say.profile(ctx, "PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE", detail, final or received))
            continue
        got = _uris(onward[0], "Route")
        if got is not None and any(_same_route(got, w) for w in wanted):
            found.append(say("pass", f"the {received.method} goes on with Route {got}", onward[0]))
        else:
            where = onward[0].dst.name
            detail = f"the {received.method} went on to {where} with Route {got}, not {wanted[0]}"
            found.append(say.profile(ctx, "PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE", detail, onward[0]))
    return say.summary(found)
