"""The views the checks assert on: small read-only values, and the names of nodes in them.

The views are filled by :class:`~conformance.harness.world.World`; ``expect`` only ever
sees these values (and the capture rules' own records, :mod:`captures.flows`). Also here:
reading a Via's sent-by, and naming the hops of a request by the listening (address, port) of
each node.

The three modules of the harness's observation (issue 14, they were ``observe``, ``wire`` and
``wire_observe``): :mod:`~conformance.harness.scenario_capture` captures a scenario's packets,
:mod:`~conformance.harness.capture_views` compares the peers' messages with the captured ones,
and this module holds the views.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Mapping

from captures.flows import DEFAULT_PORTS, block_key
from reference.sip.address import parse_uri
from reference.sip.message import Request

__all__ = [
    "DirectoryEntry",
    "url_key",
    "Session",
    "hop_names",
    "node_names",
    "sent_by",
    "split_host_port",
]


@dataclasses.dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One wIMPU block as the WWSF announces it, with the eP-CSCF serving it.

    Entries compare as the identities and URIs they name, not as written: a WWSF may spell the
    block or the eP-CSCF's identity with another case of host or escaping (RFC 3261 19.1.4), and its
    URL with a default port or a trailing slash (RFC 3986 6.2.2-6.2.3)."""

    wimpu: str
    ep_cscf_identity: str
    ep_cscf_uri: str

    def is_block(self, wimpu: str) -> bool:
        """Whether this entry announces the wIMPU block ``wimpu`` (an unreadable one is none)."""
        return block_key(self.wimpu) == block_key(wimpu)

    def same_ep_cscf(self, other: DirectoryEntry) -> bool:
        """Whether this entry names the eP-CSCF ``other`` names: its identity and its URL."""
        return self.ep_cscf_key == other.ep_cscf_key and url_key(self.ep_cscf_uri) == url_key(
            other.ep_cscf_uri
        )

    @property
    def ep_cscf_key(self) -> str:
        """The eP-CSCF's identity, a SIP URI (``sip:host``), in the form its parts compare in (RFC
        3261 19.1.4: scheme and host without case, user with it); as written if unreadable."""
        try:
            uri = parse_uri(self.ep_cscf_identity.strip().removeprefix("<").removesuffix(">"))
        except ValueError:
            return self.ep_cscf_identity
        user = f"{uri.user}@" if uri.user else ""
        port = "" if uri.port is None else f":{uri.port}"
        return f"{uri.scheme.lower()}:{user}{uri.host.lower()}{port}"


def url_key(url: str) -> tuple[str, str, int | None, str, str] | str:
    """A ``wss://`` URL in the form URLs compare in (RFC 3986 6.2.2-6.2.3: scheme and host without
    case, the default port of RFC 6455 3 written or not, an empty path as ``/``; the query is part
    of the resource name); an unreadable one as written."""
    try:
        split = urllib.parse.urlsplit(url.strip())
        scheme = split.scheme.lower()
        port = split.port if split.port is not None else DEFAULT_PORTS.get(scheme)
    except ValueError:
        return url
    return scheme, (split.hostname or ""), port, split.path or "/", split.query


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """The last session attempt of a scenario."""

    caller: str
    "Who placed it: a WIC name, or 'the remote party'."
    called: str
    started: float
    "time.monotonic() when it was placed."
    wall_started: float
    "time.time() when it was placed (the capture's clock)."
    wall_ended: float
    "time.time() when its caller had the final response."
    status: int | None
    "The code of the final response the caller received; None: none came."


def sent_by(via: str) -> str:
    """``host:port`` (or ``host``) of a Via value: ``SIP/2.0/TCP 127.0.0.1:5060;branch=...``."""
    parts = via.split(None, 1)
    return parts[1].split(";", 1)[0].strip() if len(parts) == 2 else ""


def split_host_port(address: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port`` or a bare host -> (host, port or None)."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port.isdigit() else None
    host, colon, port = address.rpartition(":")
    if not colon or ":" in host:  # no port, or a bare IPv6 address
        return address, None
    return host, int(port) if port.isdigit() else None


_FEATURE_NAMES = {"i-cscf": "I-CSCF", "s-cscf": "S-CSCF", "remote": "the remote party"}


def node_names(endpoints: Mapping[tuple[str, int], str]) -> dict[tuple[str, int], str]:
    """Listening (address, port) of each SIP node -> its name as the features say it, for Via,
    Path and Record-Route. Address and port both: a port number alone can be the remote
    party's on 127.0.0.1 and a node's on the scenario's own address. An eP-CSCF is named by its
    SIP and its WSS listener: on the WebSocket leg its Via sent-by may be either (RFC 3261
    18.2.1 and RFC 7118 5 prescribe neither; the reference writes its SIP port, Kamailio its
    WSS listener: docs/validation.md, harness assumption 7)."""
    names: dict[tuple[str, int], str] = {}
    for end, name in endpoints.items():
        if name.endswith(("/sip", "/wss")):  # an eP-CSCF's Via on the WebSocket may name either
            names[end] = "eP-CSCF"
        elif name in _FEATURE_NAMES:
            names[end] = _FEATURE_NAMES[name]
    return names


def hop_names(request: Request, names: Mapping[tuple[str, int], str]) -> list[str]:
    """The nodes a received request went through, in order, from its Via header fields:
    ``WIC`` for a ``.invalid`` sent-by (RFC 7118), a node of ``names`` (:func:`node_names`) for
    its listening address, else the sent-by as written."""
    found = []
    for via in reversed(request.get_all("Via")):
        address = sent_by(via)
        host, port = split_host_port(address)
        if host.endswith(".invalid"):
            found.append("WIC")
        else:
            found.append(names.get((host, port), address) if port is not None else address)
    return found
