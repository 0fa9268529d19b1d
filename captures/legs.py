"""Name the two ends of each captured message after the nodes of TR 23.701 5.2.2.2.

The caller gives the listening address (host, port) of each node (:func:`stack_endpoints`
reads them from a running :class:`reference.stack.Stack`), or only its listening port
(:func:`stack_ports`, ``decode --ports``). An address names an end only when both host and
port are equal: two nodes on different addresses may listen on one port number (a remote
party on 127.0.0.1 and a node on a scenario's own 127.x.y.z). Ends that are not a listening
address are named:

- ``WIC@<port>`` for the client end of a WebSocket connection (a WIC connects to the
  eP-CSCF from an ephemeral port; RFC 7118 gives it no SIP address of its own);
- the node whose listening address is in the top Via of a request sent from that end
  (RFC 3261 18.1.1: a client puts its own sent-by there), for the connections a node
  opens from an ephemeral port to the next hop: :meth:`Legs.learn` does that, per
  connection (the end and its peer): Linux gives two connections to different peers the
  same ephemeral port when it can, so two nodes of one host may send from one (host, port);
- else ``<ip>:<port>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reference.sip.errors import SipError
from reference.sip.message import Request

from .model import Endpoint, WireMessage

if TYPE_CHECKING:
    from reference.stack import Stack

__all__ = ["Legs", "stack_endpoints", "stack_ports"]


def stack_ports(stack: Stack, *, remote: Any = None) -> dict[int, str]:
    """The listening port of every node of a started stack, and of a remote party.

    Names: ``registrar`` (W6/W7 HTTP), ``wwsf`` (HTTPS), ``<ep-cscf>/wss`` (the IWF) and
    ``<ep-cscf>/sip`` (the P-CSCF), ``i-cscf``, ``s-cscf``, ``remote``.
    """
    ports = {stack.registrar.port: "registrar", stack.wwsf.port: "wwsf"}
    for name, ep in stack.ep_cscfs.items():
        ports[ep.iwf.listener.port] = f"{name}/wss"
        ports[ep.pcscf.node.port] = f"{name}/sip"
    ports[stack.icscf.node.port] = "i-cscf"
    ports[stack.scscf.node.port] = "s-cscf"
    if remote is not None:
        ports[remote.node.port] = "remote"
    return ports


def stack_endpoints(stack: Stack, *, remote: Any = None) -> dict[Endpoint, str]:
    """The listening (host, port) of every node of a started stack (all on the stack's
    ``host``), and of a remote party; the names of :func:`stack_ports`."""
    host = stack.config.host  # every node of a stack listens on its one address
    ends = {(host, port): name for port, name in stack_ports(stack).items()}
    if remote is not None:
        ends[(remote.node.host, remote.node.port)] = "remote"
    return ends


class Legs:
    """Names of capture endpoints.

    Args:
        ports: listening port -> node name, whatever the address (when only ports are known).
        addresses: listening (host, port) -> node name; checked first, host and port both.
    """

    def __init__(
        self, ports: Mapping[int, str] | None = None, addresses: Mapping[Endpoint, str] | None = None
    ) -> None:
        self.ports = dict(ports or {})
        self.addresses = dict(addresses or {})
        self._learned: dict[Endpoint, str] = {}
        self._connections: dict[tuple[Endpoint, Endpoint], str] = {}
        "(ephemeral end, its peer) -> the node that sent from that end to that peer"

    def listening(self, end: Endpoint) -> str | None:
        """The node listening at ``end``, None if no node does."""
        known = self.addresses.get(end)
        return known if known is not None else self.ports.get(end[1])

    def learn(self, messages: Iterable[WireMessage]) -> Legs:
        """Name the ephemeral ends seen in ``messages`` (WICs, and nodes by their Via)."""
        for m in messages:
            for end in (m.src, m.dst):
                if m.transport in ("WS", "WSS") and self.listening(end) is None:
                    self._learned.setdefault(end, f"WIC@{end[1]}")
            if isinstance(m.message, Request) and self.listening(m.src) is None:
                try:
                    via = m.message.top_via
                except SipError:
                    continue
                node = self.listening((via.host, via.port or 5060))
                if node is not None:
                    self._connections[(m.src, m.dst)] = node
                    self._learned.setdefault(m.src, node)
        return self

    def name(self, end: Endpoint, transport: str | None = None, peer: Endpoint | None = None) -> str:
        """The name of one end (``peer``: the other end of the message, which tells two nodes
        sending from one ephemeral port apart); ``transport`` WS or WSS names an unknown end as a WIC."""
        known = self.listening(end)
        if known is not None:
            return known
        learned = self._connections.get((end, peer)) if peer is not None else None
        learned = learned if learned is not None else self._learned.get(end)
        if learned is not None:
            return learned
        if transport in ("WS", "WSS"):
            return f"WIC@{end[1]}"
        return f"{end[0]}:{end[1]}"

    def leg(self, message: WireMessage) -> str:
        """``<src name> -> <dst name>``."""
        return f"{self.src(message)} -> {self.dst(message)}"

    def src(self, message: WireMessage) -> str:
        """The name of the end that sent ``message``."""
        return self.name(message.src, message.transport, message.dst)

    def dst(self, message: WireMessage) -> str:
        """The name of the end that received ``message``."""
        return self.name(message.dst, message.transport, message.src)

    def between(self, messages: Iterable[WireMessage], src: str, dst: str) -> list[WireMessage]:
        """The messages sent from the node named ``src`` to the node named ``dst``."""
        return [
            m for m in messages
            if self.src(m) == src and self.dst(m) == dst
        ]  # fmt: skip
