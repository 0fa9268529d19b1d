"""A second catalogue of faults, written blind to the scenarios.

``wimpu_faults.py`` holds faults each written for a test purpose. The faults here were
written from the text (TR 23.701 5.2.2), the solution profile and the reference
implementation only, without reading a feature, a step or a rule: they are the bugs a
vendor's eP-CSCF (IWF + P-CSCF), I-CSCF, wIMPU Registrar or WWSF could ship. Which of
them the scenarios catch measures the suite against faults nobody anticipated
(``scripts/blind_mutants.py``, ``docs/mutants-blind.md``).

Select one with ``-p blind_faults`` and ``WIMPU_BLIND_FAULT=name``; it is applied in
``pytest_configure`` with a :class:`pytest.MonkeyPatch` undone at the end of the session,
as ``wimpu_faults`` does. Every fault replaces a function or method of the reference from
outside (the reference itself is never edited); the comment above each says which
message on the wire, or which stored state, differs from the reference's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import secrets
import sys
import time
import types
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pytest

try:
    from wimpu_faults import Fault, FlowRun, _patch_flow, onward_asserting
except ImportError:  # imported by path: its folder holds wimpu_faults too
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from wimpu_faults import Fault, FlowRun, _patch_flow, onward_asserting

ENV: Final = "WIMPU_BLIND_FAULT"
NODES: Final = ("IWF", "P-CSCF", "I-CSCF", "wIMPU Registrar", "WWSF")
CLAUSES: Final = (
    "5.2.2.1",
    "5.2.2.2",
    "5.2.2.3.1",
    "5.2.2.3.2",
    "5.2.2.3.3",
    "5.2.2.4.1",
    "5.2.2.4.2",
    "5.2.2.5.1",
    "5.2.2.5.2",
    "5.2.2.5.3",
    "5.2.2.5.4",
)
BATCHES: Final = {
    1: "the first catalogue: written from the text, the solution profile and the reference",
    2: (
        "written at stop 35 by a helper session that read the text, the solution profile, the reference "
        "and batch 1, and no feature, step, rule, mutant catalogue or report"
    ),
    3: (
        "written at stop 36 by a helper session that read the text, the solution profile, the reference "
        "and batches 1 and 2, and no feature, step, rule, mutant catalogue or report"
    ),
    4: (
        "written at stop 38 by a helper session that read the text, the solution profile, the reference "
        "and batches 1 to 3, and no feature, step, rule, mutant catalogue or report"
    ),
    5: (
        "written at stop 42 by a helper session that read the text, the solution profile, the reference "
        "and batches 1 to 4, and no feature, step, rule, mutant catalogue or report"
    ),
    6: (
        "written at stop 45 by a helper session that read the text, the solution profile, the reference "
        "and batches 1 to 5, and no feature, step, rule, mutant catalogue or report"
    ),
}
"Batch number -> who wrote its faults, and from what (the report of each batch says it)."


@dataclasses.dataclass(frozen=True)
class BlindFault(Fault):
    """A :class:`wimpu_faults.Fault` with the clause it violates and the node that has it."""

    clause: str = ""
    "The clause of TR 23.701 the faulty node violates (one of :data:`CLAUSES`)."
    node: str = ""
    "The node (one of :data:`NODES`)."
    batch: int = 1
    """The batch the fault was written in (each batch by someone who had not read the scenarios,
    :data:`BATCHES`); ``scripts/blind_mutants.py --batch N`` runs one batch into its own report."""


# ----- the modules patched (imported when a fault is applied, not at plugin load) ---------


def _mod(name: str) -> types.ModuleType:
    import importlib

    return importlib.import_module(name)


def _pcscf() -> types.ModuleType:
    return _mod("reference.nodes.p_cscf.service")


def _pflows() -> types.ModuleType:
    return _mod("reference.nodes.p_cscf.flows")


def _iwf() -> types.ModuleType:
    return _mod("reference.nodes.iwf.service")


def _icscf() -> types.ModuleType:
    return _mod("reference.nodes.i_cscf.service")


def _store() -> Any:
    return _mod("reference.nodes.wimpu_registrar.store").Store


Upsert = Callable[..., Any]
"The store's ``upsert_contact(self, impu, wimpu, allocated_by, external, contact, now)``."


def _patch_upsert(mp: pytest.MonkeyPatch, faulty: Callable[[Upsert], Upsert]) -> None:
    """Replace the registrar store's ``upsert_contact`` (a W6 write of one contact) with
    ``faulty(original)``."""
    store_cls = _store()
    mp.setattr(store_cls, "upsert_contact", faulty(store_cls.upsert_contact))


def _patch_contact_written(mp: pytest.MonkeyPatch, change: Callable[[Any, str, Any, float], Any]) -> None:
    """The registrar store writes ``change(store, impu, contact, now)`` instead of the contact a W6
    write of one contact carries (its interval, for one)."""

    def faulty(original: Upsert) -> Upsert:
        def upsert_contact(self: Any, impu: str, wimpu: str, allocated_by: Any, external: Any, contact: Any,
                           now: float) -> Any:  # fmt: skip
            return original(self, impu, wimpu, allocated_by, external, change(self, impu, contact, now), now)

        return upsert_contact

    _patch_upsert(mp, faulty)


def _unverified_sub(token: str) -> str | None:
    import jwt

    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return sub if isinstance(sub, str) else None


# ===== IWF (WSS, Origin, token: 5.2.2.5.2 steps 2-4) ======================================


def _iwf_token_grace(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER whose token expired less than 5 minutes ago gets 200 OK (and a
    # W6 write) instead of 401 with error="invalid_token".
    iwf = _iwf()
    original = iwf.validate

    def validate(token: str | None, **kwargs: Any) -> Any:
        kwargs["leeway"] = 300.0
        return original(token, **kwargs)

    mp.setattr(iwf, "validate", validate)


def _iwf_origin_prefix(mp: pytest.MonkeyPatch) -> None:
    # Wire: the WebSocket handshake with Origin https://<wwsf-host>:<port>.evil.example (or
    # any Origin the WWSF's is a prefix of) gets 101 Switching Protocols, not 403.
    ws = _mod("reference.transport.websocket")

    def origin_allowed(origin: str | None, allowed: Any) -> bool:
        if not origin:
            return False
        return any(origin.strip().lower().startswith(a.lower().rstrip("/")) for a in allowed)

    mp.setattr(ws, "origin_allowed", origin_allowed)


def _iwf_token_against_from(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER whose From differs from its To (third-party registration, RFC 3261
    # 10.2) is checked, and registered, for the From identity: a token for From gets 200
    # OK and the From identity is stored; a token for To gets 403.
    iwf = _iwf()

    def check_token(self: Any, request: Any) -> str:
        identity = str(request.from_.uri)
        token = iwf.extract_bearer(
            request.get_all("Authorization"), request.body, request.get("Content-Type")
        )
        iwf.validate(
            token, identity=identity, keys=self.wwsf.keys, issuer=self.wwsf.origin,
            audience=self.identity, now=self.clock(),
        )  # fmt: skip
        return identity

    mp.setattr(iwf.Iwf, "check_token", check_token)


def _iwf_token_domain_only(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER for sip:bob@D carrying a valid token whose sub is sip:alice@D gets
    # 200 OK (bob registered on alice's log-in) instead of 403.
    iwf = _iwf()
    original = iwf.validate
    identity_module = _mod("reference.sip.identity")

    def domain(identity: str) -> str | None:
        try:
            return identity_module.canonical_identity(identity).partition("@")[2] or None
        except ValueError:
            return None

    def validate(token: str | None, **kwargs: Any) -> Any:
        sub = _unverified_sub(token) if token else None
        if sub is not None and domain(sub) is not None and domain(sub) == domain(kwargs["identity"]):
            kwargs["identity"] = sub  # "same tenant": the user part is not compared
        return original(token, **kwargs)

    mp.setattr(iwf, "validate", validate)


def _iwf_token_once_per_call_id(mp: pytest.MonkeyPatch) -> None:
    # Wire: a re-REGISTER (same Call-ID, RFC 3261 10.2) with an expired token, another
    # identity's token or none at all gets 200 OK instead of 401/403, once the first
    # REGISTER of that Call-ID passed.
    iwf = _iwf()
    original = iwf.Iwf.check_token
    checked: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    def check_token(self: Any, request: Any) -> str:
        seen = checked.setdefault(self, set())
        if request.call_id in seen:
            return str(request.to.uri)
        identity: str = original(self, request)
        seen.add(request.call_id)
        return identity

    mp.setattr(iwf.Iwf, "check_token", check_token)


def _iwf_close_not_reported(mp: pytest.MonkeyPatch) -> None:
    # State and wire: when a WIC's WebSocket closes, its contacts stay in the wIMPU
    # Registrar until they expire; W7 says "registered", so an INVITE to the WIC passes
    # the I-CSCF and gets 430 from the eP-CSCF instead of 480 from the I-CSCF.
    # (Replaces the IWF's private close handler: the only hook on a WebSocket close.)
    iwf = _iwf()
    mp.setattr(iwf.Iwf, "_closed", lambda self, flow: None)


def _iwf_dereg_authorised_by_identity(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER without a token whose every contact has expires 0, sent over a
    # WebSocket no token ever authorised, gets 200 OK instead of 401 as soon as any other
    # WebSocket of the IWF registered that identity with a valid token (the authorisation
    # is kept per identity, not per flow); naming the other WIC's Contact it removes that
    # WIC's binding from the wIMPU Registrar.
    # (Replaces the IWF's private check of a token-less de-registration: no public hook.)
    iwf = _iwf()

    def deregistration_on_authorised_flow(self: Any, request: Any, flow: Any) -> str | None:
        try:
            identity = iwf.canonical_identity(request.to.uri)
        except (iwf.IdentityError, iwf.SipError):
            return None
        anywhere: set[str] = set().union(*self._authorised.values())
        if identity not in anywhere or not iwf.removes_contacts_only(request):
            return None
        return str(request.to.uri)

    mp.setattr(iwf.Iwf, "_deregistration_on_authorised_flow", deregistration_on_authorised_flow)


# ===== P-CSCF: WIC registration (5.2.2.5.2, 5.2.2.3.2) =====================================


def _pcscf_min_expires_off_by_one(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER asking for exactly Min-Expires (60 s) gets 423 Interval Too Brief
    # instead of 200 OK (`<=` where RFC 3261 10.3 step 7 says "shorter than").
    service, flows = _pcscf(), _pflows()
    original = service.register_wic

    def register_wic(request: Any, **kwargs: Any) -> Any:
        policy = kwargs["policy"]
        contacts = [] if request.contact_is_star else request.contacts
        if len(contacts) == 1:
            try:
                asked = flows._expires(request, contacts[0], policy.default_expires)
            except ValueError:
                asked = None
            if asked == policy.min_expires:
                response = flows.make_response(request, 423, to_tag=kwargs["to_tag"])
                return response.with_header("Min-Expires", str(policy.min_expires))
        result = yield from original(request, **kwargs)
        return result

    mp.setattr(service, "register_wic", register_wic)


def _pcscf_ok_expires_default(mp: pytest.MonkeyPatch) -> None:
    # Wire: the 200 OK to a REGISTER gives every Contact expires=600 (the configured
    # default), whatever interval was asked and granted: a WIC that asked 300 s refreshes
    # too late and its registration lapses at the registrar.
    service = _pcscf()

    def outcome(run: FlowRun, response: Any) -> Any:
        if response.status != 200 or not response.has("Contact"):
            return response
        default = run.kwargs["policy"].default_expires
        values = [re.sub(r";expires=\d+", f";expires={default}", v) for v in response.get_all("Contact")]
        return response.with_header_set("Contact", *values)

    _patch_flow(mp, service, "register_wic", outcome=outcome)


def _pcscf_ok_contact_params_dropped(mp: pytest.MonkeyPatch) -> None:
    # Wire: the Contact values of the 200 OK to a REGISTER lose +sip.instance and reg-id,
    # so an RFC 5626 WIC (JsSIP, SIP.js) does not find its own binding in the answer.
    flows = _pflows()
    original = flows._contact_values

    def contact_values(stored: Any, written: Any) -> list[str]:
        return [re.sub(r';\+sip\.instance="<[^>]*>"|;reg-id=\d+', "", v) for v in original(stored, written)]

    mp.setattr(flows, "_contact_values", contact_values)


def _pcscf_contact_key_uri_only(mp: pytest.MonkeyPatch) -> None:
    # State and wire: the contact is keyed by its URI, not by +sip.instance/reg-id (RFC
    # 5626 4.2): a WIC that reconnects (new random .invalid Contact host) adds a second
    # contact instead of replacing its binding; the 200 OK lists both, and a terminating
    # INVITE is forked to the dead flow too.
    flows = _pflows()
    mp.setattr(flows, "contact_key", lambda contact: contact.uri)


def _pcscf_close_removes_all_contacts(mp: pytest.MonkeyPatch) -> None:
    # State: when one WIC's WebSocket closes, the P-CSCF removes the whole entry of the
    # IMPU (W6 remove without contact id), so the user's other WICs are de-registered
    # too: W7 then says "not registered" and a call to the user gets 480.
    service = _pcscf()

    def flow_closed(self: Any, flow_token: str) -> None:
        self.dialogs.flow_closed(flow_token)
        for impu in {impu for impu, _ in self.registrations.flow_closed(flow_token)}:
            self.node.spawn(_remove_quietly(self.registrar, impu))

    async def _remove_quietly(registrar: Any, impu: str) -> None:
        try:
            await registrar.remove(impu, None)
        except Exception:  # noqa: BLE001 - the vendor ignores the answer
            pass

    mp.setattr(service.Pcscf, "flow_closed", flow_closed)


def _pcscf_refresh_keeps_first_expiry(mp: pytest.MonkeyPatch) -> None:
    # Wire (option A): a WIC that keeps refreshing its registration gets 403 to an INVITE
    # (or MESSAGE) once the interval granted to its first REGISTER on that WebSocket has
    # run out, although the 200 OKs to its refreshes and the registrar's W6 entry say it
    # is registered: the eP-CSCF's own record of the identities registered over a flow
    # keeps the expiry of the first registration and a re-REGISTER does not extend it.
    state = _mod("reference.nodes.p_cscf.state")
    original = state.WicRegistrations.registered

    def registered(
        self: Any, flow: str, *, impu: str, external_identity: str | None, contact_id: str, expires_at: float
    ) -> Any:
        first = self.identities.get(flow, {}).get(impu)
        moved = original(
            self, flow, impu=impu, external_identity=external_identity, contact_id=contact_id,
            expires_at=expires_at,
        )  # fmt: skip
        if first is not None:
            self.identities[flow][impu] = first
            if external_identity:
                self.identities[flow][external_identity] = first
        return moved

    mp.setattr(state.WicRegistrations, "registered", registered)


# ===== P-CSCF: origination (5.2.2.5.3) =====================================================


def _pcscf_pai_kept(mp: pytest.MonkeyPatch) -> None:
    # Wire: an INVITE from a WIC that carries its own P-Asserted-Identity leaves the
    # eP-CSCF with two: the eP-CSCF's and the WIC's (RFC 3325 9.1 says remove it).
    service = _pcscf()

    def outcome(run: FlowRun, result: Any) -> Any:
        from reference.nodes.p_cscf.flows import Onward

        if not isinstance(result, Onward):
            return result
        onward = result.request
        for value in run.request.get_all("P-Asserted-Identity"):
            onward = onward.with_header("P-Asserted-Identity", value)
        return Onward(onward)

    _patch_flow(mp, service, "originate", outcome=outcome)


def _pcscf_route_preloaded_kept(mp: pytest.MonkeyPatch) -> None:
    # Wire: an INVITE with a Route the WIC preloaded leaves the eP-CSCF with the
    # Service-Route on top and the WIC's Route values under it (TS 24.229 5.2.6.3.3: the
    # Service-Route replaces them), so the S-CSCF relays it where the WIC chose.
    service = _pcscf()

    def outcome(run: FlowRun, result: Any) -> Any:
        from reference.nodes.p_cscf.flows import Onward

        preloaded = run.request.get_all("Route")
        if not isinstance(result, Onward) or not preloaded:
            return result
        return Onward(result.request.with_header_set("Route", *result.request.get_all("Route"), *preloaded))

    _patch_flow(mp, service, "originate", outcome=outcome)


def _pcscf_ppi_unchecked(mp: pytest.MonkeyPatch) -> None:
    # Wire (option A): an INVITE whose P-Preferred-Identity names an identity not
    # registered over the flow is relayed with that identity in P-Asserted-Identity,
    # instead of being refused with 403.
    service = _pcscf()

    def outcome(run: FlowRun, result: Any) -> Any:
        if getattr(result, "reason", None) != "P-Preferred-Identity not registered":
            return result
        return onward_asserting(run, run.request.addresses("P-Preferred-Identity")[0].uri)

    _patch_flow(mp, service, "originate", outcome=outcome)


def _pcscf_no_record_route(mp: pytest.MonkeyPatch) -> None:
    # Wire: an originating INVITE leaves the eP-CSCF without its Record-Route, so the
    # remote party's BYE (and re-INVITE) is sent around the eP-CSCF, to the WIC's
    # unreachable .invalid Contact.
    service = _pcscf()
    original = service.proxy

    async def proxy(*args: Any, **kwargs: Any) -> Any:
        kwargs["record_route"] = None
        return await original(*args, **kwargs)

    mp.setattr(service, "proxy", proxy)


# ===== P-CSCF: termination (5.2.2.5.4) =====================================================


def _pcscf_fork_first_contact_only(mp: pytest.MonkeyPatch) -> None:
    # Wire: a terminating INVITE for an IMPU registered from two WICs reaches only the
    # first-registered WIC (and gets 430 if that one's WebSocket is closed), instead of
    # being forked to every contact.
    service = _pcscf()

    def outcome(run: FlowRun, result: Any) -> Any:
        from reference.nodes.p_cscf.flows import Fork

        if isinstance(result, Fork):
            return Fork(result.request, result.contacts[:1])
        return result

    _patch_flow(mp, service, "terminate", outcome=outcome)


def _pcscf_cancel_without_reason(mp: pytest.MonkeyPatch) -> None:
    # Wire: when one forked WIC answers, the CANCELs to the other WICs carry no Reason
    # (RFC 3326 cause=200 "Call completed elsewhere"), so those WICs show a missed call.
    # Only the P-CSCF's SIP node is changed (the method is replaced on that instance).
    service = _pcscf()
    sip_node = _mod("reference.transport.sip_node")
    original_init = service.Pcscf.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        node = self.node

        def cancel(handle: Any, reason: str | None = None) -> None:
            sip_node.SipNode.cancel(node, handle, None)

        node.cancel = cancel

    mp.setattr(service.Pcscf, "__init__", init)


def _pcscf_caller_cancel_one_branch(mp: pytest.MonkeyPatch) -> None:
    # Wire: when the caller CANCELs an INVITE the eP-CSCF forked to several WICs, only one
    # WIC gets a CANCEL; the others keep ringing, and the caller's INVITE gets its 487 only
    # when Timer C ends those branches (or a 200 OK from a WIC that was never cancelled).
    # The eP-CSCF keeps the branch to cancel per INVITE (Call-ID and CSeq), not per branch;
    # CANCELs for "call completed elsewhere" (another WIC answered) are not affected.
    # Only the P-CSCF's SIP node is changed (the method is replaced on that instance).
    service = _pcscf()
    sip_node = _mod("reference.transport.sip_node")
    elsewhere = _mod("reference.sip.proxy").CALL_COMPLETED_ELSEWHERE
    original_init = service.Pcscf.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        node = self.node
        chosen: dict[tuple[str, int], Any] = {}

        def cancel(handle: Any, reason: str | None = None) -> None:
            if reason != elsewhere:
                invite = handle.request
                key = (invite.call_id, invite.cseq.number)
                if chosen.setdefault(key, handle) is not handle:
                    return
            sip_node.SipNode.cancel(node, handle, reason)

        node.cancel = cancel

    mp.setattr(service.Pcscf, "__init__", init)


# ===== P-CSCF: requests in a dialog (5.2.2.3.2) ===========================================


def _pcscf_dialog_kept_after_core_bye(mp: pytest.MonkeyPatch) -> None:
    # Wire: after the remote party's BYE has been answered 200 OK, a request the WIC sends
    # in that ended dialog (a re-INVITE, INFO, UPDATE or a second BYE, on the dialog's
    # Route) is relayed into the IMS core with the eP-CSCF's P-Asserted-Identity instead of
    # being refused with 403, and the core's requests in it still reach the WIC: the
    # dialog is forgotten only when the WIC's own BYE ends it.
    service = _pcscf()

    async def in_dialog_from_core(self: Any, tx: Any, request: Any) -> None:
        flow = self.dialogs.flow_of_route(request)
        if flow is None:
            refused = service.Refused(403, "Not routed through a dialog of this eP-CSCF")
            self._refuse(tx, request, refused, "from core")
            return
        if not self.iwf.flow_is_open(flow):
            self._refuse(tx, request, service.Refused(430, "Flow Failed"), "from core")
            return
        not_ours = self.dialogs.authorise_to_wic(request, flow)
        if not_ours is not None:
            self._refuse(tx, request, not_ours, "from core")
            return
        onward = request.without_first_value("Route")
        target = service.Target("WSS", "flow.invalid", 0, flow)
        await service.proxy(
            self.node, tx, onward, [service.Branch(onward.uri, target, request=onward)], timers=self.timers
        )  # the BYE's 2xx leaves the dialog in the table

    mp.setattr(service.Pcscf, "_in_dialog_from_core", in_dialog_from_core)


# ===== P-CSCF: block registration (5.2.2.5.1) and re-allocation (5.2.2.2) ==================


def _pcscf_block_no_path(mp: pytest.MonkeyPatch) -> None:
    # Wire: the REGISTER of the wIMPU block to the S-CSCF carries no Path (TS 23.228 /
    # TS 24.229: the P-CSCF inserts Path), so the S-CSCF does not keep the eP-CSCF on
    # the path of terminating requests for the block.
    flows = _pflows()
    original = flows.BlockBinding.register_request

    def register_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, *args, **kwargs).without_header("Path")

    mp.setattr(flows.BlockBinding, "register_request", register_request)


def _pcscf_block_per_wic(mp: pytest.MonkeyPatch) -> None:
    # Wire: every WIC REGISTER makes the eP-CSCF send the block's REGISTER (and answer
    # its digest challenge) to the S-CSCF again, instead of one registration per block
    # refreshed on its timer.
    reg = _mod("reference.nodes.p_cscf.block_registration")

    async def ensure(self: Any) -> None:
        await self.register()

    mp.setattr(reg.BlockRegistration, "ensure", ensure)


def _pcscf_takeover_keeps_old_binding(mp: pytest.MonkeyPatch) -> None:
    # Wire: an eP-CSCF taking over a failed one's block registers its own binding but
    # sends no REGISTER with expires=0 for the failed eP-CSCF's binding; the S-CSCF keeps
    # forking terminating requests to the dead eP-CSCF until that binding expires.
    reg = _mod("reference.nodes.p_cscf.block_registration")

    async def remove_other_bindings(self: Any, response: Any) -> int:
        return 0

    mp.setattr(reg.BlockRegistration, "remove_other_bindings", remove_other_bindings)


def _pcscf_block_refresh_new_call_id(mp: pytest.MonkeyPatch) -> None:
    # Wire: every refresh of the block registration is a REGISTER with a new Call-ID and
    # CSeq 1 (then 2 for the digest answer), instead of the Call-ID of the block's
    # registration with its CSeq one higher (RFC 3261 10.2: "the same Call-ID in all
    # registrations during a single boot cycle"); the S-CSCF sees a new registration of the
    # block at each refresh. The first registration and a de-registration are unchanged.
    reg = _mod("reference.nodes.p_cscf.block_registration")
    original = reg.BlockRegistration.register

    async def register(self: Any, expires: int | None = None) -> Any:
        if self.binding.registered and expires != 0:
            self.binding.call_id = f"{secrets.token_hex(8)}@{self.node.host}"
            self.binding.cseq = 0
        return await original(self, expires)

    mp.setattr(reg.BlockRegistration, "register", register)


# ===== I-CSCF (5.2.2.3.3, 5.2.2.5.4 steps 1-3, W7) =========================================


def _icscf_domain_case_sensitive(mp: pytest.MonkeyPatch) -> None:
    # Wire: an INVITE to sip:bob@Enterprise.COM (a configured webRTC domain in another
    # case; RFC 3261 19.1.4: hosts compare without case) gets no W7 query and is routed
    # as for a non-webRTC user (an unregistered WIC is not rejected with 480).
    flows = _mod("reference.nodes.i_cscf.flows")

    def webrtc_domain_of(identity: str, webrtc_domains: Any) -> str | None:
        text = identity.strip().strip("<>")
        host = text.partition("@")[2].split(";")[0].split("?")[0]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return host if host in set(webrtc_domains) else None

    mp.setattr(flows, "webrtc_domain_of", webrtc_domain_of)


def _icscf_no_retarget(mp: pytest.MonkeyPatch) -> None:
    # Wire (option B): an INVITE to a registered external identity is not retargeted to
    # the individual IMPU W7 returned; the HSS location query for the external identity
    # finds nothing and the I-CSCF answers 404 instead of forwarding to the S-CSCF.
    service = _icscf()
    flows = _mod("reference.nodes.i_cscf.flows")

    def adjust(run: FlowRun, effect: object, result: Any) -> Any:
        if isinstance(effect, flows.W7Query) and result.registered:
            return dataclasses.replace(result, impu=result.identity)
        return result

    _patch_flow(mp, service, "route_terminating", adjust=adjust)


def _icscf_positive_cache(mp: pytest.MonkeyPatch) -> None:
    # Wire: the I-CSCF caches a "registered" W7 answer for 5 minutes: after a WIC
    # de-registers (or its WebSocket closes), an INVITE to it is still forwarded to the
    # S-CSCF and the eP-CSCF instead of being rejected with 480 at the I-CSCF, and no W7
    # query is seen for it.
    client = _mod("reference.nodes.wimpu_registrar.client")
    original = client.RegistrarClient.status
    caches: weakref.WeakKeyDictionary[Any, dict[str, tuple[float, Any]]] = weakref.WeakKeyDictionary()

    async def status(self: Any, identity: str) -> Any:
        cache = caches.setdefault(self, {})
        hit = cache.get(identity)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        answer = await original(self, identity)
        if answer.registered:
            cache[identity] = (time.monotonic() + 300.0, answer)
        return answer

    mp.setattr(client.RegistrarClient, "status", status)


def _icscf_w7_unavailable_fail_open(mp: pytest.MonkeyPatch) -> None:
    # Wire: while the wIMPU Registrar does not answer (or answers 5xx), an INVITE to a
    # webRTC user is not answered 503 by the I-CSCF: after its W7 query times out the
    # I-CSCF goes on as if the user were registered, without retargeting: for an IMPU of a
    # block the INVITE goes on to the S-CSCF and the eP-CSCF (whose W6 read fails too: the
    # caller gets 500 after 4 s instead of 503 after 2 s), for an external identity the
    # HSS query finds nothing and the caller gets 404.
    # (Replaces the I-CSCF's private driver of its flow: the W7 call is made there.)
    service = _icscf()
    model = _mod("reference.nodes.wimpu_registrar.model")

    async def drive(self: Any, flow: Any) -> Any:
        result: Any = None
        while True:
            try:
                effect = flow.send(result)
            except StopIteration as stop:
                return stop.value
            if isinstance(effect, service.W7Query):
                try:
                    result = await self.registrar.status(effect.identity)
                except service.RegistrarUnavailable:  # "W7 down: do not block calls"
                    result = model.RegistrationStatus(effect.identity, registered=True, impu=effect.identity)
            elif isinstance(effect, service.HssLocation):
                result = self.hss.serving_scscf(effect.identity)
            else:
                raise TypeError(f"unknown effect {effect!r}")

    mp.setattr(service.Icscf, "_drive", drive)


def _icscf_retarget_rewrites_to(mp: pytest.MonkeyPatch) -> None:
    # Wire (option B): when the I-CSCF retargets an INVITE for an external identity to the
    # individual IMPU W7 returned, it rewrites To as well: the INVITE the WIC receives,
    # and the responses the caller gets back, carry the IMS identity (the IMPU) in To
    # instead of the external identity the caller called (5.2.2.1: "IMS identities are
    # only used within the IMS domain").
    service = _icscf()
    flows = _mod("reference.nodes.i_cscf.flows")

    def outcome(run: FlowRun, result: Any) -> Any:
        if not isinstance(result, flows.Forward) or result.request.uri == run.request.uri:
            return result
        to = dataclasses.replace(result.request.to, uri=result.request.uri)
        return dataclasses.replace(result, request=result.request.with_header_set("To", str(to)))

    _patch_flow(mp, service, "route_terminating", outcome=outcome)


# ===== wIMPU Registrar (5.2.2.3.1, W6 5.2.2.4.1, W7 5.2.2.4.2) =============================


def _registrar_prefix_lookup(mp: pytest.MonkeyPatch) -> None:
    # Wire (W7): the status of an unregistered sip:bob@D is looked up with LIKE 'sip:bob%',
    # so it answers "registered" with the IMPU of sip:bobby@D (or of sip:bob@other-domain),
    # and the I-CSCF routes the call to that other user.
    store_cls = _store()
    original = store_cls.status
    model = _mod("reference.nodes.wimpu_registrar.model")

    def status(self: Any, identity: str, now: float) -> Any:
        answer = original(self, identity, now)
        if answer.registered:
            return answer
        stem = answer.identity.partition("@")[0]
        with self._read() as db:
            rows = db.execute(
                "SELECT impu FROM entries WHERE impu LIKE ? OR external_identity LIKE ? ORDER BY impu",
                (stem + "%", stem + "%"),
            ).fetchall()
        for (impu,) in rows:
            entry = self.read(impu, now)
            if entry is not None:
                return model.RegistrationStatus(
                    identity=answer.identity, registered=True, impu=entry.impu, wimpu=entry.wimpu,
                    external_identity=entry.external_identity,
                )  # fmt: skip
        return answer

    mp.setattr(store_cls, "status", status)


def _registrar_expiry_plus_one(mp: pytest.MonkeyPatch) -> None:
    # State and wire: each contact is stored to expire one second after the interval
    # granted (now + expires + 1): for that second W6 reads and W7 still answer
    # "registered" after the registration timer ran out (5.2.2.3.1).
    def faulty(original: Upsert) -> Upsert:
        def upsert_contact(self: Any, impu: str, wimpu: str, allocated_by: Any, external: Any, contact: Any,
                           now: float) -> Any:  # fmt: skip
            contact = dataclasses.replace(contact, expires=contact.expires + 1)
            return original(self, impu, wimpu, allocated_by, external, contact, now)

        return upsert_contact

    _patch_upsert(mp, faulty)


def _registrar_remove_one_removes_all(mp: pytest.MonkeyPatch) -> None:
    # State and wire: a W6 remove of one contact (a WIC de-registering, Expires: 0) deletes
    # the whole entry, so the same user's other WICs are no longer registered: W7 says
    # "not registered" and calls to the user get 480.
    store_cls = _store()
    original = store_cls.remove_contact

    def remove_contact(self: Any, impu: str, contact_id: str, now: float, *, flow: str | None = None) -> Any:
        if flow is not None:
            return original(self, impu, contact_id, now, flow=flow)
        self.remove_entry(impu, now)
        return None

    mp.setattr(store_cls, "remove_contact", remove_contact)


def _registrar_status_ignores_expiry(mp: pytest.MonkeyPatch) -> None:
    # Wire (W7): the status is read from the entries table without looking at the contacts'
    # expiry: an identity whose registration timer ran out is "registered" until the
    # sweeper passes, so the I-CSCF forwards the call instead of rejecting it with 480.
    store_cls = _store()
    original = store_cls.status
    model = _mod("reference.nodes.wimpu_registrar.model")

    def status(self: Any, identity: str, now: float) -> Any:
        answer = original(self, identity, now)
        if answer.registered:
            return answer
        with self._read() as db:
            row = db.execute(
                "SELECT impu, wimpu, external_identity FROM entries WHERE impu = ? OR external_identity = ?",
                (answer.identity, answer.identity),
            ).fetchone()
        if row is None:
            return answer
        return model.RegistrationStatus(
            identity=answer.identity, registered=True, impu=row[0], wimpu=row[1], external_identity=row[2]
        )

    mp.setattr(store_cls, "status", status)


def _registrar_reregister_timer_only(mp: pytest.MonkeyPatch) -> None:
    # State and wire: a re-registration of a stored contact (same +sip.instance/reg-id)
    # updates only its expiry: its flow, URI, Path and eP-CSCF stay those of the first
    # registration. A WIC that reconnects over a new WebSocket and re-registers is still
    # stored on the old flow (W6), the 200 OK lists its old Contact URI, and once the old
    # WebSocket has closed a call to it gets 430 Flow Failed instead of reaching it.
    store = _mod("reference.nodes.wimpu_registrar.store")
    mp.setattr(store, "_CONTACT_UPDATE", "expires_at = excluded.expires_at")


def _registrar_w6_read_without_external(mp: pytest.MonkeyPatch) -> None:
    # Wire (W6): the read of an entry by its IMPU (GET /w6/v1/registrations/{impu}) answers
    # "external_identity": null for an option B entry; the binding is stored (the read by
    # external identity and W7 still find it), but the eP-CSCF, reading the called IMPU's
    # contacts, delivers a terminating INVITE to the WIC with the IMPU in
    # P-Called-Party-ID instead of the external identity the WIC registered with.
    service = _mod("reference.nodes.wimpu_registrar.service")
    original = service.RegistrarService._read

    async def read(self: Any, request: Any) -> Any:
        response = await original(self, request)
        document = json.loads(response.body)
        document["external_identity"] = None  # the by-IMPU query does not select the column
        return service.web.json_response(document, status=response.status)

    mp.setattr(service.RegistrarService, "_read", read)


# ===== WWSF (5.2.2.1, 5.2.2.2, 5.2.2.5.2 step 1) ===========================================


def _wwsf_aud_is_issuer(mp: pytest.MonkeyPatch) -> None:
    # Wire: the token of the log-in answer has aud = the WWSF's own origin (iss and aud
    # mixed up) instead of the eP-CSCF's identity; every REGISTER with it gets 401.
    tokens = _mod("reference.nodes.wwsf.tokens")
    original = tokens.TokenIssuer.issue

    def issue(self: Any, subject: str, audience: str) -> Any:
        return original(self, subject, self.issuer)

    mp.setattr(tokens.TokenIssuer, "issue", issue)


def _wwsf_first_block_for_all(mp: pytest.MonkeyPatch) -> None:
    # Wire: the log-in answer sends every user to the eP-CSCF of the first configured block
    # (token aud and ep_cscf URL), whatever block the user's identity is in; users of the
    # other blocks are refused by that eP-CSCF (403 or 401).
    # (Replaces the WWSF's private user -> block look-up: there is no public one.)
    service = _mod("reference.nodes.wwsf.service")

    def block_of(self: Any, user: Any) -> Any:
        return self.directory()[0]

    mp.setattr(service.WwsfService, "_block_of", block_of)


def _wwsf_directory_stale(mp: pytest.MonkeyPatch) -> None:
    # Wire: after an eP-CSCF fails and its block is re-allocated, the WWSF's log-in answer
    # and /directory still name the failed eP-CSCF, so WICs cannot reach the new one.
    service = _mod("reference.nodes.wwsf.service")

    async def follow_block_owners(self: Any) -> None:
        return None

    mp.setattr(service.WwsfService, "follow_block_owners", follow_block_owners)


def _wwsf_aud_of_configured_ep(mp: pytest.MonkeyPatch) -> None:
    # Wire: after a block is re-allocated to another eP-CSCF, the log-in answer sends the
    # user to the new eP-CSCF (its ep_cscf URL, and /directory, follow the re-allocation)
    # with a token whose aud is still the identity of the eP-CSCF configured for the block
    # at start-up: every REGISTER at the new eP-CSCF gets 401 (invalid_token).
    service = _mod("reference.nodes.wwsf.service")
    configured: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
    original_init = service.WwsfService.__init__
    original_block_of = service.WwsfService._block_of

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        configured[self] = {entry.wimpu: entry.ep_cscf.identity for entry in self.directory()}

    def block_of(self: Any, user: Any) -> Any:
        entry = original_block_of(self, user)
        audience = configured.get(self, {}).get(entry.wimpu)
        if audience is None or audience == entry.ep_cscf.identity:
            return entry
        return dataclasses.replace(entry, ep_cscf=service.EpCscf(uri=entry.ep_cscf.uri, identity=audience))

    mp.setattr(service.WwsfService, "__init__", init)
    mp.setattr(service.WwsfService, "_block_of", block_of)


# ===== batch 3 (written at stop 36; BATCHES[3]) ============================================
# ----- IWF (5.2.2.5.2 step 4, 5.2.2.3.2) -----------------------------------------------------


def _unverified_claims(token: str | None) -> Mapping[str, Any]:
    import jwt

    if not token:
        return {}
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _iwf_token_aud_unchecked(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER carrying a valid WWSF token issued for another eP-CSCF (its aud is
    # the identity of the eP-CSCF of another block, or any other audience) gets 200 OK, and
    # a W6 write, instead of 401 with error="invalid_token": the IWF checks the signature,
    # iss, the lifetime and sub, but takes the audience from the token itself ("the token
    # says who it is for"), so a token leaked from, or minted for, one eP-CSCF is replayed
    # at another (5.2.2.5.2 step 4; the profile's aud claim names the eP-CSCF).
    iwf = _iwf()
    original = iwf.validate

    def validate(token: str | None, **kwargs: Any) -> Any:
        aud = _unverified_claims(token).get("aud")
        if isinstance(aud, str):
            kwargs["audience"] = aud
        elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            kwargs["audience"] = aud[0]
        return original(token, **kwargs)

    mp.setattr(iwf, "validate", validate)


def _iwf_dereg_star_without_token(mp: pytest.MonkeyPatch) -> None:
    # Wire and state: a REGISTER with `Contact: *` and `Expires: 0` but no token, on a
    # WebSocket over which a valid token registered the identity, gets 200 OK instead of
    # 401 with a Bearer challenge, and every contact of the identity is removed from the
    # wIMPU Registrar, those of the user's other WICs too (W6 remove of the entry): the
    # IWF's "de-registration needs no token on an authorised flow" check counts the
    # wildcard as a de-registration like any other (the profile keeps `Contact: *`
    # challenged: it removes what this WIC never registered; 5.2.2.3.2 authorisation).
    iwf = _iwf()
    original = iwf.removes_contacts_only

    def removes_contacts_only(request: Any) -> bool:
        if request.contact_is_star:
            expires = (request.get("Expires") or "").strip()
            return expires.isdigit() and int(expires) == 0
        return bool(original(request))

    mp.setattr(iwf, "removes_contacts_only", removes_contacts_only)


# ----- P-CSCF (5.2.2.5.3, 5.2.2.5.4, 5.2.2.2) ------------------------------------------------


def _pcscf_orig_any_flow(mp: pytest.MonkeyPatch) -> None:
    # Wire (option B): an INVITE (or MESSAGE) whose From is the external identity of a user
    # registered from another WebSocket, sent over a WebSocket that registered nothing (or
    # another identity), is relayed to the S-CSCF with P-Asserted-Identity = that user's
    # IMPU instead of being refused with 403: the eP-CSCF reads the registration context
    # over W6 (5.2.2.5.3 step 2) and takes "registered" for "registered by this WIC", never
    # comparing the flow the request came on with the flows of the entry's contacts.
    service, flows = _pcscf(), _pflows()

    def adjust(run: FlowRun, effect: object, result: Any) -> Any:
        if not isinstance(effect, flows.W6ReadByExternal) or result is None or not result.contacts:
            return result
        flow = run.kwargs["flow"]
        if any(c.flow == flow for c in result.contacts):
            return result
        anywhere = dataclasses.replace(result.contacts[0], flow=flow)
        return dataclasses.replace(result, contacts=(*result.contacts, anywhere))

    _patch_flow(mp, service, "originate", adjust=adjust)


def _pcscf_bearer_forwarded(mp: pytest.MonkeyPatch) -> None:
    # Wire: a WIC request that carries the WWSF token in `Authorization: Bearer` (JsSIP puts
    # it on every request) leaves the eP-CSCF for the S-CSCF with the token in it, the
    # initial INVITE or MESSAGE as well as the requests in a dialog: the eP-CSCF does not
    # remove the credential issued for it (its aud) before the request enters the IMS core
    # (5.2.2.5.3 step 3, standard origination; the profile strips the token).
    service, flows = _pcscf(), _pflows()

    def strip_bearer(request: Any) -> Any:
        return request

    mp.setattr(flows, "strip_bearer", strip_bearer)
    mp.setattr(service, "strip_bearer", strip_bearer)


def _pcscf_response_pai_from_wic(mp: pytest.MonkeyPatch) -> None:
    # Wire: a response of a WIC to a terminating INVITE (180, 200 OK) or to a request in a
    # dialog that carries a P-Asserted-Identity the WIC wrote reaches the caller with that
    # identity, not the one the eP-CSCF asserts for the dialog (the called IMPU): the
    # eP-CSCF puts its own assertion only into responses that carry none, so a WIC can
    # answer as any identity (RFC 3325 9.1; 5.2.2.5.4 step 5, the eP-CSCF delivers the
    # session to the WIC and stands for its identity towards the IMS core).
    dialogs = _mod("reference.nodes.p_cscf.dialogs")
    original = dialogs.DialogTable.assert_response

    def assert_response(self: Any, response: Any, flow: str) -> Any:
        if response.has("P-Asserted-Identity"):
            return response.without_header("P-Preferred-Identity")
        return original(self, response, flow)

    mp.setattr(dialogs.DialogTable, "assert_response", assert_response)


def _pcscf_takeover_keeps_stale_contacts(mp: pytest.MonkeyPatch) -> None:
    # State and wire: an eP-CSCF taking over a failed one's block registers the block but
    # leaves in the wIMPU Registrar the contacts whose WebSockets were on the failed
    # eP-CSCF: W7 still says "registered" for those WICs until their registrations expire,
    # so a call to one of them passes the I-CSCF and the S-CSCF and gets 430 Flow Failed
    # from the new eP-CSCF, instead of 480 from the I-CSCF (5.2.2.2 re-allocation;
    # 5.2.2.3.1 the entry is to reflect the registration, 5.2.2.5.4 step 2).
    reallocation = _mod("reference.nodes.p_cscf.reallocation")

    async def remove_unreachable_contacts(pcscf: Any, wimpu: str) -> int:
        return 0

    mp.setattr(reallocation, "remove_unreachable_contacts", remove_unreachable_contacts)


# ----- I-CSCF (5.2.2.3.3, 5.2.2.5.4 steps 1-3) ------------------------------------------------


def _icscf_w7_only_when_hss_unknown(mp: pytest.MonkeyPatch) -> None:
    # Wire: an INVITE to an individual IMPU of a block (option A, sip:wrtc-alice@block1...)
    # gets no W7 query: the I-CSCF runs the standard HSS location query first and asks the
    # wIMPU Registrar only when the HSS knows no subscription for the called identity (an
    # external identity of option B). The HSS knows every IMPU of a block by its wildcard,
    # so a call to an unregistered WIC goes on to the S-CSCF and the eP-CSCF (a W6 read,
    # 480 from the eP-CSCF) instead of being rejected at the I-CSCF after a W7 query
    # (5.2.2.3.3 "shall initially query the wIMPU Registrar"; 5.2.2.5.4 steps 1-2).
    service = _icscf()
    flows = _mod("reference.nodes.i_cscf.flows")
    identity = _mod("reference.sip.identity")
    original = service.route_terminating

    def route_terminating(request: Any, **kwargs: Any) -> Any:
        try:
            identity.canonical_identity(request.uri)
        except identity.IdentityError:
            return (yield from original(request, **kwargs))
        known = yield flows.HssLocation(request.uri)
        if known is not None:  # "an IMS user the HSS knows: the standard procedure"
            kwargs = {**kwargs, "webrtc_domains": ()}
        return (yield from original(request, **kwargs))

    mp.setattr(service, "route_terminating", route_terminating)


# ----- wIMPU Registrar (5.2.2.3.1) -------------------------------------------------------------


def _registrar_one_contact_per_impu(mp: pytest.MonkeyPatch) -> None:
    # State and wire: an entry holds one contact only: a second WIC registering the same
    # individual IMPU (another +sip.instance, or another Contact URI) replaces the first
    # WIC's contact instead of being added to the entry. The W6 write still answers
    # "new-contact", with an entry of one contact; the 200 OK to the second WIC lists its
    # own Contact only, a terminating INVITE reaches the second WIC only, and once that
    # one de-registers the user is "not registered" although the first WIC never
    # de-registered (5.2.2.3.1 "A single entry may hold multiple WIC contacts";
    # 5.2.2.5.2 step 6 "a new contact associated with the already allocated IMPU").
    def faulty(original: Upsert) -> Upsert:
        def upsert_contact(self: Any, impu: str, wimpu: str, allocated_by: Any, external: Any, contact: Any,
                           now: float) -> Any:  # fmt: skip
            entry, outcome = original(self, impu, wimpu, allocated_by, external, contact, now)
            others = [c.contact_id for c in entry.contacts if c.contact_id != contact.contact_id]
            if not others:
                return entry, outcome
            for contact_id in others:
                self.remove_contact(impu, contact_id, now)
            return self.read(impu, now), outcome

        return upsert_contact

    _patch_upsert(mp, faulty)


def _registrar_refresh_never_shortens(mp: pytest.MonkeyPatch) -> None:
    # State and wire: a re-registration asking for a shorter interval than the one still
    # running does not shorten the contact's expiry (the store keeps the later of the two,
    # "so that a late write never cuts a registration short"): a WIC registered for 3600 s
    # that refreshes with 120 s and then stops refreshing stays registered (W6 reads, W7
    # "registered") for the rest of the hour, and calls to it pass the I-CSCF (5.2.2.3.1
    # "An entry is removed upon ... registration timer expiry"; 5.2.2.3.2 "update the
    # applicable entry ... for every re-registration"). The 200 OK to that refresh shows
    # the user's other contacts with remaining times counted from the wrong instant.
    import math

    def never_shorter(store: Any, impu: str, contact: Any, now: float) -> Any:
        current = store.read(impu, now)
        same = [c for c in current.contacts if c.contact_id == contact.contact_id] if current else []
        if same and same[0].expires_at > now + contact.expires:
            return dataclasses.replace(contact, expires=math.ceil(same[0].expires_at - now))
        return contact

    _patch_contact_written(mp, never_shorter)


# ----- WWSF (5.2.2.5.2 step 1) -----------------------------------------------------------------


def _wwsf_token_cached_per_user(mp: pytest.MonkeyPatch) -> None:
    # Wire: a user who logs in again while the token of an earlier log-in is still valid gets
    # that same token back (same jti, iat and exp; the answer's expires_in still says the
    # full lifetime), not a new one: the WWSF caches one token per user and eP-CSCF. A WIC
    # that logs in again to refresh its token before re-REGISTERing gets 401
    # (invalid_token) once the first token's exp has passed, and two WICs of one user carry
    # one token (5.2.2.5.2 step 1 "Upon successful authentication, the WWSF issues a
    # security token"; the profile: "a fresh token extends the registration").
    service = _mod("reference.nodes.wwsf.service")
    original_init = service.WwsfService.__init__
    original_issue = service.WwsfService.issue_token
    clocks: weakref.WeakKeyDictionary[Any, Callable[[], float]] = weakref.WeakKeyDictionary()
    caches: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Any]] = weakref.WeakKeyDictionary()

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        clocks[self] = kwargs.get("clock", time.time)

    def issue_token(self: Any, identity: str, audience: str) -> Any:
        cache = caches.setdefault(self, {})
        now = clocks.get(self, time.time)()
        cached = cache.get((identity, audience))
        if cached is not None and now < cached.exp:
            return cached
        token = original_issue(self, identity, audience)
        cache[(identity, audience)] = token
        return token

    mp.setattr(service.WwsfService, "__init__", init)
    mp.setattr(service.WwsfService, "issue_token", issue_token)


# ===== batch 4 (written at stop 38; BATCHES[4]) ============================================
# ----- IWF (5.2.2.5.2 steps 2 and 4) -----------------------------------------------------------


def _iwf_token_nbf_unchecked(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER carrying a WWSF-signed token that is not valid yet (its nbf, or its iat,
    # later than the eP-CSCF's clock: a token minted ahead of time, or by a WWSF whose clock
    # runs fast) gets 200 OK and a W6 write instead of 401 with error="invalid_token": the IWF
    # compares only exp with its clock ("a token is good until it expires"), never nbf or iat
    # (5.2.2.5.2 step 4 "The eP-CSCF shall validate the contents of the security token in
    # relation to the user identity"; the profile rejects a token "expired or not yet valid").
    # A token whose validity has begun is judged as before.
    iwf = _iwf()
    original = iwf.validate

    def validate(token: str | None, **kwargs: Any) -> Any:
        claims = _unverified_claims(token)
        starts = [
            float(v) for v in (claims.get("nbf"), claims.get("iat"))
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]  # fmt: skip
        exp = claims.get("exp")
        start = max(starts, default=None)
        ends_later = isinstance(exp, int | float) and start is not None and start < exp
        if start is not None and start > kwargs["now"] and ends_later:
            kwargs["now"] = start  # only exp is compared with the clock: judged as at its start
        return original(token, **kwargs)

    mp.setattr(iwf, "validate", validate)


def _iwf_subprotocol_optional(mp: pytest.MonkeyPatch) -> None:
    # Wire: the WebSocket handshake of a client that offers no Sec-WebSocket-Protocol, or only
    # subprotocols other than sip (a plain WebSocket client, "chat"), from the WWSF's Origin,
    # gets 101 Switching Protocols without a Sec-WebSocket-Protocol, and the connection then
    # carries SIP (a REGISTER on it is answered), instead of the handshake being refused (HTTP
    # 400): the IWF selects sip when it is offered and otherwise goes on without a subprotocol
    # (5.2.2.5.2 step 2 "The WIC shall open a WSS (secure Web Socket) connection to the
    # eP-CSCF"; the profile "The IWF accepts the WebSocket handshake only with subprotocol
    # `sip` (RFC 7118) ... otherwise the handshake is refused"). A client offering sip is
    # unaffected.
    ws = _mod("reference.transport.websocket")
    original = ws.serve

    def select_subprotocol(connection: Any, subprotocols: Sequence[str]) -> str | None:
        return "sip" if "sip" in subprotocols else None  # "be liberal in what you accept"

    def serve(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("select_subprotocol", select_subprotocol)
        return original(*args, **kwargs)

    mp.setattr(ws, "serve", serve)


# ----- P-CSCF (5.2.2.5.1, 5.2.2.5.3, 5.2.2.5.4, 5.2.2.3.2) -----------------------------------


def _pcscf_dereg_keeps_origination(mp: pytest.MonkeyPatch) -> None:
    # Wire (option A): after a WIC de-registers (REGISTER with expires 0 for its contact, answered
    # 200 OK, its contact removed from the wIMPU Registrar), an INVITE or MESSAGE it then sends
    # with the same identity over the same WebSocket is relayed to the S-CSCF with the eP-CSCF's
    # P-Asserted-Identity instead of being refused with 403, until the interval of its last
    # registration would have run out: the eP-CSCF removes the contact from the registrar and
    # from the flow but leaves the flow's list of identities it may originate as to expire on
    # its own (5.2.2.3.2 "The eP-CSCF shall remove the registration entry once the registration
    # expires or when the WIC is de-registered"; 5.2.2.5.3 step 1 "the same identity used during
    # the WIC registration"). Option B (a W6 read on every origination) is unaffected.
    state = _mod("reference.nodes.p_cscf.state")
    original = state.WicRegistrations.deregistered

    def deregistered(self: Any, flow: str, impu: str, contact_id: str | None) -> None:
        identities = dict(self.identities.get(flow, {}))
        externals = {key: value for key, value in self.external_of.items() if key[0] == flow}
        original(self, flow, impu, contact_id)
        if identities:  # "cleared when they expire, or when the WebSocket closes"
            self.identities.setdefault(flow, {}).update(identities)
            self.external_of.update(externals)

    mp.setattr(state.WicRegistrations, "deregistered", deregistered)


def _pcscf_in_dialog_by_to_tag_only(mp: pytest.MonkeyPatch) -> None:
    # Wire: a BYE (or UPDATE, INFO, PRACK) without a To tag, so in no dialog, that a registered
    # WIC sends is handled as an initial request: relayed on the Service-Route to the S-CSCF
    # with the eP-CSCF's P-Asserted-Identity (the WIC gets whatever the core answers) instead of
    # being refused with 403 at the eP-CSCF; one that comes from the core is delivered like a new
    # session to every contact of the called IMPU instead of being refused with 403. The
    # eP-CSCF tells a request in a dialog by its To tag alone, forgetting the methods that are
    # only ever sent inside one (RFC 3261 15, RFC 3311, RFC 6086, RFC 3262); 5.2.2.3.2 authorises
    # the WIC "at WIC registration" for the sessions it sets up, and the profile relays a
    # request in a dialog only on a dialog the eP-CSCF record-routed on that WebSocket.
    service = _pcscf()
    mp.setattr(service, "IN_DIALOG_METHODS", frozenset())


def _pcscf_fork_record_route_first_flow(mp: pytest.MonkeyPatch) -> None:
    # Wire: a terminating INVITE forked to several WICs reaches every WIC with the eP-CSCF's
    # Record-Route naming the flow of the first contact (the Record-Route is built once per
    # request, not once per branch). When a WIC other than the first answers, the caller's ACK
    # and BYE (on the route set of that 200 OK) reach the eP-CSCF for the first WIC's flow,
    # which is in no dialog: the ACK is dropped and the BYE gets 403, and the answering WIC's
    # own BYE names another flow than the one it comes on and gets 403 too. A session answered
    # by the first WIC, and an INVITE to a single contact, are unaffected (5.2.2.5.4 "the
    # eP-CSCF shall fork the sessiosn to all contacts associated with a called IMPU"; step 5
    # "The eP-CSCF delivers the session to the WIC").
    service = _pcscf()
    original = service.proxy

    async def proxy(node: Any, server_tx: Any, request: Any, branches: Any, **kwargs: Any) -> Any:
        copies = [b.request for b in branches]
        forked = len(branches) > 1 and all(
            c is not None and c.get_all("Record-Route") and b.target.transport in ("WS", "WSS")
            for b, c in zip(branches, copies, strict=True)
        )
        if forked:
            first = copies[0].get_all("Record-Route")[0]

            def first_flow(copy: Any) -> Any:
                return copy.without_first_value("Record-Route").with_header("Record-Route", first, first=True)

            branches = [
                branches[0],
                *(dataclasses.replace(b, request=first_flow(b.request)) for b in branches[1:]),
            ]
        return await original(node, server_tx, request, branches, **kwargs)

    mp.setattr(service, "proxy", proxy)


def _pcscf_block_refresh_once(mp: pytest.MonkeyPatch) -> None:
    # Wire: the eP-CSCF refreshes the block registration once, at half the interval granted to
    # its first REGISTER (300 s of 600), and never again: the refresh timer is armed when the
    # block is first registered and not again by the refresh's own 200 OK. No REGISTER of the
    # block follows the first refresh; the S-CSCF ends the binding 600 s after it (900 s after
    # the first registration), and from then on a session to a WIC of the block finds no binding
    # at the S-CSCF and the WICs' originating requests get 503 from the eP-CSCF, until a WIC's
    # REGISTER has the block registered again (and never refreshed) (5.2.2.5.1 "A single IMS
    # registration is required to register the wIMPU block as per existing 23.228 procedures";
    # the profile: "refreshed before expiry", "at half the interval granted").
    # (Replaces the block registration's private refresh scheduler: its timer has no public hook.)
    reg = _mod("reference.nodes.p_cscf.block_registration")
    original = reg.BlockRegistration._schedule_refresh
    armed: weakref.WeakSet[Any] = weakref.WeakSet()

    def schedule_refresh(self: Any, granted: int) -> None:
        if self in armed:
            return
        armed.add(self)
        original(self, granted)

    mp.setattr(reg.BlockRegistration, "_schedule_refresh", schedule_refresh)


# ----- I-CSCF (5.2.2.3.3, 5.2.2.5.4 step 3) ---------------------------------------------------


def _icscf_cancel_not_relayed(mp: pytest.MonkeyPatch) -> None:
    # Wire: the caller's CANCEL of an INVITE the I-CSCF forwarded to a webRTC user is answered
    # 200 OK by the I-CSCF and goes no further: no CANCEL reaches the S-CSCF, the eP-CSCF or the
    # WICs, which keep ringing; the caller's INVITE gets no 487 until the eP-CSCF's Timer C
    # (181 s) cancels the WICs, and a WIC that answers meanwhile sets up the session the caller
    # cancelled (RFC 3261 16.10 "A proxy MUST cancel any pending client transactions associated
    # with a response context when it receives a matching CANCEL request"; 5.2.2.5.4 step 3
    # "The I-CSCF then performs standard IMS session termination procedure").
    # Only the I-CSCF's SIP node is changed (the method is replaced on that instance).
    service = _icscf()
    original_init = service.Icscf.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)

        def cancel(handle: Any, reason: str | None = None) -> None:
            return None  # "the CANCEL is answered here: the I-CSCF keeps no dialog"

        self.node.cancel = cancel

    mp.setattr(service.Icscf, "__init__", init)


def _icscf_record_route(mp: pytest.MonkeyPatch) -> None:
    # Wire: the INVITE the I-CSCF forwards to the S-CSCF carries the I-CSCF's Record-Route
    # (<sip:i-cscf-host:port;transport=tcp;lr>), so the I-CSCF is in the route set of every
    # session it routes, while it still refuses a request in a dialog whose route ends at it.
    # The called WIC's BYE (re-INVITE, UPDATE), whose route set ends with the I-CSCF, reaches
    # it with no Route beyond it and gets 403 "Not a dialog-forming request": the WIC cannot end
    # the session and the caller never gets its BYE; the caller's own requests in the dialog
    # still pass (5.2.2.3.3 "the I-CSCF shall proceed with standard IMS procedures for
    # terminating sessions"; the profile: "the I-CSCF record-routes nothing").
    service = _icscf()
    original = service.proxy

    async def proxy(node: Any, server_tx: Any, request: Any, branches: Any, **kwargs: Any) -> Any:
        initial = request.to.tag is None and all(b.request is None for b in branches)
        if initial and request.method == "INVITE" and kwargs.get("record_route") is None:
            kwargs["record_route"] = f"<{node.uri()}>"  # "stay on the path for charging"
        return await original(node, server_tx, request, branches, **kwargs)

    mp.setattr(service, "proxy", proxy)


# ----- wIMPU Registrar (5.2.2.3.1) -------------------------------------------------------------


def _registrar_lifetime_capped(mp: pytest.MonkeyPatch) -> None:
    # State and wire: the wIMPU Registrar keeps each contact for at most 300 s, whatever
    # interval the eP-CSCF granted and wrote over W6 (a store-side ceiling "so that contacts
    # of a crashed eP-CSCF do not linger", applied without telling the writer). The W6 answer
    # shows expires 300 while the 200 OK to the WIC still gives the interval granted (600); from
    # 300 s on, W6 reads and W7 say "not registered": a session to the WIC gets 480 at the
    # I-CSCF, an option B WIC's INVITE gets 403, and a refresh at half the interval (300 s)
    # finds no entry (W6 outcome new-registration, 201). Intervals of 300 s or less are
    # unaffected (5.2.2.3.2 "store in the wIMPU Registrar ... for the duration of the
    # registration"; 5.2.2.3.1 "An entry is removed upon de-registration or registration timer
    # expiry").
    def capped(store: Any, impu: str, contact: Any, now: float) -> Any:
        return dataclasses.replace(contact, expires=min(contact.expires, 300))

    _patch_contact_written(mp, capped)


# ----- WWSF (5.2.2.5.2 step 1) -----------------------------------------------------------------


def _wwsf_token_exp_milliseconds(mp: pytest.MonkeyPatch) -> None:
    # Wire: the token of the log-in answer has its exp in milliseconds since the epoch
    # ((iat + lifetime) * 1000, as JavaScript's Date.now() counts), while its iat and nbf are in
    # seconds and the answer's expires_in still says the lifetime: read as an RFC 7519
    # NumericDate the token never expires, so a REGISTER or re-REGISTER with a token whose
    # lifetime has run out gets 200 OK instead of 401 with error="invalid_token" (5.2.2.5.2
    # step 1 "Upon successful authentication, the WWSF issues a security token for the user";
    # the profile: claims iat, nbf, exp, "an expired token on re-REGISTER is rejected like on
    # the first REGISTER").
    # The WWSF's own issuing (WwsfService.issue_token, which its log-in uses), not the TokenIssuer
    # class: a tester that signs tokens with the PIXIT's key (an external SUT) keeps its own right.
    tokens = _mod("reference.nodes.wwsf.tokens")
    service = _mod("reference.nodes.wwsf.service")
    original = service.WwsfService.issue_token

    def issue(self: Any, subject: str, audience: str) -> Any:
        import jwt
        from cryptography.hazmat.primitives import serialization

        token = original(self, subject, audience)
        issuer = self._issuer
        claims = jwt.decode(token.value, options={"verify_signature": False})
        claims["exp"] = int(claims["exp"]) * 1000  # Date.now() + lifetime * 1000
        key: Any = serialization.load_pem_private_key(issuer.signing_key_pem(), password=None)
        headers = {"kid": issuer.kid, "typ": "JWT"}
        value = jwt.encode(claims, key, algorithm=tokens.ALGORITHM, headers=headers)
        return dataclasses.replace(token, value=value, exp=claims["exp"])

    mp.setattr(service.WwsfService, "issue_token", issue)


# ===== batch 5 (written at stop 42; BATCHES[5]) ============================================
# ----- IWF (5.2.2.5.2 steps 3 and 4) ---------------------------------------------------------


def _iwf_bearer_token68_only(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER carrying its token in the TS 24.371 form
    # `Authorization: Bearer access_token="<token>"` gets 401 with error="invalid_token" (and no
    # W6 write) instead of 200 OK: the IWF reads only the RFC 6750 2.1 form `Bearer <b64token>`
    # (one regular expression, `^Bearer ([A-Za-z0-9._~+/-]+=*)$`) and takes any other Bearer
    # credentials for a malformed token (5.2.2.5.2 step 3 "the security token received from the
    # WWSF as an attachment to the request"; the profile: "TS 24.371 shows `Authorization: Bearer
    # access_token="<token>"`; accept both"). A token in the b64token form, or in an
    # application/jwt body, is read as before.
    iwf = _iwf()
    token_check = _mod("reference.nodes.iwf.token_check")
    original = iwf.extract_bearer
    token68 = re.compile(r"\s*Bearer\s+[A-Za-z0-9._~+/-]+=*\s*", re.I)

    def extract_bearer(
        authorization_values: Sequence[str], body: bytes, content_type: str | None
    ) -> str | None:
        for value in authorization_values:
            if value.strip()[:6].lower() == "bearer" and not token68.fullmatch(value):
                raise token_check.TokenInvalid("Authorization: Bearer credentials are not a b64token")
        result: str | None = original(authorization_values, body, content_type)
        return result

    mp.setattr(iwf, "extract_bearer", extract_bearer)


# ----- P-CSCF (5.2.2.1, 5.2.2.5.1, 5.2.2.5.3, 5.2.2.5.4) ------------------------------------


def _pcscf_in_dialog_next_hop_unchecked(mp: pytest.MonkeyPatch) -> None:
    # Wire: a request a WIC sends in one of its own dialogs (BYE, re-INVITE, UPDATE, INFO, and
    # the ACK of a 2xx), on the eP-CSCF's Record-Route for its flow, but whose next hop after it
    # (the second Route value, or with none the Request-URI) is an element of the WIC's choosing
    # rather than the one the dialog's route set names, is relayed there with the eP-CSCF's
    # P-Asserted-Identity (or answered 404 when that host does not resolve) instead of being
    # refused with 403: the eP-CSCF checks that the request is in a dialog of the flow it came
    # on, then loose-routes it wherever its Route set says, so a WIC can send requests carrying
    # an asserted IMS identity to any IMS node, around the S-CSCF (5.2.2.5.3 step 3 "standard
    # IMS session origination procedure": a P-CSCF relays a UE's requests in a dialog along the
    # route set it recorded, TS 24.229 5.2.6.3.5; the profile: "to the next hop of its route
    # set"). A request on the dialog's own route set is relayed as before.
    dialogs = _mod("reference.nodes.p_cscf.dialogs")
    original = dialogs.DialogTable.authorise_from_wic

    def authorise_from_wic(self: Any, request: Any, flow: str) -> Any:
        verdict = original(self, request, flow)
        if not isinstance(verdict, dialogs.Refused) or verdict.reason != "Route set not of this dialog":
            return verdict
        asserted = self.asserted(flow, request.call_id)  # "the WIC is in this dialog: follow its Route"
        onward = (
            request.without_header("P-Asserted-Identity")
            .without_header("P-Preferred-Identity")
            .with_header("P-Asserted-Identity", f"<{asserted}>")
        )
        return dialogs.Authorised(onward)

    mp.setattr(dialogs.DialogTable, "authorise_from_wic", authorise_from_wic)


def _pcscf_timer_c_120s(mp: pytest.MonkeyPatch) -> None:
    # Wire: an INVITE the eP-CSCF proxies (to the WICs of a terminating session, or from a WIC
    # to the S-CSCF) whose branch has rung for 120 s without a final response is cancelled then
    # (CANCEL to the WIC, or to the S-CSCF; the caller gets 487) instead of after Timer C's
    # 181 s: the eP-CSCF's Timer C is a "no-answer timeout" of 120 s, the default of Kamailio's
    # fr_inv_timer, below the 3 minutes RFC 3261 16.6 item 11 requires ("The timer MUST be
    # larger than 3 minutes"). A WIC that answers between 120 s and 181 s of ringing sets up
    # no session; an INVITE answered within 120 s is unaffected (5.2.2.5.4 step 5 "The
    # eP-CSCF delivers the session to the WIC"; the profile's Timer C: 181 s, started again by
    # each provisional response).
    service = _pcscf()
    original = service.proxy

    async def proxy(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timers") is not None:
            kwargs["timer_c"] = 120.0
        return await original(*args, **kwargs)

    mp.setattr(service, "proxy", proxy)


def _pcscf_option_b_pau_lists_impu(mp: pytest.MonkeyPatch) -> None:
    # Wire (option B): the 200 OK to a WIC's REGISTER carries `P-Associated-URI: <allocated
    # IMPU>, <external identity>` instead of the external identity alone: the eP-CSCF answers
    # the WIC with the implicit set as an S-CSCF's 200 OK would (the IMPU first, the identity
    # the WIC registered with as its alias), so the IMS identity the eP-CSCF allocated reaches
    # the browser, and a WIC (JsSIP, SIP.js) that takes the first P-Associated-URI as its
    # default identity originates with the IMPU, which the eP-CSCF then refuses (5.2.2.1 "IMS
    # identities are only used within the IMS domain"; "WIC use their external (non-IMS
    # identities) identities for communication purposes"). Option A is unaffected.
    service, flows = _pcscf(), _pflows()

    def outcome(run: FlowRun, response: Any) -> Any:
        if getattr(response, "status", None) != 200:
            return response
        write = next((e for e, _ in run.results if isinstance(e, flows.W6Write)), None)
        if write is None or write.write.external_identity is None:
            return response
        associated = f"<{write.impu}>, <{write.write.external_identity}>"
        return response.with_header_set("P-Associated-URI", associated)

    _patch_flow(mp, service, "register_wic", outcome=outcome)


def _pcscf_wic_registered_before_block(mp: pytest.MonkeyPatch) -> None:
    # Wire: with block registration option 2, the first WIC's REGISTER in a block not yet
    # registered gets its 200 OK (after its W6 write) at once, while the eP-CSCF's REGISTER of
    # the block to the S-CSCF is still under way, instead of after the block's 200 OK; when the
    # S-CSCF refuses the block (or does not answer), the WIC is registered all the same (200 OK
    # and a W6 entry) instead of getting 503, and its INVITEs get 503 (block not registered)
    # while W7 says it is registered. The block's registration is started "in the background"
    # and the WIC is never kept waiting for it. The same holds for an option 1 block whose
    # start-up registration failed or lapsed; a WIC registering in a registered block is
    # unaffected (5.2.2.5.1 option 2 "The eP-CSCF could register an IMPU block upon receiving the
    # first individual IMPU registration request from a WIC"; 5.2.2.5.2 "Note that the wIMPU
    # block has already registered in HSS as per existing 23.228 procedures").
    reg = _mod("reference.nodes.p_cscf.block_registration")
    original = reg.BlockRegistration.ensure

    async def ensure(self: Any, within: float = reg.WIC_WAIT) -> None:
        if not self.registered:
            self.node.spawn(original(self, within))  # "the block registers in the background"

    mp.setattr(reg.BlockRegistration, "ensure", ensure)


# ----- I-CSCF (5.2.2.3.3, 5.2.2.5.4) ----------------------------------------------------------

W7_PATIENCE: Final = 60.0
"Seconds the faulty I-CSCF of ``icscf_w7_retried`` keeps asking a wIMPU Registrar that does not answer."


def _icscf_w7_retried(mp: pytest.MonkeyPatch) -> None:
    # Wire: while the wIMPU Registrar does not answer W7 (or answers 5xx), the I-CSCF sends the
    # same W7 query again every second or so (each one given up after 2 s) for a minute, and
    # only then answers the caller's INVITE 503, instead of 503 after its first query fails
    # (2 s): the caller's INVITE has only its 100 Trying for a minute, and when the registrar
    # answers again within that minute, the session the I-CSCF could not validate when it
    # arrived goes on late ("so that a registrar restart does not drop calls"). A registrar
    # that answers is unaffected (5.2.2.3.3 "the I-CSCF shall initially query the wIMPU
    # Registrar to validate the registration status ... otherwise the session is rejected";
    # the profile: the I-CSCF answers 503 when W7 fails, a W6/W7 call given up after 2 s).
    import asyncio

    client = _mod("reference.nodes.wimpu_registrar.client")
    original = client.RegistrarClient.status

    async def status(self: Any, identity: str) -> Any:
        deadline = time.monotonic() + W7_PATIENCE
        while True:
            try:
                return await original(self, identity)
            except client.RegistrarUnavailable:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(1.0)

    mp.setattr(client.RegistrarClient, "status", status)


def _icscf_own_route_by_host(mp: pytest.MonkeyPatch) -> None:
    # Wire: a request in a dialog that a caller sends to the I-CSCF (its one connection to the
    # IMS entry point, as SIPp over TCP does: a BYE, re-INVITE or UPDATE with the dialog's
    # Route, `<sip:<flow>@<eP-CSCF host>:<port>;transport=tcp;lr>`) gets 403 ("Not a
    # dialog-forming request") from the I-CSCF, and the ACK of the 2xx is dropped there, instead
    # of both going on to the eP-CSCF and the WIC, when the next hop is on the I-CSCF's own host:
    # the I-CSCF takes a Route value for its own when its host is the I-CSCF's, without
    # comparing the port (RFC 3261 16.4 "If the first value in the Route header field indicates
    # this proxy"), pops it and finds no Route left. On one host (every node on 127.0.0.1, as
    # the reference stack runs) the WIC never gets the caller's BYE or ACK: it keeps re-sending
    # its 200 OK and ends the call itself after 64*T1 (5.2.2.3.3, 5.2.2.5.4 step 3 "standard IMS
    # procedures for terminating sessions"; the profile: a request in a dialog sent to the
    # I-CSCF "goes to the next hop of its Route").
    service = _icscf()
    address = _mod("reference.sip.address")
    original = service.preprocess_route

    def host_of(value: str) -> str | None:
        text = value.strip()
        try:
            uri = address.parse_name_addr(text).uri if "<" in text else text
            return str(address.parse_uri(uri).host).lower()
        except ValueError:
            return None

    def preprocess_route(request: Any, own_uris: Any) -> Any:
        routes = request.get_all("Route")
        if routes and host_of(routes[0]) in {host_of(u) for u in own_uris}:
            return request.without_first_value("Route")  # "a Route to my address is mine"
        return original(request, own_uris)

    mp.setattr(service, "preprocess_route", preprocess_route)


# ----- wIMPU Registrar (5.2.2.3.1, W7 5.2.2.4.2) ----------------------------------------------


def _registrar_expiry_per_entry(mp: pytest.MonkeyPatch) -> None:
    # State and wire: the registrar keeps one registration timer per entry, the latest of its
    # contacts' expiries, not one per contact: a contact whose own interval has run out stays
    # in the entry, and in every W6 read (with the entry's remaining time as its expires), as
    # long as another contact of the same IMPU is live. A WIC that stops refreshing while its
    # WebSocket stays open is still forked every terminating INVITE for its user (it rings,
    # and can answer) while the user's other WIC is registered, and the 200 OK to that other
    # WIC's REGISTER lists the dead contact; the sweeper removes a contact only with its entry.
    # An entry whose every contact has expired is gone as before; W7 is unaffected (5.2.2.3.1
    # "A single entry may hold multiple WIC contacts"; "An entry is removed upon
    # de-registration or registration timer expiry"; the profile: "Expired contacts are never
    # returned, even before a sweep removes them").
    store = _mod("reference.nodes.wimpu_registrar.store")
    model = _mod("reference.nodes.wimpu_registrar.model")
    original = store._entries
    live_contact = " AND c.expires_at > ?"
    if live_contact not in store._ENTRY_QUERY:
        raise AssertionError("the registrar's entry query changed: registrar_expiry_per_entry needs review")
    query = store._ENTRY_QUERY.replace(
        live_contact, " AND (SELECT max(x.expires_at) FROM contacts x WHERE x.impu = e.impu) > ?"
    )

    def entries(db: Any, where: str, params: tuple[str, ...], now: float) -> list[Any]:
        found = original(db, where, params, now)  # with `query`: every contact of a live entry
        return [
            dataclasses.replace(e, contacts=tuple(
                dataclasses.replace(c, expires_at=max(x.expires_at for x in e.contacts)) for c in e.contacts
            ))
            for e in found
        ]  # fmt: skip

    def sweep(self: Any, now: float) -> Any:
        with self._write() as db:
            expired = db.execute(
                "DELETE FROM contacts WHERE impu IN"
                " (SELECT impu FROM contacts GROUP BY impu HAVING max(expires_at) <= ?) RETURNING impu",
                (now,),
            )
            impus = [row[0] for row in expired]
            removed = 0
            for impu in sorted(set(impus)):
                removed += db.execute("DELETE FROM entries WHERE impu = ?", (impu,)).rowcount
        return model.SweepResult(contacts=len(impus), entries=removed)

    mp.setattr(store, "_ENTRY_QUERY", query)
    mp.setattr(store, "_entries", entries)
    mp.setattr(store.Store, "sweep", sweep)


def _registrar_w7_as_sent(mp: pytest.MonkeyPatch) -> None:
    # Wire (W7): the registration status of a called identity is looked up in the spelling the
    # I-CSCF sent, not in canonical form (RFC 3261 19.1.4: the host compares without case,
    # escaped characters as their unescaped form, URI parameters left out): a session to
    # sip:bob@Enterprise.COM, sip:wrtc-alice@Block1.IMS.example.net, sip:%62ob@enterprise.com
    # or sip:bob@enterprise.com;user=phone gets "not registered" although bob is, and the
    # I-CSCF rejects it with 480. The registrar puts what the eP-CSCF writes over W6 in
    # canonical form, and checks that the W7 query is an identity at all (400 as before), but
    # keys its W7 look-up by the text received (5.2.2.5.4 step 2 "The I-CSCF validates through
    # the interaction with the wIMPU registrar if the called webRTC user is registered").
    service = _mod("reference.nodes.wimpu_registrar.service")
    model = _mod("reference.nodes.wimpu_registrar.model")

    async def status(self: Any, request: Any) -> Any:
        now = self._clock()
        sent = service._query(request, "identity")
        identity = service.check_identity(sent, "identity")  # validated, but not used as the key
        self._authorise_impu(request, service.Operation.W7_STATUS, identity)
        as_sent = model.CanonicalIdentity(sent.strip().removeprefix("<").removesuffix(">"))
        answer = dataclasses.replace(self.store.status(as_sent, now), identity=identity)
        return service.web.json_response(service.status_json(answer))

    mp.setattr(service.RegistrarService, "_status", status)


# ----- WWSF (5.2.2.5.2 step 1) -----------------------------------------------------------------


def _wwsf_throttle_counts_successes(mp: pytest.MonkeyPatch) -> None:
    # Wire: from one address, the eleventh log-in within a minute (or the sixth of one user)
    # gets 429 Too Many Requests with Retry-After, and no token, although every earlier one
    # had the right password: the WWSF's log-in throttle charges every attempt, successful or
    # not (a rate limit on POST /login), instead of failed ones only (a successful log-in gives
    # back what it spent and makes its address known for the user). Users behind one NAT, or a
    # user opening several WICs and refreshing tokens, are refused a token they are entitled
    # to; a WIC whose token is about to expire cannot get a fresh one and its re-REGISTER then
    # fails (5.2.2.5.2 step 1 "Upon successful authentication, the WWSF issues a security token
    # for the user"; docs/security.md: the throttle slows password guessing "without locking
    # the real user out").
    throttle = _mod("reference.nodes.wwsf.throttle")

    def succeeded(self: Any, username: str, source: str, now: float) -> None:
        return None  # "every attempt counts"

    mp.setattr(throttle.LoginThrottle, "succeeded", succeeded)


# ===== batch 6 (written at stop 45; BATCHES[6]) ============================================
# ----- IWF (5.2.2.5.2 step 2, 5.2.2.3.2) -------------------------------------------------------


def _iwf_origin_absent_accepted(mp: pytest.MonkeyPatch) -> None:
    # Wire: a WebSocket handshake that carries no Origin header at all (or an empty one) gets 101
    # Switching Protocols, and the connection then carries SIP (a REGISTER with a valid token on it
    # is answered 200 OK), instead of HTTP 403: the IWF checks the Origin only when there is one,
    # "CORS is a browser matter: a native client or a SIP tool sends no Origin and cannot be a
    # cross-site page", so any client that leaves the header out is taken as the WWSF's WIC
    # (5.2.2.5.2 step 2 "Standard cross-origin resource sharing (CORS [zz]) procedures are used to
    # ensure that the WIC originated from a WWSF authorized to access this eP-CSCF"; the profile:
    # the IWF accepts the handshake only with "an Origin that belongs to a WWSF authorised for this
    # eP-CSCF; otherwise the handshake is refused and no SIP is read: HTTP 403"). A handshake with an
    # Origin, the WWSF's or another, is judged as before.
    ws = _mod("reference.transport.websocket")
    original = ws.origin_allowed

    def origin_allowed(origin: str | None, allowed: Any) -> bool:
        if not (origin or "").strip():
            return True  # "no Origin: not a browser, so no cross-origin request to stop"
        return bool(original(origin, allowed))

    mp.setattr(ws, "origin_allowed", origin_allowed)


def _iwf_dereg_by_expires_header(mp: pytest.MonkeyPatch) -> None:
    # Wire: a REGISTER without a token, on a WebSocket over which a valid token registered the
    # identity, with `Expires: 0` but a Contact whose expires parameter asks for an interval (say
    # `;expires=3600`) gets 200 OK and a W6 write that extends the contact for that interval,
    # instead of 401 with a Bearer challenge; and a token-less de-registration whose Contact says
    # `;expires=0` under an `Expires` header other than 0 gets 401 instead of 200 OK. The IWF's
    # "a de-registration needs no token on an authorised flow" check reads the Expires header first
    # and the Contact's expires parameter only when there is no header, the reverse of RFC 3261
    # 10.2.1.1, while the P-CSCF reads them in the right order: a WIC refreshes its registration
    # with no token, past the expiry of the one it had (5.2.2.3.2 "The eP-CSCF shall perform the WIC
    # authorization at WIC registration"; 5.2.2.5.2 step 3 "The request includes ... the security
    # token"; the profile: "A refresh ... is challenged as before", "a Contact expires parameter
    # overrides the Expires header"). A REGISTER whose header and parameter agree is judged as
    # before.
    iwf = _iwf()
    original = iwf.removes_contacts_only

    def removes_contacts_only(request: Any) -> bool:
        header = (request.get("Expires") or "").strip()
        if header and not request.contact_is_star:
            # "Expires: 0 is a de-REGISTER"
            return header.isdigit() and int(header) == 0 and bool(request.contacts)
        return bool(original(request))

    mp.setattr(iwf, "removes_contacts_only", removes_contacts_only)


# ----- P-CSCF (5.2.2.5.2, 5.2.2.1, 5.2.2.5.4, 5.2.2.5.1, 5.2.2.2) --------------------------------


def _pcscf_ok_before_w6_write(mp: pytest.MonkeyPatch) -> None:
    # Wire and state: the 200 OK to a WIC's REGISTER (and to a refresh) is sent as soon as the step 5
    # read has answered, before the registrar has answered the W6 write of step 6, which goes on in
    # the background ("the OK need not wait for a database round trip"); its Contact list is the
    # entry read at step 5 with the new contact added. A write the registrar refuses (409, 400) or
    # does not answer leaves a WIC that was told 200 OK with nothing stored: W7 says "not
    # registered" and a session to it gets 480 at the I-CSCF; and right after the 200 OK, until the
    # write lands, a session to the WIC (or an option B WIC's own INVITE) may find no entry (5.2.2.5.2
    # step 6 "the eP-CSCF shall store the registration information upon successful WIC
    # authorization", then step 7 "The eP-CSCF shall send the OK response back to the WIC";
    # 5.2.2.3.2 "shall store in the wIMPU Registrar the binding ... for a successfully authenticated
    # WIC"; the profile: the registrar's 2xx to the write precedes the 200 OK). A de-registration is
    # unaffected.
    service = _pcscf()
    model = _mod("reference.nodes.wimpu_registrar.model")
    logger = logging.getLogger("wimpu.p_cscf")
    original = service.Pcscf._effect
    read_at_step_5: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

    async def write_later(pcscf: Any, effect: Any) -> None:
        try:
            await pcscf.registrar.write(effect.impu, effect.write)
        except (service.RegistrarUnavailable, service.RegistrarRejected) as exc:
            logger.warning("P-CSCF: background W6 write of %s failed: %s", effect.impu, exc)

    def assumed(pcscf: Any, effect: Any, current: Any) -> tuple[Any, Any]:
        now = pcscf.clock()
        c = effect.write.contact
        written = model.Contact(
            contact_id=c.contact_id, uri=c.uri, flow=c.flow, instance_id=c.instance_id, reg_id=c.reg_id,
            path=tuple(c.path), ep_cscf=c.ep_cscf, expires_at=now + c.expires, registered_at=now,
        )  # fmt: skip
        stored = [x for x in (current.contacts if current is not None else ()) if x.expires_at > now]
        if current is None:
            outcome, contacts = model.Outcome.NEW_REGISTRATION, (written,)
        elif any(x.contact_id == c.contact_id for x in stored):
            outcome = model.Outcome.RE_REGISTRATION
            contacts = tuple(written if x.contact_id == c.contact_id else x for x in stored)
        else:
            outcome, contacts = model.Outcome.NEW_CONTACT, (*stored, written)
        entry = model.Entry(
            impu=effect.impu, wimpu=effect.write.wimpu, external_identity=effect.write.external_identity,
            allocated_by=effect.write.allocated_by, contacts=contacts,
        )  # fmt: skip
        return outcome, entry

    async def _effect(self: Any, effect: object, flow_token: str) -> Any:
        if isinstance(effect, service.W6Write):
            current = read_at_step_5.setdefault(self, {}).pop(flow_token, None)
            self.node.spawn(write_later(self, effect))  # "answered in the background"
            return assumed(self, effect, current)
        result = await original(self, effect, flow_token)
        if isinstance(effect, service.W6Read | service.W6ReadByExternal):
            read_at_step_5.setdefault(self, {})[flow_token] = result
        return result

    mp.setattr(service.Pcscf, "_effect", _effect)


def _effects_rewritten(flow: Any, rewrite: Callable[[Any, list[tuple[Any, Any]]], Any]) -> Any:
    """Drive ``flow`` (a generator of effects), passing each effect it yields through
    ``rewrite(effect, earlier)`` (``earlier``: the (effect, result) pairs so far); its return value."""
    earlier: list[tuple[Any, Any]] = []
    try:
        effect = next(flow)
        while True:
            effect = rewrite(effect, earlier)
            result = yield effect
            earlier.append((effect, result))
            effect = flow.send(result)
    except StopIteration as stop:
        return stop.value


def _pcscf_option_b_binding_written_once(mp: pytest.MonkeyPatch) -> None:
    # Wire and state (option B): the W6 write of a WIC's re-registration, or of a second WIC's new
    # contact, carries no external_identity: the eP-CSCF sends the binding external identity <->
    # allocated IMPU only in the write that creates the entry ("the binding was stored when the IMPU
    # was allocated; later writes update the contact"), treating the W6 write as a patch. The
    # registrar, whose entry is bound to the external identity, refuses the write (409), and the WIC
    # gets 403 to its refresh (its registration then lapses at its first expiry although it kept
    # refreshing), and the user's second WIC gets 403 to its first REGISTER: one allocated IMPU
    # holds one WIC (5.2.2.1 "a binding is maintained between the external (non-IMS) identity and
    # the allocated individual IMPU within the wIMPU registrar"; 5.2.2.5.2 step 6 "If the eP-CSCF
    # allocates an individual IMPU to the registered WIC, it shall store additionally the binding";
    # 5.2.2.3.2 "The eP-CSCF shall update the applicable entry in the wIMPU Registrar for every
    # re-registration of a WIC"). The first registration of an external identity, and option A,
    # are unaffected.
    service, flows = _pcscf(), _pflows()
    original = service.register_wic

    def rewrite(effect: Any, earlier: list[tuple[Any, Any]]) -> Any:
        if not isinstance(effect, flows.W6Write) or effect.write.external_identity is None:
            return effect
        allocated_before = any(isinstance(e, flows.W6ReadByExternal) and r is not None for e, r in earlier)
        if not allocated_before:
            return effect
        return dataclasses.replace(effect, write=dataclasses.replace(effect.write, external_identity=None))

    def register_wic(request: Any, **kwargs: Any) -> Any:
        return (yield from _effects_rewritten(original(request, **kwargs), rewrite))

    mp.setattr(service, "register_wic", register_wic)


def _pcscf_fork_request_uri_kept(mp: pytest.MonkeyPatch) -> None:
    # Wire: a terminating INVITE (and MESSAGE, OPTIONS) the eP-CSCF delivers to a WIC keeps the
    # Request-URI the S-CSCF sent (the block's contact at the eP-CSCF, sip:<block>@<eP-CSCF>) instead
    # of the Contact URI the WIC registered: the eP-CSCF sends each copy over the WebSocket its flow
    # token names and "the flow already says where it goes", so it never retargets the copy to the
    # registered contact. A WIC that checks the Request-URI against its own contact or AOR (JsSIP
    # answers 404 when neither user part matches) refuses every session, and no WIC learns which of
    # its registrations was called (5.2.2.5.4 step 4 "The eP-CSCF fetches the contact information
    # for the individual IMPU from the wIMPU registrar", step 5 "The eP-CSCF delivers the session to
    # the WIC associated with the individual IMPU"; "fork the sessiosn to all contacts"; RFC 3261
    # 16.5 and 16.6 item 2: each branch's Request-URI is the target's, the registered contact). The
    # requests of a dialog, on the WIC's Contact already, are unaffected.
    service = _pcscf()
    original = service.proxy

    async def proxy(node: Any, server_tx: Any, request: Any, branches: Any, **kwargs: Any) -> Any:
        initial = request.to.tag is None
        if initial and branches and all(b.target.transport in ("WS", "WSS") for b in branches):
            branches = [dataclasses.replace(b, uri=request.uri) for b in branches]  # "the flow routes it"
        return await original(node, server_tx, request, branches, **kwargs)

    mp.setattr(service, "proxy", proxy)


def _pcscf_block_refusal_remembered(mp: pytest.MonkeyPatch) -> None:
    # Wire: once a WIC's REGISTER has found its block unregistered and the block's registration the
    # eP-CSCF then tried failed (the S-CSCF refused it, or did not answer in time and then refused),
    # every later REGISTER of a WIC of that block is answered 503 with Retry-After at once, and the
    # eP-CSCF sends the S-CSCF no REGISTER of the block again, even after the S-CSCF would accept
    # it: the eP-CSCF keeps the failure as the block's state ("do not hammer a refusing S-CSCF"), a
    # negative cache nothing ever clears while the block stays unregistered (an option 1 block whose
    # start-up registration failed gets one more try, from its first WIC). The block's users can no
    # longer register until the eP-CSCF restarts (5.2.2.5.1 option 2 "The eP-CSCF could register an
    # IMPU block upon receiving the first individual IMPU registration request from a WIC"; "A single
    # IMS registration is required to register the wIMPU block"; the profile: "A WIC's REGISTER that
    # finds the block unregistered starts its registration (option 2; option 1 after a failed or
    # lapsed registration)"). A block that registers is unaffected.
    reg = _mod("reference.nodes.p_cscf.block_registration")
    original = reg.BlockRegistration.ensure
    failed: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    async def ensure(self: Any, within: float = reg.WIC_WAIT) -> None:
        remembered = failed.get(self)
        if remembered is not None and not self.registered:
            raise reg.BlockRegistrationError(f"{remembered} (remembered)")
        try:
            await original(self, within)
        except reg.BlockRegistrationError as exc:
            failed[self] = str(exc)
            raise

    mp.setattr(reg.BlockRegistration, "ensure", ensure)


def _pcscf_takeover_removes_with_star(mp: pytest.MonkeyPatch) -> None:
    # Wire: an eP-CSCF taking over a failed one's block, having registered its own binding of the
    # block and found the failed eP-CSCF's binding still listed in the S-CSCF's 200 OK, removes that
    # binding with `REGISTER Contact: *, Expires: 0` ("remove the bindings left over") instead of a
    # REGISTER with expires 0 for the failed eP-CSCF's contact only. RFC 3261 10.2.2: `*` removes
    # every binding of the address of record, so the S-CSCF drops the new eP-CSCF's binding too and
    # the block is left with no registration, while the eP-CSCF, which did not look at the answer's
    # Contacts, believes it registered: WICs register and originate as usual, but every session to
    # a WIC of the block finds no binding at the S-CSCF until the eP-CSCF's next refresh of the block
    # (half the interval later) registers it again (5.2.2.2 "If an eP-CSCF fails then the wIMPU
    # associated with the failed eP-CSCF shall be re-allocated to another eP-CSCF"; 5.2.2.5.1 "A
    # single IMS registration is required to register the wIMPU block"). A take-over that finds no
    # other binding, and every other registration of a block, are unaffected.
    reg = _mod("reference.nodes.p_cscf.block_registration")
    flows = _pflows()

    def remove_other_bindings(binding: Any, registered: Any, *, cnonce: str) -> Any:
        others = [f"<{c.uri}>" for c in registered.contacts if not binding.is_own(c)]
        if not others:
            return []

        def star(authorization: str | None) -> Any:
            return binding.register_request(0, authorization, ["*"]).with_header_set("Contact", "*")

        request = star(None)
        response = yield flows.SendRegister(request)
        challenge = response.get("WWW-Authenticate")
        if response.status == 401 and challenge:
            authorization = flows.digest_authorization(binding.credentials, challenge, request, cnonce)
            response = yield flows.SendRegister(star(authorization))
        if response.status != 200:
            raise flows.BlockRegistrationError(
                f"block {binding.credentials.wimpu}: REGISTER Contact: * answered {response.status}"
            )
        return others

    mp.setattr(reg, "remove_other_bindings", remove_other_bindings)


# ----- I-CSCF (5.2.2.5.4 step 2) -----------------------------------------------------------------


def _icscf_w7_identity_lowercased(mp: pytest.MonkeyPatch) -> None:
    # Wire: the I-CSCF's W7 query for a called identity asks for the whole URI in lower case, user
    # part too ("identities compare without case"; RFC 3261 19.1.4: only the host does, the userinfo
    # compares case-sensitively), so a session to sip:Bob@enterprise.com, who is not registered
    # (or no user at all), is answered "registered" with the IMPU of sip:bob@enterprise.com and
    # retargeted to it: bob's WICs ring for a call to another user; likewise a session to
    # sip:wrtc-Alice@block1.ims.example.net reaches wrtc-alice's WIC instead of being rejected with
    # 480 at the I-CSCF (5.2.2.5.4 step 2 "The I-CSCF validates through the interaction with the
    # wIMPU registrar if the called webRTC user is registered and retrieves any registration context
    # if needed to locate the individual IMPU"; step 1 "If the user is not registered, the I-CSCF
    # shall reject the session"; 5.2.2.3.3). A called identity written in lower case, as every
    # registered one here is, is unaffected.
    service = _icscf()
    flows = _mod("reference.nodes.i_cscf.flows")
    original = service.route_terminating

    def rewrite(effect: Any, earlier: list[tuple[Any, Any]]) -> Any:
        if isinstance(effect, flows.W7Query):
            return flows.W7Query(effect.identity.lower())
        return effect

    def route_terminating(request: Any, **kwargs: Any) -> Any:
        return (yield from _effects_rewritten(original(request, **kwargs), rewrite))

    mp.setattr(service, "route_terminating", route_terminating)


# ----- wIMPU Registrar (5.2.2.3.1) ------------------------------------------------------------------

SWEEP_AHEAD: Final = 30.0
"Seconds before their expiry the faulty sweeper of ``registrar_sweep_ahead`` removes contacts."


def _registrar_sweep_ahead(mp: pytest.MonkeyPatch) -> None:
    # State and wire: the registrar's sweeper deletes every contact whose registration timer runs
    # out within the next 30 s, and the entries that leaves without contacts ("the sweep runs every
    # 30 s: take what will have expired by the next run, so that no read between two sweeps returns
    # an expired contact"), while it runs every second. A contact is gone from W6 reads and W7 up to
    # 30 s before its interval has passed: a WIC registered for 120 s is "not registered" from 90 s
    # on, a session to it gets 480 at the I-CSCF, an option B WIC's INVITE gets 403, and a WIC that
    # refreshes near the end of its interval finds itself registered anew (W6 outcome
    # new-registration) after a gap (5.2.2.3.1 "An entry is removed upon de-registration or
    # registration timer expiry"; 5.2.2.3.2 "store in the wIMPU Registrar ... for the duration of the
    # registration"). Reads made before a sweep, and contacts more than 30 s from expiry, are
    # unaffected.
    store_cls = _store()
    original = store_cls.sweep

    def sweep(self: Any, now: float) -> Any:
        return original(self, now + SWEEP_AHEAD)

    mp.setattr(store_cls, "sweep", sweep)


# ----- WWSF (5.2.2.5.2 step 1) -------------------------------------------------------------------


def _wwsf_token_time_frozen(mp: pytest.MonkeyPatch) -> None:
    # Wire: every token the WWSF issues carries the iat, nbf and exp of its first one (iat = nbf =
    # the time of the first log-in since it started, exp that plus the lifetime), with a new jti and
    # signature each time, while the log-in answer's expires_in still says the full lifetime: the
    # WWSF's token service computes "now" once, when it is first used (a value cached in the token
    # service, as a default argument evaluated once would), not at each log-in. A token from a later
    # log-in has less time left than its expires_in says, and once the lifetime has passed since the
    # first log-in every log-in gives a token already expired: the WIC's REGISTER (or the refresh
    # with its fresh token) gets 401 with error="invalid_token" (5.2.2.5.2 step 1 "Upon successful
    # authentication, the WWSF issues a security token for the user"; step 4; the profile:
    # "expires_in (the token's lifetime in seconds from the answer ... as the reference issues a new
    # token at each log-in)", "a fresh token extends the registration").
    service = _mod("reference.nodes.wwsf.service")
    original = service.WwsfService.issue_token
    first: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def issue_token(self: Any, identity: str, audience: str) -> Any:
        issuer = self._issuer
        stamp = first.setdefault(self, float(issuer._clock()))
        clock = issuer._clock
        issuer._clock = lambda: stamp  # "now", as computed the first time
        try:
            return original(self, identity, audience)
        finally:
            issuer._clock = clock

    mp.setattr(service.WwsfService, "issue_token", issue_token)


# ----- the catalogue ----------------------------------------------------------------------


def _fault(
    description: str, apply: Callable[[pytest.MonkeyPatch], None], clause: str, node: str, batch: int = 1
) -> BlindFault:
    return BlindFault(description, apply, clause=clause, node=node, batch=batch)


FAULTS: Mapping[str, BlindFault] = {
    # IWF
    "iwf_token_grace": _fault(
        "the IWF accepts a WWSF token up to 5 minutes after its exp (a clock-skew grace period)",
        _iwf_token_grace,
        "5.2.2.5.2",
        "IWF",
    ),
    "iwf_origin_prefix": _fault(
        "the IWF accepts a WebSocket handshake whose Origin merely starts with the WWSF's origin",
        _iwf_origin_prefix,
        "5.2.2.5.2",
        "IWF",
    ),
    "iwf_token_against_from": _fault(
        "the IWF checks the token against, and registers, the From identity of a REGISTER instead of its To",
        _iwf_token_against_from,
        "5.2.2.5.2",
        "IWF",
    ),
    "iwf_token_domain_only": _fault(
        "the IWF accepts a token whose sub is any user of the registering identity's domain",
        _iwf_token_domain_only,
        "5.2.2.5.2",
        "IWF",
    ),
    "iwf_token_once_per_call_id": _fault(
        "the IWF checks the token only on the first REGISTER of a Call-ID, never on re-REGISTERs",
        _iwf_token_once_per_call_id,
        "5.2.2.3.2",
        "IWF",
    ),
    "iwf_close_not_reported": _fault(
        "the IWF does not tell the P-CSCF when a WebSocket closes: its contacts stay registered",
        _iwf_close_not_reported,
        "5.2.2.3.2",
        "IWF",
    ),
    "iwf_dereg_authorised_by_identity": _fault(
        "the IWF accepts a token-less de-registration on any WebSocket once another registered the identity",
        _iwf_dereg_authorised_by_identity,
        "5.2.2.3.2",
        "IWF",
        batch=2,
    ),
    # P-CSCF: registration
    "pcscf_min_expires_off_by_one": _fault(
        "the eP-CSCF answers 423 to a REGISTER asking for exactly Min-Expires (<= instead of <)",
        _pcscf_min_expires_off_by_one,
        "5.2.2.5.2",
        "P-CSCF",
    ),
    "pcscf_ok_expires_default": _fault(
        "the eP-CSCF's 200 OK to a REGISTER gives every Contact the default expires, not the one granted",
        _pcscf_ok_expires_default,
        "5.2.2.5.2",
        "P-CSCF",
    ),
    "pcscf_ok_contact_params_dropped": _fault(
        "the eP-CSCF's 200 OK to a REGISTER lists Contacts without their +sip.instance and reg-id",
        _pcscf_ok_contact_params_dropped,
        "5.2.2.5.2",
        "P-CSCF",
    ),
    "pcscf_contact_key_uri_only": _fault(
        "the eP-CSCF keys a WIC contact by its URI, ignoring +sip.instance/reg-id (RFC 5626)",
        _pcscf_contact_key_uri_only,
        "5.2.2.5.2",
        "P-CSCF",
    ),
    "pcscf_close_removes_all_contacts": _fault(
        "on a WebSocket close the eP-CSCF removes every contact of the IMPU, not only that WIC's",
        _pcscf_close_removes_all_contacts,
        "5.2.2.3.2",
        "P-CSCF",
    ),
    "pcscf_refresh_keeps_first_expiry": _fault(
        "the eP-CSCF lets a WIC originate only until its first REGISTER on a flow expires, refreshed or not",
        _pcscf_refresh_keeps_first_expiry,
        "5.2.2.5.3",
        "P-CSCF",
        batch=2,
    ),
    # P-CSCF: origination
    "pcscf_pai_kept": _fault(
        "the eP-CSCF adds its P-Asserted-Identity to a WIC's INVITE but keeps the one the WIC wrote",
        _pcscf_pai_kept,
        "5.2.2.5.3",
        "P-CSCF",
    ),
    "pcscf_route_preloaded_kept": _fault(
        "the eP-CSCF pushes the Service-Route on top of a WIC's preloaded Route instead of replacing it",
        _pcscf_route_preloaded_kept,
        "5.2.2.5.3",
        "P-CSCF",
    ),
    "pcscf_ppi_unchecked": _fault(
        "option A: the eP-CSCF asserts whatever P-Preferred-Identity the WIC sends, registered or not",
        _pcscf_ppi_unchecked,
        "5.2.2.5.3",
        "P-CSCF",
    ),
    "pcscf_no_record_route": _fault(
        "the eP-CSCF does not Record-Route a WIC's originating INVITE",
        _pcscf_no_record_route,
        "5.2.2.5.3",
        "P-CSCF",
    ),
    # P-CSCF: termination
    "pcscf_fork_first_contact_only": _fault(
        "the eP-CSCF delivers a terminating INVITE to the first-registered contact of the IMPU only",
        _pcscf_fork_first_contact_only,
        "5.2.2.5.4",
        "P-CSCF",
    ),
    "pcscf_cancel_without_reason": _fault(
        "the eP-CSCF CANCELs the losing forked branches without Reason (call completed elsewhere)",
        _pcscf_cancel_without_reason,
        "5.2.2.5.4",
        "P-CSCF",
    ),
    "pcscf_caller_cancel_one_branch": _fault(
        "on the caller's CANCEL the eP-CSCF cancels one forked WIC only, the others keep ringing",
        _pcscf_caller_cancel_one_branch,
        "5.2.2.5.4",
        "P-CSCF",
        batch=2,
    ),
    # P-CSCF: requests in a dialog
    "pcscf_dialog_kept_after_core_bye": _fault(
        "the eP-CSCF keeps relaying a WIC's requests in a dialog the remote party's BYE has ended",
        _pcscf_dialog_kept_after_core_bye,
        "5.2.2.3.2",
        "P-CSCF",
        batch=2,
    ),
    # P-CSCF: block registration and re-allocation
    "pcscf_block_no_path": _fault(
        "the eP-CSCF registers the wIMPU block with the S-CSCF without a Path header",
        _pcscf_block_no_path,
        "5.2.2.5.1",
        "P-CSCF",
    ),
    "pcscf_block_per_wic": _fault(
        "the eP-CSCF re-sends the block's REGISTER to the S-CSCF on every WIC registration",
        _pcscf_block_per_wic,
        "5.2.2.5.1",
        "P-CSCF",
    ),
    "pcscf_takeover_keeps_old_binding": _fault(
        "an eP-CSCF taking over a failed one's block leaves the failed eP-CSCF's binding at the S-CSCF",
        _pcscf_takeover_keeps_old_binding,
        "5.2.2.2",
        "P-CSCF",
    ),
    "pcscf_block_refresh_new_call_id": _fault(
        "the eP-CSCF refreshes the block registration with a new Call-ID each time, not the registration's",
        _pcscf_block_refresh_new_call_id,
        "5.2.2.5.1",
        "P-CSCF",
        batch=2,
    ),
    # I-CSCF
    "icscf_domain_case_sensitive": _fault(
        "the I-CSCF compares the called domain with its configured webRTC domains case-sensitively",
        _icscf_domain_case_sensitive,
        "5.2.2.3.3",
        "I-CSCF",
    ),
    "icscf_no_retarget": _fault(
        "option B: the I-CSCF locates the S-CSCF for the called external identity, not the IMPU W7 returned",
        _icscf_no_retarget,
        "5.2.2.5.4",
        "I-CSCF",
    ),
    "icscf_positive_cache": _fault(
        "the I-CSCF caches a 'registered' W7 answer for 5 minutes",
        _icscf_positive_cache,
        "5.2.2.4.2",
        "I-CSCF",
    ),
    "icscf_w7_unavailable_fail_open": _fault(
        "the I-CSCF routes a call to a webRTC user as registered when the wIMPU Registrar does not answer W7",
        _icscf_w7_unavailable_fail_open,
        "5.2.2.3.3",
        "I-CSCF",
        batch=2,
    ),
    "icscf_retarget_rewrites_to": _fault(
        "option B: the I-CSCF puts the allocated IMPU in To as well as in the Request-URI when it retargets",
        _icscf_retarget_rewrites_to,
        "5.2.2.1",
        "I-CSCF",
        batch=2,
    ),
    # wIMPU Registrar
    "registrar_prefix_lookup": _fault(
        "the wIMPU Registrar's W7 look-up matches identities by prefix (LIKE 'sip:bob%')",
        _registrar_prefix_lookup,
        "5.2.2.4.2",
        "wIMPU Registrar",
    ),
    "registrar_expiry_plus_one": _fault(
        "the wIMPU Registrar keeps each contact one second longer than the interval granted",
        _registrar_expiry_plus_one,
        "5.2.2.3.1",
        "wIMPU Registrar",
    ),
    "registrar_remove_one_removes_all": _fault(
        "the wIMPU Registrar deletes the whole entry when asked over W6 to remove one contact",
        _registrar_remove_one_removes_all,
        "5.2.2.4.1",
        "wIMPU Registrar",
    ),
    "registrar_status_ignores_expiry": _fault(
        "the wIMPU Registrar's W7 status says 'registered' for an entry whose contacts have all expired",
        _registrar_status_ignores_expiry,
        "5.2.2.3.1",
        "wIMPU Registrar",
    ),
    "registrar_reregister_timer_only": _fault(
        "the wIMPU Registrar's re-registration of a contact updates its expiry only, not its flow or URI",
        _registrar_reregister_timer_only,
        "5.2.2.5.2",
        "wIMPU Registrar",
        batch=2,
    ),
    "registrar_w6_read_without_external": _fault(
        "the wIMPU Registrar's W6 read by IMPU answers external_identity null for an option B entry",
        _registrar_w6_read_without_external,
        "5.2.2.4.1",
        "wIMPU Registrar",
        batch=2,
    ),
    # WWSF
    "wwsf_aud_is_issuer": _fault(
        "the WWSF issues tokens whose aud is its own origin instead of the eP-CSCF",
        _wwsf_aud_is_issuer,
        "5.2.2.5.2",
        "WWSF",
    ),
    "wwsf_first_block_for_all": _fault(
        "the WWSF sends every user to the eP-CSCF of its first configured block",
        _wwsf_first_block_for_all,
        "5.2.2.1",
        "WWSF",
    ),
    "wwsf_directory_stale": _fault(
        "the WWSF keeps announcing a failed eP-CSCF after its block was re-allocated",
        _wwsf_directory_stale,
        "5.2.2.2",
        "WWSF",
    ),
    "wwsf_aud_of_configured_ep": _fault(
        "after a re-allocation the WWSF sends users to the new eP-CSCF with tokens for the block's first one",
        _wwsf_aud_of_configured_ep,
        "5.2.2.2",
        "WWSF",
        batch=2,
    ),
    # batch 3: IWF
    "iwf_token_aud_unchecked": _fault(
        "the IWF takes the audience from the token itself: a token issued for another eP-CSCF is accepted",
        _iwf_token_aud_unchecked,
        "5.2.2.5.2",
        "IWF",
        batch=3,
    ),
    "iwf_dereg_star_without_token": _fault(
        "the IWF accepts a token-less REGISTER with Contact: * and Expires: 0 on an authorised WebSocket",
        _iwf_dereg_star_without_token,
        "5.2.2.3.2",
        "IWF",
        batch=3,
    ),
    # batch 3: P-CSCF
    "pcscf_orig_any_flow": _fault(
        "option B: the eP-CSCF lets any WebSocket originate as an external identity registered on another",
        _pcscf_orig_any_flow,
        "5.2.2.5.3",
        "P-CSCF",
        batch=3,
    ),
    "pcscf_bearer_forwarded": _fault(
        "the eP-CSCF relays a WIC's requests into the IMS core with the WWSF's Bearer token still in them",
        _pcscf_bearer_forwarded,
        "5.2.2.5.3",
        "P-CSCF",
        batch=3,
    ),
    "pcscf_response_pai_from_wic": _fault(
        "the eP-CSCF passes on the P-Asserted-Identity a WIC wrote in a response instead of its own",
        _pcscf_response_pai_from_wic,
        "5.2.2.5.4",
        "P-CSCF",
        batch=3,
    ),
    "pcscf_takeover_keeps_stale_contacts": _fault(
        "an eP-CSCF taking over a block leaves the failed eP-CSCF's contacts in the wIMPU Registrar",
        _pcscf_takeover_keeps_stale_contacts,
        "5.2.2.2",
        "P-CSCF",
        batch=3,
    ),
    # batch 3: I-CSCF
    "icscf_w7_only_when_hss_unknown": _fault(
        "the I-CSCF queries W7 only for identities the HSS does not know, never for an IMPU of a block",
        _icscf_w7_only_when_hss_unknown,
        "5.2.2.3.3",
        "I-CSCF",
        batch=3,
    ),
    # batch 3: wIMPU Registrar
    "registrar_one_contact_per_impu": _fault(
        "the wIMPU Registrar keeps one contact per IMPU: a second WIC's contact replaces the first's",
        _registrar_one_contact_per_impu,
        "5.2.2.3.1",
        "wIMPU Registrar",
        batch=3,
    ),
    "registrar_refresh_never_shortens": _fault(
        "the wIMPU Registrar never shortens a contact's expiry: a refresh asking less keeps the longer one",
        _registrar_refresh_never_shortens,
        "5.2.2.3.1",
        "wIMPU Registrar",
        batch=3,
    ),
    # batch 3: WWSF
    "wwsf_token_cached_per_user": _fault(
        "the WWSF answers a new log-in with the user's earlier token while it is valid, not a fresh one",
        _wwsf_token_cached_per_user,
        "5.2.2.5.2",
        "WWSF",
        batch=3,
    ),
    # batch 4: IWF
    "iwf_token_nbf_unchecked": _fault(
        "the IWF compares only a token's exp with its clock: a token not yet valid (nbf or iat ahead) passes",
        _iwf_token_nbf_unchecked,
        "5.2.2.5.2",
        "IWF",
        batch=4,
    ),
    "iwf_subprotocol_optional": _fault(
        "the IWF accepts a WebSocket handshake that does not offer the sip subprotocol, and reads SIP on it",
        _iwf_subprotocol_optional,
        "5.2.2.5.2",
        "IWF",
        batch=4,
    ),
    # batch 4: P-CSCF
    "pcscf_dereg_keeps_origination": _fault(
        "option A: after a WIC de-registers, the eP-CSCF still relays its sessions until the old expiry",
        _pcscf_dereg_keeps_origination,
        "5.2.2.5.3",
        "P-CSCF",
        batch=4,
    ),
    "pcscf_in_dialog_by_to_tag_only": _fault(
        "the eP-CSCF takes a BYE, UPDATE, INFO or PRACK without To tag for an initial request and relays it",
        _pcscf_in_dialog_by_to_tag_only,
        "5.2.2.3.2",
        "P-CSCF",
        batch=4,
    ),
    "pcscf_fork_record_route_first_flow": _fault(
        "the eP-CSCF record-routes every branch of a forked INVITE with the first contact's flow",
        _pcscf_fork_record_route_first_flow,
        "5.2.2.5.4",
        "P-CSCF",
        batch=4,
    ),
    "pcscf_block_refresh_once": _fault(
        "the eP-CSCF refreshes the block registration once, then lets it run out",
        _pcscf_block_refresh_once,
        "5.2.2.5.1",
        "P-CSCF",
        batch=4,
    ),
    # batch 4: I-CSCF
    "icscf_cancel_not_relayed": _fault(
        "the I-CSCF answers a caller's CANCEL itself and does not cancel the INVITE it forwarded",
        _icscf_cancel_not_relayed,
        "5.2.2.5.4",
        "I-CSCF",
        batch=4,
    ),
    "icscf_record_route": _fault(
        "the I-CSCF record-routes the sessions it routes but refuses the requests in them that end at it",
        _icscf_record_route,
        "5.2.2.3.3",
        "I-CSCF",
        batch=4,
    ),
    # batch 4: wIMPU Registrar
    "registrar_lifetime_capped": _fault(
        "the wIMPU Registrar keeps a contact at most 300 s, whatever interval the eP-CSCF wrote over W6",
        _registrar_lifetime_capped,
        "5.2.2.3.1",
        "wIMPU Registrar",
        batch=4,
    ),
    # batch 4: WWSF
    "wwsf_token_exp_milliseconds": _fault(
        "the WWSF writes a token's exp in milliseconds (JavaScript Date.now()): its tokens never expire",
        _wwsf_token_exp_milliseconds,
        "5.2.2.5.2",
        "WWSF",
        batch=4,
    ),
    # batch 5: IWF
    "iwf_bearer_token68_only": _fault(
        "the IWF reads a Bearer token only as a b64token, not in TS 24.371's access_token form",
        _iwf_bearer_token68_only,
        "5.2.2.5.2",
        "IWF",
        batch=5,
    ),
    # batch 5: P-CSCF
    "pcscf_in_dialog_next_hop_unchecked": _fault(
        "the eP-CSCF relays a WIC's request in its dialog to whatever next hop the WIC's Route names",
        _pcscf_in_dialog_next_hop_unchecked,
        "5.2.2.5.3",
        "P-CSCF",
        batch=5,
    ),
    "pcscf_timer_c_120s": _fault(
        "the eP-CSCF's Timer C is 120 s (a no-answer timeout), not more than 3 minutes",
        _pcscf_timer_c_120s,
        "5.2.2.5.4",
        "P-CSCF",
        batch=5,
    ),
    "pcscf_option_b_pau_lists_impu": _fault(
        "option B: the eP-CSCF's 200 OK to a REGISTER lists the allocated IMPU in P-Associated-URI",
        _pcscf_option_b_pau_lists_impu,
        "5.2.2.1",
        "P-CSCF",
        batch=5,
    ),
    "pcscf_wic_registered_before_block": _fault(
        "option 2: the eP-CSCF registers the first WIC without waiting for the block's registration",
        _pcscf_wic_registered_before_block,
        "5.2.2.5.1",
        "P-CSCF",
        batch=5,
    ),
    # batch 5: I-CSCF
    "icscf_w7_retried": _fault(
        "the I-CSCF repeats an unanswered W7 query for a minute before it rejects the session",
        _icscf_w7_retried,
        "5.2.2.3.3",
        "I-CSCF",
        batch=5,
    ),
    "icscf_own_route_by_host": _fault(
        "the I-CSCF takes a Route to its own host on another port for its own, and pops it",
        _icscf_own_route_by_host,
        "5.2.2.5.4",
        "I-CSCF",
        batch=5,
    ),
    # batch 5: wIMPU Registrar
    "registrar_expiry_per_entry": _fault(
        "the wIMPU Registrar keeps an expired contact while another contact of its IMPU is live",
        _registrar_expiry_per_entry,
        "5.2.2.3.1",
        "wIMPU Registrar",
        batch=5,
    ),
    "registrar_w7_as_sent": _fault(
        "the wIMPU Registrar's W7 look-up uses the identity as the I-CSCF spelled it, not its canonical form",
        _registrar_w7_as_sent,
        "5.2.2.4.2",
        "wIMPU Registrar",
        batch=5,
    ),
    # batch 5: WWSF
    "wwsf_throttle_counts_successes": _fault(
        "the WWSF's log-in throttle counts successful log-ins too: a user behind a busy address gets 429",
        _wwsf_throttle_counts_successes,
        "5.2.2.5.2",
        "WWSF",
        batch=5,
    ),
    # batch 6: IWF
    "iwf_origin_absent_accepted": _fault(
        "the IWF accepts a WebSocket handshake that carries no Origin, as from a client that is no browser",
        _iwf_origin_absent_accepted,
        "5.2.2.5.2",
        "IWF",
        batch=6,
    ),
    "iwf_dereg_by_expires_header": _fault(
        "the IWF takes a token-less REGISTER for a de-registration by its Expires header, not its Contact's",
        _iwf_dereg_by_expires_header,
        "5.2.2.3.2",
        "IWF",
        batch=6,
    ),
    # batch 6: P-CSCF
    "pcscf_ok_before_w6_write": _fault(
        "the eP-CSCF sends the 200 OK to a REGISTER without waiting for the W6 write, made in the background",
        _pcscf_ok_before_w6_write,
        "5.2.2.5.2",
        "P-CSCF",
        batch=6,
    ),
    "pcscf_option_b_binding_written_once": _fault(
        "option B: the eP-CSCF sends the external identity over W6 only in the write that allocates the IMPU",
        _pcscf_option_b_binding_written_once,
        "5.2.2.1",
        "P-CSCF",
        batch=6,
    ),
    "pcscf_fork_request_uri_kept": _fault(
        "the eP-CSCF delivers a terminating request to each WIC without retargeting it to the WIC's contact",
        _pcscf_fork_request_uri_kept,
        "5.2.2.5.4",
        "P-CSCF",
        batch=6,
    ),
    "pcscf_block_refusal_remembered": _fault(
        "the eP-CSCF remembers a failed block registration and answers later WICs 503 without trying again",
        _pcscf_block_refusal_remembered,
        "5.2.2.5.1",
        "P-CSCF",
        batch=6,
    ),
    "pcscf_takeover_removes_with_star": _fault(
        "an eP-CSCF taking over a block removes the failed one's binding with Contact: *, its own with it",
        _pcscf_takeover_removes_with_star,
        "5.2.2.2",
        "P-CSCF",
        batch=6,
    ),
    # batch 6: I-CSCF
    "icscf_w7_identity_lowercased": _fault(
        "the I-CSCF lower-cases the whole called URI, user part too, before its W7 query",
        _icscf_w7_identity_lowercased,
        "5.2.2.5.4",
        "I-CSCF",
        batch=6,
    ),
    # batch 6: wIMPU Registrar
    "registrar_sweep_ahead": _fault(
        "the wIMPU Registrar's sweeper removes contacts up to 30 s before their registration timer expires",
        _registrar_sweep_ahead,
        "5.2.2.3.1",
        "wIMPU Registrar",
        batch=6,
    ),
    # batch 6: WWSF
    "wwsf_token_time_frozen": _fault(
        "the WWSF stamps every token with the time of its first log-in: later tokens are born old",
        _wwsf_token_time_frozen,
        "5.2.2.5.2",
        "WWSF",
        batch=6,
    ),
}


def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get(ENV)
    if not name:
        return
    if name not in FAULTS:
        raise pytest.UsageError(f"{ENV}={name!r} is not one of {sorted(FAULTS)}")
    patcher = pytest.MonkeyPatch()
    FAULTS[name].apply(patcher)
    config.add_cleanup(patcher.undo)
