"""The dialogs the eP-CSCF record-routed, per WIC flow, and the authorisation of every
in-dialog request that uses them (sans-I/O).

The eP-CSCF Record-Routes each INVITE dialog with ``sip:<flow token>@<P-CSCF>;lr``
(``service.py``), so both ends send their in-dialog requests through it. A WIC is an
untrusted client (TR 23.701 5.2.2.1: IMS identities stay within the IMS domain; the WIC
is authorised by the WWSF token at registration only), so before the eP-CSCF relays an
in-dialog request from a WIC it checks, as a P-CSCF does for a UE (TS 24.229 5.2.6.3.4,
5.2.6.3.5, and RFC 5626 5.3 for flows):

1. the request is on a dialog this eP-CSCF record-routed *on that flow*: its top Route
   is this eP-CSCF's Record-Route naming the flow the request came on, and its Call-ID
   is one of that flow's dialogs (a WebSocket that never registered has none);
2. the next hop after that Route is the one the dialog's route set names (the neighbour
   of our Record-Route, or the remote target when nobody else record-routed): a WIC
   cannot make the eP-CSCF relay to an address of its choosing;
3. P-Asserted-Identity comes from the eP-CSCF, never from the WIC (RFC 3325 9.1): any
   P-Asserted-Identity or P-Preferred-Identity the WIC wrote, in a request or in a
   response, is removed and the identity the eP-CSCF asserted when the dialog was set
   up is put in.

From the IMS core side, a request for a flow must be on one of that flow's dialogs too.
Each flow keeps at most :data:`MAX_DIALOGS_PER_FLOW` dialogs (the oldest are forgotten),
and a flow's dialogs go when its WebSocket closes.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Collection, Iterable

from reference.sip.address import parse_name_addr, parse_uri
from reference.sip.errors import SipError
from reference.sip.message import Request, Response
from reference.spec import clause

__all__ = ["MAX_DIALOGS_PER_FLOW", "Authorised", "DialogTable", "Refused", "hop_of"]

MAX_DIALOGS_PER_FLOW = 256
"Dialogs remembered per flow; an older one is forgotten when a newer one is set up."

Hop = tuple[str, int]


def hop_of(uri_or_name_addr: str) -> Hop | None:
    """The element a URI resolves to, as (host, port) with the default port filled in."""
    text = uri_or_name_addr.strip()
    try:
        uri = parse_name_addr(text).uri if "<" in text else text
        parsed = parse_uri(uri)
    except ValueError:
        return None
    default = 5061 if parsed.scheme.lower() == "sips" else 5060
    return parsed.host.lower(), parsed.port or default


@dataclasses.dataclass(slots=True)
class _Dialog:
    asserted: str
    "The identity the eP-CSCF asserts for the WIC in this dialog (an IMPU)."
    next_hops: set[Hop]
    "Where the WIC's in-dialog requests may go after this eP-CSCF."


@dataclasses.dataclass(frozen=True, slots=True)
class Authorised:
    """Relay ``request`` (our Route removed by the proxy, P-Asserted-Identity set)."""

    request: Request


@dataclasses.dataclass(frozen=True, slots=True)
class Refused:
    """Answer ``status`` with ``reason`` (an ACK is dropped instead)."""

    status: int
    reason: str


class DialogTable:
    """The INVITE dialogs record-routed by one eP-CSCF, keyed by (flow token, Call-ID)."""

    def __init__(
        self,
        own: Hop,
        *,
        resolve: Callable[[str], Hop | None] = hop_of,
        max_per_flow: int = MAX_DIALOGS_PER_FLOW,
    ) -> None:
        self.own = own
        "This eP-CSCF's core-side address: the host and port of its Record-Route."
        self.resolve = resolve
        """The element a URI (or name-addr) reaches, as (host, port): node names resolve as
        the eP-CSCF resolves them, so a Service-Route by name and a Record-Route by address
        of the same S-CSCF are the same hop."""
        self.max_per_flow = max_per_flow
        self._flows: dict[str, collections.OrderedDict[str, _Dialog]] = {}

    def __len__(self) -> int:
        return sum(len(d) for d in self._flows.values())

    def _add(self, flow: str, call_id: str, asserted: str, hops: Iterable[Hop | None]) -> None:
        dialogs = self._flows.setdefault(flow, collections.OrderedDict())
        dialog = dialogs.get(call_id)
        if dialog is None:
            dialog = dialogs[call_id] = _Dialog(asserted, set())
        dialog.next_hops.update(h for h in hops if h is not None and h != self.own)
        dialogs.move_to_end(call_id)
        while len(dialogs) > self.max_per_flow:
            dialogs.popitem(last=False)

    # ----- set-up -----------------------------------------------------------------------

    def originated(self, flow: str, onward: Request, asserted: str) -> None:
        """A WIC's INVITE leaves for the core on ``onward``'s Route (the Service-Route)."""
        routes = onward.get_all("Route")
        first = routes[0] if routes else onward.uri
        self._add(flow, onward.call_id, asserted, [self.resolve(first)])

    def answered(self, flow: str, response: Response) -> None:
        """A response of the core to a WIC's INVITE: it fixes the dialog's route set.

        The WIC (UAC) uses the Record-Route in reverse (RFC 3261 12.1.2): the hop after
        ours is the value *before* ours; with nobody before us, the remote target.
        """
        call_id = response.call_id
        if flow not in self._flows or call_id not in self._flows[flow]:
            return
        if response.is_final and response.status >= 300:
            self._flows[flow].pop(call_id, None)
            return
        records = response.get_all("Record-Route")
        at = self._own_index(records)
        if at is not None and at > 0:
            hops = [self.resolve(records[at - 1])]
        else:
            hops = [self.resolve(c.uri) for c in response.contacts]
        self._add(flow, call_id, self._flows[flow][call_id].asserted, hops)

    def terminated(self, flow: str, delivered: Request, asserted: str) -> None:
        """An INVITE from the core goes to the WIC on ``flow``; ``delivered`` carries our
        Record-Route on top. The WIC (UAS) uses the Record-Route in order (RFC 3261
        12.1.1): the hop after ours is the value after ours; with none, the caller's
        Contact."""
        records = delivered.get_all("Record-Route")
        at = self._own_index(records)
        if at is not None and at + 1 < len(records):
            hops = [self.resolve(records[at + 1])]
        else:
            hops = [self.resolve(c.uri) for c in delivered.contacts]
        self._add(flow, delivered.call_id, asserted, hops)

    def failed(self, flows: Collection[str], call_id: str) -> None:
        """The INVITE ``call_id`` ended without a dialog on these flows (final >= 300)."""
        for flow in flows:
            self.ended(flow, call_id)

    def ended(self, flow: str, call_id: str) -> None:
        """The dialog ``call_id`` on ``flow`` is over (a BYE answered 2xx, or no dialog came)."""
        dialogs = self._flows.get(flow)
        if dialogs is not None:
            dialogs.pop(call_id, None)

    def flow_closed(self, flow: str) -> None:
        self._flows.pop(flow, None)

    def asserted(self, flow: str, call_id: str) -> str | None:
        """The identity the eP-CSCF asserts for the WIC on ``flow`` in dialog ``call_id``."""
        dialogs = self._flows.get(flow)
        dialog = None if dialogs is None else dialogs.get(call_id)
        return None if dialog is None else dialog.asserted

    @clause("TR 23.701 5.2.2.3.2")
    def assert_response(self, response: Response, flow: str) -> Response:
        """A response from the WIC on ``flow``: its P-Asserted-Identity is the eP-CSCF's
        (RFC 3325 9.1), the identity asserted for that dialog, or none."""
        cleaned = response.without_header("P-Asserted-Identity").without_header("P-Preferred-Identity")
        try:
            asserted = self.asserted(flow, response.call_id)
        except SipError:
            return cleaned
        return cleaned if asserted is None else cleaned.with_header("P-Asserted-Identity", f"<{asserted}>")

    def has(self, flow: str, call_id: str) -> bool:
        dialogs = self._flows.get(flow)
        return dialogs is not None and call_id in dialogs

    # ----- authorisation ----------------------------------------------------------------

    def _own_index(self, values: list[str]) -> int | None:
        for i, value in enumerate(values):
            if self.resolve(value) == self.own:
                return i
        return None

    def flow_of_route(self, request: Request) -> str | None:
        """The flow token in the top Route, if that Route is this eP-CSCF's Record-Route."""
        routes = request.get_all("Route")
        if not routes:
            return None
        try:
            top = parse_uri(parse_name_addr(routes[0]).uri)
        except ValueError:
            return None
        if (top.host.lower(), top.port or 5060) != self.own or not top.user or top.user == "term":
            return None
        return top.user

    @clause("TR 23.701 5.2.2.3.2")
    def authorise_from_wic(self, request: Request, flow: str) -> Authorised | Refused:
        """Rules 1-3 of the module docstring for an in-dialog request from the WIC on ``flow``."""
        if request.to.tag is None:
            return Refused(403, "In-dialog request outside a dialog")
        if self.flow_of_route(request) != flow:
            return Refused(403, "Not a dialog of this flow")
        dialogs = self._flows.get(flow)
        dialog = None if dialogs is None else dialogs.get(request.call_id)
        if dialog is None:
            return Refused(403, "Not a dialog of this flow")
        routes = request.get_all("Route")
        following = self.resolve(routes[1]) if len(routes) > 1 else self.resolve(request.uri)
        if following not in dialog.next_hops:
            return Refused(403, "Route set not of this dialog")
        onward = (
            request.without_header("P-Asserted-Identity")
            .without_header("P-Preferred-Identity")
            .with_header("P-Asserted-Identity", f"<{dialog.asserted}>")
        )
        return Authorised(onward)

    def authorise_to_wic(self, request: Request, flow: str) -> Refused | None:
        """An in-dialog request from the core for the WIC on ``flow``: on one of its dialogs?"""
        if not self.has(flow, request.call_id):
            return Refused(403, "Not a dialog of this flow")
        return None
