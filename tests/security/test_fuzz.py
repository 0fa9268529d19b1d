"""Property-based fuzzing (hypothesis), bounded for CI (issue 13, item 5).

- The stream framer (RFC 3261 18.3): any chopping of any bytes frames, fails with a
  :class:`FramingError`, or waits for more; never another exception, never a hang.
- The WIC path of a running stack: requests of a registered WIC, each with one header,
  parameter or start-line part replaced by hostile text, over a real WSS connection. Every
  request that parses is answered with a final response (an ACK never is), nothing raises
  inside a node, and afterwards no server transaction of any node is left unanswered.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tally import Family
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from conformance.harness.loop import BackgroundLoop
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.sip.errors import FramingError, SipError
from reference.sip.framing import Framed, KeepAlive, StreamFramer
from reference.sip.parser import parse_message
from reference.stack import Stack

ALICE = "sip:wrtc-alice@block1.ims.example.net"
REMOTE = "sip:dave@remote.example.org"

# ----- the framer ----------------------------------------------------------------------

_MESSAGE = (
    b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"
    b"To: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
    b"Content-Length: 2\r\n\r\nhi"
)


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=80),
            st.sampled_from([_MESSAGE, b"\r\n\r\n", b"\r\n", b"Content-Length: 99999999\r\n\r\n"]),
        ),
        max_size=12,
    )
)
def test_the_stream_framer_never_raises_anything_but_a_framing_error(chunks: list[bytes]) -> None:
    framer = StreamFramer(max_size=4096)
    try:
        for chunk in chunks:
            framer.receive_data(chunk)
            for item in framer.events():
                assert isinstance(item, (Framed, KeepAlive))
                if isinstance(item, Framed):
                    assert (item.message is None) == (item.error is not None)
    except FramingError:
        pass
    assert framer.buffered <= 4096 + max((len(c) for c in chunks), default=0)


# ----- the WIC path of a running stack ---------------------------------------------------


class Target:
    """The stack, a remote party and alice's registered WIC, on one background loop.

    The fuzzer's own WebSocket client only records what it receives (raw): the harness
    WIC parses what it receives, and a hostile request can make the eP-CSCF answer with
    text the harness would not take apart.
    """

    def __init__(self, loop: BackgroundLoop) -> None:
        self.loop = loop
        self.stack = Stack()
        loop.run(self.stack.start(), timeout=30)
        self.remote = RemoteParty("remote.example.org")
        loop.run(self.remote.start())
        self.remote.answer = 486  # nothing to ACK
        self.stack.resolver.add("remote.example.org", self.remote.target)
        self.ctx = self.stack.pki.client_context()
        self.login = loop.run(web_login(self.stack.wwsf.origin, "alice", "alice-password", self.ctx))
        self.wic = Wic("fuzzer", ssl_context=self.ctx, timeout=3.0)
        self.connection: ClientConnection | None = None
        self.received: list[bytes] = []
        self.late: list[tuple[str, tuple[bytes, ...], int]] = []
        "Requests not answered within a second: (label, Call-ID and CSeq lines, index in received)."
        self.reconnects = 0
        self.ensure_open()

    def ensure_open(self) -> None:
        """(Re)connect and register alice (an example may have closed or de-registered it)."""
        if self.connection is not None and self.connection.state is State.OPEN:
            return
        self.reconnects += 1
        self.loop.run(self._connect())

    async def _connect(self) -> None:
        self.connection = await connect(
            self.login.ep_cscf_url, ssl=self.ctx, origin=self.stack.wwsf.origin,  # type: ignore[arg-type]
            subprotocols=["sip"],  # type: ignore[list-item]
        )  # fmt: skip
        asyncio.get_running_loop().create_task(self._read(self.connection))
        register = self.wic.register_request(ALICE, token=self.login.token)
        assert await self.send_and_wait(register.to_bytes(), 3.0), "alice could not register"

    async def _read(self, connection: ClientConnection) -> None:
        try:
            async for data in connection:
                self.received.append(data.encode() if isinstance(data, str) else data)
        except ConnectionClosed:
            return

    async def send_and_wait(self, raw: bytes, wait: float, label: str | None = None) -> bool:
        """Send ``raw``; True when a final response with its Call-ID and CSeq came back within
        ``wait`` seconds. Otherwise, with a ``label``, the request is kept in :attr:`late`: it
        may still be answered later (a transaction may take up to Timer F, 32 s)."""
        assert self.connection is not None
        before = len(self.received)
        try:
            await self.connection.send(raw.decode("utf-8", "replace"))
        except ConnectionClosed:
            return False
        key = tuple(ln for ln in raw.split(b"\r\n") if ln.startswith((b"Call-ID:", b"CSeq:")))
        transaction = _transaction(raw)
        if transaction is not None:  # its answer may be an earlier request's (RFC 3261 17.2.3)
            key = (*key, b"|", *transaction)
        deadline = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            if self.answer_to(key, before):
                return True
            await asyncio.sleep(0.01)
        if label is not None:
            self.late.append((label, key, before))
        return False

    def answer_to(self, key: tuple[bytes, ...], before: int) -> bool:
        """A final response carrying the request's Call-ID and CSeq came after ``before`` -
        or, for a request that matches the server transaction of an earlier one (same
        branch, sent-by and method, RFC 3261 17.2.3: a hostile Via can repeat a branch), that
        transaction's final response, sent again as to a retransmission."""
        cut = key.index(b"|") if b"|" in key else len(key)
        lines, transaction = key[:cut], key[cut + 1 :]
        for answer in self.received[before:]:
            status = answer[8:11]
            if not (answer.startswith(b"SIP/2.0 ") and status.isdigit() and int(status) >= 200):
                continue
            if all(k in answer for k in lines) or (transaction and _transaction(answer) == transaction):
                return True
        return False

    def close(self) -> None:
        if self.connection is not None:
            self.loop.run(self.connection.close())
        self.loop.run(self.remote.stop())
        self.loop.run(self.stack.stop(), timeout=30)

    def template(self, method: str) -> list[str]:
        """A well-formed request of alice's WIC, as header lines (start line first)."""
        wic = self.wic
        wic.cseq += 1
        tag = ";tag=" + secrets.token_hex(4) if method in ("BYE", "INFO", "UPDATE") else ""
        lines = [
            f"{method} {REMOTE if method != 'REGISTER' else 'sip:block1.ims.example.net'} SIP/2.0",
            f"Via: SIP/2.0/WSS {wic.host};branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards: 70",
            f"To: <{ALICE if method == 'REGISTER' else REMOTE}>{tag}",
            f"From: <{ALICE}>;tag={secrets.token_hex(4)}",
            f"Call-ID: {secrets.token_hex(8)}@{wic.host}",
            f"CSeq: {wic.cseq} {method}",
            f"Contact: <sip:{wic.contact_user}@{wic.host};transport=ws>"
            f';+sip.instance="<{wic.instance}>";reg-id=1',
            f"Authorization: Bearer {self.login.token}",
            "Supported: path, outbound",
        ]
        if method == "REGISTER":
            lines.append("Expires: 600")
        return lines


_VIA_TOP = re.compile(
    rb"^(?:Via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*\S+[ \t]+([^;,\s]+)[^\r\n]*?;[ \t]*"
    rb"branch=(z9hG4bK[^;,\s]*)",
    re.I | re.M,
)
_CSEQ_METHOD = re.compile(rb"^CSeq[ \t]*:[ \t]*\d+[ \t]+(\S+)", re.I | re.M)


def _transaction(raw: bytes) -> tuple[bytes, ...] | None:
    """(sent-by, branch, CSeq method) of a message's top Via and CSeq: the RFC 3261 17.2.3
    key of its server transaction (ACK and CANCEL aside), None when it has none."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    via, cseq = _VIA_TOP.search(head), _CSEQ_METHOD.search(head)
    if via is None or cseq is None:
        return None
    return (via.group(1).lower(), via.group(2), cseq.group(1))


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    loop = BackgroundLoop()
    found = Target(loop)
    yield found
    found.close()
    loop.close()


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)
_EDGE: dict[str, list[str]] = {
    # Values that once made a node raise, loop or keep a transaction open (issue 13 item 5),
    # and their neighbours; each mutation draws from these as often as from random text.
    "Max-Forwards": ["0", "1", "-1", "256", "abc", ""],
    "Expires": ["0", "-1", "abc", "4294967296", "1"],
    "CSeq": ["abc INVITE", "1 BYE", "4294967296 MESSAGE", "1"],
    "Contact": ["*", "<sip:>", "<sip:x@" + "a" * 2000 + ">", "<sip:c@h;transport=ws>;reg-id=abc",
                '<sip:c@h>;+sip.instance="<urn:uuid:' + "a" * 300 + '>";reg-id=1', "<sip:c@h>;expires=abc"],
    "Route": ["<sip:x@127.0.0.1:1;lr>", "<sip:orig@scscf.ims.example.net;lr>", "<sip:x@127.0.0.1>", "<>"],
    "To": ["<sip:x@y>;tag=", "<>", "sip:a@b;tag=1;tag=2"],
    "From": ["<sip:x@y>", "<>", "<sip:bob@enterprise.com>;tag=1"],
    "Via": ["SIP/2.0/WSS h", "SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK1;received=x", "garbage"],
    "Call-ID": ["", "a b", "x" * 300],
    "Authorization": ["Bearer ", "Bearer x.y.z", "Digest username=x"],
    "P-Asserted-Identity": ["<sip:wrtc-mallory@block1.ims.example.net>", "<tel:+1>", "garbage"],
}  # fmt: skip
_PARAMS = st.sampled_from(
    [";reg-id=abc", ";reg-id=0", ";expires=abc", ";expires=0", ";+sip.instance=x", ";lr", ";tag=", ";ob"]
)
METHODS = ("REGISTER", "INVITE", "MESSAGE", "OPTIONS", "BYE", "INFO", "ACK", "CANCEL")


def _hostile(name: str) -> st.SearchStrategy[str]:
    edge = st.sampled_from(_EDGE.get(name, ["", "<>", ";;;"]))
    return st.one_of(edge, edge, edge, _TEXT)


@st.composite
def hostile_request(draw: st.DrawFn, target: Target) -> tuple[str, bytes]:
    """A request of alice's WIC with one part made hostile."""
    method = draw(st.sampled_from(METHODS))
    lines = target.template(method)
    how = draw(st.sampled_from(["value", "value", "param", "duplicate", "drop", "extra", "start"]))
    at = draw(st.integers(min_value=1, max_value=len(lines) - 1))
    name, _, value = lines[at].partition(": ")
    if how == "start":  # the start line: replace one of its three parts
        parts = lines[0].split(" ")
        parts[draw(st.integers(min_value=0, max_value=2))] = draw(_TEXT).replace(" ", "") or "x"
        lines[0] = " ".join(parts)
    elif how == "value":
        lines[at] = f"{name}: {draw(_hostile(name))}"
    elif how == "param":
        lines[at] = f"{name}: {value}{draw(_PARAMS)}"
    elif how == "duplicate":
        lines.insert(at, lines[at])
    elif how == "drop":
        del lines[at]
    else:
        extra = draw(st.sampled_from(sorted(_EDGE)))
        lines = [ln for ln in lines if not ln.startswith(extra + ":")] + [f"{extra}: {draw(_hostile(extra))}"]
    return method, ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode("utf-8", "replace")


FAMILY = Family("hostile requests over the WSS (hypothesis)")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_hostile_request_of_a_wic_is_answered(
    target: Target, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    target.ensure_open()
    method, raw = data.draw(hostile_request(target))
    try:
        parse_message(raw)
        parses = True
    except SipError:
        parses = False
    caplog.set_level(logging.ERROR, logger="wimpu")
    must_answer = parses and method != "ACK"
    label = f"{method}: {raw[:160]!r}"
    sent = target.send_and_wait(raw, 1.0 if must_answer else 0.1, label if must_answer else None)
    if target.loop.run(sent, timeout=10) and must_answer:
        FAMILY.rejected_ok(label)  # answered (the late ones are judged at the end of the module)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("wimpu")]
    assert not errors, f"a node failed on {label}: {errors[0].getMessage()}"


def _with(lines: list[str], name: str, value: str) -> bytes:
    kept = [ln for ln in lines if not ln.startswith(name + ":")]
    return ("\r\n".join([*kept, f"{name}: {value}"]) + "\r\nContent-Length: 0\r\n\r\n").encode()


def test_every_edge_value_of_every_header_is_answered(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    """The systematic half of the fuzzing: every edge value of :data:`_EDGE` in every
    header, for each method but ACK; what parses must be answered, nothing may raise."""
    caplog.set_level(logging.ERROR, logger="wimpu")
    for method in ("REGISTER", "INVITE", "MESSAGE", "BYE", "CANCEL"):
        for name, values in _EDGE.items():
            for value in values:
                target.ensure_open()
                raw = _with(target.template(method), name, value)
                try:
                    parse_message(raw)
                except SipError:
                    target.loop.run(target.send_and_wait(raw, 0.05))
                    continue
                label = f"{method} with {name}: {value[:40]}"
                if target.loop.run(target.send_and_wait(raw, 1.0, label), timeout=10):
                    FAMILY.rejected_ok(label)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, f"nodes failed: {errors[:3]}"


LATE_DEADLINE = 40.0
"Seconds the requests not answered at once may still take: Timer F (64 x T1 = 32 s) and slack."


def test_no_transaction_is_left_unanswered_after_the_fuzz_run(target: Target) -> None:
    """Runs after the fuzz tests (same module, same stack): every request they sent gets
    its final response within a transaction's lifetime, and then no server transaction of
    any node is left without one."""
    nodes = [ep.pcscf.node for ep in target.stack.ep_cscfs.values()]
    nodes += [target.stack.scscf.node, target.stack.icscf.node]

    def pending() -> list[str]:
        return [f"{n.name}: {tx.request.summary()}" for n in nodes for tx in list(n.layer.servers.values())
                if tx.final_response is None]  # fmt: skip

    deadline = time.monotonic() + LATE_DEADLINE
    while time.monotonic() < deadline and (
        pending() or not all(target.answer_to(key, at) for _, key, at in target.late)
    ):
        time.sleep(0.2)
    for label, key, at in target.late:
        FAMILY.judge(label, refused=True if target.answer_to(key, at) else None)
    assert not pending(), f"server transactions never answered: {pending()[:3]}"
    FAMILY.assert_clean()
