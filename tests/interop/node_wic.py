"""What the interop tests of a WIC in Node share (``test_jssip.py``, ``test_sipjs.py``).

- :class:`NodeWic`: ``node interop/<client>/wic.js`` as a subprocess, followed through the JSON
  event lines it prints (one per event; ``wire`` events carry each SIP message).
- :class:`RemoteCall`: the remote IMS party as UAC with an SDP offer (RFC 3261 12, 13, 15):
  the INVITE through the I-CSCF, the ACK of its 2xx and a BYE, on the route set the 2xx made.
- Small readers of SIP messages as text (what the ``wire`` events carry).

Node and each client's ``node_modules`` are installed by ``scripts/install.sh``; CI runs it,
so their absence is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest

from conformance.harness.expect import EVENT_WAIT
from conformance.harness.remote import RemoteParty
from reference.sip.message import Header, Request, Response
from reference.stack import Stack
from reference.transport.endpoint import Target
from reference.transport.resolver import Resolver, next_hop_uri
from reference.transport.sip_node import ClientHandle

ROOT = Path(__file__).resolve().parents[2]

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
REMOTE_DOMAIN = "remote.example.org"
DAVE = f"sip:dave@{REMOTE_DOMAIN}"

# The remote party's offer (RFC 3264): one audio stream. The clients' stand-ins answer inactive.
OFFER = (
    b"v=0\r\n"
    b"o=dave 2890844526 2890844526 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=sendrecv\r\n"
)

BEARER = re.compile(r"(Bearer\s+)[^\s,]+", re.IGNORECASE)
"A bearer token wherever it appears: never kept in events or failure messages (tooling notes)."


def node_for(package_dir: Path, packages: Sequence[str]) -> str:
    """The ``node`` executable, once ``packages`` are installed in ``package_dir``; else a failure
    that says how to install them."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run `bash scripts/install.sh` (it installs nodejs and npm)")
    modules = package_dir / "node_modules"
    if not all((modules / p).is_dir() for p in packages):
        where = package_dir.relative_to(ROOT)
        pytest.fail(
            f"{where}/node_modules is missing: run `bash scripts/install.sh` (or `npm ci --prefix {where}`)"
        )
    return node


class NodeWic:
    """``node <package_dir>/wic.js`` as a subprocess, followed through its JSON event lines.

    A subclass names its client: :attr:`package_dir`, :attr:`packages` (checked installed),
    :attr:`wait` (longest wait for one event) and :attr:`timeout` (seconds after which wic.js
    gives up by itself, passed as ``--timeout``)."""

    package_dir: ClassVar[Path]
    packages: ClassVar[tuple[str, ...]]
    wait: ClassVar[float] = EVENT_WAIT
    timeout: ClassVar[float]

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.name = "wic.js"
        self.events: list[dict[str, Any]] = []
        self._seen = 0
        "Events already handed out by expect*(); later calls look at the rest first."
        self._stderr = b""
        self._stderr_task = asyncio.get_running_loop().create_task(self._drain_stderr())

    @classmethod
    async def start(
        cls,
        stack: Stack,
        username: str,
        password: str,
        mode: str = "register",
        *,
        answer_after_ms: int = 0,
        name: str | None = None,
    ) -> Self:
        """A WIC of the reference ``stack`` (its WWSF, its test CA)."""
        return await cls.start_at(
            stack.wwsf.origin, stack.pki.ca_path, username, password, mode,
            answer_after_ms=answer_after_ms, name=name,
        )  # fmt: skip

    @classmethod
    async def start_at(
        cls,
        origin: str,
        ca: Path,
        username: str,
        password: str,
        mode: str = "register",
        *,
        answer_after_ms: int = 0,
        name: str | None = None,
    ) -> Self:
        """A WIC whose page comes from the WWSF at ``origin``, trusting the CA file ``ca`` (any SUT)."""
        proc = await asyncio.create_subprocess_exec(
            node_for(cls.package_dir, cls.packages),
            str(cls.package_dir / "wic.js"),
            "--origin", origin,
            "--username", username,
            "--password", password,
            "--ca", str(ca),
            "--mode", mode,
            "--answer-after", str(answer_after_ms),
            "--timeout", str(int(cls.timeout)),
            "--trace",
            cwd=cls.package_dir,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        wic = cls(proc)
        wic.name = name or f"{username}/{mode}"
        return wic

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr = await self.proc.stderr.read()

    def _context(self) -> str:
        return (
            f"events of {self.name} (SIP messages abridged; newest last):\n{self.trace(last=25)}\n"
            f"stderr:\n{self._stderr.decode(errors='replace')[-2000:]}"
        )

    def trace(self, *, last: int | None = None, full: bool = False) -> str:
        """The JSON event lines so far; SIP messages whole (``full``) or abridged."""
        out = []
        for e in self.events[-last:] if last else self.events:
            if e["event"] == "wire" and not full:
                out.append(f"  wire {e['dir']}: {abridged(e['data'])}")
            else:
                out.append("  " + json.dumps(e))
        return "\n".join(out)

    async def expect(self, *names: str, unexpected: tuple[str, ...] = (), what: str = "") -> dict[str, Any]:
        """The next event among ``names``; fails on ``error``, ``exit`` or ``unexpected`` first."""
        return await self.expect_where(lambda e: e["event"] in names, f"{names} {what}".strip(), unexpected)

    async def expect_wire(self, dir: str, start: str) -> str:
        """The next SIP message the client sent (``out``) or got (``in``) whose first line starts so."""
        event = await self.expect_where(
            lambda e: e["event"] == "wire" and e["dir"] == dir and e["data"].startswith(start),
            f"a SIP message {dir} starting {start!r}",
        )
        data: str = event["data"]
        return data

    async def expect_where(
        self, match: Callable[[dict[str, Any]], bool], what: str, unexpected: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for earlier in self.events[self._seen :]:
            self._seen += 1
            if match(earlier):
                return earlier
        stop = ("error", "exit", *unexpected)
        while True:
            line: bytes | None = None
            with contextlib.suppress(TimeoutError):
                line = await asyncio.wait_for(self.proc.stdout.readline(), self.wait)
            if line is None:  # fail outside an except block: no chained traceback
                pytest.fail(f"{self.name}: expected {what} within {self.wait}s, got none\n{self._context()}")
            if not line:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._stderr_task), self.wait)
                pytest.fail(f"{self.name}: expected {what}, got end of output\n{self._context()}")
            event: dict[str, Any] = json.loads(line)
            if event["event"] == "wire":  # never keep the token (tooling notes)
                event["data"] = BEARER.sub(r"\1<token>", event["data"])
            self.events.append(event)
            self._seen = len(self.events)
            if match(event):
                return event
            if event["event"] in stop:
                pytest.fail(f"{self.name}: expected {what}, got {json.dumps(event)}\n{self._context()}")

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    def sent(self, method: str) -> list[str]:
        """The SIP requests of ``method`` (or responses, ``"SIP/2.0 ..."``) the client sent so far
        (token redacted)."""
        return [
            e["data"]
            for e in self.events
            if e["event"] == "wire" and e["dir"] == "out" and e["data"].startswith(method + " ")
        ]

    def received(self, start: str) -> list[str]:
        """The SIP messages the client received so far whose first line starts so."""
        return [
            e["data"]
            for e in self.events
            if e["event"] == "wire" and e["dir"] == "in" and e["data"].startswith(start)
        ]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    async def stop(self) -> int:
        """Ask the client to un-REGISTER and leave; returns its exit status."""
        self.command("stop")
        await self.expect("unregistered")
        await self.expect("exit")
        return await asyncio.wait_for(self.proc.wait(), self.wait)

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._stderr_task.cancel()
        with contextlib.suppress(BaseException):
            await self._stderr_task


async def close_all(started: Sequence[NodeWic]) -> None:
    """Kill every wic.js left and print each one's trace (pytest shows it under "Captured stdout
    teardown" when the test failed)."""
    for wic in started:
        await wic.close()
        print(f"===== SIP trace of {wic.name} (token redacted) =====\n{wic.trace(full=True)}")


# ----- the remote party as UAC, with an SDP offer (RFC 3261 12, 13, 15) -----------------------


class RemoteCall:
    """One INVITE the remote party places through the I-CSCF, and its dialog."""

    wait: ClassVar[float] = EVENT_WAIT
    "Longest wait for a final response to the INVITE or the BYE."

    def __init__(self, party: RemoteParty, handle: ClientHandle, responses: list[Response]) -> None:
        self.party = party
        self.handle = handle
        self.responses = responses
        self.final: Response | None = None
        self.ack: Request | None = None

    @classmethod
    def place(cls, party: RemoteParty, called: str, via: Target) -> Self:
        invite = party.invite_request(called).with_body(OFFER, "application/sdp")
        responses: list[Response] = []

        def heard(response: Response) -> None:
            responses.append(response)
            party.responses.append(response)

        handle = party.node.send_request(invite, via, on_response=heard)
        return cls(party, handle, responses)

    @property
    def invite(self) -> Request:
        return self.handle.request

    def finals(self) -> list[Response]:
        return [r for r in self.responses if r.is_final]

    def describe(self) -> str:
        return "remote party got: " + ", ".join(
            f"{r.status} {r.reason} (To tag {r.to.tag})" for r in self.responses
        )

    async def answered(self) -> Response:
        """Wait for the final response; ACK it if 2xx (end to end, on the route set)."""
        with contextlib.suppress(TimeoutError):
            self.final = await asyncio.wait_for(asyncio.shield(self.handle.final), self.wait)
        if self.final is None:
            pytest.fail(f"remote party: no final response to its INVITE in {self.wait}s; {self.describe()}")
        if 200 <= self.final.status < 300:
            self.ack = self._in_dialog("ACK", self.invite.cseq.number)
            routes = self.ack.get_all("Route")
            via = f"{self.party.node.via()};branch=z9hG4bK{secrets.token_hex(8)}"
            self.ack = self.ack.with_header("Via", via, first=True)
            await self.party.node.send_ack(self.ack, Resolver().resolve(next_hop_uri(self.ack.uri, routes)))
        return self.final

    def _in_dialog(self, method: str, cseq: int) -> Request:
        """A request in the dialog the 2xx made: Record-Route reversed is the route set
        (RFC 3261 12.1.2), the remote target is the 2xx's Contact (12.2.1.1)."""
        assert self.final is not None
        routes = list(reversed(self.final.get_all("Record-Route")))
        target = self.final.contacts[0].uri
        headers = [
            Header("Max-Forwards", "70"),
            Header("To", self.final.get("To") or ""),
            Header("From", self.invite.get("From") or ""),
            Header("Call-ID", self.invite.call_id),
            Header("CSeq", f"{cseq} {method}"),
            *(Header("Route", r) for r in routes),
            Header("Content-Length", "0"),
        ]
        return Request(headers=tuple(headers), body=b"", method=method, uri=target)

    async def bye(self) -> Response:
        """Hang up from the remote side: BYE along the route set (RFC 3261 15.1.1)."""
        bye = self._in_dialog("BYE", self.invite.cseq.number + 1)
        target = Resolver().resolve(next_hop_uri(bye.uri, bye.get_all("Route")))
        response: Response | None = None
        with contextlib.suppress(TimeoutError):
            response = await asyncio.wait_for(self.party.node.request(bye, target), self.wait)
        if response is None:
            pytest.fail(f"remote party: no response to its BYE in {self.wait}s")
        return response


def icscf(stack: Stack) -> Target:
    """Where the remote party sends a terminating INVITE: the I-CSCF (TR 23.701 5.2.2.5.4 step 1)."""
    return Target("TCP", stack.config.host, stack.icscf.node.port)


# ----- SIP messages as text (the wire events) ---------------------------------------------------


def abridged(message: str) -> str:
    """First line, Call-ID, CSeq and Reason of a SIP message, for failure messages."""
    lines = message.split("\r\n")
    keep = [ln for ln in lines[1:] if ln.lower().split(":", 1)[0] in ("cseq", "reason", "call-id")]
    return " | ".join([lines[0], *keep])


def status_of(message: str) -> tuple[int, str]:
    """(status, CSeq method) of a SIP response as text."""
    status = int(message.split(" ", 2)[1])
    [cseq] = header(message, "CSeq")
    return status, cseq.split()[-1]


def header(message: str, name: str) -> list[str]:
    """The values of every header line ``name`` (full name, case-insensitive) of a message as text."""
    prefix = name.lower() + ":"
    return [
        line.split(":", 1)[1].strip() for line in message.split("\r\n") if line.lower().startswith(prefix)
    ]


def contact_uri(contact: str) -> str:
    """The URI between ``<`` and ``>`` of a Contact value."""
    return contact[contact.index("<") + 1 : contact.index(">")]
