"""What every rule of :mod:`captures.rules` shares: the finding, the context, the registry
(:data:`RULES`, :func:`rule`, :func:`check`) and the helpers that read a flow's hops."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from reference.blocks import block_of
from reference.sip.errors import SipError, WildcardError
from reference.sip.identity import IdentityError, WildcardImpu
from reference.sip.message import Message

from ..flows import (
    Ends,
    Flow,
    Hop,
    Knowledge,
    Role,
    http_identities,
    identity_key,
    registrar_api,
)
from ..model import HttpInfo, WireMessage
from ..topology import PlacedBlock as Block
from ..topology import Topology

Verdict = Literal["pass", "fail", "inconclusive", "deviation"]
"""``deviation``: a check of a solution-profile choice did not hold (never a FAIL of the text: the
reports show it as PROFILE DEVIATION)."""


def profile_pics_item(choice: str) -> str:
    """The PICS item that says whether the SUT follows the solution profile's ``choice``."""
    return f"PICS_{choice}"


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """What one rule says about one flow."""

    rule_id: str
    clause: str
    verdict: Verdict
    flow_id: str
    detail: str
    message: WireMessage | None = None
    "The message that broke the rule (fail), or the one the verdict is about; None if none."
    leg: str = ""
    "``sender -> receiver`` of ``message``."
    choice: str = ""
    "The solution-profile choice a ``deviation`` (or a pass its PICS allowed) is about; else empty."


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What the rules know beyond one flow: the PIXIT's blocks, the capture's knowledge and the
    SUT's PICS answers (None: no PICS given, every profile choice is checked)."""

    blocks: tuple[Block, ...] = ()
    knowledge: Knowledge = dataclasses.field(default_factory=Knowledge)
    pics: Mapping[str, str] | None = None
    ends: Ends | None = None
    "The naming of the capture's ends (to tell which node an address in a message body is)."
    origins: tuple[str, ...] = ()
    """The web origins of the WWSFs authorised to access the eP-CSCFs (5.2.2.5.2 step 2), as the
    topology gives them; empty: only the WWSF's own address is known (``https://<its end>``)."""
    timer_c: float | None = None
    "The eP-CSCF's Timer C on the nodes' clock (``CapturedTopology.timer_c``); None: not known."

    @classmethod
    def from_topology(cls, topology: Topology, knowledge: Knowledge | None = None) -> Context:
        return cls(tuple(topology.blocks), knowledge if knowledge is not None else Knowledge())

    @property
    def webrtc_domains(self) -> frozenset[str]:
        """5.2.2.3.3: the domains of the blocks' IMPUs and of option B's external identities."""
        return _domains(self.blocks)


@functools.lru_cache(maxsize=64)
def _domains(blocks: tuple[Block, ...]) -> frozenset[str]:
    found = {d.lower() for b in blocks for d in b.block.external_domains}
    found |= {b.block.wimpu.host for b in blocks if b.block.wimpu.host}
    return frozenset(found)


@functools.lru_cache(maxsize=256)
def _wildcard(text: str) -> WildcardImpu | None:
    try:
        return WildcardImpu.parse(text)
    except WildcardError:
        return None


def _domain(identity: str | None) -> str:
    return (identity or "").partition("@")[2].split(":")[0].lower()


def block_for(ctx: Context, node: str | None, identity: str | None) -> Block | None:
    """TR 23.701 5.2.2.1: the PIXIT block of ``identity`` at the eP-CSCF ``node``, by
    :func:`reference.blocks.block_of` among that eP-CSCF's blocks: the block whose wildcard
    it matches (option A, or an allocated IMPU), the option B block of its domain, else
    (and for a malformed identity) the eP-CSCF's only block. The blocks the eP-CSCF stands by
    for are among those an identity is looked up in, after its own: 5.2.2.2, the block of a
    failed eP-CSCF "shall be re-allocated to another eP-CSCF", which then serves it too."""
    own = [b for b in ctx.blocks if node is None or b.ep_cscf == node]
    taken = [b for b in ctx.blocks if node is not None and b.ep_cscf != node and node in b.standby]
    candidates = own + taken
    if identity:
        try:
            found = block_of([b.block for b in candidates], identity, allocated=True)
        except IdentityError:
            found = None
        if found is not None:
            return next(b for b in candidates if b.block is found)
    return own[0] if node is not None and len(own) == 1 else None


Check = Callable[[Flow, Context], list[Finding]]
"A rule's check: findings about one flow."


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """A rule: its id, the clause and step it checks, and its check."""

    id: str
    clause: str
    title: str
    check: Check


RULES: dict[str, Rule] = {}
"Every rule, by id, in the order of the text."


def rule(rule_id: str, clause: str, title: str) -> Callable[[Check], Check]:
    """Register a rule (the function is returned unchanged)."""

    def register(check: Check) -> Check:
        RULES[rule_id] = Rule(rule_id, clause, title, check)
        return check

    return register


def check(flow: Flow, ctx: Context, rules: Iterable[str] | None = None) -> list[Finding]:
    """Every finding of ``rules`` (default: all) on ``flow``."""
    found: list[Finding] = []
    for rule_id in rules if rules is not None else RULES:
        found += RULES[rule_id].check(flow, ctx)
    return found


# ----- helpers ------------------------------------------------------------------------------------


class _Say:
    """Findings of one rule on one flow."""

    def __init__(self, rule_id: str, flow: Flow) -> None:
        self.rule_id, self.flow = rule_id, flow
        self.clause = RULES[rule_id].clause if rule_id in RULES else ""

    def __call__(self, verdict: Verdict, detail: str, hop: Hop | None = None, choice: str = "") -> Finding:
        message, leg = (hop.message, hop.leg) if hop is not None else (None, "")
        return Finding(self.rule_id, self.clause, verdict, self.flow.id, detail, message, leg, choice)

    def profile(self, ctx: Context, choice: str, detail: str, hop: Hop | None = None) -> Finding:
        """A message that does not follow the solution profile's ``choice`` where the text allows
        it: ``deviation``, unless the SUT's PICS says it does not follow that choice (then ``pass``:
        it is the way the SUT chose)."""
        item = profile_pics_item(choice)
        answer = None if ctx.pics is None else ctx.pics.get(item, "unanswered")
        if answer is not None and answer != "yes":
            return self("pass", f"{detail}: allowed, {item} = {answer}", hop, choice)
        return self("deviation", f"{choice}: {detail}", hop, choice)

    def summary(self, findings: Sequence[Finding]) -> list[Finding]:
        """Every fail; else every deviation; else the first inconclusive; else one pass for all."""
        fails = [f for f in findings if f.verdict == "fail"]
        if fails:
            return fails
        deviations = [f for f in findings if f.verdict == "deviation"]
        if deviations:
            return deviations
        unsure = [f for f in findings if f.verdict == "inconclusive"]
        if unsure:
            return unsure[:1]
        if len(findings) > 1:
            first = findings[0]
            return [dataclasses.replace(first, detail=f"{first.detail} (and {len(findings) - 1} more)")]
        return list(findings)


def _initial(hop: Hop) -> bool:
    """A request outside a dialog (no To tag), first of its retransmissions."""
    request = hop.request
    try:
        return request is not None and request.to.tag is None
    except SipError:
        return False


def _requests(flow: Flow, method: str, src: Role | None = None, dst: Role | None = None) -> list[Hop]:
    """Initial ``method`` requests from ``src`` to ``dst`` (roles), retransmissions left out."""
    seen: set[tuple[str, str, str]] = set()
    found = []
    for hop in flow.hops:
        if hop.method != method or (src and hop.src.role is not src) or (dst and hop.dst.role is not dst):
            continue
        if method != "REGISTER" and not _initial(hop):
            continue
        key = (hop.leg, hop.cseq, str(hop.request.branch if hop.request else ""))
        if key not in seen:
            seen.add(key)
            found.append(hop)
    return found


def _responses(flow: Flow, asked: Hop) -> list[Hop]:
    """The responses to ``asked`` on its leg, back (same CSeq, reversed leg), in order."""
    return [
        h
        for h in flow.hops
        if h.response is not None
        and h.message.index > asked.message.index
        and h.cseq == asked.cseq
        and h.src.name == asked.dst.name
        and h.dst.name == asked.src.name
    ]


def _final(flow: Flow, asked: Hop) -> Hop | None:
    return next((h for h in _responses(flow, asked) if h.response and h.response.status >= 200), None)


def _caused(flow: Flow, asked: Hop, src: Role, dst: Role | None = None) -> list[Hop]:
    """The requests of the same method and CSeq that the node which received ``asked`` sent
    on from ``src`` (its other side) to ``dst``, after it."""
    return [
        h
        for h in flow.hops
        if h.message.index > asked.message.index
        and h.method == asked.method
        and h.cseq == asked.cseq
        and h.src.role is src
        and h.src.node == asked.dst.node
        and (dst is None or h.dst.role is dst)
    ]


def _registrar(flow: Flow, api: str, after: Hop, before: Hop | None) -> list[Hop]:
    """The ``api`` (W6/W7) requests between two messages of the flow."""
    end = before.message.index if before is not None else float("inf")
    return [
        h
        for h in flow.hops
        if after.message.index < h.message.index < end
        and h.message.http is not None
        and h.message.http.is_request
        and registrar_api(h) == api
    ]


def _answer(flow: Flow, asked: Hop) -> Hop | None:
    """The HTTP response to an HTTP request of the flow."""
    info = asked.message.http
    assert info is not None
    return next(
        (
            h
            for h in flow.hops
            if h.message.index > asked.message.index
            and h.message.http is not None
            and not h.message.http.is_request
            and h.message.connection == asked.message.connection
            and h.message.http.path == info.path
        ),
        None,
    )


def _retrieved(answer: Hop | None) -> bool:
    """A W6 answer that told the reader something: a 2xx, or a 404 (the registrar holds nothing,
    an answer too); not a refusal, and not no answer at all."""
    status = answer.message.http.status if answer is not None and answer.message.http is not None else None
    return status is not None and (200 <= status < 300 or status == 404)


def _unretrieved(flow: Flow, reads: list[Hop], sent: Hop) -> Hop | None:
    """The first of ``reads`` when none of them was :func:`_retrieved` before ``sent`` (the
    message that needed what they read): the read was made, nothing was retrieved by it. None
    when one of them was answered so in time, or when there are none (``_query`` judges that)."""
    for asked in reads:
        answer = _answer(flow, asked)
        if answer is not None and answer.message.index < sent.message.index and _retrieved(answer):
            return None
    return reads[0] if reads else None


def _json(info: HttpInfo | None) -> Any:
    if info is None or not info.body:
        return None
    body = info.body
    encoding = (info.header("Content-Encoding") or "").lower()
    try:
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        return json.loads(body)
    except (ValueError, OSError, zlib.error):
        return None


def _aliases(ctx: Context, *identities: str | None) -> set[str]:
    keys = {k for i in identities if i for k in (identity_key(i),) if k}
    return keys | {a for k in keys if (a := ctx.knowledge.alias(k))}


def _naming(hops: Iterable[Hop], identities: set[str]) -> list[Hop]:
    return [h for h in hops if h.message.http is not None and http_identities(h.message.http) & identities]


def _reads(hops: Iterable[Hop]) -> list[Hop]:
    return [h for h in hops if h.message.http is not None and h.message.http.method == "GET"]


def _writes(hops: Iterable[Hop]) -> list[Hop]:
    return [
        h for h in hops if h.message.http is not None and h.message.http.method in ("PUT", "POST", "PATCH")
    ]


def _absent(ctx: Context, what: str, src: Role, dst: Role, node: str | None = None) -> str:
    """Why a message a rule needs may be missing from the capture (at the eP-CSCF ``node``)."""
    reason = f"{what} is not in the capture"
    if not ctx.knowledge.seen(src, dst):
        reason += f" (no message from the {src.value} to the {dst.value} in it at all)"
    opaque = ctx.knowledge.opaque_at(node) or ctx.knowledge.opaque_at()
    if opaque:
        a, b, detail = opaque[0]
        where = f" at {node}" if node and ctx.knowledge.opaque_at(node) else ""
        reason += f"; {len(opaque)} TLS connection(s){where} could not be decrypted"
        reason += f", first {a.name} -> {b.name}: {detail}"
    return reason


_NO_REGISTRAR = "no W6 or W7 message anywhere in the capture: the registrar's leg is probably not captured"


def _no_registrar(ctx: Context) -> str:
    """Why no W6/W7 message is readable: W6/W7 run over mutual TLS (docs/security.md), so
    a registrar connection whose secrets are not in the key log is named as such."""
    opaque = [c for c in ctx.knowledge.opaque_at() if Role.REGISTRAR in (c[0].role, c[1].role)]
    if not opaque:
        return _NO_REGISTRAR
    a, b, detail = opaque[0]
    return (
        f"no readable W6 or W7 message: {len(opaque)} TLS connection(s) to the registrar could not be "
        f"decrypted, first {a.name} -> {b.name}: {detail}"
    )


def _registrar_unseen(ctx: Context) -> str | None:
    """Why the capture cannot show that no W6/W7 request was made (None when it can): it holds no
    readable W6/W7 message, and does not hold every packet of the nodes since their start
    (``Knowledge.complete``), or a registrar connection in it could not be decrypted."""
    if ctx.knowledge.registrar_messages:
        return None
    opaque = [c for c in ctx.knowledge.opaque_at() if Role.REGISTRAR in (c[0].role, c[1].role)]
    return None if ctx.knowledge.complete and not opaque else _no_registrar(ctx)


def _query(
    say: _Say, ctx: Context, api: str, found: list[Hop], window: list[Hop], what: str, at: Hop
) -> Finding:
    """Pass when ``found`` (the wanted W6/W7 requests naming the identity) is not empty;
    inconclusive when the requests in the window name other identities only, or when the
    capture holds no W6/W7 at all; else fail on ``at``, the message sent without it."""
    if found:
        info = found[0].message.http
        assert info is not None
        return say("pass", f"{what}: {info.method} {info.path}", found[0])
    if window:
        return say(
            "inconclusive", f"{what}: the {len(window)} {api} request(s) in between name other identities"
        )
    why = _registrar_unseen(ctx)
    if why is not None:
        return say("inconclusive", f"{what}: {why}")
    return say("fail", f"{what}: no {api} request before frame {at.message.frame}", at)


def _identity(request: Message | None, header: str = "To") -> str | None:
    if request is None:
        return None
    try:
        return identity_key(request.address(header).uri)
    except SipError:
        return None


def _wic_registers(flow: Flow) -> list[Hop]:
    return [h for h in _requests(flow, "REGISTER", dst=Role.IWF) if h.on_wic_leg]


def _granted(asked: Hop) -> int | None:
    """The expiry of the REGISTER's binding (RFC 3261 10.2.1.1), 0 for a de-registration."""
    request = asked.request
    assert request is not None
    try:
        if request.contact_is_star:
            return 0
        for contact in request.contacts:
            if contact.param("expires") is not None:
                return int(contact.param("expires") or 0)
        value = request.get("Expires")
        return int(value) if value is not None else None
    except (SipError, ValueError):
        return None


_JWT = re.compile(rb"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def _identities_in_response(hop: Hop, header: str) -> list[str]:
    """The URIs of the name-addr list ``header`` of the hop's response; a value that does not parse
    is kept as written (it names nothing the rules can compare)."""
    response = hop.response
    if response is None:
        return []
    try:
        return [a.uri for a in response.addresses(header)]
    except SipError:
        return response.get_all(header)
