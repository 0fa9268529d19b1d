"""Faults injected into the reference implementation, to prove each scenario can fail.

Each fault is a misbehaviour a real eP-CSCF, I-CSCF, WWSF or wIMPU Registrar could have.
It is applied from outside, as a pytest plugin (``-p wimpu_faults`` with
``WIMPU_FAULT=name``), by replacing a function or method of the reference: the reference
itself carries no test switches. ``test_mutants.py`` runs the scenarios that guard
against each fault with the fault applied and expects every one of them to fail.

Most faults wrap a sans-I/O flow (``reference/nodes/*/flows.py``, looked up by the
services at call time) with :func:`_patch_flow`: they change its arguments, answer one
of its effects instead of the node, adjust what the node answered, or change its
outcome. The others replace a public method or module function; only
``wic_page_missing`` (the WWSF's page handler) and the block refresh faults (the eP-CSCF's
refresh timer, ``BlockRegistration._schedule_refresh``) replace a private one, there being
no public one. No fault reads or writes a node's private state.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import secrets
import types
from collections.abc import Callable, Generator, Mapping
from typing import Any, Final

import pytest

Patch = Callable[[pytest.MonkeyPatch], None]
Flow = Generator[Any, Any, Any]


@dataclasses.dataclass(frozen=True)
class Fault:
    description: str
    "One line: what the misbehaving node does."
    apply: Patch


# ----- wrapping a sans-I/O flow ------------------------------------------------------------

CARRY_OUT: Final = object()
"What an ``answer`` hook returns to let the node carry the effect out as usual."


@dataclasses.dataclass
class FlowRun:
    """One run of a patched flow: its arguments, and each effect with what it got back."""

    request: Any
    kwargs: dict[str, Any]
    results: list[tuple[object, Any]] = dataclasses.field(default_factory=list)

    def result_of(self, *kinds: type) -> Any:
        """What the last effect of one of ``kinds`` got back (None if there was none)."""
        for effect, result in reversed(self.results):
            if isinstance(effect, kinds):
                return result
        return None


Call = Callable[[Any, dict[str, Any]], tuple[Any, dict[str, Any]]]
Answer = Callable[[FlowRun, object], Any]
Adjust = Callable[[FlowRun, object, Any], Any]
Outcome = Callable[[FlowRun, Any], Any]


def _patch_flow(
    mp: pytest.MonkeyPatch,
    module: types.ModuleType,
    name: str,
    *,
    call: Call | None = None,
    answer: Answer | None = None,
    adjust: Adjust | None = None,
    outcome: Outcome | None = None,
) -> None:
    """Replace the flow ``module.name`` (``flow(request, **kwargs)``) by a misbehaving one.

    ``call`` rewrites the arguments; ``answer`` answers an effect in place of the node
    (or returns :data:`CARRY_OUT`); ``adjust`` changes what the node answered; ``outcome``
    changes the flow's final result.
    """
    original = getattr(module, name)

    def flow(request: Any, **kwargs: Any) -> Flow:
        if call is not None:
            request, kwargs = call(request, dict(kwargs))
        run = FlowRun(request, kwargs)
        inner = original(request, **kwargs)
        result: Any = None
        while True:
            try:
                effect = inner.send(result)
            except StopIteration as stop:
                return stop.value if outcome is None else outcome(run, stop.value)
            result = CARRY_OUT if answer is None else answer(run, effect)
            if result is CARRY_OUT:
                result = yield effect
                if adjust is not None:
                    result = adjust(run, effect, result)
            run.results.append((effect, result))

    mp.setattr(module, name, flow)


def _pcscf() -> types.ModuleType:
    import reference.nodes.p_cscf.service as service

    return service


def _icscf() -> types.ModuleType:
    import reference.nodes.i_cscf.service as service

    return service


def _iwf() -> types.ModuleType:
    import reference.nodes.iwf.service as service

    return service


def _wrap_validate(
    mp: pytest.MonkeyPatch, change: Callable[[str, dict[str, Any]], dict[str, Any] | None]
) -> None:
    """The IWF's token check with changed arguments; ``change`` returning None accepts the token."""
    iwf = _iwf()
    original = iwf.validate

    def validate(token: str | None, **kwargs: Any) -> Any:
        changed = change(token, dict(kwargs)) if token else kwargs
        return None if changed is None else original(token, **changed)

    mp.setattr(iwf, "validate", validate)


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    import jwt

    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}, {}


# ----- WIC registration (5.2.2.5.2) --------------------------------------------------------


def _registration_not_stored(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.flows import W6Write
    from reference.nodes.wimpu_registrar.model import Entry, Outcome

    def answer(run: FlowRun, effect: object) -> Any:
        if isinstance(effect, W6Write):
            w = effect.write
            nothing = Entry(effect.impu, w.wimpu, w.external_identity, w.allocated_by, contacts=())
            return Outcome.NEW_REGISTRATION, nothing
        return CARRY_OUT

    _patch_flow(mp, _pcscf(), "register_wic", answer=answer)


def _registrar_failure_accepted(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF registers optimistically when its W6 calls fail (the store is "retried later"):
    a read that failed counts as "not registered", a write that failed as stored, and the WIC gets
    its 200 OK although the registrar holds nothing (steps 6-7)."""
    from reference.nodes.p_cscf.flows import W6Read, W6ReadByExternal, W6Write
    from reference.nodes.p_cscf.service import Pcscf
    from reference.nodes.wimpu_registrar.client import RegistrarUnavailable
    from reference.nodes.wimpu_registrar.model import Contact, Entry, Outcome

    original = Pcscf._effect

    async def effect(self: Pcscf, effect: object, flow_token: str) -> Any:
        try:
            return await original(self, effect, flow_token)
        except RegistrarUnavailable:
            if isinstance(effect, W6Read | W6ReadByExternal):
                return None
            if not isinstance(effect, W6Write):
                raise
            w, c = effect.write, effect.write.contact
            stored = Contact(c.contact_id, c.uri, c.flow, c.instance_id, c.reg_id, c.path, c.ep_cscf,
                             self.clock() + c.expires)  # fmt: skip
            entry = Entry(effect.impu, w.wimpu, w.external_identity, w.allocated_by, contacts=(stored,))
            return Outcome.NEW_REGISTRATION, entry

    mp.setattr(Pcscf, "_effect", effect)


def _allocation_not_stable(mp: pytest.MonkeyPatch) -> None:
    """Option B: the eP-CSCF allocates a fresh random IMPU of the block to an external identity the
    registrar holds no binding for, so a user whose registration is gone (its eP-CSCF failed) comes
    back under another IMPU (the registrar's binding is still read and honoured while it lasts)."""
    import secrets

    from reference.blocks import WimpuBlock

    def allocate(self: WimpuBlock, external: str) -> str:
        return f"sip:{self.prefix}{secrets.token_hex(5)}@{self.wimpu.host or ''}"

    mp.setattr(WimpuBlock, "allocate", allocate)


def _registrar_without_timeout(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF's W6 client waits for the registrar without a time limit: while the registrar
    hangs, the WIC's REGISTER is never answered (its transaction times out at Timer F)."""
    import aiohttp

    from reference.nodes.wimpu_registrar.client import RegistrarClient

    original = RegistrarClient.__init__

    def init(self: RegistrarClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._timeout = aiohttp.ClientTimeout(total=None)

    mp.setattr(RegistrarClient, "__init__", init)


def _ok_interval_of_policy(mp: pytest.MonkeyPatch) -> None:
    """The 200 OK tells each contact the eP-CSCF's default interval (600 s), whatever it
    stored: a 200 built from the configuration instead of from the grant."""

    def outcome(run: FlowRun, result: Any) -> Any:
        if getattr(result, "status", None) != 200:
            return result
        contacts = [re.sub(r";expires=\d+", ";expires=600", value) for value in result.get_all("Contact")]
        return result.with_header_set("Contact", *contacts) if contacts else result

    _patch_flow(mp, _pcscf(), "register_wic", outcome=outcome)


def _too_brief_inclusive(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF refuses as too brief an interval equal to its minimum (``<=`` for ``<``)."""

    def call(request: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        policy = kwargs["policy"]
        return request, {**kwargs, "policy": dataclasses.replace(policy, min_expires=policy.min_expires + 1)}

    _patch_flow(mp, _pcscf(), "register_wic", call=call)


def _close_deregisters_the_user(mp: pytest.MonkeyPatch) -> None:
    """On a WebSocket close the eP-CSCF removes the whole entry of each IMPU that had a
    contact on it: the user's other WICs are de-registered with it."""
    service = _pcscf()
    original = service.Pcscf.flow_closed

    def flow_closed(self: Any, flow_token: str) -> None:
        impus = {impu for impu, _ in self.registrations.flow_closed(flow_token)}
        original(self, flow_token)
        for impu in impus:
            self.node.spawn(self.registrar.remove(impu, None))

    mp.setattr(service.Pcscf, "flow_closed", flow_closed)


def _reregistration_not_extended(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.flows import W6Read, W6ReadByExternal, W6Write
    from reference.nodes.wimpu_registrar.model import Outcome

    def answer(run: FlowRun, effect: object) -> Any:
        if isinstance(effect, W6Write):
            entry = run.result_of(W6Read, W6ReadByExternal)
            if entry and any(c.contact_id == effect.contact_id for c in entry.contacts):
                return Outcome.RE_REGISTRATION, entry
        return CARRY_OUT

    _patch_flow(mp, _pcscf(), "register_wic", answer=answer)


def _deregistration_ignored(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.flows import W6Remove

    def answer(run: FlowRun, effect: object) -> Any:
        return None if isinstance(effect, W6Remove) else CARRY_OUT

    _patch_flow(mp, _pcscf(), "register_wic", answer=answer)


def _unknown_deregistration_registers(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF honours Expires: 0 only for a registered contact; for one it does not
    know it ignores the zero and registers the contact for its default interval."""
    from reference.blocks import Allocation
    from reference.nodes.p_cscf.flows import W6Read, W6ReadByExternal

    service = _pcscf()
    original = service.register_wic

    def register_wic(request: Any, **kwargs: Any) -> Flow:
        contact = request.get("Contact") or ""
        zero = request.get("Expires") == "0" and contact.strip() != "*"
        if zero:
            identity = kwargs["identity"]
            option_b = kwargs["block"].allocation is Allocation.EP_CSCF
            entry = yield (W6ReadByExternal(identity) if option_b else W6Read(identity))
            if entry is None:
                default = str(kwargs["policy"].default_expires)
                request = request.with_header_set("Expires", default).with_header_set(
                    "Contact", contact.replace(";expires=0", f";expires={default}")
                )
        return (yield from original(request, **kwargs))

    mp.setattr(service, "register_wic", register_wic)


def _new_impu_per_contact(mp: pytest.MonkeyPatch) -> None:
    from reference.blocks import WimpuBlock
    from reference.nodes.p_cscf.flows import W6ReadByExternal

    def allocate(self: WimpuBlock, external: str) -> str:
        return f"sip:{self.prefix}{secrets.token_hex(6)}@{self.wimpu.host}"

    def answer(run: FlowRun, effect: object) -> Any:
        return None if isinstance(effect, W6ReadByExternal) else CARRY_OUT

    mp.setattr(WimpuBlock, "allocate", allocate)
    _patch_flow(mp, _pcscf(), "register_wic", answer=answer)


def _contact_per_flow(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF identifies a WIC's contact by its WebSocket flow as well as its
    ``+sip.instance``/``reg-id``: the same instance refreshing over a new WebSocket is
    stored as a second contact, and the old flow keeps being offered sessions."""
    import hashlib

    from reference.nodes.p_cscf.flows import Registered, W6Write

    service = _pcscf()
    original = service.register_wic

    def register_wic(request: Any, **kwargs: Any) -> Flow:
        salt = hashlib.sha256(str(kwargs["flow"]).encode()).hexdigest()[:8]
        inner = original(request, **kwargs)
        result: Any = None
        while True:
            try:
                effect = inner.send(result)
            except StopIteration as stop:
                return stop.value
            if isinstance(effect, W6Write):
                contact = effect.write.contact
                keyed = dataclasses.replace(contact, contact_id=f"{contact.contact_id}@{salt}")
                effect = dataclasses.replace(effect, write=dataclasses.replace(effect.write, contact=keyed))
            elif isinstance(effect, Registered):
                effect = dataclasses.replace(effect, contact_id=f"{effect.contact_id}@{salt}")
            result = yield effect

    mp.setattr(service, "register_wic", register_wic)


def _external_identity_as_impu(mp: pytest.MonkeyPatch) -> None:
    from reference.blocks import WimpuBlock

    mp.setattr(WimpuBlock, "allocate", lambda self, external: external)


def _wic_page_missing(mp: pytest.MonkeyPatch) -> None:
    from aiohttp import web

    from reference.nodes.wwsf.service import WwsfService

    async def page(self: WwsfService, request: web.Request) -> web.Response:
        return web.Response(status=404, text="Not Found")

    mp.setattr(WwsfService, "_handle_page", page)


def _any_password_accepted(mp: pytest.MonkeyPatch) -> None:
    """A known user name is enough: the password comparison's result is not used."""
    from reference.nodes.wwsf.users import UserStore

    original = UserStore.authenticate

    def authenticate(self: UserStore, username: str, password: str) -> Any:
        original(self, username, password)  # the hash is still computed (same timing), then ignored
        return next((user for user in self.users() if user.username == username), None)

    mp.setattr(UserStore, "authenticate", authenticate)


def _login_refund_user_only(mp: pytest.MonkeyPatch) -> None:
    """A successful log-in is refunded to the user's own budget only: the budgets of its address, and
    of the user at that address, are a plain rate limit of ``POST /login`` (the refund written for the
    per-user lock-out and never extended when the per-address budgets were added). The sixth log-in
    of one user from one address within a minute gets 429, every one of them with the right password."""
    from reference.nodes.wwsf.throttle import LoginThrottle

    original = LoginThrottle.succeeded

    class Charged:
        """A budget table whose refunds are lost."""

        def give(self, key: object, now: float) -> None:
            return None

    def succeeded(self: LoginThrottle, username: str, source: str, now: float) -> None:
        kept = self.sources, self.user_sources
        self.sources, self.user_sources = Charged(), Charged()  # type: ignore[assignment]
        try:
            original(self, username, source, now)
        finally:
            self.sources, self.user_sources = kept

    mp.setattr(LoginThrottle, "succeeded", succeeded)


def _login_lockout_counts_all(mp: pytest.MonkeyPatch) -> None:
    """An account lock-out that counts every log-in of a user, the successful ones too (the counter is
    incremented before the password check and reset by nothing but time): once ten log-ins of a user
    fall within a minute the account is "locked", and a locked account's password check fails, so
    the right password is answered 401 as a wrong one would be (not 429: the lock-out was written as
    part of the authentication, not as a throttle)."""
    from reference.nodes.wwsf.service import WwsfService

    original = WwsfService._authenticate
    seen: dict[str, list[float]] = {}

    async def authenticate(self: WwsfService, username: str, password: str, source: str) -> Any:
        now = self._monotonic()
        recent = [t for t in seen.get(username, []) if now - t < 60.0] + [now]
        seen[username] = recent
        user = await original(self, username, password, source)
        return None if len(recent) > 10 else user

    mp.setattr(WwsfService, "_authenticate", authenticate)


def _throttle_clock_in_ms(mp: pytest.MonkeyPatch) -> None:
    """The log-in throttle is handed the clock in milliseconds (the web framework's request timer, which
    counts them) while its budgets are per second: a bucket gets back in one second what it should in
    a thousand, so the fifty milliseconds of one password check refill it and guessing is never
    slowed (no 429)."""
    from reference.nodes.wwsf.throttle import LoginThrottle

    attempt, succeeded = LoginThrottle.attempt, LoginThrottle.succeeded

    def attempt_ms(self: LoginThrottle, username: str, source: str, now: float) -> Any:
        return attempt(self, username, source, now * 1000)

    def succeeded_ms(self: LoginThrottle, username: str, source: str, now: float) -> None:
        succeeded(self, username, source, now * 1000)

    mp.setattr(LoginThrottle, "attempt", attempt_ms)
    mp.setattr(LoginThrottle, "succeeded", succeeded_ms)


def _login_answer_rewritten(mp: pytest.MonkeyPatch, *, change: str) -> None:
    """``change`` = ``refusal``: a refused log-in's answer carries a token made before the password
    check; ``first_block``: a successful log-in's answer names the directory's first block (its
    eP-CSCF right); ``expires_at``: a successful log-in's ``expires_in`` is the token's expiry time
    (its ``exp``, seconds since the epoch), as an ``expires_at`` would be, not its lifetime."""
    import jwt
    from aiohttp import web

    from reference.nodes.wwsf.service import WwsfService

    original = WwsfService._handle_login

    async def login(self: WwsfService, request: web.Request) -> web.Response:
        response = await original(self, request)
        assert isinstance(response, web.Response) and response.body is not None
        body = json.loads(bytes(response.body))  # type: ignore[arg-type]
        blocks = self.directory()
        if change == "refusal" and response.status == 401:
            # the session (and its token) is made before the password is checked; the problem
            # document serialises the session
            claimed = json.loads(await request.read()).get("username", "")
            body["token"] = self.issue_token(f"sip:{claimed}@login.invalid", blocks[0].ep_cscf.identity).value
        elif change == "first_block" and response.status == 200:
            body["wimpu"] = blocks[0].wimpu  # the answer names the directory's first block
        elif change == "expires_at" and response.status == 200:
            body["expires_in"] = jwt.decode(body["token"], options={"verify_signature": False})["exp"]
        else:
            return response
        answer = web.json_response(body, status=response.status, headers={"Cache-Control": "no-store"})
        answer.content_type = response.content_type
        return answer

    mp.setattr(WwsfService, "_handle_login", login)


def _token_only_in(mp: pytest.MonkeyPatch, *, header: bool, body: bool) -> None:
    from reference.nodes.iwf.token_check import extract_bearer as original

    iwf = _iwf()

    def extract_bearer(authorization: Any, content: bytes, content_type: str | None) -> str | None:
        return original(
            authorization if header else (), content if body else b"", content_type if body else None
        )

    mp.setattr(iwf, "extract_bearer", extract_bearer)


def _token_body_ignored(mp: pytest.MonkeyPatch) -> None:
    _token_only_in(mp, header=True, body=False)


def _token_header_ignored(mp: pytest.MonkeyPatch) -> None:
    _token_only_in(mp, header=False, body=True)


def _access_token_form_refused(mp: pytest.MonkeyPatch) -> None:
    # A vendor's IWF reading Bearer credentials with RFC 6750 2.1's b64token grammar only: TS 24.371's
    # `Bearer access_token="<token>"` does not match it and counts as a malformed token (401).
    from reference.nodes.iwf.token_check import TokenInvalid
    from reference.nodes.iwf.token_check import extract_bearer as original

    iwf = _iwf()
    b64token = re.compile(r"\s*Bearer\s+[A-Za-z0-9._~+/-]+=*\s*", re.I)

    def extract_bearer(authorization: Any, content: bytes, content_type: str | None) -> str | None:
        for value in authorization:
            if value.strip()[:6].lower() == "bearer" and not b64token.fullmatch(value):
                raise TokenInvalid("the Bearer credentials are not a b64token")
        return original(authorization, content, content_type)

    mp.setattr(iwf, "extract_bearer", extract_bearer)


# ----- WIC authorisation (5.2.2.5.2 steps 2 and 4, 5.2.2.3.2) ------------------------------


def _origin_not_checked(mp: pytest.MonkeyPatch) -> None:
    import reference.transport.websocket as ws

    mp.setattr(ws, "origin_allowed", lambda origin, allowed: True)


def _websocket_served_with(mp: pytest.MonkeyPatch, **changed: Any) -> None:
    """The IWF's WebSocket server (``websockets.serve``) started with ``changed`` arguments."""
    import reference.transport.websocket as ws

    original = ws.serve

    def serve(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, **changed})

    mp.setattr(ws, "serve", serve)


def _subprotocol_not_selected(mp: pytest.MonkeyPatch) -> None:
    """The IWF accepts the WebSocket (101) without selecting the ``sip`` subprotocol: its 101 has
    no ``Sec-WebSocket-Protocol`` (a WebSocket server set up with no subprotocol list, RFC 7118
    4.1). A client that does not insist goes on talking SIP on it."""

    def drop(connection: Any, request: Any, response: Any) -> Any:
        if response.status_code == 101 and "Sec-WebSocket-Protocol" in response.headers:
            del response.headers["Sec-WebSocket-Protocol"]
        return response

    _websocket_served_with(mp, process_response=drop)


def _sip_subprotocol_optional(mp: pytest.MonkeyPatch) -> None:
    """The IWF selects ``sip`` when the client offers it and otherwise accepts the WebSocket with no
    subprotocol (RFC 6455 4.2.2 allows it), as a WebSocket front-end that serves other applications
    too: a page that offers no ``sip`` gets a WebSocket (PROFILE_WSS_SIP_ONLY refuses it)."""

    def select(connection: Any, offered: Any) -> Any:
        return "sip" if "sip" in offered else None

    _websocket_served_with(mp, select_subprotocol=select)


def _sip_subprotocol_always(mp: pytest.MonkeyPatch) -> None:
    """The IWF does not negotiate: every 101 carries ``Sec-WebSocket-Protocol: sip``, written by hand,
    whatever the client offered, so a client that offered none or another one gets a subprotocol it
    did not offer (RFC 6455 4.2.2) and must fail the connection (RFC 6455 4.1)."""

    def select(connection: Any, offered: Any) -> Any:
        return None

    def force(connection: Any, request: Any, response: Any) -> Any:
        if response.status_code == 101:
            response.headers["Sec-WebSocket-Protocol"] = "sip"
        return response

    _websocket_served_with(mp, select_subprotocol=select, process_response=force)


def _token_not_checked(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(_iwf(), "validate", lambda *args, **kwargs: None)


def _signature_not_checked(mp: pytest.MonkeyPatch) -> None:
    import jwt

    import reference.nodes.iwf.token_check as token_check

    def decode(token: str, key: Any = None, algorithms: Any = None, options: Any = None, **kw: Any) -> Any:
        options = {**(options or {}), "verify_signature": False}
        return jwt.decode(token, key, algorithms=algorithms, options=options, **kw)

    mp.setattr(token_check, "jwt", types.SimpleNamespace(**{**vars(jwt), "decode": decode}))


def _exp_not_checked(mp: pytest.MonkeyPatch) -> None:
    _wrap_validate(mp, lambda token, kwargs: {**kwargs, "leeway": float("inf")})


def _alg_none_accepted(mp: pytest.MonkeyPatch) -> None:
    def change(token: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        header, _claims = _unverified(token)
        return None if str(header.get("alg", "")).lower() == "none" else kwargs

    _wrap_validate(mp, change)


def _aud_not_checked(mp: pytest.MonkeyPatch) -> None:
    def change(token: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        aud = _unverified(token)[1].get("aud")
        first = aud[0] if isinstance(aud, list) and aud else aud
        return {**kwargs, "audience": first} if isinstance(first, str) else kwargs

    _wrap_validate(mp, change)


def _nbf_never_checked(mp: pytest.MonkeyPatch) -> None:
    # The eP-CSCF's JWT check reads exp, aud, iss and the signature but never nbf (a library's
    # not-before verification left off, as PyJWT's verify_nbf=False): a token whose nbf lies ahead
    # passes, where RFC 7519 4.1.5 refuses it (step 4). Told apart here by judging the token at its
    # nbf when that is ahead; exp (after nbf) and iat (not after nbf) then judge as at any moment.
    def change(token: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        nbf = _unverified(token)[1].get("nbf")
        if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > kwargs["now"]:
            return {**kwargs, "now": float(nbf)}
        return kwargs

    _wrap_validate(mp, change)


def _any_domain_accepted(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.service import Pcscf

    original = Pcscf.block_for

    def block_for(self: Pcscf, identity: str) -> Any:
        return original(self, identity) or self.blocks[0]

    mp.setattr(Pcscf, "block_for", block_for)


# ----- block registration (5.2.2.5.1) and the WWSF directory -------------------------------


def _no_option1(mp: pytest.MonkeyPatch) -> None:
    import reference.stack as stack
    from reference.nodes.p_cscf.block_registration import BlockCredentials

    mp.setattr(stack, "BlockCredentials", lambda **kw: BlockCredentials(**{**kw, "option": 2}))


def _option2_never_registered(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.block_registration import BlockRegistration

    async def ensure(self: BlockRegistration) -> None:
        return None

    mp.setattr(BlockRegistration, "ensure", ensure)


def _block_per_wic(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.block_registration import BlockRegistration

    async def ensure(self: BlockRegistration) -> None:
        self.contact_user = f"block-{secrets.token_hex(3)}"
        await self.register()

    mp.setattr(BlockRegistration, "ensure", ensure)


def _block_contact_per_start(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF names its block binding after its running instance (a contact user part with a
    token drawn at start-up, as a process id or a boot counter would be): a restarted eP-CSCF
    registers a new contact beside the binding it made before, and never removes that one."""
    from reference.nodes.p_cscf.block_registration import BlockRegistration

    original = BlockRegistration.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.contact_user = f"{self.contact_user}-{secrets.token_hex(3)}"

    mp.setattr(BlockRegistration, "__init__", init)


def _option2_registration_per_first_wic(mp: pytest.MonkeyPatch) -> None:
    """Option 2 with no memory of a registration under way: each WIC REGISTER that finds the block
    not registered starts a block registration of its own, with its own contact (one WIC at a time,
    the first has registered the block before the next arrives: nothing shows)."""
    from reference.nodes.p_cscf import block_registration

    async def ensure(self: Any) -> None:
        if self.registered:
            return
        own = dataclasses.replace(self.binding, contact_user=f"block-{secrets.token_hex(3)}")
        await self._run(block_registration.register_block(own, cnonce=secrets.token_hex(8)))
        self.binding.registered, self.binding.cseq = own.registered, max(own.cseq, self.binding.cseq)
        self.binding.service_route, self.binding.associated = own.service_route, own.associated

    mp.setattr(block_registration.BlockRegistration, "ensure", ensure)


def _no_service_route(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.block_registration import BlockRegistration

    original = BlockRegistration.register

    async def register(self: BlockRegistration, expires: int | None = None) -> Any:
        response = await original(self, expires)
        self.service_route = ()
        return response

    mp.setattr(BlockRegistration, "register", register)


def _directory_shared(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.wwsf.service import WwsfService

    original = WwsfService.directory

    def directory(self: WwsfService) -> list[Any]:
        blocks = original(self)
        return [dataclasses.replace(block, ep_cscf=blocks[0].ep_cscf) for block in blocks]

    mp.setattr(WwsfService, "directory", directory)


# ----- origination (5.2.2.5.3) -------------------------------------------------------------


def _rewrite_onward(mp: pytest.MonkeyPatch, change: Callable[[Any], Any]) -> None:
    from reference.nodes.p_cscf.flows import Onward

    def outcome(run: FlowRun, result: Any) -> Any:
        return Onward(change(result.request)) if isinstance(result, Onward) else result

    _patch_flow(mp, _pcscf(), "originate", outcome=outcome)


def _from_rewritten(mp: pytest.MonkeyPatch) -> None:
    _rewrite_onward(
        mp,
        lambda request: request.with_header_set(
            "From", f'"Anonymous" <sip:anonymous@anonymous.invalid>;tag={request.from_.tag}'
        ),
    )


def _pai_external(mp: pytest.MonkeyPatch) -> None:
    _rewrite_onward(
        mp, lambda request: request.with_header_set("P-Asserted-Identity", f"<{request.from_.uri}>")
    )


def _option_b_no_w6(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.flows import W6ReadByExternal
    from reference.nodes.wimpu_registrar.model import AllocatedBy, Contact, Entry

    def answer(run: FlowRun, effect: object) -> Any:
        if isinstance(effect, W6ReadByExternal):
            flow = run.kwargs["flow"]
            contact = Contact("c", "sip:wic.invalid", flow, None, None, (), "", expires_at=0.0)
            block = str(run.kwargs["block"].wimpu)
            return Entry(effect.external_identity, block, None, AllocatedBy.EP_CSCF, (contact,))
        return CARRY_OUT

    _patch_flow(mp, _pcscf(), "originate", answer=answer)


def _option_a_w6(mp: pytest.MonkeyPatch) -> None:
    from reference.blocks import Allocation
    from reference.nodes.p_cscf.flows import W6Read

    service = _pcscf()
    original = service.originate

    def originate(request: Any, **kwargs: Any) -> Flow:
        if kwargs["block"].allocation is Allocation.THIRD_PARTY:
            yield W6Read(request.from_.uri)
        return (yield from original(request, **kwargs))

    mp.setattr(service, "originate", originate)


def _bypass_scscf(mp: pytest.MonkeyPatch) -> None:
    _patch_flow(
        mp, _pcscf(), "originate", call=lambda request, kwargs: (request, {**kwargs, "service_route": ()})
    )


def _token_forwarded(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF validates the Bearer token a WIC puts on its INVITE (as JsSIP does on every
    request) but forwards it into the IMS core with the request."""
    from reference.nodes.p_cscf.flows import Onward

    def outcome(run: FlowRun, result: Any) -> Any:
        tokens = [v for v in run.request.get_all("Authorization") if v[:7].lower() == "bearer "]
        if not isinstance(result, Onward) or not tokens:
            return result
        request = result.request
        for token in tokens:
            request = request.with_header("Authorization", token)
        return Onward(request)

    _patch_flow(mp, _pcscf(), "originate", outcome=outcome)


def _wic_route_honoured(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF honours a Route set the WIC preloaded: the session goes where the WIC says,
    the Service-Route only when the WIC wrote no Route."""
    from reference.nodes.p_cscf.flows import Onward

    def outcome(run: FlowRun, result: Any) -> Any:
        preloaded = run.request.get_all("Route")
        if not isinstance(result, Onward) or not preloaded:
            return result
        return Onward(result.request.with_header_set("Route", *preloaded))

    _patch_flow(mp, _pcscf(), "originate", outcome=outcome)


def _orig_identity_unchecked(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.flows import Onward

    service = _pcscf()
    registered_on: dict[str, str] = {}
    "flow token -> the identity last registered over it"

    def remember(request: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        registered_on[kwargs["flow"]] = kwargs["identity"]
        return request, kwargs

    _patch_flow(mp, service, "register_wic", call=remember)
    original = service.originate

    def originate(request: Any, **kwargs: Any) -> Flow:
        identity = registered_on.get(kwargs["flow"])
        if identity is None:
            return (yield from original(request, **kwargs))
        checked = request.with_header_set("From", f"<{identity}>;tag={request.from_.tag}")
        result = yield from original(checked, **kwargs)
        if isinstance(result, Onward):
            return Onward(result.request.with_header_set("From", request.get("From") or ""))
        return result

    mp.setattr(service, "originate", originate)


def _wic_cancel_swallowed(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF answers a WIC's CANCEL 200 (its transaction layer does) but never cancels
    the INVITE it sent towards the S-CSCF: a proxy that handles CANCEL hop by hop only."""
    service = _pcscf()
    original = service.proxy

    class Deaf:
        def __init__(self, node: Any) -> None:
            self._node = node

        def __getattr__(self, name: str) -> Any:
            return getattr(self._node, name)

        def when_cancelled(self, tx: Any, handler: Any) -> None:
            return None

    async def proxy(node: Any, server_tx: Any, request: Any, branches: Any, **kwargs: Any) -> Any:
        towards_core = request.method == "INVITE" and all(b.target.host != "flow.invalid" for b in branches)
        return await original(Deaf(node) if towards_core else node, server_tx, request, branches, **kwargs)

    mp.setattr(service, "proxy", proxy)


def _proxy_with(mp: pytest.MonkeyPatch, **changed: Any) -> None:
    """The eP-CSCF proxies every request with ``changed`` in place of its own arguments."""
    service = _pcscf()
    original = service.proxy

    async def proxy(node: Any, server_tx: Any, request: Any, branches: Any, **kwargs: Any) -> Any:
        return await original(node, server_tx, request, branches, **{**kwargs, **changed})

    mp.setattr(service, "proxy", proxy)


def _timer_c_answers_408(mp: pytest.MonkeyPatch) -> None:
    """When Timer C fires on a ringing branch, the eP-CSCF CANCELs it and at once answers the caller
    a 408 of its own, dropping the callee's 487 that follows (what Kamailio's tm does)."""
    from reference.sip.proxy import CancelBranch, ForkingContext

    original = ForkingContext.timer_c_fired

    def timer_c_fired(self: ForkingContext, branch_id: str) -> list[Any]:
        actions = original(self, branch_id)
        if any(isinstance(a, CancelBranch) for a in actions):
            actions += self.branch_failed(branch_id, 408)
        return actions

    mp.setattr(ForkingContext, "timer_c_fired", timer_c_fired)


def _block_refusal_ignored(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF registers a WIC whatever became of its block's registration: a refused block
    registration is logged, and the WIC's REGISTER goes on to the wIMPU Registrar and a 200 OK."""
    from reference.nodes.p_cscf.block_registration import BlockRegistration, BlockRegistrationError

    original = BlockRegistration.ensure

    async def ensure(self: BlockRegistration) -> None:
        try:
            await original(self)
        except BlockRegistrationError:
            pass

    mp.setattr(BlockRegistration, "ensure", ensure)


def _primary_serves_without_lease(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF registers the WICs of the blocks it is configured with whether or not it holds
    their lease: back from a crash after its block was re-allocated (5.2.2.2), it still registers
    WICs that reach it, outside the block's registration (now the other eP-CSCF's)."""
    from reference.nodes.p_cscf.failover import BlockKeeper
    from reference.nodes.p_cscf.lease import Role

    original = BlockKeeper.serving

    def serving(self: BlockKeeper, wimpu: str) -> bool:
        lease = self.leases.get(wimpu)
        return original(self, wimpu) or (lease is not None and lease.role is Role.PRIMARY)

    mp.setattr(BlockKeeper, "serving", serving)


def _state_restored_after_crash(mp: pytest.MonkeyPatch) -> None:
    """Back from a crash, the eP-CSCF restores the state it saved before it: it serves the blocks it
    is configured with and takes them as registered, without asking the registrar who holds them
    now. A WIC that reaches it is registered (200 OK, contact in W6) with no registration of its
    block at this eP-CSCF: the block went to another eP-CSCF meanwhile (5.2.2.2)."""
    from reference.nodes.p_cscf import block_registration
    from reference.nodes.p_cscf.flows import Trigger

    _primary_serves_without_lease(mp)
    original = block_registration.block_registration_due

    def due(option: int, trigger: Trigger, registered: bool) -> bool:
        return False if trigger is Trigger.WIC_REGISTRATION else original(option, trigger, registered)

    mp.setattr(block_registration, "block_registration_due", due)


def _refused_after_binding(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF writes the WIC's binding to the wIMPU Registrar first and asks whether it still
    serves the block only then: back after its block was re-allocated (5.2.2.2), it answers the WIC
    503 as it should, but the contact it stored over W6 stays, at an eP-CSCF that no longer holds the
    block (a check made after the write, never rolled back)."""
    from reference.nodes.p_cscf.flows import register_wic
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.message import Request, Response
    from reference.sip.transaction import make_response

    original = Pcscf.register

    async def register(self: Pcscf, request: Request, flow_token: str, identity: str) -> Response:
        try:
            block = self.block_for(identity)
        except Exception:  # the original answers it (400)
            block = None
        if block is None or self.serves(block):
            return await original(self, request, flow_token, identity)
        flow = register_wic(
            request, identity=identity, block=block, flow=flow_token, path=(), policy=self.policy, to_tag="f"
        )
        answer: Response = await self._drive(flow, flow_token)
        if not 200 <= answer.status < 300:
            return answer
        refused = make_response(request, 503, "wIMPU block not served by this eP-CSCF", to_tag="f")
        return refused.with_header("Retry-After", "5")

    mp.setattr(Pcscf, "register", register)


def _open_flows_registered_as(pcscf: Any, identity: str) -> list[str]:
    """The open flows on which ``identity`` is registered at ``pcscf`` (a reference ``Pcscf``), in
    the order the registrations were made: a location-service lookup of the identity."""
    from reference.sip.identity import IdentityError, same_identity

    def registered_as(flow: str) -> bool:
        try:
            return any(same_identity(i, identity) for i in pcscf.registrations.identities_on(flow))
        except IdentityError:
            return False

    return [f for f in pcscf.registrations.flows() if pcscf.iwf.flow_is_open(f) and registered_as(f)]


async def _relay_over(pcscf: Any, tx: Any, request: Any, flow: str) -> None:
    """``pcscf`` (a reference ``Pcscf``) relays ``request``, an in-dialog request from the core,
    over ``flow`` (whatever flow its Record-Route named), as a stateful proxy."""
    from reference.transport.endpoint import Target
    from reference.transport.proxy_shell import Branch, proxy

    onward = request.without_first_value("Route")
    branch = Branch(onward.uri, Target("WSS", "flow.invalid", 0, flow), request=onward)
    await proxy(pcscf.node, tx, onward, [branch], timers=pcscf.timers)


def _dead_flow_to_other_flow(mp: pytest.MonkeyPatch) -> None:
    """A "flow recovery" of the eP-CSCF: when the flow a request of a session from the core names
    (its Record-Route) has closed, the eP-CSCF sends the request over another open flow on which
    the called identity (the dialog's To) is registered, to another WIC of the user, which never
    joined the dialog (5.2.2.5.4 step 5; RFC 5626 5.3 keeps a dialog on its flow)."""
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.message import Request
    from reference.sip.transaction import ServerTransaction

    original = Pcscf._in_dialog_from_core

    async def in_dialog_from_core(self: Pcscf, tx: ServerTransaction, request: Request) -> None:
        flow = self.dialogs.flow_of_route(request)
        if flow is None or self.iwf.flow_is_open(flow):
            return await original(self, tx, request)
        others = _open_flows_registered_as(self, str(request.to.uri))
        if not others:
            return await original(self, tx, request)
        await _relay_over(self, tx, request, others[0])

    mp.setattr(Pcscf, "_in_dialog_from_core", in_dialog_from_core)


def _in_dialog_by_registration(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF routes a request of a session from the core as it routes a new one: by a lookup
    of the dialog's To identity, to the first open flow on which it is registered, not over the
    flow its own Record-Route names (RFC 3261 16.12, RFC 5626 5.3). A user with two WICs gets the
    requests of the session WIC 2 answered at WIC 1, which never joined it (5.2.2.5.4 step 5)."""
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.message import Request
    from reference.sip.transaction import ServerTransaction

    original = Pcscf._in_dialog_from_core

    async def in_dialog_from_core(self: Pcscf, tx: ServerTransaction, request: Request) -> None:
        flows = _open_flows_registered_as(self, str(request.to.uri))
        if self.dialogs.flow_of_route(request) is None or not flows:
            return await original(self, tx, request)
        await _relay_over(self, tx, request, flows[0])

    mp.setattr(Pcscf, "_in_dialog_from_core", in_dialog_from_core)


def _callee_next_hop_is_caller_contact(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF takes the next hop of a session it delivered to a WIC to be the caller's Contact
    ("in a dialog, requests go to the remote target"), whatever Record-Route the INVITE carried
    below its own: the called WIC's requests of the session, sent on the route set the INVITE gave
    it (RFC 3261 12.1.1, 16.12), are refused as not of the dialog, and the remote party never gets
    the WIC's BYE (5.2.2.5.4 step 5)."""
    from reference.nodes.p_cscf.dialogs import DialogTable
    from reference.sip.message import Request

    original = DialogTable.terminated

    def terminated(self: DialogTable, flow: str, delivered: Request, asserted: str) -> None:
        records = delivered.get_all("Record-Route")
        if len(records) > 1:  # ours on top: the ones of the core below it are forgotten
            delivered = delivered.without_header("Record-Route").with_header("Record-Route", records[0])
        original(self, flow, delivered, asserted)

    mp.setattr(DialogTable, "terminated", terminated)


def _dereg_without_token_anywhere(mp: pytest.MonkeyPatch) -> None:
    """The IWF takes a REGISTER that only removes contacts for harmless and lets it through without a
    token over any WebSocket, not only over one a valid token authorised for that identity
    (5.2.2.3.2, the solution profile's "De-registration without a token"): a page that never
    registered removes another WIC's contact, and that WIC is no longer reached."""
    from reference.nodes.iwf.service import Iwf
    from reference.nodes.iwf.token_check import removes_contacts_only
    from reference.sip.message import Request

    def deregistration_on_authorised_flow(self: Iwf, request: Request, flow: Any) -> str | None:
        return request.to.uri if removes_contacts_only(request) else None

    mp.setattr(Iwf, "_deregistration_on_authorised_flow", deregistration_on_authorised_flow)


def _token_refused_403(mp: pytest.MonkeyPatch) -> None:
    """The IWF refuses a REGISTER without a token, or with one that fails a check, with 403 Forbidden
    and no challenge: nothing is registered (the text's check, 5.2.2.5.2 step 4), only the answer is
    not the profile's Bearer challenge (PROFILE_SEC_TOKEN_401)."""
    from reference.nodes.iwf.service import Iwf
    from reference.sip.transaction_base import make_response

    async def _reject_token(self: Any, request: Any, flow: Any, exc: Any) -> None:
        await self._reply(flow, make_response(request, 403, "Forbidden", to_tag="f0f0f0f0"))

    mp.setattr(Iwf, "_reject_token", _reject_token)


def _takeover_cleans_its_allocations_only(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF taking a block over removes the failed eP-CSCF's contacts only from the entries an
    eP-CSCF allocated (option B): the contacts of an option A block stay in the wIMPU Registrar until
    they expire, so W7 says "registered" and a session to such a user is refused by the eP-CSCF, not
    the I-CSCF (5.2.2.2; a solution-profile choice, PROFILE_LIFE_TAKEOVER_CLEANUP)."""
    import reference.nodes.p_cscf.reallocation as reallocation
    from reference.nodes.wimpu_registrar.model import AllocatedBy

    async def remove_unreachable_contacts(pcscf: Any, wimpu: str) -> int:
        removed = 0
        for entry in await pcscf.registrar.block_registrations(wimpu):
            if entry.allocated_by is not AllocatedBy.EP_CSCF:
                continue
            for contact in entry.contacts:
                if not pcscf.iwf.flow_is_open(contact.flow):
                    await pcscf.registrar.remove(entry.impu, contact.contact_id)
                    removed += 1
        return removed

    mp.setattr(reallocation, "remove_unreachable_contacts", remove_unreachable_contacts)


def _deregistration_by_expires_header(mp: pytest.MonkeyPatch) -> None:
    """The IWF tells a de-registration by its ``Expires: 0`` header alone, never reading the
    Contact: a token-less ``Contact: *`` on a WebSocket a token authorised passes as the WIC removing
    its own contacts, and every contact of the user goes, the other WICs' too (5.2.2.5.2 steps 3-4;
    the profile's token-less de-registration names its contacts)."""
    iwf = _iwf()

    def removes_contacts_only(request: Any) -> bool:
        return (request.get("Expires") or "").strip() == "0"

    mp.setattr(iwf, "removes_contacts_only", removes_contacts_only)


def _wildcard_removes_own_flow_only(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF takes ``Contact: *`` for "every contact of this WIC": it removes the contacts
    registered over the WebSocket the REGISTER came on and answers 200, leaving those the user's other
    WICs registered (RFC 3261 10.3 step 6: every binding of the address-of-record; 5.2.2.3.1)."""
    from reference.nodes.p_cscf.flows import W6Read, W6Remove

    service = _pcscf()
    original = service.Pcscf._effect

    async def effect(self: Any, effect: object, flow_token: str) -> Any:
        if isinstance(effect, W6Remove) and effect.contact_id is None:
            entry = await original(self, W6Read(effect.impu), flow_token)
            for contact in entry.contacts if entry is not None else ():
                if contact.flow == flow_token:
                    await original(self, W6Remove(effect.impu, contact.contact_id), flow_token)
            return None
        return await original(self, effect, flow_token)

    mp.setattr(service.Pcscf, "_effect", effect)


def _provisional_assertion_relayed(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF puts its own P-Asserted-Identity into a WIC's 2xx only: a provisional response
    (the 180 Ringing) goes into the IMS core with the P-Asserted-Identity the WIC wrote, so the
    caller sees the ringing party as whoever the page claims (5.2.2.5.4 step 5, RFC 3325 9.1)."""
    from reference.nodes.p_cscf.dialogs import DialogTable

    original = DialogTable.assert_response

    def assert_response(self: DialogTable, response: Any, flow: str) -> Any:
        if 100 < response.status < 200 and response.has("P-Asserted-Identity"):
            return response.without_header("P-Preferred-Identity")
        return original(self, response, flow)

    mp.setattr(DialogTable, "assert_response", assert_response)


def _refresh_keeps_first_interval(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF remembers the interval it first granted each contact and writes a refresh of the
    contact to the wIMPU Registrar for at least that long: a WIC that refreshes for less time than is
    left stays registered, and reached, until the first interval ends (5.2.2.3.2 "update the
    applicable entry ... for every re-registration", RFC 3261 10.3 step 7)."""
    from reference.nodes.p_cscf.flows import W6Write

    service = _pcscf()
    original = service.Pcscf._effect
    first: dict[str, int] = {}

    async def effect(self: Any, effect: object, flow_token: str) -> Any:
        if isinstance(effect, W6Write):
            contact = effect.write.contact
            granted = max(contact.expires, first.setdefault(contact.contact_id, contact.expires))
            write = dataclasses.replace(effect.write, contact=dataclasses.replace(contact, expires=granted))
            effect = dataclasses.replace(effect, write=write)
        return await original(self, effect, flow_token)

    mp.setattr(service.Pcscf, "_effect", effect)


def _origination_registered_anywhere(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF checks that a WIC's originating identity is registered, not that it is registered
    over the WebSocket the request came on: its table of registrations (option A) and the contacts of
    the registration context it reads over W6 (option B) are looked up by identity alone, so a page
    that opened a WSS connection and registered nothing originates as any user registered at the
    eP-CSCF (5.2.2.5.3 steps 1-2, 5.2.2.3.2)."""
    from reference.nodes.p_cscf.flows import W6ReadByExternal

    service = _pcscf()

    def registered_on(self: Any, flow: str) -> frozenset[str]:
        now = self.clock()
        registrations = self.registrations
        return frozenset().union(*(registrations.registered_on(f, now) for f in registrations.flows()))

    def adjust(run: FlowRun, effect: object, result: Any) -> Any:
        if not isinstance(effect, W6ReadByExternal) or result is None or not result.contacts:
            return result
        flow = run.kwargs["flow"]
        contacts = tuple(dataclasses.replace(c, flow=flow) for c in result.contacts)
        return dataclasses.replace(result, contacts=contacts)

    mp.setattr(service.Pcscf, "registered_on", registered_on)
    _patch_flow(mp, service, "originate", adjust=adjust)


def _refresh_not_recorded(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF records what a WebSocket registered at its first REGISTER only: a re-REGISTER is
    written to the wIMPU Registrar and answered 200, but the eP-CSCF's own record of the flow keeps
    the first expiry, so the WIC may originate only until its first interval ends (5.2.2.5.3 step
    1, 5.2.2.3.2 "for every re-registration")."""
    from reference.nodes.p_cscf.state import WicRegistrations

    original = WicRegistrations.registered

    def registered(self: WicRegistrations, flow: str, *, impu: str, **kwargs: Any) -> Any:
        if impu in self.identities.get(flow, {}):
            return []
        return original(self, flow, impu=impu, **kwargs)

    mp.setattr(WicRegistrations, "registered", registered)


def _core_bye_keeps_dialog(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF forgets a dialog only when the WIC ends it: the remote party's BYE, relayed to
    the WIC and answered 200, leaves the dialog authorised on the WIC's flow, so the WIC's later
    requests in it are relayed to the core with the identity asserted for it (5.2.2.3.2; RFC 3261
    15.1.2)."""
    import contextvars

    from reference.nodes.p_cscf.dialogs import DialogTable
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.message import Request
    from reference.sip.transaction import ServerTransaction

    from_core_bye: contextvars.ContextVar[bool] = contextvars.ContextVar("from_core_bye", default=False)
    original, original_ended = Pcscf._in_dialog_from_core, DialogTable.ended

    async def in_dialog_from_core(self: Pcscf, tx: ServerTransaction, request: Request) -> None:
        token = from_core_bye.set(request.method == "BYE")
        try:
            await original(self, tx, request)
        finally:
            from_core_bye.reset(token)

    def ended(self: DialogTable, flow: str, call_id: str) -> None:
        if not from_core_bye.get():
            original_ended(self, flow, call_id)

    mp.setattr(Pcscf, "_in_dialog_from_core", in_dialog_from_core)
    mp.setattr(DialogTable, "ended", ended)


def _w7_timeout_taken_as_registered(mp: pytest.MonkeyPatch) -> None:
    """The I-CSCF does not block calls when its W7 query fails: an unanswered or refused query is
    taken as "registered", and the session to an IMPU of a block goes on to the S-CSCF and the
    eP-CSCF (5.2.2.5.4 steps 2-3)."""
    from reference.nodes.i_cscf import service
    from reference.nodes.wimpu_registrar.model import RegistrationStatus

    original = service.RegistrarClient.status

    async def status(self: Any, identity: str) -> Any:
        try:
            return await original(self, identity)
        except service.RegistrarUnavailable:
            return RegistrationStatus(identity, registered=True, impu=identity)

    mp.setattr(service.RegistrarClient, "status", status)


def _fork_losers_keep_dialog(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF authorises in-dialog requests on every flow a terminating INVITE was forked to,
    also once another WIC's 2xx settled it: a WIC whose branch lost (cancelled, "call completed
    elsewhere") keeps a dialog it never joined, and its requests "in" the session are relayed to
    the core with the user's asserted identity (5.2.2.5.4 step 5, 5.2.2.3.2). The reference had
    this bug until stop 35."""
    from reference.nodes.p_cscf.dialogs import DialogTable
    from reference.sip.message import Response

    original = DialogTable.settled

    def settled(self: DialogTable, flows: Any, call_id: str, status: int) -> None:
        if status >= 300:  # a 2xx leaves every branch's dialog (its pending entry ages out, bounded)
            original(self, flows, call_id, status)

    def wic_answered(self: DialogTable, flow: str, response: Response) -> None:
        return None  # a branch's own 487 (or 486) ends nothing either

    mp.setattr(DialogTable, "settled", settled)
    mp.setattr(DialogTable, "wic_answered", wic_answered)


def _websocket_flow_430(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF takes a flow for alive only once it has seen an RFC 5626 keep-alive on it (a
    double-CRLF ping, 4.4.1). A WIC keeps its WebSocket with WebSocket pings (RFC 7118), never a
    CRLF, so every request of a session from the core towards a WIC is answered 430 Flow Failed
    although the WIC's WebSocket is open (5.2.2.5.4 step 5)."""
    from reference.nodes.p_cscf.dialogs import Refused
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.message import Request
    from reference.sip.transaction import ServerTransaction

    original = Pcscf._in_dialog_from_core

    async def in_dialog_from_core(self: Pcscf, tx: ServerTransaction, request: Request) -> None:
        if self.dialogs.flow_of_route(request) is None:
            return await original(self, tx, request)
        self._refuse(tx, request, Refused(430, "Flow Failed"), "from core")

    mp.setattr(Pcscf, "_in_dialog_from_core", in_dialog_from_core)


def _dead_flow_no_430(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF does not check the flow a request of a session from the core names: it hands the
    request to the closed flow, and the caller gets the answer the failed send makes (a 5xx), not
    430 Flow Failed (RFC 5626 5.3; a profile choice, PROFILE_LIFE_DEAD_FLOW_430)."""
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.message import Request
    from reference.sip.transaction import ServerTransaction

    original = Pcscf._in_dialog_from_core

    async def in_dialog_from_core(self: Pcscf, tx: ServerTransaction, request: Request) -> None:
        flow = self.dialogs.flow_of_route(request)
        if flow is None or self.iwf.flow_is_open(flow):
            return await original(self, tx, request)
        await _relay_over(self, tx, request, flow)

    mp.setattr(Pcscf, "_in_dialog_from_core", in_dialog_from_core)


def _block_lapse_ignored(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF takes its block as registered from the S-CSCF's first 200 OK until it removes the
    block itself: a refresh that fails or goes unanswered is only logged (and retried at the next
    refresh), so once the lifetime the S-CSCF granted has run out the eP-CSCF still registers the
    block's WICs, outside any registration of the block (5.2.2.5.1; 5.2.2.5.2 step 5 note)."""
    from reference.nodes.p_cscf.block_registration import BlockRegistration

    mp.setattr(BlockRegistration, "registered", property(lambda self: self._until is not None))


def _block_refreshed_per_wic(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF keeps its block registration alive with the WICs' activity: once a WIC's
    registration is stored, it refreshes the block's registration with the S-CSCF before it answers
    the WIC 200, besides its timer, so every WIC registration reaches the S-CSCF."""
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.message import Request, Response

    original = Pcscf.register

    async def register(self: Pcscf, request: Request, flow_token: str, identity: str) -> Response:
        response = await original(self, request, flow_token, identity)
        block = self.block_for(identity) if 200 <= response.status < 300 else None
        reg = self.block_registrations.get(str(block.wimpu)) if block is not None else None
        if reg is not None:
            await reg.register()
        return response

    mp.setattr(Pcscf, "register", register)


def _timer_c_missing(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF proxies INVITEs with no Timer C: a branch that rings and is never answered stays
    open as long as its client transaction, for ever on a reliable transport (RFC 3261 17.1.1.2)."""
    _proxy_with(mp, timers=None)


def _timer_c_two_minutes(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF's Timer C is 2 minutes, a proxy's ring timeout set below RFC 3261 16.6 item 11's
    floor ("MUST be larger than 3 minutes")."""
    _proxy_with(mp, timer_c=120.0)


def _timer_c_408_without_cancel(mp: pytest.MonkeyPatch) -> None:
    """When Timer C fires, the eP-CSCF answers the caller 408 and forgets the branch without the
    CANCEL that RFC 3261 16.8 asks for once it rang: the callee rings on."""
    from reference.sip.proxy import ForkingContext

    def timer_c_fired(self: ForkingContext, branch_id: str) -> list[Any]:
        return self.branch_failed(branch_id, 408)

    mp.setattr(ForkingContext, "timer_c_fired", timer_c_fired)


def _origination_cache(mp: pytest.MonkeyPatch, applies: Callable[[Any], bool]) -> None:
    """The eP-CSCF caches each flow's registration (identity, registrar entry) and checks the
    originating requests for which ``applies(request)`` against that cache, which a de-registration
    does not clear."""
    from reference.nodes.p_cscf.flows import W6ReadByExternal, W6Write

    service = _pcscf()
    cache: dict[tuple[str, str], Any] = {}
    "(flow token, identity registered over it) -> the registrar entry written for it"

    def remember(run: FlowRun, effect: object, result: Any) -> Any:
        if isinstance(effect, W6Write):
            cache[(run.kwargs["flow"], run.kwargs["identity"])] = result[1]
        return result

    def with_cached(request: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if not applies(request):
            return request, kwargs
        cached = {identity for flow, identity in cache if flow == kwargs["flow"]}
        return request, {**kwargs, "registered": kwargs["registered"] | cached}

    def cached_entry(run: FlowRun, effect: object, entry: Any) -> Any:
        if isinstance(effect, W6ReadByExternal) and entry is None and applies(run.request):
            return cache.get((run.kwargs["flow"], effect.external_identity))
        return entry

    _patch_flow(mp, service, "register_wic", adjust=remember)
    _patch_flow(mp, service, "originate", call=with_cached, adjust=cached_entry)


def _origination_after_expiry(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF keeps the identities registered over a WebSocket until the WIC de-registers or
    the WebSocket closes, and lets the WIC originate as them after the registration ran out (it
    checks the flow, not the expiry)."""
    service = _pcscf()
    mp.setattr(service.Pcscf, "registered_on", lambda self, flow: self.registrations.identities_on(flow))


def _registration_cache_kept(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF caches each flow's registration (identity, registrar entry) for its
    originating checks and does not drop it when the WIC de-registers."""
    _origination_cache(mp, lambda request: True)


def _w6_reads_answered_by(mp: pytest.MonkeyPatch, answer: Callable[[Any, Any, dict[str, Any]], Any]) -> None:
    """The eP-CSCF keeps the entry each of its W6 writes returned (by IMPU and by external
    identity, never cleared) and has ``answer(effect, got, kept)`` answer each W6 read in its own
    place: ``got`` is what the registrar answered (an entry or None), or the
    :class:`RegistrarUnavailable` it raised (returned, it is raised); ``kept`` the entries kept."""
    from reference.nodes.p_cscf.flows import W6Read, W6ReadByExternal, W6Write
    from reference.nodes.wimpu_registrar.client import RegistrarUnavailable

    service = _pcscf()
    original = service.Pcscf._effect
    kept: dict[str, Any] = {}

    async def effect(self: Any, effect: object, flow_token: str) -> Any:
        if isinstance(effect, W6Read | W6ReadByExternal):
            try:
                got = await original(self, effect, flow_token)
            except RegistrarUnavailable as exc:
                got = exc
            result = answer(effect, got, kept)
            if isinstance(result, Exception):
                raise result
            return result
        result = await original(self, effect, flow_token)
        if isinstance(effect, W6Write):
            entry = result[1]
            kept[entry.impu] = entry
            if entry.external_identity:
                kept[entry.external_identity] = entry
        return result

    mp.setattr(service.Pcscf, "_effect", effect)


def _failed(got: Any) -> bool:
    from reference.nodes.wimpu_registrar.client import RegistrarUnavailable

    return isinstance(got, RegistrarUnavailable)


def _kept_when(mp: pytest.MonkeyPatch, read: type, key: str, when: Callable[[Any], bool]) -> None:
    """Each W6 ``read`` whose answer ``got`` satisfies ``when(got)`` is answered instead by the entry
    the eP-CSCF kept for the read's ``key`` attribute (the identity read), when it kept one."""

    def answer(effect: Any, got: Any, kept: dict[str, Any]) -> Any:
        return kept.get(getattr(effect, key), got) if isinstance(effect, read) and when(got) else got

    _w6_reads_answered_by(mp, answer)


def _origination_context_cached(mp: pytest.MonkeyPatch) -> None:
    """When the W6 read of an option B origination times out, the eP-CSCF falls back on the entry
    it kept from the WIC's registration and forwards the session with that IMPU (a 'degraded
    mode' that retrieves no context)."""
    from reference.nodes.p_cscf.flows import W6ReadByExternal

    _kept_when(mp, W6ReadByExternal, "external_identity", _failed)


def _origination_context_made_up(mp: pytest.MonkeyPatch) -> None:
    """When the W6 read of an option B origination times out, the eP-CSCF forwards the session
    asserting the WIC's external identity (its From) in place of the IMPU it could not read."""
    from reference.nodes.p_cscf.flows import W6ReadByExternal

    def answer(effect: Any, got: Any, kept: dict[str, Any]) -> Any:
        if isinstance(effect, W6ReadByExternal) and _failed(got) and effect.external_identity in kept:
            return dataclasses.replace(kept[effect.external_identity], impu=effect.external_identity)
        return got

    _w6_reads_answered_by(mp, answer)


# ----- termination (5.2.2.5.4) and forking -------------------------------------------------


def _term_contacts_remembered(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF forks a terminating session to the contacts it wrote for the called IMPU when
    the wIMPU Registrar lists none: it trusts its own memory of the registrations (a
    de-registration it does not account for) over the registrar's empty answer."""
    from reference.nodes.p_cscf.flows import W6Read

    _kept_when(mp, W6Read, "impu", lambda got: not _failed(got) and (got is None or not got.contacts))


def _term_contacts_cached_on_timeout(mp: pytest.MonkeyPatch) -> None:
    """When the W6 read of a terminating session's contacts times out, the eP-CSCF forks the
    session to the contacts it wrote for the IMPU (a 'degraded mode' that fetches nothing)."""
    from reference.nodes.p_cscf.flows import W6Read

    _kept_when(mp, W6Read, "impu", _failed)


def _icscf_in_dialog_refused(mp: pytest.MonkeyPatch) -> None:
    """The I-CSCF, which record-routes nothing, answers 403 to every request in a dialog sent to
    it, whatever its Route names past it (an I-CSCF that takes itself for outside every dialog):
    a caller with one connection to the IMS entry point cannot end its session."""
    from reference.sip.transaction import make_response

    service = _icscf()
    original = service.Icscf._request

    async def request(self: Any, tx: Any, req: Any, source: Any) -> None:
        if req.method not in ("ACK", "CANCEL") and req.to.tag is not None:
            self.node.respond(tx, make_response(req, 403, "Not a dialog-forming request", to_tag="f1"))
            return
        await original(self, tx, req, source)

    mp.setattr(service.Icscf, "_request", request)


def _icscf_no_w7(mp: pytest.MonkeyPatch) -> None:
    _patch_flow(
        mp, _icscf(), "route_terminating", call=lambda request, kw: (request, {**kw, "webrtc_domains": ()})
    )


def _icscf_w7_at_border_only(mp: pytest.MonkeyPatch) -> None:
    """The I-CSCF checks the registration over W7 only for sessions from other networks: one its
    own S-CSCF record-routed (a WIC's origination coming back in) goes by the HSS alone."""

    def call(request: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return request, ({**kwargs, "webrtc_domains": ()} if request.has("Record-Route") else kwargs)

    _patch_flow(mp, _icscf(), "route_terminating", call=call)


def _icscf_w7_all(mp: pytest.MonkeyPatch) -> None:
    from reference.sip.identity import canonical_identity

    def call(request: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        domain = canonical_identity(request.uri).partition("@")[2]
        return request, {**kwargs, "webrtc_domains": (*kwargs["webrtc_domains"], domain)}

    _patch_flow(mp, _icscf(), "route_terminating", call=call)


def _icscf_no_reject(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.i_cscf.flows import W7Query

    def adjust(run: FlowRun, effect: object, status: Any) -> Any:
        if isinstance(effect, W7Query) and not status.registered:
            return dataclasses.replace(status, registered=True, impu=effect.identity, wimpu=None)
        return status

    _patch_flow(mp, _icscf(), "route_terminating", adjust=adjust)


def _icscf_no_retarget(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.i_cscf.flows import Forward

    def outcome(run: FlowRun, result: Any) -> Any:
        if isinstance(result, Forward):
            return dataclasses.replace(result, request=result.request.with_uri(run.request.uri))
        return result

    _patch_flow(mp, _icscf(), "route_terminating", outcome=outcome)


def _icscf_always_480(mp: pytest.MonkeyPatch) -> None:
    from reference.sip.message import Response
    from reference.sip.transaction import make_response

    def outcome(run: FlowRun, result: Any) -> Any:
        if isinstance(result, Response) and result.status == 404:
            return make_response(run.request, 480, "Temporarily Unavailable", to_tag=run.kwargs["to_tag"])
        return result

    _patch_flow(mp, _icscf(), "route_terminating", outcome=outcome)


def _pcpid_stripped(mp: pytest.MonkeyPatch) -> None:
    _patch_flow(
        mp, _pcscf(), "terminate", call=lambda request, kw: (request.without_header("P-Called-Party-ID"), kw)
    )


def _impu_to_wic(mp: pytest.MonkeyPatch) -> None:
    """Option B: the eP-CSCF tells the WIC its IMPU, in the REGISTER 200 OK and the INVITE it delivers."""
    from reference.nodes.p_cscf.flows import Fork, Registered

    def register_outcome(run: FlowRun, result: Any) -> Any:
        impu = next((e.impu for e, _ in run.results if isinstance(e, Registered)), None)
        if impu and getattr(result, "status", None) == 200:
            return result.with_header_set("P-Associated-URI", f"<{impu}>")
        return result

    def terminate_outcome(run: FlowRun, result: Any) -> Any:
        if isinstance(result, Fork):
            called = run.request.addresses("P-Called-Party-ID")
            if called:
                delivered = result.request.with_header_set("P-Called-Party-ID", f"<{called[0].uri}>")
                return dataclasses.replace(result, request=delivered)
        return result

    _patch_flow(mp, _pcscf(), "terminate", outcome=terminate_outcome)
    _patch_flow(mp, _pcscf(), "register_wic", outcome=register_outcome)


def _in_dialog_unchecked(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF relays a WIC's in-dialog request along the Route set the WIC wrote,
    without asking whose dialog it is (a proxy that trusts its own Record-Route)."""
    from reference.nodes.p_cscf.dialogs import Authorised, DialogTable

    mp.setattr(DialogTable, "authorise_from_wic", lambda self, request, flow: Authorised(request))


def _dialog_methods_core_side_only(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF's check of the methods that exist only in a dialog is made of the core's requests
    only: a WIC's BYE or INFO with no To tag is taken for a request outside any dialog and originated
    (the IMPU asserted, the Service-Route) into the core as a new one, where the UAS answers 481."""
    from reference.nodes.p_cscf.service import Pcscf

    original = Pcscf._in_dialog_from_wic

    async def in_dialog_from_wic(self: Pcscf, tx: Any, request: Any, flow: str) -> None:
        if request.to.tag is None:
            await self._originate(tx, request, flow, secrets.token_hex(4))
            return
        await original(self, tx, request, flow)

    mp.setattr(Pcscf, "_in_dialog_from_wic", in_dialog_from_wic)


def _in_dialog_hop_by_host(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF checks the next hop of a WIC's in-dialog request against the dialog's route set
    by host alone, not host and port: on a host where the S-CSCF and another node share an
    address, a Route the WIC wrote to that node (its Contact, around the S-CSCF) is relayed
    there (TP_WIMPU_SEC_018's profile check; the scenario's nodes share 127.x addresses)."""
    from reference.nodes.p_cscf.dialogs import Authorised, DialogTable, Refused

    original = DialogTable.authorise_from_wic

    def authorise_from_wic(self: Any, request: Any, flow: str) -> Any:
        verdict = original(self, request, flow)
        if not isinstance(verdict, Refused) or verdict.reason != "Route set not of this dialog":
            return verdict
        routes = request.get_all("Route")
        following = self.resolve(routes[1]) if len(routes) > 1 else self.resolve(request.uri)
        dialog = self._flows[flow][request.call_id]
        if following is None or following[0] not in {host for host, _ in dialog.next_hops}:
            return verdict
        onward = (
            request.without_header("P-Asserted-Identity")
            .without_header("P-Preferred-Identity")
            .with_header("P-Asserted-Identity", f"<{dialog.asserted}>")
        )
        return Authorised(onward)

    mp.setattr(DialogTable, "authorise_from_wic", authorise_from_wic)


def _dialog_outlives_bye(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF never forgets a dialog it record-routed when a BYE ends it (it only
    ages out): a request in the ended dialog is relayed again."""
    from reference.nodes.p_cscf.dialogs import DialogTable

    mp.setattr(DialogTable, "ended", lambda self, flow, call_id: None)


def _wic_asserted_identity_kept(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF asserts the registered IMPU only when the WIC wrote no
    P-Asserted-Identity of its own; one the WIC wrote goes on into the core."""
    from reference.nodes.p_cscf.flows import Onward

    def keep_claim(run: FlowRun, result: Any) -> Any:
        claimed = run.request.get_all("P-Asserted-Identity")
        if isinstance(result, Onward) and claimed:
            return Onward(result.request.with_header_set("P-Asserted-Identity", *claimed))
        return result

    _patch_flow(mp, _pcscf(), "originate", outcome=keep_claim)


def onward_asserting(run: FlowRun, identity: str) -> Any:
    """What ``originate`` would send on for ``run``'s INVITE, asserting ``identity``: the
    Service-Route in front, the WIC's own identity headers and token gone."""
    from reference.nodes.p_cscf.flows import Onward, strip_bearer

    onward = (
        strip_bearer(run.request)
        .without_header("P-Preferred-Identity")
        .without_header("P-Asserted-Identity")
        .with_header("P-Asserted-Identity", f"<{identity}>")
        .without_header("Route")
    )
    for route in reversed(run.kwargs["service_route"]):
        onward = onward.with_header("Route", route, first=True)
    return Onward(onward)


def _ppi_checked_against_the_domain(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF honours a P-Preferred-Identity of the same domain as the WIC's identity
    (any identity of its block), not only one the WIC registered, and asserts it."""

    def outcome(run: FlowRun, result: Any) -> Any:
        preferred = run.request.addresses("P-Preferred-Identity")
        own = run.request.from_.uri
        if getattr(result, "status", None) == 403 and preferred:
            claimed = preferred[0].uri
            if claimed.partition("@")[2].lower() == own.partition("@")[2].lower():
                return onward_asserting(run, claimed)
        return result

    _patch_flow(mp, _pcscf(), "originate", outcome=outcome)


def _option_b_ppi_overrides_context(mp: pytest.MonkeyPatch) -> None:
    """Option B: the eP-CSCF asserts the WIC's P-Preferred-Identity when it gives one, instead
    of the IMPU of the registration context (standard P-CSCF handling run before step 2)."""
    from reference.blocks import Allocation
    from reference.nodes.p_cscf.flows import Onward

    def outcome(run: FlowRun, result: Any) -> Any:
        preferred = run.request.addresses("P-Preferred-Identity")
        if isinstance(result, Onward) and preferred and run.kwargs["block"].allocation is Allocation.EP_CSCF:
            return onward_asserting(run, preferred[0].uri)
        return result

    _patch_flow(mp, _pcscf(), "originate", outcome=outcome)


def _no_reallocation(mp: pytest.MonkeyPatch) -> None:
    """A standby eP-CSCF never claims the block of a failed one (5.2.2.2)."""
    from reference.nodes.p_cscf.lease import BlockLease, Role

    original = BlockLease.claim_due

    def claim_due(self: BlockLease, now: float) -> bool:
        return original(self, now) and self.role is Role.PRIMARY

    mp.setattr(BlockLease, "claim_due", claim_due)


def _option2_takeover_waits_for_a_wic(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF taking over an option 2 block from a failed one does not register it at the
    take-over but upon the next WIC registration, as option 2 reads (5.2.2.5.1), with the flow of an
    ordinary first registration, which does not remove the failed eP-CSCF's binding: the S-CSCF holds
    two registrations of the block (5.2.2.1, 5.2.2.2)."""
    import reference.nodes.p_cscf.reallocation as reallocation
    from reference.nodes.p_cscf.flows import Trigger

    original = reallocation.block_registration_due

    def due(option: int, trigger: Trigger, registered: bool) -> bool:
        if trigger is Trigger.TAKE_OVER and option == 2:
            return False
        return original(option, trigger, registered)

    mp.setattr(reallocation, "block_registration_due", due)


def _directory_not_updated(mp: pytest.MonkeyPatch) -> None:
    """The WWSF keeps announcing the configured eP-CSCF of a block after its re-allocation: its
    directory is filled in at start-up and never follows the block leases. (Until stop 40 the fault
    ignored every change of the directory, the start-up's too, so the WICs were sent to no address
    at all and the guarding scenarios failed before any failover.)"""
    from reference.nodes.wwsf.service import WwsfService

    async def follow_block_owners(self: WwsfService) -> None:
        return None

    mp.setattr(WwsfService, "follow_block_owners", follow_block_owners)


def _fork_first_only(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.p_cscf.flows import Fork

    def outcome(run: FlowRun, result: Any) -> Any:
        return (
            dataclasses.replace(result, contacts=result.contacts[:1]) if isinstance(result, Fork) else result
        )

    _patch_flow(mp, _pcscf(), "terminate", outcome=outcome)


# ----- keeping the block registration alive (5.2.2.5.1) -------------------------------------


def _block_refresh_delayed(mp: pytest.MonkeyPatch, interval: Callable[[int], float | None]) -> None:
    """The eP-CSCF's block refresh timer set from ``interval(granted)`` (None: never set)."""
    from reference.nodes.p_cscf.block_registration import BlockRegistration

    original = BlockRegistration._schedule_refresh

    def schedule(self: Any, granted: int) -> None:
        changed = interval(granted)
        if changed is not None:
            original(self, int(changed))

    mp.setattr(BlockRegistration, "_schedule_refresh", schedule)


def _block_never_refreshed(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF registers its block at start-up and never again: the registration runs out at
    the S-CSCF after the granted interval (5.2.2.5.1, "as per existing 23.228 procedures")."""
    _block_refresh_delayed(mp, lambda granted: None)


def _block_refreshed_at_expiry(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF's refresh timer is set to the whole granted interval (and a second), not half
    of it: the block registration has run out at the S-CSCF for a moment before each refresh."""
    _block_refresh_delayed(mp, lambda granted: 2 * (granted + 1))


# ----- requests outside any session (MESSAGE, RFC 3428) -------------------------------------


def _message_sent_as_written(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF runs its origination procedure for a session's INVITE only: another
    out-of-dialog request of a WIC (a MESSAGE) goes to the S-CSCF on the Service-Route as the WIC
    wrote it, with no identity asserted (5.2.2.5.3 step 3 skipped)."""
    from reference.nodes.p_cscf.flows import Onward

    service = _pcscf()
    original = service.originate

    def originate(request: Any, **kwargs: Any) -> Flow:
        if request.method == "INVITE":
            return (yield from original(request, **kwargs))
        onward = request.without_header("Route")
        for route in reversed(kwargs["service_route"]):
            onward = onward.with_header("Route", route, first=True)
        return Onward(onward)

    mp.setattr(service, "originate", originate)


def _options_answered_locally(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF answers a WIC's out-of-dialog OPTIONS itself with 200, as it would a keep-alive
    ping addressed to it, instead of forwarding it on the Service-Route (5.2.2.5.3 step 3; RFC 3261
    16: a request for another target is proxied): the remote party is never asked."""
    from reference.sip.transaction import make_response

    def outcome(run: FlowRun, result: Any) -> Any:
        if run.request.method == "OPTIONS":
            return make_response(run.request, 200, "OK", to_tag=run.kwargs["to_tag"])
        return result

    _patch_flow(mp, _pcscf(), "originate", outcome=outcome)


def _options_answered_for_wics(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF answers a terminating OPTIONS for the called WICs with 200 (browsers are
    assumed to be there, and the round trip to each is saved), delivering it to none (5.2.2.5.4
    step 5 with 5.2.2.3.2)."""
    from reference.nodes.p_cscf.flows import Fork
    from reference.sip.transaction import make_response

    def outcome(run: FlowRun, result: Any) -> Any:
        if isinstance(result, Fork) and run.request.method == "OPTIONS":
            return make_response(run.request, 200, "OK", to_tag=run.kwargs["to_tag"])
        return result

    _patch_flow(mp, _pcscf(), "terminate", outcome=outcome)


def _message_cache_kept(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF checks a session's INVITE against the live registration, but lets any other
    request through on what it cached of the flow's last registration, which a de-registration
    does not clear (5.2.2.5.3 step 1 for a MESSAGE)."""
    _origination_cache(mp, lambda request: request.method != "INVITE")


def _message_first_contact_only(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF forks a session's INVITE to every contact, but delivers a MESSAGE to the
    first contact only, as a non-INVITE request is not forked (5.2.2.5.4 step 5)."""
    from reference.nodes.p_cscf.flows import Fork

    def outcome(run: FlowRun, result: Any) -> Any:
        if isinstance(result, Fork) and run.request.method != "INVITE":
            return dataclasses.replace(result, contacts=result.contacts[:1])
        return result

    _patch_flow(mp, _pcscf(), "terminate", outcome=outcome)


def _message_deferred(mp: pytest.MonkeyPatch) -> None:
    """The I-CSCF accepts a MESSAGE to a webRTC user who is not registered with 202, as a
    store-and-forward messaging server would, instead of rejecting it (5.2.2.5.4 step 2)."""
    from reference.sip.message import Response
    from reference.sip.transaction import make_response

    def outcome(run: FlowRun, result: Any) -> Any:
        if isinstance(result, Response) and result.status in (404, 480) and run.request.method == "MESSAGE":
            return make_response(run.request, 202, "Accepted", to_tag=run.kwargs["to_tag"])
        return result

    _patch_flow(mp, _icscf(), "route_terminating", outcome=outcome)


def _rewrite_cancels(mp: pytest.MonkeyPatch, change: Callable[[Any], Any]) -> None:
    """The forking proxy's CANCELs on a 2xx (16.7 step 10) changed, or dropped when ``change`` gives None."""
    from reference.sip.proxy import CancelBranch, ForkingContext

    original = ForkingContext.receive_response

    def receive_response(self: ForkingContext, branch_id: str, response: Any) -> list[Any]:
        actions = original(self, branch_id, response)
        changed = [change(a) if isinstance(a, CancelBranch) else a for a in actions]
        return [a for a in changed if a is not None]

    mp.setattr(ForkingContext, "receive_response", receive_response)


def _no_cancel(mp: pytest.MonkeyPatch) -> None:
    _rewrite_cancels(mp, lambda cancel: None)


def _cancel_no_reason(mp: pytest.MonkeyPatch) -> None:
    _rewrite_cancels(mp, lambda cancel: dataclasses.replace(cancel, reason=None))


def _upstream_cancel_one_branch(mp: pytest.MonkeyPatch) -> None:
    """On a CANCEL from upstream the forking proxy cancels only the first branch: one client
    transaction remembered per server transaction, as if no request were ever forked."""
    from reference.sip.proxy import CancelBranch, ForkingContext

    original = ForkingContext.cancel_all

    def cancel_all(self: ForkingContext, reason: str | None = None) -> list[Any]:
        actions = original(self, reason)
        cancels = [a for a in actions if isinstance(a, CancelBranch)]
        return [a for a in actions if not isinstance(a, CancelBranch)] + cancels[:1]

    mp.setattr(ForkingContext, "cancel_all", cancel_all)


def _fork_cancel_own_reason(mp: pytest.MonkeyPatch) -> None:
    """The forking proxy builds the CANCELs of a caller's CANCEL with a Reason of its own
    (SIP;cause=487) instead of the caller's (RFC 3326 2: SHOULD copy it)."""
    from reference.sip.proxy import CancelBranch, ForkingContext

    original = ForkingContext.cancel_all

    def cancel_all(self: ForkingContext, reason: str | None = None) -> list[Any]:
        actions = original(self, reason)
        if len(self.branches) < 2:
            return actions
        own = 'SIP;cause=487;text="Request Terminated"'
        return [dataclasses.replace(a, reason=own) if isinstance(a, CancelBranch) else a for a in actions]

    mp.setattr(ForkingContext, "cancel_all", cancel_all)


def _busy_here_global(mp: pytest.MonkeyPatch) -> None:
    """The forking proxy takes one WIC's 486 Busy Here for the user's answer: it sends it upstream
    at once and cancels the other branches, as for a 600 Busy Everywhere (RFC 3261 16.7 step 5
    stores a 486 until every branch has answered)."""
    from reference.sip.proxy import Completed, ForkingContext, strip_own_via

    original = ForkingContext.receive_response

    def receive_response(self: ForkingContext, branch_id: str, response: Any) -> list[Any]:
        actions = original(self, branch_id, response)
        if response.status != 486 or len(self.branches) < 2 or self.final_response is not None:
            return actions
        busy = strip_own_via(response)
        cancels = self.cancel_all('SIP;cause=486;text="Busy Here"')
        self.final_response = busy
        return [*actions, Completed(busy), *cancels]

    mp.setattr(ForkingContext, "receive_response", receive_response)


def _fork_last_refusal(mp: pytest.MonkeyPatch) -> None:
    """The forking proxy keeps only the last failure a branch returned (each overwrites the one
    before) and sends that upstream once every branch has failed: one of the stored responses,
    as RFC 3261 16.7 step 6 asks, but not the first the solution profile chooses."""
    from reference.sip.proxy import Completed, ForkingContext, strip_own_via

    original = ForkingContext.receive_response
    last: dict[int, Any] = {}

    def receive_response(self: ForkingContext, branch_id: str, response: Any) -> list[Any]:
        if response.status >= 300:
            last[id(self)] = strip_own_via(response)
        actions = original(self, branch_id, response)
        if len(self.branches) < 2 or id(self) not in last:
            return actions
        return [Completed(last[id(self)]) if isinstance(a, Completed) else a for a in actions]

    mp.setattr(ForkingContext, "receive_response", receive_response)


# ----- lifecycle (5.2.2.3.1) ---------------------------------------------------------------


def _bearer_of(request: Any) -> str | None:
    from reference.nodes.iwf.token_check import TokenError, extract_bearer

    try:
        return extract_bearer(request.get_all("Authorization"), request.body, request.get("Content-Type"))
    except TokenError:
        return None


def _registration_bound_to_token(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF keeps a WIC registration no longer than the token that authorised it lives,
    while its 200 OK grants the WIC the interval it asked for: the registration ends when the token
    expires, before the interval the WIC was granted (5.2.2.3.2 "for the duration of the
    registration"; a registrar may grant less, RFC 3261 10.3 step 7, but must say so)."""
    from reference.nodes.p_cscf.service import Pcscf
    from reference.sip.address import parse_uri

    original = Pcscf.register

    def key(uri: str) -> tuple[str | None, str, int | None]:
        parsed = parse_uri(uri)
        return parsed.user, parsed.host.lower(), parsed.port

    async def register(self: Pcscf, request: Any, flow_token: str, identity: str) -> Any:
        token = _bearer_of(request)
        exp = _unverified(token)[1].get("exp") if token else None
        header = (request.get("Expires") or "").strip()
        default = int(header) if header.isdigit() else None
        asked = {key(c.uri): c.param("expires") or header for c in request.contacts}
        if not isinstance(exp, int | float) or request.contact_is_star:
            return await original(self, request, flow_token, identity)
        left = max(int(exp - self.clock()), 1)

        def capped(value: str) -> str:
            return re.sub(r";expires=(\d+)", lambda m: f";expires={min(int(m.group(1)), left)}", value)

        stored = request.with_header_set("Contact", *map(capped, request.get_all("Contact")))
        if default is not None:
            stored = stored.with_header_set("Expires", str(min(default, left)))
        response = await original(self, stored, flow_token, identity)
        if getattr(response, "status", None) != 200:
            return response
        told = []
        for contact, value in zip(response.contacts, response.get_all("Contact"), strict=False):
            wanted = asked.get(key(contact.uri), "")
            told.append(re.sub(r";expires=\d+", f";expires={wanted}", value) if wanted.isdigit() else value)
        return response.with_header_set("Contact", *told) if told else response

    mp.setattr(Pcscf, "register", register)


def _token_pinned_to_registration(mp: pytest.MonkeyPatch) -> None:
    """The IWF keeps the token of a registration's first REGISTER and validates every
    re-REGISTER of it (same Call-ID) against that token, not the one the re-REGISTER carries."""
    from reference.nodes.iwf.service import Iwf

    original = Iwf.check_token
    first: dict[str, str] = {}
    "Call-ID -> the token its first REGISTER carried"

    def check_token(self: Iwf, request: Any) -> str:
        token = _bearer_of(request)
        pinned = first.setdefault(request.call_id, token) if token else None
        if pinned is not None and pinned != token:
            request = request.without_header("Authorization").with_header("Authorization", f"Bearer {pinned}")
            request = request.with_body(b"", None) if request.body else request
        return original(self, request)

    mp.setattr(Iwf, "check_token", check_token)


def _expiry_ignored(mp: pytest.MonkeyPatch) -> None:
    from reference.nodes.wimpu_registrar.model import MAX_EXPIRES
    from reference.nodes.wimpu_registrar.store import Store

    original = Store.upsert_contact

    def upsert_contact(
        self: Store, impu: str, wimpu: str, allocated_by: Any, external: Any, contact: Any, now: float
    ) -> Any:
        forever = dataclasses.replace(contact, expires=MAX_EXPIRES)
        return original(self, impu, wimpu, allocated_by, external, forever, now)

    mp.setattr(Store, "upsert_contact", upsert_contact)


def _registrar_write_answer_partial(mp: pytest.MonkeyPatch) -> None:
    """The wIMPU Registrar stores every contact, but its answer to a W6 write returns an entry
    holding only the contact just written (the handler echoes the write): what it says it holds
    is not what it holds, though every later read is right."""
    from reference.nodes.wimpu_registrar.store import Store

    original = Store.upsert_contact

    def upsert_contact(
        self: Store, impu: str, wimpu: str, allocated_by: Any, external: Any, contact: Any, now: float
    ) -> Any:
        entry, outcome = original(self, impu, wimpu, allocated_by, external, contact, now)
        written = tuple(c for c in entry.contacts if c.contact_id == contact.contact_id)
        return dataclasses.replace(entry, contacts=written or entry.contacts), outcome

    mp.setattr(Store, "upsert_contact", upsert_contact)


def _deregister_removes_entry(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF takes a WIC's de-registration (Expires: 0 for its one Contact) for a
    de-registration of the IMPU: it removes the whole entry, the user's other WICs too."""

    def call(request: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        contacts = request.contacts if request.method == "REGISTER" else []
        zero = request.get("Expires") == "0" or any(c.params.get("expires") == "0" for c in contacts)
        if contacts and zero:
            request = request.with_header_set("Contact", "*").with_header_set("Expires", "0")
        return request, kwargs

    _patch_flow(mp, _pcscf(), "register_wic", call=call)


def _registrar_expiry_grace(mp: pytest.MonkeyPatch) -> None:
    """The wIMPU Registrar keeps a contact 5 s past its expiry (a grace for late
    re-registrations): W6 reads and W7 answers see it alive after the timer ran out."""
    from reference.nodes.wimpu_registrar.store import Store

    for name in ("read", "read_by_external", "status"):
        original = getattr(Store, name)

        def late(self: Store, key: str, now: float, _original: Any = original) -> Any:
            return _original(self, key, now - 5.0)

        mp.setattr(Store, name, late)


def _forks_to_remembered_contacts(mp: pytest.MonkeyPatch) -> None:
    """The eP-CSCF keeps a location cache of its own: every contact it wrote for an IMPU, with its
    flow, never aged by the interval the registration was granted (nor forgotten at de-registration).
    A terminating request forks to the contacts the W6 read gave and to those remembered (the
    eP-CSCF's own check that a flow is open still drops the closed ones): a WIC whose registration
    ran out, its WebSocket still open, is still offered sessions (5.2.2.5.4 step 4: the contact
    information is fetched from the wIMPU Registrar)."""
    from reference.nodes.p_cscf.flows import Fork, W6Read, W6Write

    service = _pcscf()
    remembered: dict[str, dict[str, str]] = {}

    def registered(run: FlowRun, response: Any) -> Any:
        if getattr(response, "status", None) == 200:
            for effect, _ in run.results:
                if isinstance(effect, W6Write):
                    contact = effect.write.contact
                    remembered.setdefault(effect.impu, {})[contact.uri] = contact.flow
        return response

    def forked(run: FlowRun, result: Any) -> Any:
        if not isinstance(result, Fork):
            return result
        read = next((e for e, _ in run.results if isinstance(e, W6Read)), None)
        extra = remembered.get(read.impu, {}) if read is not None else {}
        known = {uri for uri, _ in result.contacts}
        more = tuple((uri, flow) for uri, flow in extra.items() if uri not in known)
        return dataclasses.replace(result, contacts=result.contacts + more)

    _patch_flow(mp, service, "register_wic", outcome=registered)
    _patch_flow(mp, service, "terminate", outcome=forked)


def _w7_user_prefix(mp: pytest.MonkeyPatch) -> None:
    """W7 completes a called user part to the first registered identity of the block that
    starts with it (an index searched with LIKE 'user%'): sip:bo@D finds sip:bob@D."""
    from reference.nodes.wimpu_registrar.model import RegistrationStatus
    from reference.nodes.wimpu_registrar.store import Store
    from reference.stack import StackConfig

    original = Store.status
    blocks = [str(spec.block.wimpu) for spec in StackConfig().blocks]

    def status(self: Store, identity: str, now: float) -> Any:
        answer = original(self, identity, now)
        if answer.registered:
            return answer
        user, _, domain = answer.identity.partition("@")
        for wimpu in blocks:
            for entry in self.block_entries(wimpu, now):
                for known in (entry.impu, entry.external_identity or ""):
                    if known.startswith(user) and known.endswith("@" + domain):
                        return RegistrationStatus(
                            identity=answer.identity, registered=True, impu=entry.impu, wimpu=entry.wimpu,
                            external_identity=entry.external_identity,
                        )  # fmt: skip
        return answer

    mp.setattr(Store, "status", status)


def _icscf_domain_exact_match(mp: pytest.MonkeyPatch) -> None:
    """The I-CSCF looks the called host up in its configured webRTC domains as written (a
    case-sensitive set): a webRTC domain in other capitals is taken for another IMS domain,
    routed by the HSS alone (RFC 3261 19.1.4: hosts compare without case)."""

    def call(request: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        host = str(request.uri).partition("@")[2].split(";")[0].split(":")[0].strip(">")
        if host not in kwargs["webrtc_domains"]:
            kwargs = {**kwargs, "webrtc_domains": ()}
        return request, kwargs

    _patch_flow(mp, _icscf(), "route_terminating", call=call)


def _icscf_route_cache(mp: pytest.MonkeyPatch) -> None:
    """The I-CSCF remembers for a minute that a called identity was registered and routes a
    repeat session without asking W7 again (a routing cache)."""
    import time

    from reference.nodes.i_cscf.flows import W7Query

    remembered: dict[str, tuple[float, Any]] = {}

    def answer(run: FlowRun, effect: object) -> Any:
        if isinstance(effect, W7Query):
            hit = remembered.get(effect.identity)
            if hit is not None and time.monotonic() < hit[0]:
                return hit[1]
        return CARRY_OUT

    def adjust(run: FlowRun, effect: object, result: Any) -> Any:
        if isinstance(effect, W7Query) and result.registered:
            remembered[effect.identity] = (time.monotonic() + 60.0, result)
        return result

    _patch_flow(mp, _icscf(), "route_terminating", answer=answer, adjust=adjust)


FAULTS: Mapping[str, Fault] = {
    # WIC registration
    "registration_not_stored": Fault(
        "the eP-CSCF answers 200 without storing the registration (step 6)", _registration_not_stored
    ),
    "registrar_failure_accepted": Fault(
        "the eP-CSCF answers 200 OK to a REGISTER whose W6 read or write failed (it means to store it later)",
        _registrar_failure_accepted,
    ),
    "allocation_not_stable": Fault(
        "option B: the eP-CSCF allocates a random IMPU to an external identity the registrar has not bound",
        _allocation_not_stable,
    ),
    "registrar_without_timeout": Fault(
        "the eP-CSCF waits for a hung wIMPU Registrar with no time limit: the WIC's REGISTER goes unanswered",
        _registrar_without_timeout,
    ),
    "ok_interval_of_policy": Fault(
        "the 200 OK gives each contact the eP-CSCF's default interval, not the one granted (step 7)",
        _ok_interval_of_policy,
    ),
    "too_brief_inclusive": Fault(
        "the eP-CSCF answers 423 to an interval equal to its minimum, not only to a shorter one",
        _too_brief_inclusive,
    ),
    "registrar_write_answer_partial": Fault(
        "the wIMPU Registrar's answer to a W6 write lists only the contact written, not the entry's "
        "others (5.2.2.3.1)",
        _registrar_write_answer_partial,
    ),
    "deregister_removes_entry": Fault(
        "the eP-CSCF removes the whole entry of an IMPU when one of its WICs de-registers (5.2.2.3.2)",
        _deregister_removes_entry,
    ),
    "forks_to_remembered_contacts": Fault(
        "the eP-CSCF forks a terminating request to every contact it once wrote for the IMPU (a cache "
        "never aged), besides those the W6 read gives: a WIC whose registration ran out is still "
        "offered sessions (5.2.2.5.4 step 4)",
        _forks_to_remembered_contacts,
    ),
    "registrar_expiry_grace": Fault(
        "the wIMPU Registrar keeps a contact 5 s past the interval granted (5.2.2.3.1)",
        _registrar_expiry_grace,
    ),
    "w7_user_prefix": Fault(
        "W7 answers for an unregistered identity with a registered one its user part begins (step 2)",
        _w7_user_prefix,
    ),
    "icscf_domain_exact_match": Fault(
        "the I-CSCF matches the called host to its webRTC domains case-sensitively (step 1, RFC 3261 19.1.4)",
        _icscf_domain_exact_match,
    ),
    "icscf_route_cache": Fault(
        "the I-CSCF routes a repeat session to an identity without a new W7 query for a minute (step 2)",
        _icscf_route_cache,
    ),
    "close_deregisters_the_user": Fault(
        "a WebSocket close makes the eP-CSCF remove the whole entry of its IMPU, other WICs' contacts too",
        _close_deregisters_the_user,
    ),
    "reregistration_not_extended": Fault(
        "the eP-CSCF answers a re-registration 200 without updating the registrar entry (5.2.2.3.2)",
        _reregistration_not_extended,
    ),
    "deregistration_ignored": Fault(
        "the eP-CSCF keeps the registrar entry after de-registration", _deregistration_ignored
    ),
    "unknown_deregistration_registers": Fault(
        "the eP-CSCF registers an unknown contact for its default interval when asked to de-register it",
        _unknown_deregistration_registers,
    ),
    "new_impu_per_contact": Fault(
        "option B: each WIC of one user gets its own IMPU (step 6 binding)", _new_impu_per_contact
    ),
    "contact_per_flow": Fault(
        "the eP-CSCF stores a WIC's contact refreshed over a new WebSocket as a second contact (RFC 5626 6)",
        _contact_per_flow,
    ),
    "external_identity_as_impu": Fault(
        "option B: the eP-CSCF allocates no IMPU from the block", _external_identity_as_impu
    ),
    "wic_page_missing": Fault("the WWSF does not serve the WIC page (404, step 1)", _wic_page_missing),
    "any_password_accepted": Fault(
        "the WWSF logs in a known user name with any password (step 1)", _any_password_accepted
    ),
    "refusal_carries_token": Fault(
        "the WWSF's refusal of a log-in carries a token minted before the password check (step 1)",
        functools.partial(_login_answer_rewritten, change="refusal"),
    ),
    "login_names_first_block": Fault(
        "the WWSF's log-in answer names its first block, whatever the user's block (5.2.2.5.1 step 1)",
        functools.partial(_login_answer_rewritten, change="first_block"),
    ),
    "login_refund_user_only": Fault(
        "the WWSF refunds a successful log-in to the user's budget only, not to its address's: the sixth "
        "log-in of a user from one address within a minute gets 429 (step 1, profile)",
        _login_refund_user_only,
    ),
    "login_lockout_counts_all": Fault(
        "the WWSF's account lock-out counts every log-in, the successful ones too: the eleventh log-in of "
        "a user within a minute is answered 401 with the right password (step 1)",
        _login_lockout_counts_all,
    ),
    "throttle_clock_in_ms": Fault(
        "the WWSF's log-in throttle is handed the clock in milliseconds while its budgets are per second: "
        "its buckets refill a thousand times too fast and guessing is never slowed (step 1, profile)",
        _throttle_clock_in_ms,
    ),
    "expires_in_absolute": Fault(
        "the WWSF's log-in answer gives the token's expiry time (exp) as expires_in, not its lifetime in "
        "seconds (step 1, profile)",
        functools.partial(_login_answer_rewritten, change="expires_at"),
    ),
    "token_body_ignored": Fault(
        "the eP-CSCF reads the token only from the Authorization header field, not a body part (step 3)",
        _token_body_ignored,
    ),
    "token_header_ignored": Fault(
        "the eP-CSCF reads the token only from an application/jwt body part, not Authorization (step 3)",
        _token_header_ignored,
    ),
    "access_token_form_refused": Fault(
        "the eP-CSCF reads Bearer credentials only in RFC 6750's b64token form: TS 24.371's "
        'Bearer access_token="..." is taken for an invalid token (step 3, the profile: accept both)',
        _access_token_form_refused,
    ),
    # WIC authorisation
    "origin_not_checked": Fault(
        "the IWF accepts any Origin at the WebSocket handshake (step 2)", _origin_not_checked
    ),
    "subprotocol_not_selected": Fault(
        "the IWF accepts the WebSocket without selecting the sip subprotocol in its 101 "
        "(5.2.2.5.2 step 2, RFC 7118 4.1)",
        _subprotocol_not_selected,
    ),
    "sip_subprotocol_optional": Fault(
        "the IWF accepts a WebSocket that does not offer sip, with no subprotocol (step 2, profile)",
        _sip_subprotocol_optional,
    ),
    "sip_subprotocol_always": Fault(
        "the IWF's 101 always says Sec-WebSocket-Protocol: sip, offered or not (step 2, RFC 6455 4.2.2)",
        _sip_subprotocol_always,
    ),
    "token_not_checked": Fault("the eP-CSCF does not validate the WWSF token (step 4)", _token_not_checked),
    "signature_not_checked": Fault(
        "the eP-CSCF does not verify the token's signature (step 4)", _signature_not_checked
    ),
    "exp_not_checked": Fault("the eP-CSCF accepts an expired token (step 4)", _exp_not_checked),
    "alg_none_accepted": Fault(
        "the eP-CSCF accepts an unsigned token (alg none) unchecked (step 4)", _alg_none_accepted
    ),
    "aud_not_checked": Fault(
        "the eP-CSCF accepts a token issued for another eP-CSCF (aud, step 4)", _aud_not_checked
    ),
    "nbf_never_checked": Fault(
        "the eP-CSCF never checks a token's nbf (its JWT library's not-before check left off): a token "
        "not yet valid passes (step 4, RFC 7519 4.1.5)",
        _nbf_never_checked,
    ),
    "any_domain_accepted": Fault(
        "the eP-CSCF serves an identity outside its wIMPU blocks as one of its first block (5.2.2.3.2)",
        _any_domain_accepted,
    ),
    # block registration and the WWSF directory
    "no_option1": Fault(
        "the eP-CSCF registers an option 1 block only on the first WIC registration, not at start-up",
        _no_option1,
    ),
    "option2_never_registered": Fault(
        "the eP-CSCF never registers an option 2 block, not even on the first WIC registration",
        _option2_never_registered,
    ),
    "option2_registration_per_first_wic": Fault(
        "option 2: each WIC REGISTER before the block is registered registers it, with its own contact",
        _option2_registration_per_first_wic,
    ),
    "block_per_wic": Fault(
        "the eP-CSCF registers the block again, with a new contact, for every WIC registration",
        _block_per_wic,
    ),
    "impu_to_wic": Fault(
        "option B: the eP-CSCF hands the WIC its allocated IMPU (P-Associated-URI, P-Called-Party-ID)",
        _impu_to_wic,
    ),
    "no_reallocation": Fault(
        "a standby eP-CSCF never takes over the block of a failed eP-CSCF (5.2.2.2)", _no_reallocation
    ),
    "in_dialog_unchecked": Fault(
        "the eP-CSCF relays a WIC's in-dialog request on the Route set the WIC wrote, whoever's dialog it is",
        _in_dialog_unchecked,
    ),
    "dialog_methods_core_side_only": Fault(
        "the eP-CSCF checks the methods that exist only in a dialog on the core's requests only: a WIC's "
        "BYE or INFO with no To tag goes into the core as a new request (5.2.2.3.2, profile)",
        _dialog_methods_core_side_only,
    ),
    "in_dialog_hop_by_host": Fault(
        "the eP-CSCF checks a WIC's in-dialog next hop against the route set by host alone, not port",
        _in_dialog_hop_by_host,
    ),
    "dialog_outlives_bye": Fault(
        "the eP-CSCF keeps a dialog after the BYE that ended it and relays further requests in it",
        _dialog_outlives_bye,
    ),
    "wic_cancel_swallowed": Fault(
        "the eP-CSCF answers a WIC's CANCEL 200 but never cancels the INVITE it forwarded (5.2.2.5.3 step 3)",
        _wic_cancel_swallowed,
    ),
    "timer_c_answers_408": Fault(
        "at Timer C the eP-CSCF cancels the ringing branch and answers the caller 408 at once, not the "
        "callee's 487 (RFC 3261 16.7 step 6; a profile choice)",
        _timer_c_answers_408,
    ),
    "block_refusal_ignored": Fault(
        "the eP-CSCF registers a WIC of a block whose registration the S-CSCF refused (5.2.2.5.1)",
        _block_refusal_ignored,
    ),
    "primary_serves_without_lease": Fault(
        "the eP-CSCF registers WICs of the blocks it is configured with, also once another eP-CSCF "
        "holds them after its failure (5.2.2.2)",
        _primary_serves_without_lease,
    ),
    "state_restored_after_crash": Fault(
        "back from a crash, the eP-CSCF restores its saved state: it registers WICs of its configured "
        "blocks as if it still held them and their registration, which another eP-CSCF took (5.2.2.2)",
        _state_restored_after_crash,
    ),
    "refused_after_binding": Fault(
        "back after its block went to another eP-CSCF, the eP-CSCF answers the WIC 503 but only after it "
        "stored the WIC's contact over W6, which it never removes (5.2.2.2, 5.2.2.5.2 step 6)",
        _refused_after_binding,
    ),
    "dead_flow_to_other_flow": Fault(
        "when the WebSocket of a session's WIC has closed, the eP-CSCF sends a request of that session "
        "from the core to another WIC registered with the called identity (5.2.2.5.4 step 5)",
        _dead_flow_to_other_flow,
    ),
    "dead_flow_no_430": Fault(
        "the eP-CSCF hands a request of a session to the closed WebSocket of its WIC, the caller gets the "
        "failed send's 5xx, not 430 Flow Failed (RFC 5626 5.3; a profile choice)",
        _dead_flow_no_430,
    ),
    "callee_next_hop_is_caller_contact": Fault(
        "the eP-CSCF takes the caller's Contact for the next hop of a session it delivered, not the "
        "Record-Route below its own: the called WIC's requests of the session are refused (5.2.2.5.4 step 5)",
        _callee_next_hop_is_caller_contact,
    ),
    "in_dialog_by_registration": Fault(
        "the eP-CSCF routes a request of a session from the core by a lookup of the called identity, to "
        "its first registered WIC, not over the flow its Record-Route names (5.2.2.5.4 step 5)",
        _in_dialog_by_registration,
    ),
    "dereg_without_token_anywhere": Fault(
        "the IWF lets a REGISTER that only removes contacts through without a token over any WebSocket, "
        "not only one a token authorised for that identity (5.2.2.3.2)",
        _dereg_without_token_anywhere,
    ),
    "token_refused_403": Fault(
        "the IWF refuses a missing or failing token with 403, no Bearer challenge (step 4, profile)",
        _token_refused_403,
    ),
    "takeover_cleans_its_allocations_only": Fault(
        "the eP-CSCF taking a block over removes the failed eP-CSCF's contacts from option B entries only: "
        "an option A user stays \"registered\" until expiry (5.2.2.2, profile)",
        _takeover_cleans_its_allocations_only,
    ),
    "deregistration_by_expires_header": Fault(
        "the IWF tells a de-registration by its Expires: 0 header alone: a token-less Contact: * on an "
        "authorised WebSocket removes every WIC's contacts (5.2.2.5.2 steps 3-4)",
        _deregistration_by_expires_header,
    ),
    "wildcard_removes_own_flow_only": Fault(
        "the eP-CSCF takes Contact: * for the contacts of the REGISTER's own WebSocket: the user's other "
        "WICs stay registered (RFC 3261 10.3 step 6, 5.2.2.3.1)",
        _wildcard_removes_own_flow_only,
    ),
    "provisional_assertion_relayed": Fault(
        "the eP-CSCF asserts its own identity in a WIC's 2xx only: a 180 goes into the core with the "
        "P-Asserted-Identity the WIC wrote (5.2.2.5.4 step 5)",
        _provisional_assertion_relayed,
    ),
    "refresh_keeps_first_interval": Fault(
        "the eP-CSCF writes a refresh of a contact to the wIMPU Registrar for at least the interval it "
        "first granted it: a refresh asking less keeps the WIC registered longer (5.2.2.3.2)",
        _refresh_keeps_first_interval,
    ),
    "origination_registered_anywhere": Fault(
        "the eP-CSCF lets a WIC originate as any identity registered at it, over whichever WebSocket it "
        "was registered: a page that registered nothing originates as another user (5.2.2.5.3 step 1)",
        _origination_registered_anywhere,
    ),
    "refresh_not_recorded": Fault(
        "the eP-CSCF records a WebSocket's registration at its first REGISTER only: after its first "
        "interval the WIC cannot originate, refreshed or not (5.2.2.5.3 step 1)",
        _refresh_not_recorded,
    ),
    "core_bye_keeps_dialog": Fault(
        "the eP-CSCF forgets a dialog only when the WIC ends it: after the remote party's BYE the WIC's "
        "requests in it are still relayed to the core (5.2.2.3.2)",
        _core_bye_keeps_dialog,
    ),
    "w7_timeout_taken_as_registered": Fault(
        "the I-CSCF takes an unanswered W7 query for \"registered\" and routes the session to an IMPU of a "
        "block on to the S-CSCF (5.2.2.5.4 steps 2-3)",
        _w7_timeout_taken_as_registered,
    ),
    "fork_losers_keep_dialog": Fault(
        "the eP-CSCF keeps the dialog a forked INVITE offered each WIC after another WIC answered: a WIC "
        "whose branch lost may send requests in the session (5.2.2.5.4 step 5, 5.2.2.3.2)",
        _fork_losers_keep_dialog,
    ),
    "websocket_flow_430": Fault(
        "the eP-CSCF counts a flow alive only after an RFC 5626 CRLF keep-alive, which no WebSocket WIC "
        "sends: every request of a session from the core gets 430 (5.2.2.5.4 step 5)",
        _websocket_flow_430,
    ),
    "block_lapse_ignored": Fault(
        "the eP-CSCF takes its block as registered from the S-CSCF's first 200 OK on: an unanswered refresh "
        "is only logged, and WICs are registered after the block's lifetime ran out (5.2.2.5.1)",
        _block_lapse_ignored,
    ),
    "block_refreshed_per_wic": Fault(
        "the eP-CSCF refreshes its block's registration with the S-CSCF on every WIC registration, before "
        "its 200 OK (5.2.2.1: a single IMS registration per block, the S-CSCF not impacted)",
        _block_refreshed_per_wic,
    ),
    "timer_c_missing": Fault(
        "the eP-CSCF proxies INVITEs with no Timer C: a session that rings unanswered stays open for ever "
        "(5.2.2.5.3 step 3, 5.2.2.5.4 step 5)",
        _timer_c_missing,
    ),
    "timer_c_two_minutes": Fault(
        "the eP-CSCF's Timer C is 2 minutes, below RFC 3261's floor of 3 "
        "(5.2.2.5.3 step 3, 5.2.2.5.4 step 5)",
        _timer_c_two_minutes,
    ),
    "timer_c_408_without_cancel": Fault(
        "at Timer C the eP-CSCF answers the caller 408 and sends no CANCEL: the callee rings on "
        "(5.2.2.5.3 step 3, 5.2.2.5.4 step 5)",
        _timer_c_408_without_cancel,
    ),
    "ppi_checked_against_the_domain": Fault(
        "the eP-CSCF asserts a P-Preferred-Identity of the WIC's domain it did not register (step 3)",
        _ppi_checked_against_the_domain,
    ),
    "option_b_ppi_overrides_context": Fault(
        "option B: the eP-CSCF asserts the WIC's P-Preferred-Identity, not the IMPU of the registration",
        _option_b_ppi_overrides_context,
    ),
    "origination_after_expiry": Fault(
        "the eP-CSCF lets a WIC originate as long as its WebSocket is open, after its registration ran out",
        _origination_after_expiry,
    ),
    "registration_cache_kept": Fault(
        "the eP-CSCF checks origination against a per-flow registration cache that de-registration leaves",
        _registration_cache_kept,
    ),
    "origination_context_cached": Fault(
        "option B: when the W6 read of an origination times out, the eP-CSCF forwards the session "
        "with the IMPU it kept from the registration",
        _origination_context_cached,
    ),
    "origination_context_made_up": Fault(
        "option B: when the W6 read of an origination times out, the eP-CSCF forwards the session "
        "asserting the WIC's external identity",
        _origination_context_made_up,
    ),
    "block_contact_per_start": Fault(
        "the eP-CSCF names its block binding after its running instance: a restart adds a second "
        "registration of the block beside the first",
        _block_contact_per_start,
    ),
    "term_contacts_remembered": Fault(
        "the eP-CSCF forks a terminating session to the contacts it wrote for the IMPU when the "
        "wIMPU Registrar lists none",
        _term_contacts_remembered,
    ),
    "term_contacts_cached_on_timeout": Fault(
        "when the W6 read of a terminating session times out, the eP-CSCF forks it to the contacts "
        "it wrote for the IMPU",
        _term_contacts_cached_on_timeout,
    ),
    "wic_asserted_identity_kept": Fault(
        "the eP-CSCF passes on a P-Asserted-Identity the WIC wrote instead of asserting the registered IMPU",
        _wic_asserted_identity_kept,
    ),
    "option2_takeover_waits_for_a_wic": Fault(
        "the eP-CSCF taking over an option 2 block registers it upon the next WIC registration, leaving the "
        "failed eP-CSCF's binding: two registrations of the block (5.2.2.2, 5.2.2.1)",
        _option2_takeover_waits_for_a_wic,
    ),
    "directory_not_updated": Fault(
        "the WWSF keeps sending WICs to the failed eP-CSCF of a re-allocated block", _directory_not_updated
    ),
    "no_service_route": Fault(
        "the eP-CSCF does not keep the Service-Route of the block registration's 200 OK",
        _no_service_route,
    ),
    "directory_shared": Fault(
        "the WWSF announces the eP-CSCF of the first block for every block", _directory_shared
    ),
    # origination
    "from_rewritten": Fault(
        "the eP-CSCF rewrites the From header field of an originating INVITE", _from_rewritten
    ),
    "pai_external": Fault(
        "the eP-CSCF asserts the From identity, not the individual IMPU (step 2)", _pai_external
    ),
    "option_b_no_w6": Fault(
        "option B: the eP-CSCF does not query the registrar and asserts the external identity (step 2)",
        _option_b_no_w6,
    ),
    "option_a_w6": Fault(
        "option A: the eP-CSCF queries the registrar for every originating session", _option_a_w6
    ),
    "wic_route_honoured": Fault(
        "the eP-CSCF sends a WIC's session on the Route the WIC preloaded, not the Service-Route (step 3)",
        _wic_route_honoured,
    ),
    "token_forwarded": Fault(
        "the eP-CSCF forwards the WWSF token a WIC put on its INVITE into the IMS core (step 3)",
        _token_forwarded,
    ),
    "bypass_scscf": Fault(
        "the eP-CSCF sends an originating session without the Service-Route, bypassing the S-CSCF (step 3)",
        _bypass_scscf,
    ),
    "orig_identity_unchecked": Fault(
        "the eP-CSCF lets a WIC originate with any From, asserting the identity registered on its flow",
        _orig_identity_unchecked,
    ),
    # termination and forking
    "icscf_no_w7": Fault("the I-CSCF never queries the registrar over W7 (step 2)", _icscf_no_w7),
    "icscf_w7_all": Fault(
        "the I-CSCF queries the registrar for every called domain, not only webRTC ones (step 1)",
        _icscf_w7_all,
    ),
    "icscf_no_reject": Fault(
        "the I-CSCF continues with an unregistered webRTC user as if registered (step 2)", _icscf_no_reject
    ),
    "icscf_no_retarget": Fault(
        "option B: the I-CSCF forwards to the external identity, not the individual IMPU (step 2)",
        _icscf_no_retarget,
    ),
    "icscf_in_dialog_refused": Fault(
        "the I-CSCF answers 403 to every request in a dialog sent to it, whatever its Route names past it",
        _icscf_in_dialog_refused,
    ),
    "icscf_always_480": Fault(
        "the I-CSCF rejects an identity in no wIMPU block with 480 instead of 404 (step 2)", _icscf_always_480
    ),
    "icscf_w7_at_border_only": Fault(
        "the I-CSCF queries W7 only for sessions from other networks, not for a WIC's session coming back in",
        _icscf_w7_at_border_only,
    ),
    "pcpid_stripped": Fault(
        "the eP-CSCF ignores and drops P-Called-Party-ID on terminating requests (steps 4-5)", _pcpid_stripped
    ),
    "block_never_refreshed": Fault(
        "the eP-CSCF registers its block once and never refreshes it (5.2.2.5.1)", _block_never_refreshed
    ),
    "block_refreshed_at_expiry": Fault(
        "the eP-CSCF refreshes its block registration only once the granted interval has run out (5.2.2.5.1)",
        _block_refreshed_at_expiry,
    ),
    "message_sent_as_written": Fault(
        "the eP-CSCF asserts the identity of a session's INVITE only: a WIC's MESSAGE goes on as the WIC "
        "wrote it (step 3)",
        _message_sent_as_written,
    ),
    "options_answered_locally": Fault(
        "the eP-CSCF answers a WIC's OPTIONS to the remote party itself with 200, as a keep-alive (step 3)",
        _options_answered_locally,
    ),
    "options_answered_for_wics": Fault(
        "the eP-CSCF answers a terminating OPTIONS for the WICs with 200 and delivers it to none (step 5)",
        _options_answered_for_wics,
    ),
    "message_cache_kept": Fault(
        "the eP-CSCF lets a WIC's MESSAGE through on the flow's cached registration, which de-registration "
        "leaves (step 1)",
        _message_cache_kept,
    ),
    "message_first_contact_only": Fault(
        "the eP-CSCF forks INVITEs but delivers a MESSAGE to the first contact only (step 5)",
        _message_first_contact_only,
    ),
    "message_deferred": Fault(
        "the I-CSCF accepts a MESSAGE to an unregistered webRTC user with 202 for later delivery (step 2)",
        _message_deferred,
    ),
    "fork_first_only": Fault(
        "the eP-CSCF delivers a session to one contact only (no forking)", _fork_first_only
    ),
    "no_cancel": Fault("the forking eP-CSCF cancels no other branch when one answers", _no_cancel),
    "cancel_no_reason": Fault(
        "the forking eP-CSCF cancels the other branches without a Reason (cause 200, RFC 3326)",
        _cancel_no_reason,
    ),
    "upstream_cancel_one_branch": Fault(
        "the forking eP-CSCF cancels only one WIC's branch when the caller CANCELs",
        _upstream_cancel_one_branch,
    ),
    "fork_cancel_own_reason": Fault(
        "the forking eP-CSCF cancels the WICs with a Reason of its own, not the caller's",
        _fork_cancel_own_reason,
    ),
    "busy_here_global": Fault(
        "the forking eP-CSCF sends a WIC's 486 Busy Here upstream at once and cancels the other WICs",
        _busy_here_global,
    ),
    "fork_last_refusal": Fault(
        "the forking eP-CSCF returns the last refusal of its WICs instead of the first", _fork_last_refusal
    ),
    # lifecycle
    "registration_bound_to_token": Fault(
        "the eP-CSCF keeps a WIC registration no longer than its token lives, its 200 OK granting more",
        _registration_bound_to_token,
    ),
    "token_pinned_to_registration": Fault(
        "the IWF validates a re-REGISTER against the token of the registration's first REGISTER",
        _token_pinned_to_registration,
    ),
    "expiry_ignored": Fault(
        "the wIMPU Registrar keeps every contact for its maximum time, whatever the registration timer",
        _expiry_ignored,
    ),
}


def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get("WIMPU_FAULT")
    if not name:
        return
    if name not in FAULTS:
        raise pytest.UsageError(f"WIMPU_FAULT={name!r} is not one of {sorted(FAULTS)}")
    patcher = pytest.MonkeyPatch()
    FAULTS[name].apply(patcher)
    config.add_cleanup(patcher.undo)
