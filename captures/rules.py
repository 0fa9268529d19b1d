"""The rules of TR 23.701 5.2.2 that a capture can show kept or broken, one small pure function each.

A rule takes a :class:`captures.flows.Flow` (its messages, each named by its leg) and a
:class:`Context` (the PIXIT's blocks, and the :class:`captures.flows.Knowledge` of the
whole capture) and returns :class:`Finding` objects: ``pass``, ``fail`` with the message
that broke it, or ``inconclusive`` with the reason (a leg the rule needs is not in the
capture, an option the PIXIT does not give). A rule that does not apply to a flow
returns nothing. No rule does I/O: the live steps call them on the messages the harness
saw, ``wimpu-conformance verify`` on a decoded capture.

Where the text leaves the wire open, the rules read it as the solution profile
(``docs/solution-profile.md``) does: the token in ``Authorization: Bearer``, W6 and W7
as HTTP under ``/w6/`` and ``/w7/`` naming the IMPU or external identity, 480/404 for an
unregistered webRTC user, CANCEL with ``Reason: SIP;cause=200`` for the losing branches.
``docs/verify.md`` lists every rule with its clause and step.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import gzip
import json
import math
import re
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal

from reference.blocks import block_of
from reference.sip.errors import SipError, WildcardError
from reference.sip.grammar import parse_params, split_commas
from reference.sip.identity import IdentityError, WildcardImpu
from reference.sip.message import Message, Request

from .flows import (
    BlockRecord,
    End,
    Ends,
    Flow,
    FlowKind,
    Hop,
    Knowledge,
    Role,
    bearer_token,
    http_identities,
    identity_key,
    iso_time,
    registrar_api,
    w6_entry_path,
    websocket_handshake,
)
from .model import HttpInfo, TcpConnection, WireMessage
from .topology import PlacedBlock as Block
from .topology import Topology

__all__ = [
    "RULES",
    "Context",
    "Finding",
    "Rule",
    "Verdict",
    "block_for",
    "check",
    "profile_pics_item",
    "rule",
]

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


# ----- 5.2.2.5.2 WIC registration -----------------------------------------------------------------


# ----- web access: 5.2.2.5.2 steps 1-2, 5.2.2.5.1 step 1 --------------------------------------------

_JWT_BYTES = re.compile(rb"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def _logins(flow: Flow) -> list[tuple[Hop, Hop]]:
    """The WIC's logins at the WWSF (solution profile: ``POST .../login``) with their answers."""
    found = []
    for hop in flow.hops:
        info = hop.message.http
        if info is None or not info.is_request or info.method != "POST" or hop.dst.role is not Role.WWSF:
            continue
        if info.path.split("?", 1)[0].rstrip("/").endswith("/login"):
            answer = _answer(flow, hop)
            if answer is not None:
                found.append((hop, answer))
    return found


def _issued_token(info: HttpInfo) -> str | None:
    """The token a WWSF answer carries: the profile's JSON ``token``, else any JWT in the body."""
    data = _json(info)
    if isinstance(data, dict) and isinstance(data.get("token"), str) and data["token"]:
        return str(data["token"])
    match = _JWT_BYTES.search(info.body)
    return match.group(0).decode() if match else None


@rule(
    "WWSF_LOGIN",
    "TR 23.701 5.2.2.5.2 step 1",
    "the WWSF logs the user in over TLS and issues a token only then",
)
def wwsf_login_issues_token(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 1: the user reaches the WWSF over "an HTTPS connection" whose "TLS connection
    provides one-way authentication of the server"; "The WWSF authenticates the user using a common
    web authentication procedure. Upon successful authentication, the WWSF issues a security token
    for the user." The login (solution profile: ``POST /login``) is answered over TLS; a 2xx carries
    the token, a refusal (4xx) none."""
    say = _Say("WWSF_LOGIN", flow)
    found = []
    for _, answer in _logins(flow):
        reply = answer.message.http
        assert reply is not None and reply.status is not None
        if answer.message.transport != "HTTPS":
            found.append(
                say("fail", "the WWSF answered the login in clear text, not over TLS (HTTPS)", answer)
            )
            continue
        token = _issued_token(reply)
        if 200 <= reply.status < 300:
            if token:
                found.append(say("pass", "the user logged in over TLS; the answer carries the token", answer))
            else:
                found.append(say("fail", f"the WWSF answered the login {reply.status} with no token", answer))
        elif 400 <= reply.status < 500:
            if token:
                refused = f"the WWSF refused the login ({reply.status}), issuing a token"
                found.append(say("fail", refused, answer))
            else:
                found.append(say("pass", f"a refused login ({reply.status}) carries no token", answer))
    return say.summary(found)


def _uri_end(ctx: Context, uri: str) -> End | None:
    """The named end a ``wss://``/``https://`` URI points to (default ports of RFC 6455 3), if any."""
    try:
        split = urllib.parse.urlsplit(uri)
        port = split.port or {"wss": 443, "https": 443, "ws": 80, "http": 80}.get(split.scheme.lower())
    except ValueError:
        return None
    if ctx.ends is None or split.hostname is None or port is None:
        return None
    return ctx.ends.listening((split.hostname, port))


def _serving(ctx: Context, placed: Block, at: float) -> str | None:
    """The eP-CSCF whose registration of the block is live at ``at`` in the capture, if one is."""
    wimpu = str(placed.block.wimpu)
    live = [r for r in ctx.knowledge.blocks if wimpu in r.wimpus and r.since <= at < r.until]
    return live[-1].ep_cscf if live else None


@rule("WWSF_EP_CSCF", "TR 23.701 5.2.2.5.1 step 1", "the WWSF points the WIC to its block's eP-CSCF")
def wwsf_points_to_the_block_ep_cscf(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.1 step 1: "Each block of wIMPU and the allocated eP-CSCF for it shall be provisioned
    in WWSF as well". The WWSF's answer to a login names the eP-CSCF the WIC is to open its WSS
    connection to (solution profile: ``ep_cscf``, a ``wss://`` URI, and ``wimpu``, the block): it is
    the eP-CSCF serving the block of the user's identity, the one whose block registration is live in
    the capture, else the eP-CSCF the PIXIT allocates the block to or one standing by for it
    (5.2.2.2: a failed eP-CSCF's block is re-allocated)."""
    say = _Say("WWSF_EP_CSCF", flow)
    found = []
    for _, answer in _logins(flow):
        reply = answer.message.http
        assert reply is not None and reply.status is not None
        data = _json(reply)
        if not 200 <= reply.status < 300 or not isinstance(data, dict):
            continue
        identity, uri = data.get("identity"), data.get("ep_cscf")
        if not isinstance(uri, str) or not isinstance(identity, str):
            found.append(say("inconclusive", "the login answer names no identity and eP-CSCF in the "
                             "solution profile's form (identity, ep_cscf)", answer))  # fmt: skip
            continue
        placed = block_for(ctx, None, identity)
        end = _uri_end(ctx, uri)
        if placed is None or end is None:
            why = (
                f"no block of the topology holds {identity}"
                if placed is None
                else f"{uri} is no node's address"
            )
            found.append(say("inconclusive", why, answer))
            continue
        named_block = data.get("wimpu")
        if isinstance(named_block, str) and identity_key(named_block) != identity_key(
            str(placed.block.wimpu)
        ):
            found.append(say("fail", f"the WWSF gives {identity} the block {named_block}, not its block "
                             f"{placed.block.wimpu}", answer))  # fmt: skip
            continue
        serving = _serving(ctx, placed, answer.message.time)
        allowed = {serving} if serving else {placed.ep_cscf, *placed.standby}
        if end.node in allowed:
            found.append(
                say("pass", f"{identity} is sent to {end.node}, serving block {placed.block.wimpu}", answer)
            )
        else:
            serving_nodes = " or ".join(sorted(a for a in allowed if a))
            found.append(say(
                "fail",
                f"the WWSF sends {identity} to {end.node}; block {placed.block.wimpu} is served by "
                f"{serving_nodes}",
                answer,
            ))  # fmt: skip
    return say.summary(found)


def _origin(text: str) -> str:
    """An origin compared whole (RFC 6454 4-5): lower-case scheme and host, no default port."""
    try:
        split = urllib.parse.urlsplit(text.strip().rstrip("/"))
        port = split.port
    except ValueError:
        return text.strip().lower()
    default = {"https": 443, "http": 80}.get(split.scheme.lower())
    host = split.hostname or ""
    host = f"[{host}]" if ":" in host else host
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{split.scheme.lower()}://{host}{suffix}"


def _authorised(ctx: Context, origin: str) -> bool | None:
    """Whether ``origin`` is an authorised WWSF's (None: unknown, when the topology gives no origins
    and it is not the WWSF's own address)."""
    if ctx.origins:
        return _origin(origin) in {_origin(o) for o in ctx.origins}
    own = {
        _origin(f"https://{h if ':' not in h else f'[{h}]'}:{p}")
        for h, p in (ctx.ends.addresses(Role.WWSF) if ctx.ends else [])
    }
    return True if _origin(origin) in own else None


@rule(
    "WSS_ORIGIN", "TR 23.701 5.2.2.5.2 step 2", "the eP-CSCF opens WSS only to a page of an authorised WWSF"
)
def wss_only_from_authorised_origin(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 2: "The WIC shall open a WSS (secure Web Socket) connection to the eP-CSCF.
    Standard cross-origin resource sharing (CORS) procedures are used to ensure that the WIC
    originated from a WWSF authorized to access this eP-CSCF." The eP-CSCF accepts a WebSocket
    handshake (101, RFC 6455 4.2.2) only over TLS, only with an ``Origin`` (RFC 6454 7: how a
    server tells the page's origin) of an authorised WWSF compared whole, and with the ``sip``
    subprotocol (RFC 7118 4.1); it refuses every handshake from another origin or none. A refused
    handshake from an authorised WWSF is left to the scenario (it may be the point of a test)."""
    say = _Say("WSS_ORIGIN", flow)
    found = []
    for asked in flow.hops:
        info = asked.message.http
        if (
            info is None
            or not info.is_request
            or asked.dst.role is not Role.IWF
            or not websocket_handshake(info)
        ):
            continue
        answer = _answer(flow, asked)
        reply = answer.message.http if answer is not None else None
        if answer is None or reply is None or reply.status is None:
            continue
        origin = info.header("Origin")
        authorised = _authorised(ctx, origin) if origin is not None else False
        shown = origin if origin is not None else "no Origin"
        if reply.status == 101:
            if answer.message.transport != "HTTPS":
                found.append(
                    say("fail", "the eP-CSCF accepted a WebSocket without TLS (WS, not WSS)", answer)
                )
            elif origin is None:
                found.append(say("fail", "the eP-CSCF accepted a handshake with no Origin: nothing tells "
                                 "that the WIC came from an authorised WWSF", answer))  # fmt: skip
            elif authorised is False:
                found.append(
                    say("fail", f"the eP-CSCF accepted a page from {origin}, not an authorised WWSF", answer)
                )
            elif authorised is None:
                found.append(say(
                    "inconclusive",
                    f"{origin} is not the WWSF's address in the topology, which gives no origins: whether it "
                    "is authorised is unknown",
                    answer,
                ))  # fmt: skip
            elif (reply.header("Sec-WebSocket-Protocol") or "").strip().lower() != "sip":
                found.append(say("fail", "the eP-CSCF accepted the WebSocket without the sip subprotocol "
                                 "(RFC 7118 4.1)", answer))  # fmt: skip
            else:
                found.append(
                    say("pass", f"a WSS connection from {origin}, an authorised WWSF, with sip", answer)
                )
        elif reply.status >= 300 and authorised is False:
            found.append(say("pass", f"the handshake from {shown} is refused ({reply.status})", answer))
    return say.summary(found)


@rule("REG_TOKEN", "TR 23.701 5.2.2.5.2 steps 3-4", "the WIC's REGISTER carries the WWSF token")
def register_carries_token(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 3: "The request includes ... the security token received from the
    WWSF" (``Authorization: Bearer``, solution profile); step 4: the eP-CSCF validates it,
    so a REGISTER without a token must not be accepted. Except (solution profile, "De-registration
    without a token", PROFILE_REG_DEREG_NO_TOKEN): one that only removes contacts, on the WebSocket
    where an earlier REGISTER of the same identity in the flow carried the token and was accepted
    (SIP.js's un-REGISTER)."""
    say = _Say("REG_TOKEN", flow)
    found = []
    for asked in _wic_registers(flow):
        final = _final(flow, asked)
        if asked.request is not None and bearer_token(asked.request):
            found.append(say("pass", "the REGISTER carries the WWSF token", asked))
        elif final is None:
            found.append(
                say("inconclusive", "a REGISTER without a token; its answer is not in the capture", asked)
            )
        elif (
            final.response is not None
            and final.response.status < 300
            and _deregisters_on_authorised_flow(flow, asked)
        ):
            found.append(
                say(
                    "pass",
                    "a de-registration without a token, on the WebSocket a token registered the "
                    "identity over (PROFILE_REG_DEREG_NO_TOKEN)",
                    final,
                )
            )
        elif final.response is not None and final.response.status < 300:
            found.append(say("fail", "the eP-CSCF accepted a REGISTER that carries no token", final))
        else:
            status = final.response.status if final.response else "?"
            found.append(say("pass", f"a REGISTER without a token was refused ({status})", final))
    return say.summary(found)


def _removes_contacts_only(request: Request) -> bool:
    """Every contact of the REGISTER has an expiry of 0 (its ``expires``, else the Expires header;
    RFC 3261 10.2.2), and there is one at least; ``Contact: *`` is not counted (it removes every
    WIC's contacts)."""
    if request.contact_is_star or not request.contacts:
        return False
    default = (request.get("Expires") or "").strip()
    values = [(c.param("expires") or default).strip() for c in request.contacts]
    return all(v.isdigit() and int(v) == 0 for v in values)


def _deregisters_on_authorised_flow(flow: Flow, asked: Hop) -> bool:
    """``asked`` only removes contacts, and an earlier REGISTER of the flow over the same WebSocket
    (the same WIC end) for the same identity carried a token and was accepted."""
    request = asked.request
    if request is None or not _removes_contacts_only(request):
        return False
    for earlier in _wic_registers(flow):
        before = earlier.request
        if earlier.message.index >= asked.message.index or before is None or not bearer_token(before):
            continue
        if (earlier.src.name, earlier.dst.name) != (asked.src.name, asked.dst.name):
            continue
        final = _final(flow, earlier)
        accepted = final is not None and final.response is not None and final.response.status < 300
        if accepted and before.to.uri.lower() == request.to.uri.lower():
            return True
    return False


_BEARER_VALUE = re.compile(
    rb"^(?:authorization|proxy-authorization)[ \t]*:[ \t]*bearer[ \t]+(\S+)", re.I | re.M
)
_OUTSIDE = frozenset({Role.REMOTE, Role.WIC})
"The ends that are surely not nodes of the system (an unnamed end may be a node's client side)."


def _bearers(raw: bytes) -> set[bytes]:
    """The Bearer credentials in the header of a SIP message."""
    return set(_BEARER_VALUE.findall(raw.split(b"\r\n\r\n", 1)[0]))


@rule("TOKEN_CONFINED", "TR 23.701 5.2.2.5.2 step 4", "the token never leaves the WIC's leg")
def token_stays_on_the_wic_leg(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 4: the token is for the eP-CSCF that validates it (its ``aud``,
    solution profile): no token a WIC sent, and no Bearer credential that came from a WIC, may
    appear on any other leg (SIP in the core, W6/W7) in a message a node of the system sent.
    A Bearer credential of the remote party's own (it arrived from the remote party) is not a
    WWSF token: carrying it through the core is not this rule's business, and nothing the remote
    party or a WIC sends is blamed on the system."""
    say = _Say("TOKEN_CONFINED", flow)
    tokens = {t.encode() for t in ctx.knowledge.tokens}
    tokens |= {t.encode() for h in _wic_registers(flow) if h.request and (t := bearer_token(h.request))}
    core = [h for h in flow.hops if not h.on_wic_leg]
    from_remote = [h.message.raw for h in flow.hops if h.src.role is Role.REMOTE]
    foreign = {b for raw in from_remote for b in _bearers(raw)}
    tokens = {t for t in tokens if not any(t in raw for raw in from_remote)}  # carried on, not leaked
    for hop in core:
        if hop.src.role in _OUTSIDE:
            continue
        raw = hop.message.raw
        if any(t in tokens for t in _JWT.findall(raw)) or any(t in raw for t in tokens if not _JWT.match(t)):
            return [
                say(
                    "fail",
                    f"a token the WWSF issued to a WIC, sent by {hop.src.name} outside the WIC's leg",
                    hop,
                )
            ]
        if hop.message.is_sip and _bearers(raw) - foreign:
            return [
                say(
                    "fail",
                    f"a Bearer credential from a WIC is forwarded into the core by {hop.src.name}",
                    hop,
                )
            ]
    if not core or not flow.kinds & {FlowKind.WIC_REGISTRATION, FlowKind.ORIGINATION, FlowKind.TERMINATION}:
        return []
    return [
        say(
            "pass",
            f"{len(core)} message(s) beyond the WIC's leg carry no token or Bearer credential of a WIC",
        )
    ]


@rule("REG_W6_QUERY", "TR 23.701 5.2.2.5.2 step 5", "the eP-CSCF queries W6 before it answers 200")
def register_queries_w6(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 5: "The eP-CSCF shall query the registration status of the WIC",
    before step 7's 200 OK: a W6 read naming the identity between the REGISTER and it."""
    say = _Say("REG_W6_QUERY", flow)
    found = []
    for asked in _wic_registers(flow):
        final = _final(flow, asked)
        if final is None or final.response is None or final.response.status >= 300:
            continue
        window = _registrar(flow, "W6", asked, final)
        naming = _naming(window, _aliases(ctx, _identity(asked.request)))
        others = [h for h in window if h not in naming]
        found.append(_query(say, ctx, "W6", _reads(naming), others, "W6 read before the 200 OK", final))
    return say.summary(found)


@rule("REG_W6_STORE", "TR 23.701 5.2.2.5.2 step 6", "the eP-CSCF stores the registration over W6")
def register_stores_over_w6(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 6 and 5.2.2.3.2: the eP-CSCF "shall store the registration
    information" (update it on every re-registration, remove it on de-registration) in
    the registrar before step 7's 200 OK: a W6 write (or, for ``Expires: 0``, a delete)
    naming the identity, or the IMPU allocated to it. Stored means the registrar said so: a
    write counts once its 2xx answer came before the 200 OK (a write the registrar left
    unanswered, or refused, has stored nothing; TP_WIMPU_REG_013). A de-registration of an
    identity the W6 read found not registered has nothing to remove (5.2.2.3.1): no delete,
    and no write."""
    say = _Say("REG_W6_STORE", flow)
    found = []
    for asked in _wic_registers(flow):
        final = _final(flow, asked)
        if final is None or final.response is None or final.response.status >= 300:
            continue
        removal = _granted(asked) == 0
        window = _registrar(flow, "W6", asked, final)
        named = _naming(window, _aliases(ctx, _identity(asked.request)))
        wanted = (
            [h for h in named if h.message.http and h.message.http.method == "DELETE"]
            if removal
            else _writes(named)
        )
        what = "W6 delete before the 200 OK to a de-registration" if removal else "W6 write before the 200 OK"
        if not removal and wanted:
            stored = [h for h in wanted if _confirmed_before(flow, h, final)]
            if not stored:
                found.append(say("fail", f"{what}, and the registrar had confirmed none of the "
                                 f"{len(wanted)} write(s) when the 200 OK was sent", final))  # fmt: skip
                continue
            wanted = stored
        if removal and not wanted:
            unknown = _nothing_registered(flow, named)
            if unknown is not None:
                found.append(_unknown_deregistration(say, flow, named, unknown, final))
                continue
        found.append(_query(say, ctx, "W6", wanted, [h for h in window if h not in named], what, final))
    return say.summary(found)


def _confirmed_before(flow: Flow, asked: Hop, before: Hop) -> bool:
    """The registrar answered the HTTP request ``asked`` with a 2xx before ``before`` was sent."""
    answer = _answer(flow, asked)
    reply = answer.message.http if answer is not None else None
    return (
        answer is not None
        and reply is not None
        and reply.status is not None
        and 200 <= reply.status < 300
        and answer.message.index < before.message.index
    )


_CLOCK_MARGIN = 2.0
"Seconds of rounding between a registrar's ``expires`` (whole seconds, rounded up) and ``expires_at``."


def _entry_of(info: HttpInfo) -> dict[str, Any] | None:
    """The registrar entry an answer carries: a W6 read's body, a write's or delete's ``entry``."""
    data = _json(info)
    if not isinstance(data, dict):
        return None
    entry = data.get("entry", data) if info.method in ("PUT", "DELETE") else data
    return entry if isinstance(entry, dict) and isinstance(entry.get("contacts"), list) else None


def _registrar_now(contacts: Sequence[Any]) -> float | None:
    """The latest the registrar's clock can read when it answered, from its own figures: a listed
    contact is live, ``expires`` its remaining whole seconds (rounded up) until ``expires_at``."""
    bounds = []
    for contact in contacts:
        if isinstance(contact, dict) and isinstance(contact.get("expires"), int):
            at = iso_time(contact.get("expires_at"))
            if at is not None:
                bounds.append(at - contact["expires"] + 1)
    return min(bounds) if bounds else None


@rule("REG_W6_ENTRY", "TR 23.701 5.2.2.3.1", "the registrar's entry holds every contact stored for the IMPU")
def registrar_entry_holds_stored_contacts(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.3.1: "The wIMPU Registrar holds registration information for individual IMPUs
    allocated to WICs", "A single entry may hold multiple WIC contacts for the same individual
    IMPU", and "An entry is removed upon de-registration or registration expiry". Every entry
    the registrar answers with (a W6 read, and the entry its answer to a write or delete returns)
    lists each contact its earlier 2xx answers said were stored for that IMPU and not removed,
    unless the contact has expired, and lists no contact it had removed. Expiry is judged on the
    registrar's own clock, read from its answer (a listed contact's ``expires`` and
    ``expires_at``), never on the capture's: a lab's, or a tester's, clock may differ. An answer
    listing no contact says nothing of the registrar's clock, so it is not judged here. A contact
    whose W6 DELETE was sent before the answer, its own answer not in the capture yet, may be
    omitted: the registrar may have taken the DELETE first on another connection (seen out of
    process, TP_WIMPU_BLK_006); a DELETE it refused removed nothing."""
    say = _Say("REG_W6_ENTRY", flow)
    found: list[Finding] = []
    judged: list[tuple[Hop, int]] = []
    for asked in flow.hops:
        info = asked.message.http
        if info is None or not info.is_request or registrar_api(asked) != "W6" or asked.src.role in _OUTSIDE:
            continue
        answer = _answer(flow, asked)
        reply = answer.message.http if answer is not None else None
        if answer is None or reply is None or reply.status is None or not 200 <= reply.status < 300:
            continue
        entry = _entry_of(reply)
        impu = identity_key(str(entry.get("impu") or "")) if entry is not None else None
        if entry is None or impu is None:
            continue
        listed = {str(c.get("contact_id")) for c in entry["contacts"] if isinstance(c, dict)}
        at = asked.message.time
        for contact_id in sorted(listed):
            gone = ctx.knowledge.removed_before(impu, contact_id, at)
            if gone is not None:
                found.append(say(
                    "fail",
                    f"the registrar's entry of {impu} lists contact {contact_id}, which its answer in "
                    f"frame {gone.removed_frame} said was removed",
                    answer,
                ))  # fmt: skip
        named = w6_entry_path(info.path)
        deleting = named[1] if named is not None and info.method == "DELETE" and named[0] == impu else None
        if deleting is not None and deleting in listed:
            found.append(
                say("fail", f"the answer to the removal of contact {deleting} still lists it", answer)
            )
        now = _registrar_now(entry["contacts"])
        stored = [
            s
            for s in ctx.knowledge.stored_at(impu, at)
            if s.contact_id != deleting
            and (s.removal_asked is None or s.removal_asked >= answer.message.time)  # a DELETE in flight
        ]
        if now is None:
            continue
        missing = [
            s for s in stored
            if s.contact_id not in listed and s.expires_at is not None and s.expires_at > now + _CLOCK_MARGIN
        ]  # fmt: skip
        for record in missing:
            found.append(say(
                "fail",
                f"the registrar's entry of {impu} omits contact {record.contact_id}, which its answer in "
                f"frame {record.frame} said was stored until {_clock(record.expires_at)} (its own clock: "
                f"at most {_clock(now)} now)",
                answer,
            ))  # fmt: skip
        if not missing and not any(f.verdict == "fail" and f.message is answer.message for f in found):
            judged.append((answer, len(listed)))
    if found or not judged:
        return say.summary(found)
    most = max(n for _, n in judged)
    several = f"; one entry holds {most} contacts" if most > 1 else ""
    return [say(
        "pass",
        f"{len(judged)} answer(s) of the registrar list every contact it stored and had not removed or "
        f"seen expire{several}",
        judged[-1][0],
    )]  # fmt: skip


def _clock(epoch: float | None) -> str:
    if epoch is None:
        return "?"
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC).strftime("%H:%M:%S")


def _nothing_registered(flow: Flow, named: list[Hop]) -> Hop | None:
    """The answer of a W6 read among ``named`` that says the identity has no registration (404)."""
    for asked in _reads(named):
        answer = _answer(flow, asked)
        if answer is not None and answer.message.http is not None and answer.message.http.status == 404:
            return answer
    return None


def _unknown_deregistration(say: _Say, flow: Flow, named: list[Hop], unknown: Hop, final: Hop) -> Finding:
    """A de-registration of an identity the W6 read (step 5) found not registered: 5.2.2.3.1 "An
    entry is removed upon de-registration" and 5.2.2.3.2 "shall remove the registration entry ...
    when the WIC is de-registered" ask for a removal of an entry there is none of, so no W6 delete
    is right (RFC 3261 10.3: removing a binding that does not exist is no error); an entry is
    "created upon successful WIC authorization" of a registration (5.2.2.3.1), never by a
    de-registration: a W6 write then fails."""
    writes = _writes(named)
    if writes:
        info = writes[0].message.http
        assert info is not None
        return say(
            "fail",
            f"a de-registration of an identity W6 found not registered (frame {unknown.message.frame}) "
            f"creates an entry: {info.method} {info.path}",
            writes[0],
        )
    return say(
        "pass",
        f"nothing to remove: the W6 read found no registration (404, frame {unknown.message.frame}), "
        "and nothing was written before the 200 OK",
        final,
    )


def _block_of_wic(ctx: Context, hop: Hop, identity: str | None) -> Block | None:
    node = hop.dst.node if hop.dst.role is Role.IWF else hop.src.node
    return block_for(ctx, node, identity)


_URI = re.compile(r"(?:sips?|tel):[^\s<>\",;?]+", re.I)


@rule(
    "OPTB_IMPU_HIDDEN",
    "TR 23.701 5.2.2.1 (option B); 5.2.2.5.2 step 7; 5.2.2.5.4 step 5",
    "option B: the WIC never sees the IMPU allocated to it",
)
def option_b_impu_hidden(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.1, second option: "WIC use their external (non-IMS identities) identities ...
    IMS identities are only used within the IMS domain." No message to an option B WIC
    (the 200 OK of step 7, the INVITE of 5.2.2.5.4 step 5) may name an IMPU of its block
    (P-Associated-URI, P-Called-Party-ID or any other header), nor the IMPU allocated."""
    say = _Say("OPTB_IMPU_HIDDEN", flow)
    to_wic = [h for h in flow.hops if h.message.is_sip and h.dst.role is Role.WIC and h.message.message]
    checked, unknown = 0, False
    for hop in to_wic:
        message = hop.message.message
        assert message is not None
        identity = _identity(message)  # To: the WIC's own identity, in requests and responses
        block = _block_of_wic(ctx, hop, identity)
        if block is None:
            unknown = True
            continue
        if block.block.option != "B":
            continue
        checked += 1
        allocated = ctx.knowledge.alias(identity) if identity else None
        for header in message.headers:
            if header.key == "via":
                continue
            for uri in _URI.findall(header.value):
                if block.block.holds(uri):
                    return [
                        say("fail", f"{header.name} names {uri}, an IMPU of block {block.block.wimpu}", hop)
                    ]
        if allocated and allocated.encode() in hop.message.raw:
            return [say("fail", f"the message names the allocated IMPU {allocated}", hop)]
    if checked:
        return [say("pass", f"{checked} message(s) to option B WICs name no IMPU of their block")]
    if unknown and to_wic:
        why = (
            "the PIXIT gives no blocks"
            if not ctx.blocks
            else "no PIXIT block matches the WIC's eP-CSCF and identity"
        )
        return [say("inconclusive", f"the identity option of the WIC is unknown: {why}", to_wic[0])]
    return []


@rule("PROFILE_KEY_CONFINED", "TR 23.701 5.2.2.5.4 step 5", "P-Profile-Key never reaches a WIC")
def profile_key_confined(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 step 5: the eP-CSCF delivers the session to the WIC. P-Profile-Key (RFC
    5002) carries the matched wildcard between IMS nodes; it is not for the WIC (the
    wildcard is an IMS identity, 5.2.2.1)."""
    say = _Say("PROFILE_KEY_CONFINED", flow)
    to_wic = [h for h in flow.hops if h.message.is_sip and h.dst.role is Role.WIC and h.message.message]
    for hop in to_wic:
        message = hop.message.message
        if message is not None and message.has("P-Profile-Key"):
            return [say("fail", f"P-Profile-Key: {message.get('P-Profile-Key')} sent to a WIC", hop)]
    return [say("pass", f"{len(to_wic)} message(s) to WICs, none with P-Profile-Key")] if to_wic else []


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
    wimpus = {str(b.block.wimpu) for b in _blocks_registered(ctx, ok)} or {
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
            if block is None or not wimpus or str(block.block.wimpu) in wimpus:
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
            if str(block.block.wimpu) in r.wimpus or (not r.wimpus and r.ep_cscf == block.ep_cscf)
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
        r for r in ctx.knowledge.blocks if wimpu in r.wimpus or (not r.wimpus and r.ep_cscf == block.ep_cscf)
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
    """The URIs of the name-addr list ``header`` of the hop's request, in order: empty when there
    is no such header (or no request), None when the header does not parse."""
    request = hop.request if hop is not None else None
    try:
        return [a.uri for a in request.addresses(header)] if request is not None else []
    except SipError:
        return None


def _asserted(hop: Hop) -> list[str]:
    return _uris(hop, "P-Asserted-Identity") or []


def _tel(uri: str) -> bool:
    return uri.lower().startswith("tel:")


def _asserted_in_response(hop: Hop) -> list[str]:
    """The P-Asserted-Identity URIs of the hop's response; a value that does not parse is kept as
    written (it asserts nothing the rules can compare, and is not the called identity)."""
    response = hop.response
    if response is None:
        return []
    try:
        return [a.uri for a in response.addresses("P-Asserted-Identity")]
    except SipError:
        return response.get_all("P-Asserted-Identity")


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
        r for r in ctx.knowledge.blocks if r.ep_cscf == node and wimpu in r.wimpus and r.since <= at < r.until
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
    "TR 23.701 5.2.2.5.4 step 5; 5.2.2.3.2",
    "a WIC's answer enters the core asserting no identity the WIC wrote",
)
def termination_answer_asserts_only_the_called(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.4 step 5: the eP-CSCF delivers the session to the WIC, a client outside the IMS
    trust domain (the WIC authorisation, 5.2.2.3.2, authorises it for its registered identity
    only); standard IMS termination (TS 24.229 5.2.6.4; RFC 3325 9.1) has the P-CSCF remove or
    replace a P-Asserted-Identity it receives from outside the trust domain. So each 1xx/2xx of a
    terminating INVITE the eP-CSCF sends to the S-CSCF asserts, if anything, the called identity
    (the IMPU the S-CSCF asked for, or its external identity): any other SIP identity asserted, or a
    tel URI the WIC wrote into its own response, is ``fail``. None at all passes: the text asks the
    eP-CSCF for no assertion here.
    Inconclusive when the eP-CSCF delivered the INVITE but no 1xx/2xx of it reached the S-CSCF."""
    say = _Say("TERM_RESPONSE_ASSERTED", flow)
    found = []
    for at in _at_ep_cscf(flow, ctx):
        if not at.branches:
            continue
        relayed = [h for h in _responses(flow, at.arrived) if h.response and 100 < h.response.status < 300]
        if not relayed:
            what = "a provisional or 2xx response of the WIC"
            found.append(say("inconclusive", _absent(ctx, what, Role.P_CSCF, Role.S_CSCF), at.arrived))
            continue
        answers = [h for branch in at.branches for h in _responses(flow, branch)]
        written = {a.lower() for h in answers for a in _asserted_in_response(h)}
        called = ", ".join(sorted(at.called))
        for hop in relayed:
            asserted = _asserted_in_response(hop)
            # a tel URI may be the called user's own (RFC 3325 9.1: one per scheme), unless the WIC wrote it
            other = [
                a for a in asserted if (a.lower() in written if _tel(a) else identity_key(a) not in at.called)
            ]
            status = hop.response.status if hop.response else 0
            if other:
                detail = f"the {status} asserts {', '.join(other)}, not the called {called}"
                found.append(say("fail", detail, hop))
            else:
                what = asserted[0] if asserted else "nothing"
                found.append(say("pass", f"the {status} asserts {what}", hop))
    return say.summary(found)


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
