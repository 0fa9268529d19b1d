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

A terminating INVITE forked to several flows (5.2.2.5.4 steps 4-5) offers each of them a
dialog; once the INVITE has its 2xx, only the flows whose WIC answered it 2xx keep theirs
(:meth:`DialogTable.settled`): a WIC whose branch lost (cancelled, or refused) is in no
dialog, and what it sends "in" the session is refused like any other WIC's (rule 1). A 2xx
that comes after (it crossed the CANCEL, RFC 3261 16.7 step 5 forwards it) gives its flow
the dialog back.
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
MAX_PENDING = 1024
"Forked INVITEs, and dialogs of losing branches, remembered at once (the oldest are forgotten)."

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
        self._answered: collections.OrderedDict[str, set[str]] = collections.OrderedDict()
        "Call-ID of a terminating INVITE still pending -> the flows whose WIC answered it 2xx."
        self._lost: collections.OrderedDict[tuple[str, str], _Dialog] = collections.OrderedDict()
        "(flow, Call-ID) -> the dialog a losing branch was offered, until a late 2xx claims it."

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

    @clause("TR 23.701 5.2.2.5.4")
    def wic_answered(self, flow: str, response: Response) -> None:
        """A final response of the WIC on ``flow`` to a terminating INVITE still pending (forked,
        not yet :meth:`settled`): a 2xx joins the dialog, a refusal ends the branch's. A 2xx after
        it was settled takes back the dialog :meth:`settled` gave up. Any other INVITE response (to
        a re-INVITE in an established dialog: RFC 3261 14.1, a refused one changes nothing) is none
        of this table's business."""
        if response.cseq.method != "INVITE" or not response.is_final:
            return
        call_id, key = response.call_id, (flow, response.call_id)
        if response.status >= 300:
            if self._lost.pop(key, None) is None and call_id in self._answered:
                self._answered[call_id].discard(flow)
                self.ended(flow, call_id)
            return
        lost = self._lost.pop(key, None)
        if lost is not None:  # a 2xx that crossed the CANCEL: the WIC is in the dialog after all
            self._flows.setdefault(flow, collections.OrderedDict())[call_id] = lost
        elif call_id in self._answered and self.has(flow, call_id):
            self._answered[call_id].add(flow)

    def offered(self, call_id: str) -> None:
        """A terminating INVITE ``call_id`` is forked (5.2.2.5.4 step 5): its answers are kept
        until :meth:`settled`."""
        self._answered[call_id] = set()
        self._answered.move_to_end(call_id)
        while len(self._answered) > MAX_PENDING:
            self._answered.popitem(last=False)

    @clause("TR 23.701 5.2.2.5.4")
    def settled(self, flows: Collection[str], call_id: str, status: int) -> None:
        """The forked INVITE ``call_id`` got its final response ``status``: with none a 2xx, no
        flow is in a dialog; with a 2xx, only those whose WIC answered 2xx (step 5 delivers the
        session to the WIC that answers; the others were cancelled or refused it)."""
        answered = self._answered.pop(call_id, None)
        if answered is None and status < 300:
            return  # forgotten (MAX_PENDING forked INVITEs since): no way to tell the branches apart
        for flow in flows:
            if status >= 300 or answered is None or flow not in answered:
                dialogs = self._flows.get(flow)
                dialog = None if dialogs is None else dialogs.pop(call_id, None)
                if dialog is not None and status < 300:
                    self._lost[(flow, call_id)] = dialog
        while len(self._lost) > MAX_PENDING:
            self._lost.popitem(last=False)

    def ended(self, flow: str, call_id: str) -> None:
        """The dialog ``call_id`` on ``flow`` is over (a BYE answered 2xx, or no dialog came)."""
        dialogs = self._flows.get(flow)
        if dialogs is not None:
            dialogs.pop(call_id, None)

    def flow_closed(self, flow: str) -> None:
        self._flows.pop(flow, None)
        for key in [k for k in self._lost if k[0] == flow]:
            del self._lost[key]

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
