"""The rules of web access and WIC registration: TR 23.701 5.2.2.5.2 (steps 1-7), with
5.2.2.5.1 step 1 (the WWSF points the WIC to its block's eP-CSCF) and 5.2.2.3.1-5.2.2.3.2."""

from __future__ import annotations

import datetime
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

import jwt

from reference.sip.message import Request

from ..flows import (
    DEFAULT_PORTS,
    FAILED_AUTHENTICATION,
    BlockRecord,
    End,
    Flow,
    FlowKind,
    Hop,
    LoginRecord,
    Role,
    bearer_token,
    identity_key,
    is_login,
    iso_time,
    registrar_api,
    w6_entry_path,
    websocket_handshake,
)
from ..model import HttpInfo
from ..topology import PlacedBlock as Block
from .core import (
    _JWT,
    Context,
    Finding,
    _aliases,
    _answer,
    _final,
    _granted,
    _identity,
    _json,
    _naming,
    _query,
    _reads,
    _registrar,
    _Say,
    _wic_registers,
    _writes,
    block_for,
    rule,
)

# ----- 5.2.2.5.2 WIC registration -----------------------------------------------------------------


# ----- web access: 5.2.2.5.2 steps 1-2, 5.2.2.5.1 step 1 --------------------------------------------

_JWT_BYTES = re.compile(rb"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def _logins(flow: Flow, ctx: Context) -> list[tuple[Hop, Hop, LoginRecord]]:
    """The log-ins at the WWSF in ``flow`` (solution profile: ``POST .../login``) with their answers
    and what the capture's knowledge says of each: paired as the knowledge paired them (RFC 9112
    9.3.2: an answer answers the oldest request of its connection still without one; an interim 1xx
    answers nothing)."""
    by_index = {hop.message.index: hop for hop in flow.hops}
    found = []
    for hop in flow.hops:
        info = hop.message.http
        if info is None or not info.is_request or hop.dst.role is not Role.WWSF or not is_login(info):
            continue
        record = ctx.knowledge.login_record(hop.message.index)
        answer = None if record is None or record.answer_index is None else by_index.get(record.answer_index)
        if record is not None and answer is not None:
            found.append((hop, answer, record))
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
    for _, answer, _record in _logins(flow, ctx):
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


@rule(
    "WWSF_THROTTLE_FAILURES",
    "TR 23.701 5.2.2.5.2 step 1",
    "the WWSF's log-in throttle counts failed log-ins only: successful ones never refuse a later one",
)
def wwsf_throttle_failures(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 1: "The WWSF authenticates the user using a common web authentication
    procedure. Upon successful authentication, the WWSF issues a security token for the user." The
    text says nothing of slowing password guessing; the solution profile throttles failed log-ins
    only (``PROFILE_WWSF_THROTTLE_FAILURES``, docs/security.md: "without locking the real user out"):
    a user with several WICs, a token refreshed before it runs out, users behind one NAT log in
    again and again, each time rightly. A throttle of failed log-ins only cannot refuse a log-in
    after a successful one from the same address unless a log-in failed since, so a log-in is judged
    when, before it was sent: at least one log-in from its address had succeeded, no log-in of the
    capture had been refused (a failed guess, from any address or for any user, may rightly have
    spent a budget), and every log-in sent had been answered (log-ins in flight at once may rightly
    be charged before their passwords are checked). Answered 2xx: pass; refused 429 (RFC 6585 4): a
    PROFILE DEVIATION (pass where the SUT's PICS says its WWSF throttles otherwise), inconclusive
    when a TLS connection at the WWSF could not be read (a failed log-in may hide in it). Other
    answers (a 5xx of an overloaded WWSF, a 401) are not this rule's. Log-ins before the capture
    began cannot break it: a successful log-in since would have been refused by such a budget."""
    say = _Say("WWSF_THROTTLE_FAILURES", flow)
    found = []
    for asked, answer, record in _logins(flow, ctx):
        reply = answer.message.http
        assert reply is not None and reply.status is not None
        source = asked.message.src[0]
        if record.refused_before or record.in_flight or not record.earlier_from_address:
            continue
        ours = record.earlier_from_address
        count = f"{ours} log-in{'s' if ours > 1 else ''} from {source}"
        if 200 <= reply.status < 300:
            kept = f"the {count} before it, all successful, did not count against this one"
            found.append(say("pass", kept, answer))
        elif reply.status == 429:
            opaque = ctx.knowledge.opaque_at(answer.src.node)
            if opaque:
                hidden = f"{len(opaque)} TLS connection(s) at the WWSF could not be read"
                detail = f"a log-in from {source} was refused 429; {hidden}: a failed log-in may hide there"
                found.append(say("inconclusive", detail, answer))
                continue
            retry = reply.header("Retry-After") or "absent"
            refused = (
                f"the WWSF refused a log-in from {source} 429 (Retry-After {retry}) although the {count} "
                "before it in this capture all succeeded, none was refused and none was in flight: its "
                "throttle counts successful log-ins"
            )
            found.append(say.profile(ctx, "PROFILE_WWSF_THROTTLE_FAILURES", refused, answer))
    return say.summary(found)


GUESSES_PER_MINUTE = 20
"""The solution profile's limit (``PROFILE_WWSF_THROTTLE_GUESSING``): failed log-ins from one address
a minute."""
GUESSES_IN_ANY_60_S = 2 * GUESSES_PER_MINUTE
"""The most failed log-ins from one address any limiter of :data:`GUESSES_PER_MINUTE` a minute lets
through in a span of 60 s: a bucket of twenty refilled over a minute (twenty at once, twenty more as
it refills), a count per calendar minute (twenty at the end of one, twenty at the start of the next)."""


@rule(
    "WWSF_THROTTLE_GUESSING",
    "TR 23.701 5.2.2.5.2 step 1",
    "the WWSF slows password guessing: failed log-ins from one address limited to twenty a minute",
)
def wwsf_throttle_guessing(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 1: "The WWSF authenticates the user using a common web authentication
    procedure." The text neither asks for nor forbids slowing password guessing; the solution profile
    slows it (``PROFILE_WWSF_THROTTLE_GUESSING``, docs/security.md "WWSF: web log-in"): failed log-ins
    (401 or 403, :data:`~captures.flows.FAILED_AUTHENTICATION`) from one address are limited to
    :data:`GUESSES_PER_MINUTE` a minute, beyond which a log-in is refused 429 (RFC 6585 4) with
    ``Retry-After`` (RFC 9110 10.2.3) before its password is checked. Judged: a log-in sent after failed
    ones from its address in the 60 s before it (counted by the time each was sent). A 429 with
    ``Retry-After`` passes (slowed), one without it is a PROFILE DEVIATION (the client is not told when
    to come back); a log-in whose credentials were checked (a 2xx, 401 or 403) passes while fewer than
    :data:`GUESSES_IN_ANY_60_S` failures came in those 60 s (whatever the limiter, twenty a minute lets
    that many through), and is a PROFILE DEVIATION after as many. Other answers (a 5xx, a 400 to a
    malformed log-in) are not this rule's. Failures the capture does not hold (before it began, on a
    connection it could not read) only make the count smaller, never a deviation. Every client behind
    one proxy has its address: a capture taken between a reverse proxy and the WWSF is not one to
    judge this rule on."""
    say = _Say("WWSF_THROTTLE_GUESSING", flow)
    found = []
    for asked, answer, record in _logins(flow, ctx):
        reply = answer.message.http
        assert reply is not None and reply.status is not None
        failures = record.recent_failures
        checked = 200 <= reply.status < 300 or reply.status in FAILED_AUTHENTICATION
        if not failures or not (checked or reply.status == 429):
            continue
        plural = "s" if failures > 1 else ""
        count = f"{failures} failed log-in{plural} from {asked.message.src[0]} in the 60 s before it"
        if reply.status == 429:
            retry = reply.header("Retry-After")
            if retry:
                found.append(say("pass", f"refused 429, Retry-After {retry}, after {count}", answer))
            else:
                bare = f"the WWSF refused a log-in 429 after {count} with no Retry-After (when to try again)"
                found.append(say.profile(ctx, "PROFILE_WWSF_THROTTLE_GUESSING", bare, answer))
        elif failures < GUESSES_IN_ANY_60_S:
            found.append(
                say("pass", f"checked (answered {reply.status}) after {count}: within the limit", answer)
            )
        else:
            unchecked = (
                f"the WWSF checked the credentials of a log-in (answered {reply.status}) after {count}, more "
                f"than a limit of {GUESSES_PER_MINUTE} a minute lets through in any 60 s "
                f"({GUESSES_IN_ANY_60_S}): guessing is not slowed"
            )
            found.append(say.profile(ctx, "PROFILE_WWSF_THROTTLE_GUESSING", unchecked, answer))
    return say.summary(found)


_TIME_CLAIMS = ("iat", "nbf", "exp")
_DECADE = 10 * 365 * 86_400
"""How far a NumericDate may lie from the time its answer was captured and still be read as seconds
since the epoch: the tester's clock runs a scenario forward a day at most (``LONGEST_RUN_DOWN``),
a time in milliseconds (JavaScript's ``Date.now()``) lies some 50,000 years ahead."""


def _claims(token: str) -> dict[str, Any] | None:
    """The claims set of a JWS compact serialisation (RFC 7519 7.2, RFC 7515 7.1), read without
    checking the signature (the rule judges what the WWSF wrote, not who signed it); None when the
    token is no JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def _numeric_date(value: object) -> bool:
    """RFC 7519 2: a NumericDate is a JSON number (seconds since the epoch)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _token_times(claims: dict[str, Any], answer: Any, nodes_now: float) -> str | None:
    """What in the token's time claims does not follow ``PROFILE_WWSF_TOKEN_TIMES``; None if all does.
    ``nodes_now``: the nodes' clock when the answer was captured (the tester's jumps counted)."""
    if not _numeric_date(claims.get("exp")):
        return "the token has no NumericDate exp (RFC 7519 2, 4.1.4): it never expires"
    present = {name: float(claims[name]) for name in _TIME_CLAIMS if name in claims}
    not_dates = [name for name in _TIME_CLAIMS if name in claims and not _numeric_date(claims[name])]
    if not_dates:
        return f"the token's {', '.join(not_dates)} is no NumericDate (RFC 7519 2, 4.1.5-4.1.6)"
    far = [name for name, value in present.items() if abs(value - nodes_now) > _DECADE]
    if far:
        return (
            f"the token's {', '.join(far)} {'lies' if len(far) == 1 else 'lie'} more than ten years from "
            f"the time of the log-in answer ({int(nodes_now)}): not seconds since the epoch (RFC 7519 2)"
        )
    exp = present["exp"]
    earlier = [name for name in ("iat", "nbf") if name in present and not present[name] < exp]
    if earlier:
        return f"the token expires (exp {exp:.0f}) no later than its {', '.join(earlier)}"
    expires_in = answer.get("expires_in") if isinstance(answer, dict) else None
    if expires_in is None:
        return None  # RFC 6749 5.1: RECOMMENDED, not required; the unit is judged on exp above
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
        return f"the log-in answer's expires_in is no lifetime in seconds (RFC 6749 5.1): {expires_in!r}"
    # RFC 6749 5.1: "The lifetime in seconds of the access token", counted from the answer: exp - iat
    # for a token issued then, what is left of it (exp - now) for one issued before; a second for
    # rounding, two for the answer's way to the capture
    fresh = "iat" in present and abs((exp - present["iat"]) - expires_in) <= 1
    left = abs((exp - nodes_now) - expires_in) <= 2
    if not (fresh or left):
        lives = f"{exp - present['iat']:.0f} s from iat to exp, " if "iat" in present else ""
        return (
            f"the token lives {lives}{exp - nodes_now:.0f} s from the answer to exp; the log-in answer "
            f"says {expires_in} s (expires_in)"
        )
    return None


@rule(
    "WWSF_TOKEN_TIMES",
    "TR 23.701 5.2.2.5.2 step 1",
    "the WWSF's token states its lifetime in seconds, as its log-in answer does",
)
def wwsf_token_times(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 1: "Upon successful authentication, the WWSF issues a security token for the
    user." The text gives the token no form; the solution profile does (``PROFILE_WWSF_TOKEN_TIMES``,
    docs/solution-profile.md "Token"): a JWT (RFC 7519) with an ``exp``, and ``iat`` and ``nbf`` where it
    has them, each a NumericDate, seconds since the epoch (RFC 7519 2), ``iat`` and ``nbf`` before
    ``exp``; where the log-in answer gives ``expires_in`` (RECOMMENDED by RFC 6749 5.1), it is the
    token's lifetime in seconds from the answer: ``exp - iat`` for a token issued then, to the second,
    or what is left of an older one (``exp`` less the nodes' time of the answer). An eP-CSCF reads
    ``exp`` as RFC 7519 says, so a token whose ``exp`` is counted in milliseconds never expires there.
    An encrypted JWT (JWE) cannot be read: inconclusive. Every other finding is the profile's:
    ``deviation``, or ``pass`` where the SUT's PICS says its WWSF issues tokens otherwise."""
    say = _Say("WWSF_TOKEN_TIMES", flow)
    found = []
    for _, answer, _record in _logins(flow, ctx):
        reply = answer.message.http
        assert reply is not None and reply.status is not None
        token = _issued_token(reply) if 200 <= reply.status < 300 else None
        if token is None:
            continue  # no token issued: WWSF_LOGIN's business
        if token.count(".") == 4:  # RFC 7516 7.1: five parts, a JWE (a JWT too, RFC 7519 7.2)
            found.append(say("inconclusive", "the token is an encrypted JWT (JWE): its claims are not "
                             "readable on the wire", answer))  # fmt: skip
            continue
        claims = _claims(token)
        wrong = (
            "the token is no JWT (RFC 7519 7.2: base64url header, claims set and signature)"
            if claims is None
            else _token_times(claims, _json(reply), ctx.knowledge.elapsed(0.0, answer.message.time))
        )
        if wrong is None:
            found.append(say("pass", "the token's time claims are seconds since the epoch and agree with "
                             "the answer's expires_in", answer))  # fmt: skip
        else:
            found.append(say.profile(ctx, "PROFILE_WWSF_TOKEN_TIMES", wrong, answer))
    return say.summary(found)


def _uri_end(ctx: Context, uri: str) -> End | None:
    """The named end a ``wss://``/``https://`` URI points to (default ports of RFC 6455 3), if any."""
    try:
        split = urllib.parse.urlsplit(uri)
        port = split.port or DEFAULT_PORTS.get(split.scheme.lower())
    except ValueError:
        return None
    if ctx.ends is None or split.hostname is None or port is None:
        return None
    return ctx.ends.listening((split.hostname, port))


def _registers_next(ctx: Context, placed: Block, node: str, at: float) -> bool:
    """Whether ``node``, an eP-CSCF the PIXIT allocates or stands by for the block, took the block over
    after ``at`` in the capture (a re-allocated option 2 block, registered upon a WIC registration):
    the block's next registration is ``node``'s, and ``node`` removed the binding that was live at
    ``at`` (5.2.2.2: the failed eP-CSCF's, which it cannot remove itself). A live eP-CSCF that goes on
    serving the block (its binding kept, or refreshed) leaves the WWSF's answer a FAIL."""
    if node not in {placed.ep_cscf, *placed.standby}:
        return False
    records = _block_records(ctx, placed)
    live = [r for r in records if r.since <= at < r.until]
    later = sorted((r for r in records if r.since > at), key=lambda r: r.since)
    return bool(live and later) and later[0].ep_cscf == node and all(r.removed_by == node for r in live)


def _serving(ctx: Context, placed: Block, at: float) -> str | None:
    """The eP-CSCF whose registration of the block is live at ``at`` in the capture, if one is."""
    live = [r for r in _block_records(ctx, placed) if r.since <= at < r.until]
    return live[-1].ep_cscf if live else None


def _block_records(ctx: Context, placed: Block) -> list[BlockRecord]:
    """The block registrations of ``placed``'s block the capture shows, in its order."""
    wimpu = str(placed.block.wimpu)
    return [r for r in ctx.knowledge.blocks if r.holds(wimpu)]


@rule("WWSF_EP_CSCF", "TR 23.701 5.2.2.5.1 step 1", "the WWSF points the WIC to its block's eP-CSCF")
def wwsf_points_to_the_block_ep_cscf(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.1 step 1: "Each block of wIMPU and the allocated eP-CSCF for it shall be provisioned
    in WWSF as well". The WWSF's answer to a login names the eP-CSCF the WIC is to open its WSS
    connection to (solution profile: ``ep_cscf``, a ``wss://`` URI, and ``wimpu``, the block): it is
    the eP-CSCF serving the block of the user's identity, the one whose block registration is live in
    the capture, else the eP-CSCF the PIXIT allocates the block to or one standing by for it
    (5.2.2.2: a failed eP-CSCF's block is re-allocated). After a re-allocation an option 2 block may
    be registered by its new eP-CSCF only upon the first WIC registration there (5.2.2.5.1 option 2),
    while the failed eP-CSCF's registration is still live: the WWSF naming that new eP-CSCF (one the
    PIXIT allocates or stands by for the block) is right when the capture shows the block's next
    registration to be that eP-CSCF's, removing the binding live at the answer (found against
    Kamailio, issue 16; docs/validation.md)."""
    say = _Say("WWSF_EP_CSCF", flow)
    found = []
    for _, answer, _record in _logins(flow, ctx):
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
        elif _registers_next(ctx, placed, end.node, answer.message.time):
            taken = f"{identity} is sent to {end.node}, which registers block {placed.block.wimpu} after it"
            found.append(say("pass", f"{taken} (re-allocated from {serving})", answer))
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


def _handshakes(flow: Flow) -> list[tuple[HttpInfo, Hop, HttpInfo, int]]:
    """The WebSocket handshakes at an eP-CSCF's WSS listener that were answered: (request, answer
    hop, answer, its status code)."""
    found = []
    for asked in flow.hops:
        info = asked.message.http
        if info is None or not info.is_request or asked.dst.role is not Role.IWF:
            continue
        if not websocket_handshake(info):
            continue
        answer = _answer(flow, asked)
        reply = answer.message.http if answer is not None else None
        if answer is not None and reply is not None and reply.status is not None:
            found.append((info, answer, reply, reply.status))
    return found


@rule(
    "WSS_ORIGIN", "TR 23.701 5.2.2.5.2 step 2", "the eP-CSCF opens WSS only to a page of an authorised WWSF"
)
def wss_only_from_authorised_origin(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 2: "The WIC shall open a WSS (secure Web Socket) connection to the eP-CSCF.
    Standard cross-origin resource sharing (CORS) procedures are used to ensure that the WIC
    originated from a WWSF authorized to access this eP-CSCF." The eP-CSCF accepts a WebSocket
    handshake (101, RFC 6455 4.2.2) only over TLS, only with an ``Origin`` (RFC 6454 7: how a
    server tells the page's origin) of an authorised WWSF compared whole; it refuses every handshake
    from another origin or none. A refused handshake from an authorised WWSF is left to the scenario
    (it may be the point of a test). The subprotocol is ``WSS_SUBPROTOCOL``'s."""
    say = _Say("WSS_ORIGIN", flow)
    found = []
    for info, answer, _, status in _handshakes(flow):
        origin = info.header("Origin")
        authorised = _authorised(ctx, origin) if origin is not None else False
        shown = origin if origin is not None else "no Origin"
        if status == 101:
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
            else:
                found.append(say("pass", f"a WSS connection from {origin}, an authorised WWSF", answer))
        elif status >= 300 and authorised is False:
            found.append(say("pass", f"the handshake from {shown} is refused ({status})", answer))
    return say.summary(found)


def _protocols(info: HttpInfo) -> list[str]:
    """The subprotocol values of every ``Sec-WebSocket-Protocol`` field of a handshake message, each
    field a comma-separated list (RFC 6455 4.1 and 11.3.4), as written: a client matches the server's
    value to its own exactly (RFC 6455 4.1), as browsers and the ``websockets`` library do."""
    values = [v for k, v in info.headers if k.lower() == "sec-websocket-protocol"]
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


@rule(
    "WSS_SUBPROTOCOL",
    "TR 23.701 5.2.2.5.2 step 2; RFC 7118 4.1",
    "the eP-CSCF's WebSocket is the sip subprotocol's, and only one the WIC offered",
)
def wss_sip_subprotocol(flow: Flow, ctx: Context) -> list[Finding]:
    """5.2.2.5.2 step 2: "The WIC shall open a WSS (secure Web Socket) connection to the eP-CSCF",
    the WebSocket of SIP (RFC 7118). RFC 7118 4.1: "The Client MUST include the value "sip" in the
    Sec-WebSocket-Protocol header in its handshake request. The 101 reply from the Server MUST
    contain "sip" in its corresponding Sec-WebSocket-Protocol header." RFC 6455 4.2.2: the server's
    subprotocol is one the client offered, or none. So a 101 to a handshake offering ``sip`` selects
    ``sip``, and no 101 selects a subprotocol the client did not offer (FAIL). A handshake that does
    not offer ``sip`` is no SIP client's; RFC 6455 lets a server accept it with no subprotocol, and the
    solution profile refuses it (``PROFILE_WSS_SIP_ONLY``): a 101 with no subprotocol is that choice's
    deviation, a refusal (any code: the profile's 400 is not checked) its pass. A refused handshake
    that offered ``sip`` is ``WSS_ORIGIN``'s and the scenario's."""
    say = _Say("WSS_SUBPROTOCOL", flow)
    found = []
    for info, answer, reply, status in _handshakes(flow):
        offered = _protocols(info)
        answered = _protocols(reply)
        selected = answered[0] if answered else None
        shown = ", ".join(offered) if offered else "no subprotocol"
        if status == 101:
            if len(answered) > 1:
                several = f"the eP-CSCF's 101 selects {', '.join(answered)}"
                found.append(say("fail", f"{several}: one subprotocol, one Sec-WebSocket-Protocol field "
                                 "(RFC 6455 4.2.2, 11.3.4)", answer))  # fmt: skip
            elif selected is not None and selected not in offered:
                found.append(say("fail", f"the eP-CSCF's 101 selects {selected}, which the WIC did not offer "
                                 f"(it offered {shown}; RFC 6455 4.2.2)", answer))  # fmt: skip
            elif "sip" in offered and selected != "sip":
                found.append(say("fail", "the 101 to a WIC offering sip does not select it but "
                                 f"{selected or 'none'} (RFC 7118 4.1: \"The 101 reply from the Server MUST "
                                 "contain \"sip\"\")", answer))  # fmt: skip
            elif "sip" not in offered:
                detail = f"the eP-CSCF accepted a WebSocket that offers {shown}, not sip, selecting none"
                found.append(say.profile(ctx, "PROFILE_WSS_SIP_ONLY", detail, answer))
            else:
                found.append(say("pass", "the 101 selects sip, which the WIC offered", answer))
        elif status >= 300 and "sip" not in offered:
            refused = f"a handshake offering {shown}, not sip, is refused ({status})"
            found.append(say("pass", refused, answer))
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
