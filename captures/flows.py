"""Group decoded messages into the flows of TR 23.701 5.2.2.5, streaming.

A flow is every SIP message of one Call-ID (a proxy never changes it, RFC 3261 16.6, so
one Call-ID follows a request over every hop) with the W6 and W7 HTTP messages that were
exchanged while it was going on. What a flow is follows from its messages
(:func:`classify`):

- registration of a WIC (5.2.2.5.2): a REGISTER over WS/WSS, its answer, and the W6
  requests the eP-CSCF made in between;
- block registration (5.2.2.5.1): a REGISTER from an eP-CSCF's P-CSCF to the S-CSCF
  (401, then 200);
- origination (5.2.2.5.3): an INVITE (or an out-of-dialog MESSAGE, RFC 3428) from a WIC
  to its eP-CSCF, or from a P-CSCF to the S-CSCF;
- termination (5.2.2.5.4): an INVITE (or an out-of-dialog MESSAGE) arriving at the I-CSCF
  (with its W7 request), or from the S-CSCF to an eP-CSCF (with its W6 request), the
  INVITEs forked to WICs and the CANCELs. A call from one WIC to another is both
  origination and termination.

W6 and W7 requests carry no Call-ID. One is given to the open flows with a transaction
under way (a request without its final response) or a message in the ``window`` seconds
before it, that name an identity it names (the W6/W7 paths and bodies of the solution
profile hold the IMPU or external identity); when it names none of theirs, to the flows
that had a message in the ``window`` seconds before it. Its response goes where the
request went. The rules
(:mod:`captures.rules`) then look at what lies between a SIP request and the message it
caused.

Streaming (bounded memory on large traces): :class:`FlowTracker` holds only open flows.
A flow closes after ``quiet`` seconds of capture time without a message of its own, and
when more than ``max_open`` flows are open the least recently active one closes early;
a flow keeps at most ``max_hops`` messages. :class:`Knowledge` keeps the few facts that
cross flows (tokens seen on WIC legs, registered contacts, IMPU allocations, block
registrations, TLS connections that could not be decrypted), each table bounded.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import enum
import functools
import json
import math
import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from reference.sip.errors import SipError
from reference.sip.identity import IdentityError, canonical_identity
from reference.sip.message import Request, Response

from .errors import Problem, ProblemKind
from .model import Endpoint, HttpInfo, TcpConnection, WireMessage

if TYPE_CHECKING:
    from .topology import Topology

__all__ = [
    "BlockRecord",
    "ContactRecord",
    "End",
    "Ends",
    "Flow",
    "FlowKind",
    "FlowTracker",
    "Hop",
    "Knowledge",
    "Role",
    "StoredContact",
    "bearer_token",
    "classify",
    "end_named",
    "group",
    "http_identities",
    "identity_key",
    "iso_time",
    "registrar_api",
    "sip_identities",
    "w6_entry_path",
    "web_access",
    "websocket_handshake",
]


class Role(enum.Enum):
    """What an end of a message is, in the architecture of 5.2.2.2."""

    WIC = "WIC"
    IWF = "eP-CSCF (IWF)"
    P_CSCF = "eP-CSCF (P-CSCF)"
    I_CSCF = "I-CSCF"
    S_CSCF = "S-CSCF"
    REGISTRAR = "wIMPU Registrar"
    WWSF = "WWSF"
    REMOTE = "remote party"
    OTHER = "other"


_ROLE_NAMES = {
    "i-cscf": Role.I_CSCF, "icscf": Role.I_CSCF, "s-cscf": Role.S_CSCF, "scscf": Role.S_CSCF,
    "registrar": Role.REGISTRAR, "wimpu-registrar": Role.REGISTRAR, "wwsf": Role.WWSF,
    "remote": Role.REMOTE, "remote-party": Role.REMOTE,
}  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class End:
    """One end of a message: its name (``ep-cscf1/sip``, ``WIC@39458``), role and node."""

    name: str
    role: Role
    node: str
    "The node: ``ep-cscf1`` for both the IWF and the P-CSCF side of that eP-CSCF."


def _wic(endpoint: Endpoint) -> End:
    """The client end of a WebSocket (or of its upgrade): a WIC, named by its port."""
    return End(f"WIC@{endpoint[1]}", Role.WIC, f"WIC@{endpoint[1]}")


def end_named(name: str) -> End:
    """The end a listening address was named after (PIXIT node names or a ports file)."""
    base, _, side = name.partition("/")
    key = base.strip().lower().replace("_", "-")
    side = side.lower()
    if side in ("wss", "ws", "iwf"):
        return End(name, Role.IWF, base)
    if side in ("sip", "p-cscf", "pcscf"):
        return End(name, Role.P_CSCF, base)
    if key in _ROLE_NAMES:
        return End(name, _ROLE_NAMES[key], key)
    if key.startswith("wic"):
        return End(name, Role.WIC, name)
    return End(name, Role.OTHER, name)


class Ends:
    """Names and roles of capture endpoints, learned while messages stream by.

    Listening addresses are named by a topology such as the PIXIT (:meth:`from_topology`) or a ports file
    (:meth:`from_ports`). Other ends are learned as :class:`captures.legs.Legs` does: the
    client end of a WebSocket (and of its handshake) is ``WIC@<port>``; the ephemeral port
    a node sends requests from is that node when the top Via names its listening address
    (RFC 3261 18.1.1). Learned ends are kept in a table of at most ``limit`` entries.
    """

    def __init__(
        self,
        addresses: Mapping[Endpoint, str] | None = None,
        ports: Mapping[int, str] | None = None,
        *,
        limit: int = 100_000,
    ) -> None:
        self._addresses = {address: end_named(name) for address, name in (addresses or {}).items()}
        self._ports = {port: end_named(name) for port, name in (ports or {}).items()}
        self._learned: OrderedDict[Endpoint, End] = OrderedDict()
        self._connections: OrderedDict[tuple[Endpoint, Endpoint], End] = OrderedDict()
        """(ephemeral end, its peer) -> the node that sent from that end to that peer: Linux gives two
        connections to different peers one ephemeral port when it can, so two nodes of one host
        may send from one (host, port)."""
        self.limit = limit

    @classmethod
    def from_topology(cls, topology: Topology) -> Ends:
        """Name the listening addresses of ``topology`` (a PIXIT, say; ``i_cscf`` as ``i-cscf``)."""
        addresses = {a: n if "/" in n else n.replace("_", "-") for a, n in topology.endpoints().items()}
        by_port: dict[int, set[str]] = {}
        for (_, port), name in addresses.items():
            by_port.setdefault(port, set()).add(name)
        ports = {port: names.pop() for port, names in by_port.items() if len(names) == 1}
        return cls(addresses, ports)

    @classmethod
    def from_ports(cls, ports: Mapping[int, str]) -> Ends:
        """Name listening ports only (``{5060: "i-cscf", ...}``, as ``decode --ports``)."""
        return cls(None, ports)

    def with_ports(self, ports: Mapping[int, str]) -> Ends:
        """The same naming, with these listening ports named (or renamed) too."""
        merged = Ends(None, None, limit=self.limit)
        merged._addresses = dict(self._addresses)
        merged._ports = {**self._ports, **{port: end_named(name) for port, name in ports.items()}}
        return merged

    @property
    def named(self) -> list[End]:
        """The ends named by the PIXIT or the ports file."""
        return [*self._addresses.values(), *self._ports.values()]

    def listening(self, endpoint: Endpoint) -> End | None:
        return self._addresses.get(endpoint) or self._ports.get(endpoint[1])

    def addresses(self, role: Role) -> list[Endpoint]:
        """The listening addresses the topology names for ends of ``role``."""
        return [address for address, end in self._addresses.items() if end.role is role]

    def end(self, endpoint: Endpoint, transport: str | None = None, peer: Endpoint | None = None) -> End:
        """The end at ``endpoint`` (``peer``: the other end of the message, when known)."""
        known = self.listening(endpoint)
        if known is None and peer is not None:
            known = self._connections.get((endpoint, peer))
        known = known or self._learned.get(endpoint)
        if known is not None:
            return known
        if transport in ("WS", "WSS"):
            return _wic(endpoint)
        name = f"{endpoint[0]}:{endpoint[1]}" if ":" not in endpoint[0] else f"[{endpoint[0]}]:{endpoint[1]}"
        return End(name, Role.OTHER, name)

    def _learn(self, endpoint: Endpoint, end: End) -> None:
        if endpoint not in self._learned:
            self._learned[endpoint] = end
            if len(self._learned) > self.limit:
                self._learned.popitem(last=False)

    def _learn_pair(self, endpoint: Endpoint, peer: Endpoint, end: End) -> None:
        """``endpoint`` is ``end`` on its connection with ``peer``: the name holds for that pair even
        when the port was another node's before (an ephemeral port a node freed and a WIC got)."""
        self._connections[(endpoint, peer)] = end
        self._connections.move_to_end((endpoint, peer))
        if len(self._connections) > self.limit:
            self._connections.popitem(last=False)

    def learn(self, message: WireMessage) -> None:
        """Name the ephemeral ends of ``message`` where it tells who they are."""
        src, dst = message.src, message.dst
        if message.transport in ("WS", "WSS"):
            for endpoint, peer in ((src, dst), (dst, src)):
                if self.listening(endpoint) is None:
                    wic = _wic(endpoint)
                    self._learn(endpoint, wic)
                    self._learn_pair(endpoint, peer, wic)
        elif message.http is not None:
            client, server = (src, dst) if message.http.is_request else (dst, src)
            known = self.listening(server)
            if known is not None and known.role is Role.IWF and self.listening(client) is None:
                wic = _wic(client)
                self._learn(client, wic)
                self._learn_pair(client, server, wic)
        elif isinstance(message.message, Request) and self.listening(src) is None:
            try:
                via = message.message.top_via
            except SipError:
                return
            node = self.listening((via.host, via.port or 5060))
            if node is not None:
                self._learn(src, node)
                self._learn_pair(src, dst, node)

    def hop(self, message: WireMessage) -> Hop:
        """Learn from ``message``, then name both of its ends."""
        self.learn(message)
        return Hop(
            message,
            self.end(message.src, message.transport, message.dst),
            self.end(message.dst, message.transport, message.src),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Hop:
    """A message on its leg: who sent it, who received it."""

    message: WireMessage
    src: End
    dst: End
    method: str | None = dataclasses.field(init=False)
    "A SIP request's method, else None."
    cseq: str = dataclasses.field(init=False)
    "A SIP message's CSeq as written, else ''."

    def __post_init__(self) -> None:
        sip = self.message.message
        object.__setattr__(self, "method", sip.method if isinstance(sip, Request) else None)
        object.__setattr__(self, "cseq", (sip.get("CSeq") or "") if sip is not None else "")

    @property
    def leg(self) -> str:
        return f"{self.src.name} -> {self.dst.name}"

    @property
    def request(self) -> Request | None:
        return self.message.message if isinstance(self.message.message, Request) else None

    @property
    def response(self) -> Response | None:
        return self.message.message if isinstance(self.message.message, Response) else None

    @property
    def on_wic_leg(self) -> bool:
        """Between a WIC and its eP-CSCF (WS, WSS and the handshake), or from the WWSF (step 1)."""
        roles = {self.src.role, self.dst.role}
        return self.message.transport in ("WS", "WSS") or Role.WIC in roles or Role.WWSF in roles


class FlowKind(enum.Enum):
    WIC_REGISTRATION = "wic-registration"
    BLOCK_REGISTRATION = "block-registration"
    ORIGINATION = "origination"
    TERMINATION = "termination"
    WEB_ACCESS = "web-access"
    "5.2.2.5.2 steps 1-2: the WIC's exchanges with the WWSF and its WebSocket handshake."
    OTHER = "other"


@dataclasses.dataclass(frozen=True, slots=True)
class Flow:
    """The messages of one Call-ID, with the W6/W7 messages of their time, in capture order."""

    id: str
    call_id: str
    kinds: frozenset[FlowKind]
    hops: tuple[Hop, ...]
    note: str = ""
    "Why the flow may be incomplete (cut short, closed early), else empty."

    @property
    def messages(self) -> list[WireMessage]:
        return [hop.message for hop in self.hops]

    @property
    def label(self) -> str:
        return "+".join(k.value for k in FlowKind if k in self.kinds)

    @classmethod
    def of(cls, hops: Sequence[Hop], flow_id: str = "flow", note: str = "") -> Flow:
        """A flow built from given hops (live checks, unit tests)."""
        sip = [h.message.message for h in hops if h.message.message is not None]
        call_id = next((m.get("Call-ID") or "" for m in sip), "")
        return cls(flow_id, call_id, classify(hops), tuple(hops), note)


def _out_of_dialog(request: Request) -> bool:
    try:
        return request.to.tag is None
    except SipError:
        return False


def classify(hops: Iterable[Hop]) -> frozenset[FlowKind]:
    """Which flows of 5.2.2.5 these messages are."""
    kinds: set[FlowKind] = set()
    for hop in hops:
        if hop.message.http is not None and web_access(hop):
            kinds.add(FlowKind.WEB_ACCESS)
        request = hop.request
        if request is None:
            continue
        src, dst = hop.src.role, hop.dst.role
        if request.method == "REGISTER":
            if hop.message.transport in ("WS", "WSS") or src is Role.WIC:
                kinds.add(FlowKind.WIC_REGISTRATION)
            elif src is Role.P_CSCF and dst is Role.S_CSCF:
                kinds.add(FlowKind.BLOCK_REGISTRATION)
        elif request.method == "INVITE" or (request.method == "MESSAGE" and _out_of_dialog(request)):
            if src is Role.WIC or (src is Role.P_CSCF and dst is Role.S_CSCF):
                kinds.add(FlowKind.ORIGINATION)
            if dst is Role.I_CSCF or (src is Role.S_CSCF and dst is Role.P_CSCF) or dst is Role.WIC:
                kinds.add(FlowKind.TERMINATION)
    return frozenset(kinds or {FlowKind.OTHER})


# ----- identities, tokens, the registrar's APIs ------------------------------------------------

_IDENTITY = re.compile(r"(?:sips?|tel):[^\s\"'&?#,;<>/\\]+", re.I)
_BEARER = re.compile(r"bearer\s+(?:access_token=\"?)?([A-Za-z0-9._~+/=-]+)\"?", re.I)
_CONNECTION = re.compile(r"\[?([^\s\]]+?)\]?:(\d+) -> \[?([^\s\]]+?)\]?:(\d+)")
_SIP_IDENTITY_HEADERS = ("From", "To", "P-Asserted-Identity", "P-Called-Party-ID", "P-Preferred-Identity")


DEFAULT_PORTS: Final = {"wss": 443, "https": 443, "ws": 80, "http": 80}
"The port a URL of each scheme means when it names none (RFC 6455 3, RFC 9110 4.2)."


@functools.lru_cache(maxsize=65_536)
def block_key(wimpu: str) -> str:
    """A wildcarded IMPU in the form identities compare in (:func:`identity_key`), as written when it
    does not parse: an S-CSCF's P-Associated-URI and the PIXIT may spell one block otherwise."""
    return identity_key(wimpu) or wimpu


@functools.lru_cache(maxsize=65_536)
def identity_key(text: str) -> str | None:
    """The canonical form of a public user identity (RFC 3261 19.1.4), or None."""
    try:
        return canonical_identity(text)
    except (IdentityError, ValueError):
        return None


def registrar_api(hop: Hop) -> str | None:
    """``W6`` or ``W7`` for an HTTP message of those reference points (solution profile:
    ``/w6/...`` and ``/w7/...`` paths), ``registrar`` for other HTTP to or from the
    registrar, else None."""
    info = hop.message.http
    if info is None:
        return None
    if info.path.startswith("/w6/"):
        return "W6"
    if info.path.startswith("/w7/"):
        return "W7"
    return "registrar" if Role.REGISTRAR in (hop.src.role, hop.dst.role) else None


def websocket_handshake(info: HttpInfo) -> bool:
    """An HTTP message of a WebSocket opening handshake (RFC 6455 4): a request asking for the
    upgrade, or a 101 (a refusal is an ordinary answer: :func:`web_access` keeps it by its end)."""
    upgrade = (info.header("Upgrade") or "").lower() == "websocket"
    return upgrade or info.header("Sec-WebSocket-Key") is not None or info.status == 101


def web_access(hop: Hop) -> bool:
    """An HTTP message of 5.2.2.5.2 steps 1-2: to or from the WWSF, or to or from an eP-CSCF's
    WSS listener (the WebSocket handshake and its refusal)."""
    info = hop.message.http
    if info is None:
        return False
    roles = (hop.src.role, hop.dst.role)
    return Role.WWSF in roles or Role.IWF in roles or websocket_handshake(info)


def _address(endpoint: Endpoint) -> str:
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def http_identities(info: HttpInfo) -> set[str]:
    """The identities an HTTP message names in its target and body."""
    text = unquote(info.path) + " " + info.body[:65_536].decode("utf-8", "replace")
    found = {identity_key(token) for token in _IDENTITY.findall(text)}
    return {key for key in found if key is not None}


def sip_identities(request: Request) -> set[str]:
    """The identities a SIP request names: Request-URI, From, To, asserted and called party."""
    found = {identity_key(request.uri)}
    for name in _SIP_IDENTITY_HEADERS:
        for value in request.get_all(name) if request.has(name) else ():
            match = _IDENTITY.search(value)
            if match:
                found.add(identity_key(match.group(0)))
    return {key for key in found if key is not None}


def bearer_token(request: Request) -> str | None:
    """The WWSF token of a REGISTER (5.2.2.5.2 step 3): ``Authorization: Bearer <token>``,
    the TS 24.371 form ``Bearer access_token="<token>"`` (RFC 6750 2.1), or an
    ``application/jwt`` body (the text's "attachment", a PICS option)."""
    for value in request.get_all("Authorization"):
        match = _BEARER.match(value.strip())
        if match:
            return match.group(1)
    if (request.get("Content-Type") or "").split(";")[0].strip().lower() == "application/jwt":
        body = request.body.strip().decode("ascii", "replace")
        return body or None
    return None


# ----- what crosses flows ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact a WIC registered over its WebSocket (5.2.2.5.2 step 6) and how long it lives."""

    identity: str
    "The canonical identity it registered (To): an IMPU (option A) or an external identity (B)."
    uri: str
    wic: Endpoint
    ep_cscf: str
    since: float
    until: float
    flow_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class BlockRecord:
    """A block registration the S-CSCF accepted (5.2.2.5.1)."""

    wimpus: tuple[str, ...]
    "The wildcarded identities the 200 OK's P-Associated-URI lists, canonical (:func:`block_key`)."
    ep_cscf: str
    call_id: str
    flow_id: str
    since: float
    until: float
    frame: int
    contact: str = ""
    "The binding's contact URI (the REGISTER's Contact)."
    removed_by: str = ""
    "The eP-CSCF whose REGISTER removed the binding (``Expires: 0`` naming its contact), if one did."
    removed_frame: int | None = None
    "The frame of the 200 OK to that removal."
    service_route: tuple[str, ...] = ()
    "The URIs of the 200 OK's Service-Route (RFC 3608), in order: the route of the WICs' initial requests."
    associated: tuple[str, ...] = ()
    "Every URI of the 200 OK's P-Associated-URI, in order (``wimpus`` are the wildcarded among them)."
    granted: float = 0.0
    "Seconds of lifetime the 200 OK granted the binding, on the nodes' clock (``until`` is on the capture's)."
    aor: str = ""
    "The address of record the REGISTER's To names (the block's registered identity)."

    def holds(self, wimpu: str) -> bool:
        """Whether this registration is of the wIMPU block ``wimpu``, however either spells it
        (RFC 3261 19.1.4: the host without case, escapes undone)."""
        return block_key(wimpu) in self.wimpus


@dataclasses.dataclass(frozen=True, slots=True)
class BlockRequest:
    """A REGISTER an eP-CSCF sent the S-CSCF (5.2.2.5.1), whatever its answer."""

    ep_cscf: str
    call_id: str
    aor: str
    "The address of record its To names (the block's registered identity)."
    time: float
    frame: int


@dataclasses.dataclass(slots=True)
class LoginRecord:
    """A log-in at the WWSF (5.2.2.5.2 step 1; the profile's ``POST .../login``), and its answer once
    it came."""

    client: Endpoint
    "The client end of the log-in's TCP connection (its address is where the log-in came from)."
    request_frame: int
    request_index: int
    "The index of the log-in's message in the capture (frames are not unique: pipelined requests)."
    sent: float
    "Capture time of the log-in."
    in_flight: int = 0
    "Log-ins of the capture sent before this one and not answered when it was sent."
    earlier_from_address: int = 0
    "Log-ins of the capture from the same address sent before this one (answered or not)."
    refused_before: bool = False
    "Whether the WWSF had refused any log-in of the capture (any non-2xx) before this one was sent."
    recent_failures: int = 0
    """Log-ins from the same address sent in the :data:`LOGIN_FAILURE_WINDOW` seconds before this one
    and refused as failed authentications (:data:`FAILED_AUTHENTICATION`) before it was sent; at most
    :data:`LOGIN_FAILURES_KEPT` (the latest refused): a lower bound, never more than the WWSF saw."""
    status: int | None = None
    "The status code of the WWSF's final answer; None while it has none."
    answer_frame: int | None = None
    answer_index: int | None = None
    "The index of the answer's message in the capture."


LOGIN_FAILURE_WINDOW = 60.0
"""Seconds over which :attr:`LoginRecord.recent_failures` counts an address's failed log-ins (the
solution profile's ``PROFILE_WWSF_THROTTLE_GUESSING`` bounds failures in any 60 s)."""
LOGIN_FAILURES_KEPT = 64
"How many of an address's latest failed log-ins the knowledge keeps (the profile's bound is 40)."
FAILED_AUTHENTICATION = frozenset({401, 403})
"""The answers of a log-in refused for its credentials (RFC 9110 15.5.2, 15.5.4): a 400 or 413 refuses
a malformed request before any password is checked, a 429 (RFC 6585 4) the rate of log-ins."""


def is_login(info: HttpInfo) -> bool:
    """Whether ``info`` is a log-in at the WWSF (the solution profile: ``POST .../login``), or the answer
    to one (a response's ``HttpInfo`` carries its request's method and target)."""
    path = info.path.split("?", 1)[0].rstrip("/")
    return info.method == "POST" and path.endswith("/login")


@dataclasses.dataclass(frozen=True, slots=True)
class StoredContact:
    """A contact the wIMPU Registrar said it stored over W6 (5.2.2.3.1): the 2xx to a write."""

    impu: str
    contact_id: str
    frame: int
    "The frame of the registrar's 2xx to the write."
    since: float
    "Capture time of that 2xx."
    expires_at: float | None
    "When it expires on the registrar's own clock (the answer's ``expires_at``), if the answer said."
    removed: float | None = None
    "Capture time of the registrar's 2xx to its removal, if one came."
    removed_frame: int | None = None
    removal_asked: float | None = None
    """Capture time of a W6 DELETE naming it that has no answer yet, or a 2xx: from then on the
    registrar may have removed it, and an entry it answers on another connection may omit it before
    the DELETE's own answer is in the capture (the registrar's order, not the capture's)."""


def w6_entry_path(path: str) -> tuple[str, str | None] | None:
    """``(IMPU, contact id or None)`` of a W6 path of one entry (solution profile, the registrar's
    OpenAPI document: ``/w6/v1/registrations/{impu}[/contacts/{contact_id}]``), else None."""
    target = unquote(path.split("?", 1)[0])
    prefix = "/w6/v1/registrations/"
    if not target.startswith(prefix):
        return None
    impu, _, contact = target[len(prefix) :].partition("/contacts/")
    key = identity_key(impu)
    if key is None or "/" in impu:
        return None
    return key, (contact or None)


def iso_time(text: object) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (``2026-12-04T10:00:00.000Z``), else None."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _expires(request: Request, response: Response, uri: str) -> int | None:
    for contact in response.contacts if response.has("Contact") else ():
        if contact.uri == uri and contact.param("expires"):
            return int(contact.param("expires") or 0)
    for contact in request.contacts if request.has("Contact") else ():
        if contact.uri == uri and contact.param("expires"):
            return int(contact.param("expires") or 0)
    value = request.get("Expires") or response.get("Expires")
    return int(value) if value and value.isdigit() else None


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


RINGING_QUIET = 240.0
"""Seconds of capture time a flow whose INVITE awaits its final response stays open without a message:
past Timer C's floor of 3 minutes (RFC 3261 16.6 item 11) and the time a node takes to act on it, so
that in a capture of real time the CANCEL of a ringing branch finds its INVITE (rule SESSION_TIMER_C)."""


class Knowledge:
    """Facts of the whole capture that rules of one flow need; every table is bounded.

    Fed by :class:`FlowTracker` (messages) and by the caller (decoding problems).
    """

    def __init__(
        self, *, limit: int = 100_000, clock_jumps: Iterable[tuple[float, float]] = (), complete: bool = False
    ) -> None:
        self.limit = limit
        self.complete = complete
        """The capture holds every packet of the named nodes since they started
        (:attr:`captures.topology.CapturedTopology.complete`): an absence is a fact."""
        self.clock_jumps = tuple(sorted(clock_jumps))
        """(capture time, seconds): when the tester moved the nodes' clock forward, and by how much
        (:meth:`lapse`)."""
        self.tokens: OrderedDict[str, int] = OrderedDict()
        "Tokens seen on WIC legs -> frame of the first REGISTER that carried each."
        self.aliases: OrderedDict[str, str] = OrderedDict()
        "External identity <-> allocated IMPU (option B), both ways, from W6/W7 messages."
        self.contacts: OrderedDict[str, list[ContactRecord]] = OrderedDict()
        self.blocks: deque[BlockRecord] = deque(maxlen=10_000)
        self.block_requests: deque[BlockRequest] = deque(maxlen=10_000)
        "Every REGISTER an eP-CSCF's P-CSCF sent the S-CSCF (a block registration), answered or not."
        self.logins: OrderedDict[int, LoginRecord] = OrderedDict()
        """The log-ins at the WWSF by the index of their request, answered or not, in the order they
        were sent (at most ``limit``; the rules of the web log-in read their answers here)."""
        self.first_login_refusal: int | None = None
        "The frame of the first answer of the WWSF that refused a log-in (kept apart from the bounded table)."
        self._unanswered: OrderedDict[Endpoint, deque[LoginRecord]] = OrderedDict()
        """The log-ins of each connection still without an answer, oldest first (RFC 9112 9.3.2; the first
        100 in flight at most)."""
        self._in_flight = 0
        "How many log-ins ``_unanswered`` holds."
        self._from_address: OrderedDict[str, int] = OrderedDict()
        "Log-ins sent from each address."
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        """Capture times at which the latest failed log-ins of each address were sent (those answered
        last, :data:`LOGIN_FAILURES_KEPT` at most)."""
        self.opaque: OrderedDict[tuple[Endpoint, Endpoint], tuple[End, End, str]] = OrderedDict()
        "TLS connections whose content could not be read (no secrets, bad records): ends, reason."
        self.legs: set[tuple[Role, Role]] = set()
        "(sender role, receiver role) of every message seen."
        self.registrar_messages = 0
        "W6 and W7 messages seen: none at all suggests the registrar's leg is not in the capture."
        self.stored: OrderedDict[str, list[StoredContact]] = OrderedDict()
        "IMPU -> the contacts the registrar said it stored over W6 (and when it removed them)."
        self.connections: list[TcpConnection] = []
        "The TCP connections the decoder has seen so far, in the order each began."
        self._by_end: dict[Endpoint, list[TcpConnection]] = {}
        self._connections_received = 0
        "How much of the decoder's list was read (past ``limit`` too: each connection is read once)."
        self.seen_until = -math.inf
        """The capture time of the latest message the flow tracker received: how far the capture is
        known to go (updated before the flows it makes quiet are closed and judged)."""

    @staticmethod
    def _put(table: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
        """``table[key] = value``, most recent last, at most ``limit`` keys (the oldest dropped)."""
        table[key] = value
        table.move_to_end(key)
        if len(table) > limit:
            table.popitem(last=False)

    def alias(self, identity: str) -> str | None:
        return self.aliases.get(identity)

    def contacts_of(self, identities: Iterable[str], at: float) -> list[ContactRecord]:
        """The contacts registered for any of ``identities`` (or their aliases), live at ``at``."""
        keys = {k for i in identities for k in (i, self.aliases.get(i)) if k}
        return [c for k in keys for c in self.contacts.get(k, ()) if c.since <= at < c.until]

    def registered_over(self, wic: Endpoint, at: float) -> list[str]:
        """The identities a WIC registered over its connection from ``wic`` (its address and port),
        live at ``at``: who that WIC is, whatever it writes in a later request."""
        return sorted(
            {
                c.identity
                for records in self.contacts.values()
                for c in records
                if c.wic == wic and c.since <= at < c.until
            }
        )

    def seen(self, src: Role, dst: Role) -> bool:
        return (src, dst) in self.legs

    def login(self, hop: Hop, client: Endpoint) -> None:
        """A log-in at the WWSF (``client``: the client end of its connection), or the WWSF's answer to
        one: an HTTP/1.1 answer is the answer to the oldest request of its connection still without
        one (RFC 9112 9.3.2); an interim 1xx answers nothing."""
        info = hop.message.http
        assert info is not None
        message = hop.message
        address = client[0]
        if info.is_request and hop.dst.role is Role.WWSF:
            since = message.time - LOGIN_FAILURE_WINDOW
            record = LoginRecord(
                client,
                message.frame,
                message.index,
                message.time,
                in_flight=self._in_flight,
                earlier_from_address=self._from_address.get(address, 0),
                refused_before=self.first_login_refusal is not None,
                recent_failures=sum(sent >= since for sent in self._failures.get(address, ())),
            )
            self._put(self.logins, message.index, record, self.limit)
            self._put(self._from_address, address, record.earlier_from_address + 1, self.limit)
            pending = self._unanswered.setdefault(client, deque())
            self._unanswered.move_to_end(client)
            if len(pending) < 100:  # beyond, a connection that pipelines without end pairs no more
                pending.append(record)
                self._in_flight += 1
            while len(self._unanswered) > self.limit:
                self._in_flight -= len(self._unanswered.popitem(last=False)[1])
        elif not info.is_request and hop.src.role is Role.WWSF and (status := info.status or 0) >= 200:
            queue = self._unanswered.get(client)
            answered = queue.popleft() if queue else None
            if answered is not None:
                self._in_flight -= 1
                answered.status, answered.answer_frame, answered.answer_index = (
                    status,
                    message.frame,
                    message.index,
                )
                if not queue:
                    del self._unanswered[client]
            if not 200 <= status < 300 and self.first_login_refusal is None:
                self.first_login_refusal = message.frame
            if status in FAILED_AUTHENTICATION and answered is not None:
                failures = self._failures.get(address) or deque(maxlen=LOGIN_FAILURES_KEPT)
                failures.append(answered.sent)
                self._put(self._failures, address, failures, self.limit)

    def login_record(self, request_index: int) -> LoginRecord | None:
        """The log-in whose request is the capture's message ``request_index`` (None: not a log-in,
        or dropped from the bounded table)."""
        return self.logins.get(request_index)

    def receive_problem(self, problem: Problem, ends: Ends | None = None) -> None:
        """A decoding problem: remember which TLS connections could not be read."""
        if problem.kind not in (ProblemKind.NO_SECRETS, ProblemKind.DECRYPT):
            return
        match = _CONNECTION.match(problem.where)
        if match and len(self.opaque) < 10_000:
            a, b = (match.group(1), int(match.group(2))), (match.group(3), int(match.group(4)))
            ends = ends if ends is not None else Ends()
            if (a, b) not in self.opaque:
                self.opaque[(a, b)] = (ends.end(a), ends.end(b), problem.detail)

    def receive_connections(self, connections: Sequence[TcpConnection]) -> None:
        """The connections of a decoder's list (which grows as it reads) not received yet; each is
        the decoder's own object, so what it learns later about one (its close) is seen here too.
        At most ``limit`` are kept."""
        new = connections[self._connections_received :]
        self._connections_received = len(connections)
        for connection in new:
            if len(self.connections) >= self.limit:
                return
            self.connections.append(connection)
            for end in (connection.client, connection.server):
                self._by_end.setdefault(end, []).append(connection)

    def closed_connection(self, end: Endpoint, at: float) -> TcpConnection | None:
        """The last TCP connection at ``end`` (either side) begun at or before capture time ``at``, if
        it had closed by then (a WIC's WebSocket that is gone: nothing reaches it over it any more)."""
        begun = [c for c in self._by_end.get(end, ()) if c.opened <= at]
        return begun[-1] if begun and begun[-1].closed_by(at) else None

    def unanswered(self, start: float, end: float) -> list[TcpConnection]:
        """The TCP connections begun (with a SYN) between capture times ``start`` and ``end`` whose
        client sent data and whose server sent not a byte by ``end``, in the order they began."""
        first = bisect.bisect_left(self.connections, start, key=lambda c: c.opened)
        found = []
        for connection in self.connections[first:]:
            if connection.opened > end:
                break
            sent = connection.client_data is not None and connection.client_data <= end
            if connection.handshake and sent and not connection.answered_by(end):
                found.append(connection)
        return found

    def opaque_at(self, node: str | None = None) -> list[tuple[End, End, str]]:
        """The unreadable TLS connections (to ``node``'s ends, when given)."""
        return [c for c in self.opaque.values() if node is None or node in (c[0].node, c[1].node)]

    def lapse(self, start: float, seconds: float) -> float:
        """The capture time at which ``seconds`` of the nodes' clock have passed since capture time
        ``start``: the capture's own clock, shortened by every jump the tester made in between (a
        registration granted for 600 s lapses at the jump that takes the nodes' clock past it)."""
        at, left = start, seconds
        for jumped, forward in self.clock_jumps:
            if jumped < start:
                continue
            if at + left <= jumped:
                break
            left -= jumped - at
            at = jumped
            left -= forward
            if left <= 0:
                return jumped
        return at + left

    def elapsed(self, start: float, end: float) -> float:
        """The seconds of the nodes' clock between capture times ``start`` and ``end``: the capture's
        own, plus every jump the tester made in between (the inverse of :meth:`lapse`)."""
        return end - start + sum(forward for jumped, forward in self.clock_jumps if start <= jumped <= end)

    def receive(self, hop: Hop, flow: Sequence[Hop], flow_id: str) -> None:
        """One message (``flow``: the hops of its flow so far, itself included)."""
        self.legs.add((hop.src.role, hop.dst.role))
        request, response = hop.request, hop.response
        if request is not None and request.method == "REGISTER" and hop.on_wic_leg:
            token = bearer_token(request)
            if token and token not in self.tokens:
                self.tokens[token] = hop.message.frame
                if len(self.tokens) > self.limit:
                    self.tokens.popitem(last=False)
        elif request is not None and request.method == "REGISTER":
            if hop.src.role is Role.P_CSCF and hop.dst.role is Role.S_CSCF:
                try:
                    aor = identity_key(request.to.uri) or request.to.uri
                except SipError:
                    return
                self.block_requests.append(
                    BlockRequest(hop.src.node, request.call_id, aor, hop.message.time, hop.message.frame)
                )
        elif response is not None and 200 <= response.status < 300:
            try:
                if response.cseq.method != "REGISTER":
                    return
            except (SipError, ValueError):
                return
            asked = next(
                (h for h in reversed(flow) if h.request is not None and h.request.method == "REGISTER"
                 and h.request.get("CSeq") == response.get("CSeq") and h.dst.name == hop.src.name),
                None,
            )  # fmt: skip
            if asked is not None and asked.request is not None:
                if hop.dst.role is Role.WIC or hop.message.transport in ("WS", "WSS"):
                    self._wic_registered(asked, asked.request, hop, response, flow_id)
                elif hop.src.role is Role.S_CSCF and hop.dst.role is Role.P_CSCF:
                    self._block_registered(asked.request, hop, response, flow_id)
        elif hop.message.http is not None:
            self.registrar_messages += 1
            self._registrar(hop.message.http)
            self._stored(hop)

    def _wic_registered(
        self, asked: Hop, request: Request, hop: Hop, response: Response, flow_id: str
    ) -> None:
        try:
            identity = identity_key(request.to.uri)
            star = request.contact_is_star
            uris = [] if star else [c.uri for c in request.contacts]
        except SipError:
            return
        if identity is None:
            return
        now = hop.message.time
        kept = []
        for record in self.contacts.pop(identity, []):
            if record.until > now and (star or record.uri in uris):
                record = dataclasses.replace(record, until=now)  # refreshed below, or removed
            if record.until > now - 3600:
                kept.append(record)
        for uri in uris:
            expires = _expires(request, response, uri)
            if expires:
                end = asked.dst.node if asked.dst.role is Role.IWF else asked.dst.name
                until = self.lapse(now, expires)
                kept.append(ContactRecord(identity, uri, asked.message.src, end, now, until, flow_id))
        self.contacts[identity] = kept[-32:]
        if len(self.contacts) > self.limit:
            self.contacts.popitem(last=False)

    def _block_registered(self, request: Request, hop: Hop, response: Response, flow_id: str) -> None:
        try:
            associated = tuple(a.uri for a in response.addresses("P-Associated-URI"))
            wimpus = tuple(key for key in map(block_key, associated) if "!" in key)  # %21 undone
            uri = request.contacts[0].uri if request.has("Contact") and request.contacts else ""
            aor = identity_key(request.to.uri) or request.to.uri
            call_id = request.call_id
            service_route = tuple(a.uri for a in response.addresses("Service-Route"))
        except SipError:
            return
        now = hop.message.time
        expires = _expires(request, response, uri)
        if expires == 0 and uri:
            # RFC 3261 10.3 step 7: a REGISTER with Expires 0 removes the binding of the contact it
            # names, whichever registration (Call-ID) made it: the eP-CSCF that takes over the block
            # of a failed one (TR 23.701 5.2.2.2) removes the failed one's binding, not its own
            for i, record in enumerate(self.blocks):
                named = record.contact == uri or (not record.contact and record.call_id == call_id)
                if named and record.until > now:
                    self.blocks[i] = dataclasses.replace(
                        record, until=now, removed_by=hop.dst.node, removed_frame=hop.message.frame
                    )
            return
        for i, record in enumerate(self.blocks):
            # a REGISTER naming a binding's contact for the same address of record replaces it (RFC 3261
            # 10.3 step 7: a refresh under the same Call-ID, 10.2.4; under another Call-ID "the binding
            # MUST be removed and a new binding MUST be added", e.g. an eP-CSCF registering its block
            # anew after a restart); one naming another contact adds a binding beside it: another record
            same_binding = bool(uri) and record.contact == uri and record.aor in ("", aor)
            refreshed = same_binding or (record.call_id == call_id and (not record.contact or not uri))
            if refreshed and record.until > now:
                self.blocks[i] = dataclasses.replace(record, until=now)
        if expires != 0:
            granted = expires if expires is not None else 3600
            until = self.lapse(now, granted)
            self.blocks.append(
                BlockRecord(
                    wimpus,
                    hop.dst.node,
                    call_id,
                    flow_id,
                    now,
                    until,
                    hop.message.frame,
                    uri,
                    service_route=service_route,
                    associated=associated,
                    granted=granted,
                    aor=aor,
                )
            )

    def stored_at(self, impu: str, at: float) -> list[StoredContact]:
        """The contacts of ``impu`` the registrar had said it stored, and not removed, before ``at``
        (the latest write of each contact id)."""
        latest: dict[str, StoredContact] = {}
        for record in self.stored.get(impu, ()):
            if record.since < at:
                latest[record.contact_id] = record
        return [r for r in latest.values() if r.removed is None or r.removed >= at]

    def removed_before(self, impu: str, contact_id: str, at: float) -> StoredContact | None:
        """The record of ``contact_id`` of ``impu`` when its latest write before ``at`` was removed
        before ``at``, else None."""
        latest = None
        for record in self.stored.get(impu, ()):
            if record.contact_id == contact_id and record.since < at:
                latest = record
        return latest if latest is not None and latest.removed is not None and latest.removed < at else None

    def _stored(self, hop: Hop) -> None:
        """5.2.2.3.1: what the registrar said it stored or removed, from its 2xx to W6 writes and deletes."""
        info = hop.message.http
        if info is None:
            return
        named = w6_entry_path(info.path)
        if named is not None and info.method == "DELETE" and (info.is_request or not _ok(info.status)):
            self._removal_asked(*named, hop.message.time if info.is_request else None)
            return
        if info.is_request or not _ok(info.status):
            return
        if named is None or info.method not in ("PUT", "DELETE"):
            return
        impu, contact_id = named
        now, frame = hop.message.time, hop.message.frame
        records = self.stored.setdefault(impu, [])
        if info.method == "DELETE":
            for i, record in enumerate(records):
                if record.removed is None and (contact_id is None or record.contact_id == contact_id):
                    records[i] = dataclasses.replace(record, removed=now, removed_frame=frame)
            return
        if contact_id is None:
            return
        expires_at = None
        try:
            data = json.loads(info.body) if info.body else None
        except ValueError:
            data = None
        entry = data.get("entry") if isinstance(data, dict) else None
        for contact in entry.get("contacts", ()) if isinstance(entry, dict) else ():
            if isinstance(contact, dict) and contact.get("contact_id") == contact_id:
                expires_at = iso_time(contact.get("expires_at"))
        for i, record in enumerate(records):
            if record.contact_id == contact_id and record.removed is None:
                records[i] = dataclasses.replace(record, removed=now, removed_frame=frame)  # rewritten
        records.append(StoredContact(impu, contact_id, frame, now, expires_at))
        del records[:-64]
        self.stored.move_to_end(impu)
        if len(self.stored) > self.limit:
            self.stored.popitem(last=False)

    def _removal_asked(self, impu: str, contact_id: str | None, at: float | None) -> None:
        """A W6 DELETE of ``contact_id`` (every contact when None) of ``impu`` was sent at ``at``, or
        (``at`` None) refused: it removed nothing."""
        for i, record in enumerate(self.stored.get(impu, ())):
            if record.removed is None and (contact_id is None or record.contact_id == contact_id):
                if at is None or record.removal_asked is None:
                    self.stored[impu][i] = dataclasses.replace(record, removal_asked=at)

    def _registrar(self, info: HttpInfo) -> None:
        """Allocations of option B: a W6 write names the IMPU and the external identity,
        a W6 read or W7 answer gives the entry (``impu``, ``external_identity``)."""
        if not info.body or not info.path.startswith(("/w6/", "/w7/")):
            return
        try:
            data = json.loads(info.body)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        impu = identity_key(str(data.get("impu") or ""))
        entry = w6_entry_path(info.path) if info.is_request else None
        if impu is None and entry is not None and "!" not in entry[0]:
            # the IMPU of /w6/v1/registrations/{impu}/contacts/{contact_id}: never the contact id, which
            # is a SIP URI too for a WIC without +sip.instance (picking it from the set of identities
            # the path names depended on string hashing: a FAIL of OPTB_IMPU_HIDDEN one run in two)
            impu = entry[0]
        elif impu is None and info.is_request:
            named = http_identities(dataclasses.replace(info, body=b""))
            impu = min((k for k in named if "!" not in k), default=None)
        external = identity_key(str(data.get("external_identity") or ""))
        if external is None and not info.is_request and info.path.startswith("/w7/"):
            asked = http_identities(dataclasses.replace(info, body=b""))
            external = min((k for k in asked if k != impu), default=None)  # deterministic: a set
        if impu and external and impu != external:
            self._put(self.aliases, external, impu, self.limit)
            self._put(self.aliases, impu, external, self.limit)


# ----- the tracker --------------------------------------------------------------------------------


class _Open:
    __slots__ = ("number", "call_id", "hops", "last", "identities", "note", "pending")

    def __init__(self, number: int, call_id: str, time: float) -> None:
        self.number = number
        self.call_id = call_id
        self.hops: list[Hop] = []
        self.last = time
        self.identities: set[str] = set()
        self.note = ""
        self.pending: set[str] = set()
        "CSeq of the requests with no final response yet (transactions under way)."

    @property
    def id(self) -> str:
        return f"flow-{self.number}"


class FlowTracker:
    """Messages in, closed :class:`Flow` objects out (sans-I/O, driven by capture time).

    Args:
        ends: the naming of ends (learns as messages pass).
        quiet: seconds of capture time without a message after which a flow closes.
        max_hops: messages kept per flow (a flow cut short says so in its note).
        max_open: flows open at once; beyond it the least recently active closes early.
        window: seconds before a W6/W7 request in which a flow must have had a message to
            be given that request when the request names none of its identities.
    """

    def __init__(
        self,
        ends: Ends,
        knowledge: Knowledge | None = None,
        *,
        quiet: float = 64.0,
        max_hops: int = 2_000,
        max_open: int = 50_000,
        window: float = 2.0,
        max_recent: int = 64,
    ) -> None:
        self.ends = ends
        self.knowledge = knowledge if knowledge is not None else Knowledge()
        self.quiet, self.max_hops, self.max_open = quiet, max_hops, max_open
        self.window, self.max_recent = window, max_recent
        self._open: OrderedDict[str, _Open] = OrderedDict()
        "By Call-ID, least recently active first."
        self._by_identity: dict[str, set[str]] = {}
        self._pending: dict[object, deque[tuple[str, ...]]] = {}
        "HTTP requests awaiting their response, per connection: the Call-IDs they went to."
        self._ready: list[Flow] = []
        self._count = 0

    def receive(self, message: WireMessage) -> Hop:
        """One decoded message; returns it named."""
        hop = self.ends.hop(message)
        self.knowledge.seen_until = max(self.knowledge.seen_until, message.time)  # before a flow closes on it
        self.expire(message.time)
        if message.is_sip:
            self._sip(hop)
        elif registrar_api(hop) is not None:
            self._http(hop)
        elif web_access(hop):
            self._web(hop)
        else:
            self.knowledge.legs.add((hop.src.role, hop.dst.role))
        return hop

    def receive_problem(self, problem: Problem) -> None:
        """A decoding problem: the client of an IWF whose TLS could not be read is a WIC."""
        match = _CONNECTION.match(problem.where)
        if match and problem.kind in (ProblemKind.NO_SECRETS, ProblemKind.DECRYPT):
            client, server = (match.group(1), int(match.group(2))), (match.group(3), int(match.group(4)))
            known = self.ends.listening(server)
            if known is not None and known.role is Role.IWF and self.ends.listening(client) is None:
                self.ends._learn(client, _wic(client))
        self.knowledge.receive_problem(problem, self.ends)

    def flows_ready(self) -> list[Flow]:
        """The flows closed since the last call."""
        ready, self._ready = self._ready, []
        return ready

    def finish(self) -> list[Flow]:
        """The capture ended: close every open flow."""
        for flow in sorted(self._open.values(), key=lambda f: f.number):
            self._close(flow)
        self._open.clear()
        return self.flows_ready()

    def expire(self, now: float) -> None:
        """Close the flows quiet for longer than ``quiet`` seconds; one with an INVITE still awaiting
        its final response (a session ringing) after :data:`RINGING_QUIET` at the earliest."""
        for call_id, flow in list(self._open.items()):  # least recently active first
            idle = now - flow.last
            if idle <= self.quiet:
                return
            if idle <= RINGING_QUIET and any(c.endswith(" INVITE") for c in flow.pending):
                continue
            del self._open[call_id]
            self._close(flow)

    def _add(self, flow: _Open, hop: Hop) -> None:
        if len(flow.hops) < self.max_hops:
            flow.hops.append(hop)
        elif not flow.note:
            flow.note = f"cut at {self.max_hops} messages"

    def _flow(self, call_id: str, hop: Hop) -> _Open:
        """The open flow of ``call_id`` (opened if none), with ``hop`` added."""
        flow = self._open.get(call_id)
        if flow is None:
            if len(self._open) >= self.max_open:
                _, oldest = self._open.popitem(last=False)
                oldest.note = oldest.note or f"closed early: more than {self.max_open} flows open"
                self._close(oldest)
            self._count += 1
            flow = self._open[call_id] = _Open(self._count, call_id, hop.message.time)
        self._open.move_to_end(call_id)
        flow.last = hop.message.time
        self._add(flow, hop)
        return flow

    def _web(self, hop: Hop) -> None:
        """5.2.2.5.2 steps 1-2: an exchange with the WWSF, or a WebSocket handshake: one flow per
        TCP connection (named ``http <client> -> <server>`` in place of a Call-ID)."""
        message = hop.message
        info = message.http
        assert info is not None
        client, server = (message.src, message.dst) if info.is_request else (message.dst, message.src)
        self._flow(f"http {_address(client)} -> {_address(server)}", hop)
        self.knowledge.legs.add((hop.src.role, hop.dst.role))
        if is_login(info):
            self.knowledge.login(hop, client)

    def _sip(self, hop: Hop) -> None:
        sip = hop.message.message
        call_id = sip.get("Call-ID") if sip is not None else None
        if sip is None or not call_id:
            return
        flow = self._flow(call_id, hop)
        cseq = sip.get("CSeq") or ""
        if isinstance(sip, Request):
            if sip.method != "ACK":
                flow.pending.add(cseq)
            try:
                new = sip_identities(sip) - flow.identities
            except SipError:
                new = set()
            if hop.src.role is Role.WIC:  # the WIC is also who it registered as over this connection
                new |= (
                    set(self.knowledge.registered_over(hop.message.src, hop.message.time)) - flow.identities
                )
            for key in new:
                flow.identities.add(key)
                self._by_identity.setdefault(key, set()).add(call_id)
        elif sip.status >= 200:
            flow.pending.discard(cseq)
        self.knowledge.receive(hop, flow.hops, flow.id)

    def _http(self, hop: Hop) -> None:
        message = hop.message
        info = message.http
        assert info is not None
        self.knowledge.receive(hop, (), "")
        connection: object = (
            message.connection if message.connection is not None else (message.src, message.dst)
        )
        if info.is_request:
            targets = self._targets(info, message.time)
            queue = self._pending.setdefault(connection, deque(maxlen=64))
            queue.append(targets)
        else:
            queue = self._pending.get(connection) or deque()
            targets = queue.popleft() if queue else self._targets(info, message.time)
            if not queue:
                self._pending.pop(connection, None)
        for call_id in targets:
            flow = self._open.get(call_id)
            if flow is not None:
                self._add(flow, hop)

    def _targets(self, info: HttpInfo, time: float) -> tuple[str, ...]:
        keys = http_identities(info)
        keys |= {a for k in keys if (a := self.knowledge.alias(k))}
        named = {c for k in keys for c in self._by_identity.get(k, ()) if self._active(c, time)}
        if named:
            return tuple(named)
        recent: list[str] = []
        for flow in reversed(self._open.values()):
            if time - flow.last > self.window or len(recent) >= self.max_recent:
                break
            recent.append(flow.call_id)
        return tuple(recent)

    def _active(self, call_id: str, time: float) -> bool:
        """A transaction of the flow is under way, or it had a message within ``window``."""
        flow = self._open.get(call_id)
        return flow is not None and (bool(flow.pending) or time - flow.last <= self.window)

    def _close(self, flow: _Open) -> None:
        for key in flow.identities:
            calls = self._by_identity.get(key)
            if calls is not None:
                calls.discard(flow.call_id)
                if not calls:
                    del self._by_identity[key]
        self._ready.append(Flow(flow.id, flow.call_id, classify(flow.hops), tuple(flow.hops), flow.note))


def group(messages: Iterable[WireMessage], ends: Ends, knowledge: Knowledge | None = None) -> list[Flow]:
    """Every flow of ``messages`` (a whole list: the live checks, tests), in order of their first message."""
    tracker = FlowTracker(ends, knowledge, quiet=float("inf"))
    for message in messages:
        tracker.receive(message)
    return sorted(tracker.finish(), key=lambda f: int(f.id.partition("-")[2]))
