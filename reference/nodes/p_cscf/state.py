"""The eP-CSCF's own registration state, per WIC flow (sans-I/O: no clock, no I/O).

TR 23.701 5.2.2.3.2: the eP-CSCF "shall ... register the WIC" and only lets a WIC
originate with "the same identity used during the WIC registration" (5.2.2.5.3 step 1).
The wIMPU Registrar holds the registrations (W6); this object holds what the eP-CSCF
itself needs about them, per WebSocket flow of a WIC:

- the identities registered over each flow, with their expiry (option A origination is
  checked here, without a registrar query);
- the external identity bound to each IMPU registered over a flow (option B);
- the registrar's contacts (IMPU, contact id) stored for each flow, removed when the
  flow closes (solution profile, Lifecycle) and moved when a WIC registers the same
  ``+sip.instance``/``reg-id`` over another flow (RFC 5626 6).

``service.py`` updates it from the flows' effects and reads it; times are arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from reference.spec import clause

__all__ = ["ContactRef", "Moved", "WicRegistrations"]

ContactRef = tuple[str, str]
"(individual IMPU, contact id): a contact stored in the wIMPU Registrar."


@dataclasses.dataclass(frozen=True, slots=True)
class Moved:
    """A contact moved from flow ``old`` to flow ``new`` (RFC 5626 6)."""

    impu: str
    contact_id: str
    old: str
    new: str
    deregistered: bool
    "True if ``old`` held no other contact of the IMPU: it is no longer registered for it."


class WicRegistrations:
    """Identities and contacts registered over each WIC flow of one eP-CSCF."""

    def __init__(self) -> None:
        self.identities: dict[str, dict[str, float]] = {}
        "flow token -> identity registered over it (IMPU, and external identity) -> expiry."
        self.external_of: dict[tuple[str, str], str] = {}
        "(flow token, IMPU) -> the external identity bound to it (option B)."
        self.contacts: dict[str, set[ContactRef]] = {}
        "flow token -> the registrar's contacts stored for the WIC on that flow."

    # ----- reading ---------------------------------------------------------------------

    @clause("TR 23.701 5.2.2.5.3", steps=1)
    def registered_on(self, flow: str, now: float) -> frozenset[str]:
        """TR 23.701 5.2.2.5.3 step 1: the identities registered over ``flow`` whose
        registration has not expired at ``now`` (those it may originate as)."""
        return frozenset(i for i, expires_at in self.identities.get(flow, {}).items() if expires_at > now)

    def flows(self) -> list[str]:
        """The flows over which something is registered."""
        return list(self.identities)

    def identities_on(self, flow: str) -> frozenset[str]:
        """Every identity registered over ``flow``, expired or not."""
        return frozenset(self.identities.get(flow, {}))

    # ----- changes ---------------------------------------------------------------------

    @clause("TR 23.701 5.2.2.5.2", steps=6)
    def registered(
        self, flow: str, *, impu: str, external_identity: str | None, contact_id: str, expires_at: float
    ) -> list[Moved]:
        """TR 23.701 5.2.2.5.2 step 6: ``impu`` (and in option B its external identity)
        is registered over ``flow`` until ``expires_at``, with the registrar's contact
        ``contact_id``.

        RFC 5626 6: a registration of the same contact over a new flow replaces the old
        flow's ("the registrar MUST ... replace the previous binding"): the old flow no
        longer holds the contact (closing it removes nothing), and if it holds no other
        contact of the IMPU it is no longer registered for it.

        Returns:
            The contacts moved from another flow.
        """
        moved = self._replace_flow(impu, contact_id, flow)
        identities = self.identities.setdefault(flow, {})
        identities[impu] = expires_at
        self.contacts.setdefault(flow, set()).add((impu, contact_id))
        if external_identity:
            identities[external_identity] = expires_at
            self.external_of[(flow, impu)] = external_identity
        return moved

    def _replace_flow(self, impu: str, contact_id: str, flow: str) -> list[Moved]:
        moved = []
        for other, contacts in self.contacts.items():
            if other == flow or (impu, contact_id) not in contacts:
                continue
            contacts.discard((impu, contact_id))
            gone = not any(c[0] == impu for c in contacts)
            if gone:
                self._forget_identity(other, impu)
            moved.append(Moved(impu, contact_id, other, flow, gone))
        return moved

    @clause("TR 23.701 5.2.2.3.2")
    def deregistered(self, flow: str, impu: str, contact_id: str | None) -> None:
        """A de-registration (``Expires: 0``) by the WIC on ``flow`` (5.2.2.3.2 "remove
        the registration entry ... when the WIC is de-registered"): one contact of
        ``impu``, or with ``contact_id`` None every contact of it, on every flow."""
        for contacts in self.contacts.values():
            contacts -= {c for c in contacts if c[0] == impu and contact_id in (None, c[1])}
        for other in list(self.identities) if contact_id is None else [flow]:
            self._forget_identity(other, impu)

    def _forget_identity(self, flow: str, impu: str) -> None:
        identities = self.identities.get(flow, {})
        identities.pop(impu, None)
        external = self.external_of.pop((flow, impu), None)
        if external is not None:
            identities.pop(external, None)

    def flow_closed(self, flow: str) -> set[ContactRef]:
        """The WIC's WebSocket closed: nothing is registered over it any more.

        Returns:
            The registrar's contacts that were on it (to be removed from the registrar,
            unless a newer registration moved them meanwhile).
        """
        self.identities.pop(flow, None)
        for key in [k for k in self.external_of if k[0] == flow]:
            del self.external_of[key]
        return self.contacts.pop(flow, set())

    @clause("TR 23.701 5.2.2.2")
    def drop_flows(self, in_block: Callable[[str], bool]) -> list[str]:
        """TR 23.701 5.2.2.2: the block was re-allocated to another eP-CSCF; forget the
        flows over which an identity of it (``in_block``) is registered.

        Returns:
            Those flows (their WICs must reach the block's new eP-CSCF).
        """
        dropped = [f for f, ids in self.identities.items() if any(in_block(i) for i in ids)]
        for flow in dropped:
            self.flow_closed(flow)
        return dropped

    def forget_contacts(self, flows: Iterable[str] | None = None) -> None:
        """Forget the registrar's contacts of ``flows`` (all by default): closing those
        flows then removes nothing from the registrar."""
        for flow in list(self.contacts) if flows is None else flows:
            self.contacts.pop(flow, None)
