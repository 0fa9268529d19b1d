"""The SIP dialects the emulated WIC speaks: how JsSIP, SIP.js and a sipML5-like client write
the same REGISTER, INVITE, in-dialog request and UAS responses (issue 17, "the dialect matrix").

One frozen :class:`Dialect` per client family says every shape the families differ in (Via and
Contact, ``+sip.instance``/``reg-id`` or not, ``transport=ws`` or ``wss`` in the Contact,
Supported, Expires in the header or only in the Contact, the first CSeq, the token on every
request or on REGISTER only, the de-registration with or without the token). The functions
below are pure: given a dialect and what the WIC knows (its host, Contact, Call-ID, tags, CSeq,
token) they build the message; :class:`~conformance.harness.wic.Wic` keeps the state.

:data:`HARNESS` is the suite's own shape (the default of every WIC, unchanged by the dialects);
:data:`JSSIP` and :data:`SIPJS` follow the captures of ``interop/jssip/README.md`` and
``interop/sipjs/README.md``; :data:`SIPML5` is *modelled* on a description of sipML5
(doubango), never captured here. ``docs/dialects.md`` has the table with the source of each shape.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
from typing import Literal

from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response
from reference.sip.transaction import make_response

__all__ = [
    "ANSWER_SDP",
    "DIALECTS",
    "HARNESS",
    "JSSIP",
    "OFFER_SDP",
    "SIPJS",
    "SIPML5",
    "Dialect",
    "answer",
    "by_client",
    "contact_header",
    "contact_uri",
    "first_cseq",
    "in_dialog_request",
    "invite_cseq",
    "invite_request",
    "provisionals",
    "random_host",
    "random_user",
    "register_request",
]

OFFER_SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n"
)
ANSWER_SDP = OFFER_SDP.replace(b"o=- 1 1", b"o=- 2 2")

_ALNUM = string.ascii_lowercase + string.digits


Carriage = Literal["header", "header-24371", "body"]
"""How a REGISTER carries the WWSF's token (5.2.2.5.2 step 3, "as an attachment"; the solution
profile's "Token"): ``Authorization: Bearer <token>`` (RFC 8898, RFC 6750 2.1), the same header in TS
24.371's form ``Bearer access_token="<token>"``, or an ``application/jwt`` body."""


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """How one client family writes its SIP over WebSocket (RFC 7118)."""

    name: str
    "Short name (the feature tag is ``dialect_<name>``)."
    client: str
    """How a feature names the client: ``WIC "A1" of alice speaks SIP as <client> does``."""
    source: str
    "Where the shape comes from: a capture (trace) or a description (modelled)."
    random_tokens: bool = True
    "Via host and Contact user drawn from [a-z0-9] (12 and 8 characters); False: hex (the harness)."
    via_transport: str = "WSS"
    "The Via transport over a ``wss://`` URL."
    via_rport: bool = False
    "``;rport`` in the Via (RFC 3581)."
    max_forwards: int = 69
    "Max-Forwards of REGISTER and INVITE."
    in_dialog_max_forwards: int = 70
    "Max-Forwards of a request within a dialog (ACK of a 2xx, BYE)."
    contact_transport: str = "ws"
    "The ``transport`` parameter of the Contact URI (RFC 7118 5.2: ``ws`` whether WS or WSS)."
    contact_user_is_identity: bool = False
    "The Contact's user part is the user part of the registered identity (else random)."
    contact_display_name: bool = False
    "The Contact carries the user part as a quoted display name, with no space before ``<``."
    contact_params: tuple[str, ...] = ("+sip.instance", "reg-id", "expires")
    """The REGISTER Contact's parameters in order: ``+sip.instance`` and ``reg-id`` (RFC 5626 4.2),
    ``expires`` (the interval), any other verbatim (a feature tag, RFC 3840)."""
    expires_header: bool = True
    "An Expires header field on REGISTER (besides, or instead of, the Contact's ``expires``)."
    supported: str | None = "path, gruu, outbound"
    "Supported of REGISTER."
    first_cseq: int | None = 1
    "CSeq of the first REGISTER; None: drawn at random (below 2**31, RFC 3261 8.1.1.5)."
    invite_cseq_random: bool = False
    "A session's INVITE starts its own CSeq at random (below 10000); False: the WIC's one counter."
    bearer_everywhere: bool = False
    "``Authorization: Bearer`` on every request the WIC sends, not only on REGISTER."
    deregister_token: bool = True
    "The de-REGISTER (every contact ``expires`` 0) carries the token."
    deregister_new_from_tag: bool = False
    "The de-REGISTER has a From tag of its own (else the registration's)."
    invite_contact_ob: bool = True
    "``;ob`` in the INVITE's Contact URI (RFC 5626 5.4)."
    invite_contact_params: tuple[str, ...] = ()
    "Parameters of the INVITE's (and the 200's) Contact, verbatim."
    invite_supported: str | None = "outbound"
    "Supported of INVITE."
    user_agent: str | None = None
    "User-Agent of every request; None: the harness's (REGISTER only, with the WIC's name)."
    allow: str | None = None
    "Allow of REGISTER, INVITE and the 200 answering an INVITE."
    uas_trying: bool = False
    "As UAS, 100 Trying before 180 (RFC 3261 8.2.6.1)."
    ringing_contact: bool = False
    "As UAS, the 180 carries the Contact."
    order: tuple[str, ...] = ()
    """The order of the header fields of the requests it sends (names not listed keep theirs, after
    the listed ones); empty: the harness's order."""

    @property
    def tag(self) -> str:
        return f"dialect_{self.name}"

    @property
    def outbound(self) -> bool:
        """Its REGISTER Contact carries ``+sip.instance`` and ``reg-id`` (RFC 5626)."""
        return "+sip.instance" in self.contact_params and "reg-id" in self.contact_params


HARNESS = Dialect(
    name="harness",
    client="the suite's harness",
    source="the suite's own shape (conformance/harness/wic.py), close to JsSIP's",
    random_tokens=False,
)
"The suite's shape: every WIC speaks it unless a scenario names another dialect."

JSSIP = Dialect(
    name="jssip",
    client="JsSIP 3.13",
    source="capture: interop/jssip/README.md (JsSIP 3.13.8), JsSIP's authorization_jwt",
    contact_params=("+sip.ice", "reg-id", "+sip.instance", "expires"),
    supported="path,gruu,outbound",
    invite_cseq_random=True,
    bearer_everywhere=True,
    deregister_new_from_tag=True,
    invite_supported="ice,replaces,outbound",
    user_agent="JsSIP 3.13.8",
    allow="INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY,SUBSCRIBE",
    uas_trying=True,
    ringing_contact=True,
    in_dialog_max_forwards=69,
    order=(
        "Via", "Max-Forwards", "Route", "To", "From", "Call-ID", "CSeq", "Authorization", "Expires",
        "P-Asserted-Identity", "P-Preferred-Identity", "Contact", "Allow", "Supported", "User-Agent",
        "Content-Type", "Content-Length",
    ),
)  # fmt: skip

SIPJS = Dialect(
    name="sipjs",
    client="SIP.js 0.21",
    source="capture: interop/sipjs/README.md (SIP.js 0.21.2, on main), Registerer with extraHeaders",
    max_forwards=70,
    contact_params=("expires",),
    expires_header=False,
    supported="outbound, path, gruu",
    first_cseq=2,
    invite_cseq_random=True,
    deregister_token=False,
    invite_supported="outbound",
    user_agent="SIP.js/0.21.2",
    allow="ACK,CANCEL,INVITE,MESSAGE,BYE,OPTIONS,INFO,NOTIFY,REFER,PRACK,REGISTER,SUBSCRIBE",
    uas_trying=True,
    ringing_contact=True,
    order=(
        "Via", "To", "From", "CSeq", "Call-ID", "Max-Forwards", "Route", "Authorization",
        "P-Asserted-Identity", "P-Preferred-Identity", "Contact", "Expires", "Allow", "Supported",
        "User-Agent", "Content-Type", "Content-Length",
    ),
)  # fmt: skip

SIPML5 = Dialect(
    name="sipml5",
    client="a sipML5-like client",
    source="modelled on a description of sipML5 (doubango), not captured",
    via_rport=True,
    max_forwards=70,
    contact_user_is_identity=True,
    contact_display_name=True,
    contact_params=("+sip.ice", "+g.oma.sip-im", 'language="en,fr"'),
    supported="path",
    first_cseq=None,
    invite_cseq_random=True,
    bearer_everywhere=True,
    invite_contact_ob=False,
    invite_contact_params=("+sip.ice", "+g.oma.sip-im"),
    invite_supported=None,
    user_agent="IM-client/OMA1.0 sipML5-like (wimpu harness)",
    allow="ACK, BYE, CANCEL, INVITE, MESSAGE, NOTIFY, OPTIONS, PRACK, REFER, UPDATE",
    order=(
        "Via", "From", "To", "Contact", "Call-ID", "CSeq", "Content-Length", "Max-Forwards", "Route",
        "Expires", "Authorization", "P-Asserted-Identity", "P-Preferred-Identity", "Content-Type",
        "User-Agent", "Supported", "Allow",
    ),
)  # fmt: skip

DIALECTS: dict[str, Dialect] = {d.name: d for d in (HARNESS, JSSIP, SIPJS, SIPML5)}
"Every dialect by name."


def by_client(client: str) -> Dialect:
    """The dialect a feature names by its client (``JsSIP 3.13``, ``SIP.js 0.21`` ...)."""
    for dialect in DIALECTS.values():
        if dialect.client == client:
            return dialect
    raise ValueError(f"no dialect of client {client!r}; known: {[d.client for d in DIALECTS.values()]}")


# ----- what a WIC draws once ------------------------------------------------------------------


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def random_host(dialect: Dialect) -> str:
    """The WIC's random ``.invalid`` host (RFC 7118 5.2), in Via and Contact."""
    return f"{_random(12) if dialect.random_tokens else secrets.token_hex(6)}.invalid"


def random_user(dialect: Dialect) -> str:
    """The random user part of the WIC's Contact (before :func:`contact_uri` may replace it)."""
    return _random(8) if dialect.random_tokens else secrets.token_hex(4)


def first_cseq(dialect: Dialect) -> int:
    """The CSeq of the WIC's first REGISTER."""
    return dialect.first_cseq if dialect.first_cseq is not None else 1 + secrets.randbelow(2**31 - 2**16)


def invite_cseq(dialect: Dialect, counter: int) -> int:
    """The CSeq of a new session's INVITE; ``counter``: the WIC's next CSeq (the harness's)."""
    return 1 + secrets.randbelow(9999) if dialect.invite_cseq_random else counter


def contact_uri(dialect: Dialect, user: str, host: str) -> str:
    """The URI of the WIC's Contact."""
    return f"sip:{user}@{host};transport={dialect.contact_transport}"


def contact_header(dialect: Dialect, uri: str, params: tuple[str, ...] = ()) -> str:
    """A Contact header field value of the dialect: its display name, the URI, ``params``."""
    user = uri.removeprefix("sip:").partition("@")[0]
    name = f'"{user}"' if dialect.contact_display_name else ""
    return f"{name}<{uri}>" + "".join(f";{p}" for p in params)


# ----- assembly ---------------------------------------------------------------------------------


def _branch() -> str:
    return f"z9hG4bK{secrets.token_hex(8)}"


def _via(dialect: Dialect, host: str) -> str:
    return f"SIP/2.0/{dialect.via_transport} {host};branch={_branch()}" + (
        ";rport" if dialect.via_rport else ""
    )


def _ordered(dialect: Dialect, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if not dialect.order:
        return headers
    rank = {name.lower(): i for i, name in enumerate(dialect.order)}
    return sorted(headers, key=lambda h: rank.get(h[0].lower(), len(rank)))  # stable: Route, Via stay


def _request(dialect: Dialect, start: str, headers: list[tuple[str, str]], body: bytes = b"") -> Request:
    text = start + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in _ordered(dialect, headers)) + "\r\n"
    message = frame_websocket_message(text.encode() + body)
    assert isinstance(message, Request)
    return message


# ----- REGISTER (5.2.2.5.2 step 3) ------------------------------------------------------------


def register_request(
    dialect: Dialect,
    *,
    identity: str,
    registrar: str,
    from_identity: str,
    from_tag: str,
    call_id: str,
    cseq: int,
    host: str,
    contact: str,
    instance: str,
    expires: int,
    token: str | None,
    carriage: Carriage = "header",
    contact_star: bool = False,
    agent: str = "",
) -> Request:
    """The REGISTER of step 3 as ``dialect`` writes it (``expires`` 0: its de-registration).

    ``contact``: the Contact URI; ``instance``: its ``+sip.instance`` URN; ``token``: the WWSF's
    token (a de-registration of a dialect that sends none drops it), carried as ``carriage`` says
    (:data:`Carriage`); ``agent``: the WIC's name, for the harness's User-Agent.
    """
    if expires == 0 and not contact_star and not dialect.deregister_token:
        token = None
    headers = [
        ("Via", _via(dialect, host)),
        ("Max-Forwards", str(dialect.max_forwards)),
        ("To", f"<{identity}>"),
        ("From", f"<{from_identity}>;tag={from_tag}"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} REGISTER"),
    ]
    if contact_star:
        headers.append(("Contact", "*"))
    else:
        values = {
            "+sip.instance": f'+sip.instance="<{instance}>"',
            "reg-id": "reg-id=1",
            "expires": f"expires={expires}",
        }
        params = tuple(values.get(p, p) for p in dialect.contact_params)
        headers.append(("Contact", contact_header(dialect, contact, params)))
    if dialect.expires_header or contact_star:
        headers.append(("Expires", str(expires)))
    body = ""
    if token is not None and carriage == "body":
        body = token
        headers.append(("Content-Type", "application/jwt"))
    elif token is not None and carriage == "header-24371":
        headers.append(("Authorization", f'Bearer access_token="{token}"'))
    elif token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    if dialect.allow is not None:
        headers.append(("Allow", dialect.allow))
    if dialect.supported is not None:
        headers.append(("Supported", dialect.supported))
    headers += [
        ("User-Agent", dialect.user_agent or f"wimpu-harness-wic {agent}"),
        ("Content-Length", str(len(body))),
    ]
    return _request(dialect, f"REGISTER {registrar} SIP/2.0", headers, body.encode())


# ----- INVITE (5.2.2.5.3 step 1) and requests in its dialog ---------------------------------------


def _initial_head(
    dialect: Dialect, host: str, identity: str, target: str, call_id: str, cseq: str
) -> list[tuple[str, str]]:
    """The first header fields of a request outside a dialog (RFC 3261 8.1.1), as ``dialect`` writes them."""
    return [
        ("Via", _via(dialect, host)),
        ("Max-Forwards", str(dialect.max_forwards)),
        ("To", f"<{target}>"),
        ("From", f"<{identity}>;tag={secrets.token_hex(5)}"),
        ("Call-ID", call_id),
        ("CSeq", cseq),
    ]


def invite_request(
    dialect: Dialect,
    *,
    identity: str,
    target: str,
    call_id: str,
    cseq: int,
    host: str,
    contact: str,
    token: str | None,
    asserted: str | None = None,
    preferred: str | None = None,
    route: tuple[str, ...] = (),
) -> Request:
    """An INVITE with an SDP offer as ``dialect`` writes it; ``token`` goes in only for a dialect
    that sends it on every request; ``asserted`` / ``preferred``: a P-Asserted-Identity /
    P-Preferred-Identity the WIC writes itself; ``route``: a Route set it preloads itself."""
    headers = [
        *_initial_head(dialect, host, identity, target, call_id, f"{cseq} INVITE"),
        *(("Route", value) for value in route),
    ]
    if asserted:
        headers.append(("P-Asserted-Identity", f"<{asserted}>"))
    if preferred:
        headers.append(("P-Preferred-Identity", f"<{preferred}>"))
    uri = contact + (";ob" if dialect.invite_contact_ob else "")
    headers.append(("Contact", contact_header(dialect, uri, dialect.invite_contact_params)))
    if token is not None and dialect.bearer_everywhere:
        headers.append(("Authorization", f"Bearer {token}"))
    if dialect.allow is not None:
        headers.append(("Allow", dialect.allow))
    if dialect.invite_supported is not None:
        headers.append(("Supported", dialect.invite_supported))
    if dialect.user_agent is not None:
        headers.append(("User-Agent", dialect.user_agent))
    headers += [("Content-Type", "application/sdp"), ("Content-Length", str(len(OFFER_SDP)))]
    return _request(dialect, f"INVITE {target} SIP/2.0", headers, OFFER_SDP)


def standalone_request(
    dialect: Dialect,
    method: str,
    *,
    identity: str,
    target: str,
    call_id: str,
    cseq: int,
    host: str,
    token: str | None,
    text: str = "",
) -> Request:
    """An out-of-dialog request outside any session, as ``dialect`` writes its requests: a MESSAGE
    (RFC 3428) carrying ``text`` as ``text/plain``, with no Contact (RFC 3428 4: it starts no dialog);
    or an OPTIONS (RFC 3261 11.1: a capability query, answered as an INVITE would be) with
    ``Accept: application/sdp`` and no body; any other method with no body (a BYE or INFO in no
    dialog, TP_WIMPU_SEC_019). The token only for a dialect that sends it on every request."""
    body = text.encode() if method == "MESSAGE" else b""
    headers = _initial_head(dialect, host, identity, target, call_id, f"{cseq} {method}")
    if token is not None and dialect.bearer_everywhere:
        headers.append(("Authorization", f"Bearer {token}"))
    if dialect.user_agent is not None:
        headers.append(("User-Agent", dialect.user_agent))
    if method == "MESSAGE":
        headers.append(("Content-Type", "text/plain"))
    elif method == "OPTIONS":
        headers.append(("Accept", "application/sdp"))
    headers.append(("Content-Length", str(len(body))))
    return _request(dialect, f"{method} {target} SIP/2.0", headers, body)


def in_dialog_request(
    dialect: Dialect,
    invite: Request,
    response: Response,
    method: str,
    cseq: int,
    *,
    host: str,
    token: str | None,
) -> Request:
    """A request in the dialog ``invite`` set up with the 2xx ``response``, as its caller sends
    it: Request-URI the remote target, Route the Record-Route reversed (RFC 3261 12.1.2,
    12.2.1.1); the token only for a dialect that sends it on every request."""
    routes = list(reversed(response.get_all("Record-Route")))
    target = response.contacts[0].uri if response.contacts else invite.uri
    headers = [
        ("Via", _via(dialect, host)),
        ("Max-Forwards", str(dialect.in_dialog_max_forwards)),
        ("To", response.get("To") or ""),
        ("From", invite.get("From") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{cseq} {method}"),
        *(("Route", r) for r in routes),
    ]
    if token is not None and dialect.bearer_everywhere:
        headers.append(("Authorization", f"Bearer {token}"))
    if dialect.user_agent is not None:
        headers.append(("User-Agent", dialect.user_agent))
    headers.append(("Content-Length", "0"))
    return _request(dialect, f"{method} {target} SIP/2.0", headers)


def callee_request(
    dialect: Dialect, invite: Request, method: str, cseq: int, *, to_tag: str, host: str
) -> Request:
    """A request in the dialog an incoming ``invite`` offered, as its callee sends it (RFC 3261
    12.1.1, 12.2.1.1): Request-URI the caller's Contact, Route the Record-Route in order, From the
    INVITE's To with the callee's tag, To the INVITE's From. Any WIC that received the INVITE may
    send it, whether its answer won or not: the eP-CSCF must tell who is in the dialog."""
    target = invite.contacts[0].uri if invite.contacts else invite.uri
    headers = [
        ("Via", _via(dialect, host)),
        ("Max-Forwards", str(dialect.in_dialog_max_forwards)),
        ("To", invite.get("From") or ""),
        ("From", f"{invite.get('To') or ''};tag={to_tag}"),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{cseq} {method}"),
        *(("Route", r) for r in invite.get_all("Record-Route")),
    ]
    if dialect.user_agent is not None:
        headers.append(("User-Agent", dialect.user_agent))
    headers.append(("Content-Length", "0"))
    return _request(dialect, f"{method} {target} SIP/2.0", headers)


# ----- the WIC as UAS (5.2.2.5.4 step 5) --------------------------------------------------------


def provisionals(dialect: Dialect, invite: Request, *, to_tag: str, contact: str) -> list[Response]:
    """What the WIC answers an incoming INVITE at once: 100 (if the dialect sends it), then 180."""
    found = [make_response(invite, 100)] if dialect.uas_trying else []
    ringing = make_response(invite, 180, to_tag=to_tag)
    if dialect.ringing_contact:
        ringing = ringing.with_header(
            "Contact", contact_header(dialect, contact, dialect.invite_contact_params)
        )
    return [*found, ringing]


def answer(dialect: Dialect, invite: Request, *, to_tag: str, contact: str) -> Response:
    """The 200 accepting an incoming INVITE: the WIC's Contact, the Record-Route copied (RFC 3261
    12.1.1), the dialect's Allow, the SDP answer."""
    value = contact_header(dialect, contact, dialect.invite_contact_params)
    ok = make_response(invite, 200, to_tag=to_tag).with_header("Contact", value)
    if invite.get_all("Record-Route"):
        ok = ok.with_header_set("Record-Route", *invite.get_all("Record-Route"))
    if dialect.allow is not None:
        ok = ok.with_header("Allow", dialect.allow)
    return ok.with_body(ANSWER_SDP, "application/sdp")
