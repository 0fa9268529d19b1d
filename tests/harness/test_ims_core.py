"""The emulated IMS core of the harness (S-CSCF with HSS data, plain I-CSCF) on loopback.

The eP-CSCF side is played by the reference's own block registration client
(``RemoteParty.register_in_ims``, a :class:`BlockRegistration` over a SipNode) or by
hand-built REGISTERs; the far end by :class:`RemoteParty`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from conformance.harness.expect import wait_until_async
from conformance.harness.ims_core import ImsCore, Subscriber
from conformance.harness.remote import RemoteParty
from reference.nodes.wimpu_registrar.model import RegistrationStatus
from reference.sip.message import Header, Request, Response
from reference.sip.transaction import ServerTransaction, make_response
from reference.transport.endpoint import Source
from reference.transport.sip_node import SipNode

DOMAIN = "ims.example.net"
REGISTRAR = "sip:ims.example.net"
BLOCK1 = Subscriber(
    impi="block1@ims.example.net",
    password="secret-1",
    distinct=("sip:block1@wrtc.ims.example.net",),
    wildcards=("sip:wrtc-!.*!@block1.ims.example.net",),
)
BLOCK2 = Subscriber(
    impi="block2@ims.example.net",
    password="secret-2",
    distinct=("sip:block2@wrtc.ims.example.net", "sip:block2-alt@wrtc.ims.example.net"),
    wildcards=("sip:wrtc-!.*!@block2.ims.example.net",),
)
CAROL = Subscriber(
    impi="carol@ims.example.net",
    password="secret-3",
    distinct=("sip:wrtc-carol@block1.ims.example.net",),  # inside block1's wildcard
)
AOR1 = BLOCK1.distinct[0]
ALICE = "sip:wrtc-alice@block1.ims.example.net"
REMOTE_DOMAIN = "remote.example.org"
CHALLENGE = re.compile(r'Digest realm="ims\.example\.net", nonce="([^"]+)", algorithm=MD5, qop="auth"')


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class RingingParty(RemoteParty):
    """A stand-in eP-CSCF that rings and never answers; a CANCEL gets its 487."""

    def __init__(self, domain: str) -> None:
        super().__init__(domain)
        self.cancelled: list[Request] = []
        self.node.on_cancel = self._cancelled

    async def _request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        self.received.append(request)
        self.node.respond(tx, make_response(request, 180, to_tag=self.tag))

    def _cancelled(self, tx: ServerTransaction) -> None:
        self.cancelled.append(tx.request)
        self.node.respond(tx, make_response(tx.request, 487, to_tag=self.tag))


MakeParty = Callable[..., Awaitable[RemoteParty]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def core(clock: Clock) -> AsyncIterator[ImsCore]:
    ims = ImsCore(
        domain=DOMAIN,
        subscribers=[BLOCK1, BLOCK2, CAROL],
        scscf=("127.0.0.1", 0),
        icscf=("127.0.0.1", 0),
        clock=clock,
    )
    await ims.start()
    yield ims
    await ims.stop()


@pytest.fixture
async def party() -> AsyncIterator[MakeParty]:
    made: list[RemoteParty] = []

    async def make(domain: str = DOMAIN, cls: type[RemoteParty] = RemoteParty) -> RemoteParty:
        p = cls(domain)
        await p.start()
        made.append(p)
        return p

    yield make
    for p in made:
        await p.stop()


@pytest.fixture
async def ue() -> AsyncIterator[SipNode]:
    node = SipNode("ue")
    await node.start()
    yield node
    await node.stop()


async def register_block(core: ImsCore, ep: RemoteParty) -> Response:
    return await ep.register_in_ims(
        AOR1, impi=BLOCK1.impi, password=BLOCK1.password, registrar=REGISTRAR, scscf=core.scscf_target
    )


def contact_of(ep: RemoteParty) -> str:
    return f"sip:block1@127.0.0.1:{ep.node.port};transport=tcp"


def path_of(ep: RemoteParty) -> str:
    return f"<sip:term@127.0.0.1:{ep.node.port};transport=tcp;lr>"


def scscf_uri(core: ImsCore, user: str = "") -> str:
    at = f"{user}@" if user else ""
    return f"<sip:{at}127.0.0.1:{core.scscf_target.port};transport=tcp;lr>"


async def eventually(check: Callable[[], bool], what: str = "a message still in flight") -> None:
    """Wait for ``check()`` (a message still in flight on loopback), at most EVENT_WAIT."""
    await wait_until_async(check, what)


# ----- registration ---------------------------------------------------------------------


def register(aor: str, contact: str, *, authorization: str | None = None, cseq: int = 1) -> Request:
    headers = [
        Header("Max-Forwards", "70"),
        Header("To", f"<{aor}>"),
        Header("From", f"<{aor}>;tag=f1"),
        Header("Call-ID", "reg-1@127.0.0.1"),
        Header("CSeq", f"{cseq} REGISTER"),
        Header("Contact", f"<{contact}>;expires=600"),
        Header("Path", "<sip:term@127.0.0.1:5999;transport=tcp;lr>"),
        *([Header("Authorization", authorization)] if authorization else []),
        Header("Content-Length", "0"),
    ]
    return Request(headers=tuple(headers), body=b"", method="REGISTER", uri=REGISTRAR)


def authorization(nonce: str, *, password: str, algorithm: str = "MD5", qop: bool = True) -> str:
    """Client side of RFC 2617 3.2.2, written independently with hashlib."""

    def h(text: str) -> str:
        return hashlib.new({"MD5": "md5", "SHA-256": "sha256"}[algorithm], text.encode()).hexdigest()

    ha1, ha2 = h(f"{BLOCK1.impi}:{DOMAIN}:{password}"), h(f"REGISTER:{REGISTRAR}")
    cnonce = "c,1"  # a comma inside a quoted string
    response = h(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}") if qop else h(f"{ha1}:{nonce}:{ha2}")
    value = (
        f'Digest username="{BLOCK1.impi}", realm="{DOMAIN}", nonce="{nonce}", uri="{REGISTRAR}", '
        f'response="{response}", algorithm={algorithm}'
    )
    return value + (f', qop=auth, nc=00000001, cnonce="{cnonce}"' if qop else "")


async def challenge(core: ImsCore, ue: SipNode, contact: str) -> str:
    first = await ue.request(register(AOR1, contact), core.scscf_target)
    assert first.status == 401
    match = CHALLENGE.fullmatch(first.get("WWW-Authenticate") or "")
    assert match is not None, first.get("WWW-Authenticate")
    return match.group(1)


async def test_block_register_is_challenged_then_accepted(core: ImsCore, party: MakeParty) -> None:
    ep = await party()
    ok = await register_block(core, ep)

    assert [r.has("Authorization") for r in core.registers] == [False, True]
    assert ok.status == 200
    assert ok.get_all("Service-Route") == [scscf_uri(core, "orig")]
    assert ok.get_all("Path") == [path_of(ep)]
    assert (
        ok.get("P-Associated-URI")
        == "<sip:block1@wrtc.ims.example.net>, <sip:wrtc-!.*!@block1.ims.example.net>"
    )
    assert [str(c) for c in ok.contacts] == [f"<{contact_of(ep)}>;expires=600"]
    assert ok.to.tag is not None
    assert core.bindings(AOR1) == [(contact_of(ep), (path_of(ep),), core.clock() + 600)]


@pytest.mark.parametrize(
    ("registered", "associated"),
    [
        (BLOCK2.distinct[0], [*BLOCK2.distinct, *BLOCK2.wildcards]),
        (BLOCK2.distinct[1], [BLOCK2.distinct[1], BLOCK2.distinct[0], *BLOCK2.wildcards]),
    ],
)
async def test_p_associated_uri_lists_the_registered_impu_then_the_distinct_then_the_wildcards(
    core: ImsCore, party: MakeParty, registered: str, associated: list[str]
) -> None:
    ep = await party()
    ok = await ep.register_in_ims(
        registered, impi=BLOCK2.impi, password=BLOCK2.password, registrar=REGISTRAR, scscf=core.scscf_target
    )
    assert ok.get("P-Associated-URI") == ", ".join(f"<{a}>" for a in associated)
    assert len(core.bindings(registered)) == 1


async def test_the_challenge_and_the_answer_by_hand(core: ImsCore, ue: SipNode) -> None:
    nonce = await challenge(core, ue, "sip:ue@127.0.0.1:5999")
    ok = await ue.request(register(AOR1, "sip:ue@127.0.0.1:5999", authorization=authorization(
        nonce, password=BLOCK1.password), cseq=2), core.scscf_target)  # fmt: skip
    assert ok.status == 200
    assert core.bindings(AOR1)[0][0] == "sip:ue@127.0.0.1:5999"


async def test_two_bindings_are_written_in_one_contact_row(core: ImsCore, ue: SipNode) -> None:
    """RFC 3261 7.3.1: the S-CSCF joins the bindings of its 200 OK in one Contact row (the same as a
    row each, and what an eP-CSCF reading one binding per row misses: docs/validation.md, harness
    assumption 24); each still has its expires (10.3 step 8)."""
    for cseq, contact in ((1, "sip:ue@127.0.0.1:5999"), (3, "sip:ue@127.0.0.1:5998")):
        nonce = await challenge(core, ue, contact)
        ok = await ue.request(register(AOR1, contact, authorization=authorization(
            nonce, password=BLOCK1.password), cseq=cseq + 1), core.scscf_target)  # fmt: skip
        assert ok.status == 200
    rows = [h.value for h in ok.headers if h.name.lower() in ("contact", "m")]
    assert len(rows) == 1 and rows[0].count(";expires=") == 2, rows
    assert sorted(c.uri for c in ok.contacts) == ["sip:ue@127.0.0.1:5998", "sip:ue@127.0.0.1:5999"]
    assert all(c.param("expires") == "600" for c in ok.contacts)


@pytest.mark.parametrize(("algorithm", "qop"), [("SHA-256", True), ("MD5", False)])
async def test_sha256_and_rfc2069_answers_are_accepted(
    core: ImsCore, ue: SipNode, algorithm: str, qop: bool
) -> None:
    nonce = await challenge(core, ue, "sip:ue@127.0.0.1:5999")
    auth = authorization(nonce, password=BLOCK1.password, algorithm=algorithm, qop=qop)
    ok = await ue.request(
        register(AOR1, "sip:ue@127.0.0.1:5999", authorization=auth, cseq=2), core.scscf_target
    )
    assert ok.status == 200


async def test_wrong_password_is_forbidden(core: ImsCore, ue: SipNode) -> None:
    nonce = await challenge(core, ue, "sip:ue@127.0.0.1:5999")
    auth = authorization(nonce, password="wrong")
    answer = await ue.request(
        register(AOR1, "sip:ue@127.0.0.1:5999", authorization=auth, cseq=2), core.scscf_target
    )
    assert answer.status == 403
    assert core.bindings(AOR1) == []


async def test_unknown_nonce_is_challenged_again(core: ImsCore, ue: SipNode) -> None:
    auth = authorization("not-issued", password=BLOCK1.password)
    answer = await ue.request(register(AOR1, "sip:ue@127.0.0.1:5999", authorization=auth), core.scscf_target)
    assert answer.status == 401
    assert CHALLENGE.fullmatch(answer.get("WWW-Authenticate") or "")
    assert core.bindings(AOR1) == []


async def test_unknown_to_is_forbidden(core: ImsCore, ue: SipNode) -> None:
    answer = await ue.request(
        register("sip:nobody@ims.example.net", "sip:ue@127.0.0.1:5999"), core.scscf_target
    )
    assert answer.status == 403
    assert not answer.has("WWW-Authenticate")


async def test_deregistration_removes_the_binding(core: ImsCore, party: MakeParty) -> None:
    ep = await party()
    await register_block(core, ep)
    assert ep._registration is not None
    gone = await ep._registration.register(expires=0)
    assert gone.status == 200
    assert gone.contacts == [] and not gone.has("Service-Route") and not gone.has("P-Associated-URI")
    assert core.bindings(AOR1) == []


# ----- terminating ----------------------------------------------------------------------


async def test_terminating_invite_reaches_the_block_contact_through_its_path(
    core: ImsCore, party: MakeParty
) -> None:
    ep = await party()
    await register_block(core, ep)
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None

    final = await caller.call(ALICE, core.icscf_target)

    assert final.status == 200
    (invite,) = ep.invites()
    assert invite.uri == contact_of(ep)
    assert invite.get_all("Route") == [path_of(ep)]
    assert invite.get_all("P-Called-Party-ID") == [f"<{ALICE}>"]
    assert invite.get_all("Record-Route") == [scscf_uri(core)]
    ports = [via.port for via in invite.vias]
    assert ports == [core.scscf_target.port, core.icscf_target.port, caller.node.port]
    # the caller's ACK follows the S-CSCF's Record-Route to the eP-CSCF
    await eventually(lambda: any(r.method == "ACK" for r in ep.received))
    ack = next(r for r in ep.received if r.method == "ACK")
    assert ack.call_id == invite.call_id and ack.uri == f"sip:remote@127.0.0.1:{ep.node.port};transport=tcp"


def _in_dialog(caller: RemoteParty, method: str, *, routed: bool) -> Request:
    """A request in the caller's last dialog (RFC 3261 12.2.1.1), on its route set or without one."""
    [final] = [r for r in caller.responses if r.status == 200 and r.cseq.method == "INVITE"]
    ack = caller.ack_for(caller.invite_request(ALICE), final)
    request = Request(
        headers=tuple(
            Header("CSeq", f"2 {method}") if h.name == "CSeq"
            else Header("Call-ID", final.call_id) if h.name == "Call-ID"
            else Header("From", final.get("From") or "") if h.name == "From"
            else h
            for h in ack.headers
            if routed or h.name != "Route"
        ),
        body=b"",
        method=method,
        uri=ack.uri,
    )  # fmt: skip
    return request


async def test_a_request_in_a_dialog_sent_to_the_icscf_goes_on_along_its_route(
    core: ImsCore, party: MakeParty
) -> None:
    """RFC 3261 16.4, 16.6: a caller with one connection to its entry point (SIPp over TCP) sends its
    BYE there, with the dialog's route set: the I-CSCF, on no dialog's path, forwards it to the
    Route's next hop; without a Route the request does not belong to it (403)."""
    ep = await party()
    await register_block(core, ep)
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    assert (await caller.call(ALICE, core.icscf_target)).status == 200

    bye = _in_dialog(caller, "BYE", routed=True)
    sent = caller.node.send_request(bye, core.icscf_target, add_via=False)
    answer = await asyncio.wait_for(sent.final, 5)
    assert answer.status == 200, f"expected the BYE along its Route to reach the eP-CSCF, got {answer.status}"
    assert [r.method for r in ep.received if r.call_id == bye.call_id][-1] == "BYE"

    stray = _in_dialog(caller, "INFO", routed=False)
    sent = caller.node.send_request(stray, core.icscf_target, add_via=False)
    answer = await asyncio.wait_for(sent.final, 5)
    assert answer.status == 403, f"expected 403 for an in-dialog request with no Route, got {answer.status}"


async def test_terminating_to_an_unregistered_block_is_480(core: ImsCore, party: MakeParty) -> None:
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    final = await caller.call("sip:wrtc-bob@block2.ims.example.net", core.icscf_target)
    assert final.status == 480


async def test_terminating_to_no_subscriber_is_404(core: ImsCore, party: MakeParty) -> None:
    ep = await party()
    await register_block(core, ep)
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    final = await caller.call("sip:wrtc-alice@block9.ims.example.net", core.icscf_target)
    assert final.status == 404
    assert ep.invites() == []


async def test_a_distinct_impu_wins_over_the_wildcard(core: ImsCore, party: MakeParty) -> None:
    ep = await party()
    await register_block(core, ep)  # block1 registered, carol (inside its wildcard) not
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    final = await caller.call("sip:wrtc-carol@block1.ims.example.net", core.icscf_target)
    assert final.status == 480
    assert ep.invites() == []


async def test_terminating_forks_to_every_binding_and_cancels_the_loser(
    core: ImsCore, party: MakeParty
) -> None:
    ringing = await party(DOMAIN, RingingParty)
    answering = await party()
    await register_block(core, ringing)
    await register_block(core, answering)
    assert {b[0] for b in core.bindings(AOR1)} == {contact_of(ringing), contact_of(answering)}
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None

    final = await caller.call(ALICE, core.icscf_target)

    assert final.status == 200 and final.to.tag == answering.tag
    assert [i.uri for i in answering.invites()] == [contact_of(answering)]
    assert [i.uri for i in ringing.invites()] == [contact_of(ringing)]
    assert isinstance(ringing, RingingParty)
    await eventually(lambda: bool(ringing.cancelled))
    assert ringing.cancelled[0].call_id == final.call_id
    await asyncio.sleep(0.05)  # absence: no 487 reaches the caller in this window (not a wait for an event)
    assert caller.responses_to_last_call(487) == []


async def test_terminating_after_the_binding_expired_is_480(
    core: ImsCore, party: MakeParty, clock: Clock
) -> None:
    ep = await party()
    await register_block(core, ep)
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    clock.now += 599
    assert len(core.bindings(AOR1)) == 1
    clock.now += 2
    assert core.bindings(AOR1) == []
    final = await caller.call(ALICE, core.icscf_target)
    assert final.status == 480
    assert ep.invites() == []


# ----- originating ----------------------------------------------------------------------


async def originate(
    core: ImsCore, ep: RemoteParty, caller: str, service_route: str, called: str = f"sip:bob@{REMOTE_DOMAIN}"
) -> tuple[Request, Response]:
    invite = ep.invite_request(called, caller=caller).with_header("Route", service_route)
    handle = ep.node.send_request(invite, core.scscf_target)
    return handle.request, await asyncio.wait_for(handle.final, 5)


async def test_originating_invite_reaches_the_remote_party_and_the_dialog_flows(
    core: ImsCore, party: MakeParty
) -> None:
    ep = await party()
    service_route = (await register_block(core, ep)).get("Service-Route") or ""
    remote = await party(REMOTE_DOMAIN)
    core.add_remote(REMOTE_DOMAIN, remote.target)

    invite, final = await originate(core, ep, ALICE, service_route)

    assert final.status == 200
    (received,) = remote.invites()
    assert received.uri == "sip:bob@remote.example.org"
    assert received.get_all("Route") == []
    assert received.get_all("Record-Route") == [scscf_uri(core)]
    assert received.get("P-Asserted-Identity") == f"<{ALICE}>"
    assert [v.port for v in received.vias] == [core.scscf_target.port, ep.node.port]
    assert final.get_all("Record-Route") == [scscf_uri(core)]

    await ep.node.send_ack(ep.ack_for(invite, final), core.scscf_target)
    await eventually(lambda: any(r.method == "ACK" for r in remote.received))
    ack = next(r for r in remote.received if r.method == "ACK")
    assert ack.call_id == invite.call_id and ack.get_all("Route") == []

    bye = ep.ack_for(invite, final).without_header("Via")
    bye = Request(headers=bye.headers, body=b"", method="BYE", uri=bye.uri).with_header_set("CSeq", "2 BYE")
    answer = await asyncio.wait_for(ep.node.request(bye, core.scscf_target), 5)
    assert answer.status == 200
    assert [r.method for r in remote.received] == ["INVITE", "ACK", "BYE"]


async def test_originating_to_a_served_identity_comes_back_in_through_the_icscf(
    core: ImsCore, party: MakeParty
) -> None:
    """TS 23.228 5.6, 5.7: a callee of the home network is reached through the I-CSCF, which sends
    it to its S-CSCF for the terminating leg (record-routed on both legs)."""
    ep = await party()
    service_route = (await register_block(core, ep)).get("Service-Route") or ""
    _, final = await originate(core, ep, ALICE, service_route, called="sip:wrtc-bob@block1.ims.example.net")
    assert final.status == 200
    terminating = [i for i in ep.invites() if i.uri == contact_of(ep)]
    assert len(terminating) == 1
    assert terminating[0].get("P-Called-Party-ID") == "<sip:wrtc-bob@block1.ims.example.net>"
    assert terminating[0].get_all("Record-Route") == [scscf_uri(core), scscf_uri(core)]
    icscf = core.icscf_target
    assert icscf is not None
    assert any(f"{icscf.host}:{icscf.port}" in via for via in terminating[0].get_all("Via"))


@pytest.mark.parametrize("caller", ["sip:wrtc-bob@block2.ims.example.net", "sip:stranger@example.com"])
async def test_originating_from_outside_any_registered_set_is_403(
    core: ImsCore, party: MakeParty, caller: str
) -> None:
    ep = await party()
    service_route = (await register_block(core, ep)).get("Service-Route") or ""
    remote = await party(REMOTE_DOMAIN)
    core.add_remote(REMOTE_DOMAIN, remote.target)
    _, final = await originate(core, ep, caller, service_route)
    assert final.status == 403
    assert remote.received == []


async def test_originating_to_an_unknown_domain_is_404(core: ImsCore, party: MakeParty) -> None:
    ep = await party()
    service_route = (await register_block(core, ep)).get("Service-Route") or ""
    _, final = await originate(core, ep, ALICE, service_route)  # remote.example.org not added
    assert final.status == 404


# ----- the I-CSCF's webRTC check (TR 23.701 5.2.2.5.4 steps 1-2) over the SUT's W7 -------------------


class W7:
    """The registration status answers of a wIMPU Registrar (the solution profile's W7 object),
    recording every query; identities it does not list are not registered."""

    def __init__(self, statuses: dict[str, RegistrationStatus]) -> None:
        self.statuses = statuses
        self.queried: list[str] = []

    async def __call__(self, identity: str) -> RegistrationStatus:
        self.queried.append(identity)
        return self.statuses.get(identity, RegistrationStatus(identity, registered=False))


@pytest.fixture
async def enhanced(clock: Clock) -> AsyncIterator[tuple[ImsCore, W7]]:
    block1 = "sip:wrtc-!.*!@block1.ims.example.net"
    w7 = W7({
        "sip:bob@enterprise.com": RegistrationStatus("sip:bob@enterprise.com", True, ALICE, block1),
        ALICE: RegistrationStatus(ALICE, True, ALICE, block1),
    })
    ims = ImsCore(
        domain=DOMAIN, subscribers=[BLOCK1, CAROL], scscf=("127.0.0.1", 0), icscf=("127.0.0.1", 0),
        clock=clock, w7=w7, webrtc_domains=["block1.ims.example.net", "enterprise.com"],
        external_domains=["enterprise.com"],
    )  # fmt: skip
    await ims.start()
    yield ims, w7
    await ims.stop()


async def test_an_external_identity_is_retargeted_to_its_impu_after_the_w7_query(
    enhanced: tuple[ImsCore, W7], party: MakeParty
) -> None:
    core, w7 = enhanced
    ep = await party()
    await register_block(core, ep)
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None

    final = await caller.call("sip:bob@enterprise.com", core.icscf_target)

    assert final.status == 200 and w7.queried == ["sip:bob@enterprise.com"]
    (invite,) = ep.invites()
    assert invite.get_all("P-Called-Party-ID") == [f"<{ALICE}>"]  # the IMPU the registrar named
    assert invite.get_all("P-Profile-Key") == ["<sip:wrtc-!.*!@block1.ims.example.net>"]
    assert invite.get("To") == "<sip:bob@enterprise.com>"  # the external identity stays in To


@pytest.mark.parametrize(
    ("called", "status"),
    [
        ("sip:eve@enterprise.com", 480),  # of an option B domain, not registered
        ("sip:wrtc-nobody@block1.ims.example.net", 480),  # matched by the wildcard: known to the network
        ("sip:nobody@block1.ims.example.net", 404),  # a block's domain, outside its wildcard: no block
    ],
)
async def test_a_webrtc_user_who_is_not_registered_is_rejected_at_the_i_cscf(
    enhanced: tuple[ImsCore, W7], party: MakeParty, called: str, status: int
) -> None:
    core, w7 = enhanced
    ep = await party()
    await register_block(core, ep)
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    final = await caller.call(called, core.icscf_target)
    assert (final.status, w7.queried, ep.invites()) == (status, [called], [])


async def test_an_identity_of_a_webrtc_domain_outside_every_block_is_404(
    enhanced: tuple[ImsCore, W7], party: MakeParty
) -> None:
    core, w7 = enhanced
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    final = await caller.call("sip:someone@block1.ims.example.net:5061", core.icscf_target)
    assert final.status == 404 and len(w7.queried) == 1


async def test_other_domains_are_routed_without_a_w7_query(
    enhanced: tuple[ImsCore, W7], party: MakeParty
) -> None:
    core, w7 = enhanced
    caller = await party(REMOTE_DOMAIN)
    assert core.icscf_target is not None
    final = await caller.call("sip:someone@ims.example.net", core.icscf_target)
    assert final.status == 404 and w7.queried == []  # the S-CSCF's answer: no such subscriber
