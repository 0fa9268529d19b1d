"""Interop: JsSIP, a real WIC nobody here wrote, registers through the reference stack.

``interop/jssip/wic.js`` runs JsSIP 3.13 in Node: web login at the WWSF (step 1), WSS to
the eP-CSCF with the WWSF's Origin (step 2), REGISTER with ``Authorization: Bearer``
(steps 3-7), and later its un-REGISTER (``Expires: 0``, TR 23.701 5.2.2.3.2). The
registrar is observed only through W6, as the suite does.

Node and ``interop/jssip/node_modules`` are installed by ``scripts/install.sh``; CI runs
it, so their absence is a failure here, not a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
JSSIP_DIR = ROOT / "interop" / "jssip"
WIC_JS = JSSIP_DIR / "wic.js"

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
STEP_TIMEOUT = 15.0

_BEARER = re.compile(r"(Authorization:\s*Bearer\s+)\S+", re.IGNORECASE)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run `bash scripts/install.sh` (it installs nodejs and npm)")
    modules = JSSIP_DIR / "node_modules"
    if not (modules / "jssip").is_dir() or not (modules / "ws").is_dir():
        pytest.fail(
            "interop/jssip/node_modules is missing: run `bash scripts/install.sh` "
            "(or `npm ci --prefix interop/jssip`)"
        )
    return node


class JssipWic:
    """``node interop/jssip/wic.js`` as a subprocess, followed through its JSON event lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._stderr = b""
        self._stderr_task = asyncio.get_running_loop().create_task(self._drain_stderr())

    @classmethod
    async def start(cls, stack: Stack, username: str, password: str, mode: str = "register") -> JssipWic:
        proc = await asyncio.create_subprocess_exec(
            _node(),
            str(WIC_JS),
            "--origin", stack.wwsf.origin,
            "--username", username,
            "--password", password,
            "--ca", str(stack.pki.ca_path),
            "--mode", mode,
            "--timeout", "60",
            "--trace",
            cwd=JSSIP_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc)

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr = await self.proc.stderr.read()

    def _context(self) -> str:
        lines = "\n".join(json.dumps(e)[:400] for e in self.events[-10:])
        return f"last events of wic.js:\n{lines}\nstderr:\n{self._stderr.decode(errors='replace')[-2000:]}"

    async def expect(self, *names: str) -> dict[str, Any]:
        """The next event among ``names``; fails on an ``error`` or ``exit`` event first."""
        assert self.proc.stdout is not None
        while True:
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), STEP_TIMEOUT)
            except TimeoutError:
                pytest.fail(f"wic.js: no {names} within {STEP_TIMEOUT}s\n{self._context()}")
            if not line:
                await asyncio.wait_for(self._stderr_task, STEP_TIMEOUT)
                pytest.fail(f"wic.js ended before {names}\n{self._context()}")
            event: dict[str, Any] = json.loads(line)
            if event["event"] == "wire":  # never keep the token (tooling notes)
                event["data"] = _BEARER.sub(r"\1<token>", event["data"])
            self.events.append(event)
            if event["event"] in names:
                return event
            if event["event"] in ("error", "exit"):
                pytest.fail(f"wic.js: {event} before {names}\n{self._context()}")

    def sent(self, method: str) -> list[str]:
        """The SIP requests of ``method`` JsSIP sent so far (token redacted)."""
        return [
            e["data"]
            for e in self.events
            if e["event"] == "wire" and e["dir"] == "out" and e["data"].startswith(method + " ")
        ]

    async def stop(self) -> int:
        """Ask JsSIP to un-REGISTER and leave; returns its exit status."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"stop\n")
        await self.proc.stdin.drain()
        await self.expect("unregistered")
        await self.expect("exit")
        return await asyncio.wait_for(self.proc.wait(), STEP_TIMEOUT)

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._stderr_task, STEP_TIMEOUT)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = Stack()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def w6(stack: Stack) -> AsyncIterator[RegistrarClient]:
    async with RegistrarClient(stack.registrar.base_url) as client:
        yield client


@pytest.fixture
async def jssip(stack: Stack) -> AsyncIterator[list[JssipWic]]:
    started: list[JssipWic] = []
    yield started
    for wic in started:
        await wic.close()


def _header(message: str, name: str) -> list[str]:
    prefix = name.lower() + ":"
    return [
        line.split(":", 1)[1].strip() for line in message.split("\r\n") if line.lower().startswith(prefix)
    ]


def _contact_uri(contact: str) -> str:
    return contact[contact.index("<") + 1 : contact.index(">")]


async def test_jssip_option_a_registers_and_deregisters(
    stack: Stack, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    wic = await JssipWic.start(stack, "alice", "alice-password")
    jssip.append(wic)
    login = await wic.expect("login")
    assert login["identity"] == ALICE
    assert login["ep_cscf"] == stack.ep_cscfs["ep-cscf1"].wss_url

    registered = await wic.expect("registered", "registrationFailed")
    assert registered["event"] == "registered", registered
    assert registered["status"] == 200
    assert registered["p_associated_uri"] == f"<{ALICE}>"

    register = wic.sent("REGISTER")[0]
    assert _header(register, "Authorization") == ["Bearer <token>"]
    [contact] = _header(register, "Contact")
    entry = await w6.read(ALICE)
    assert entry is not None, "JsSIP got 200 but the registrar holds no entry"
    assert entry["external_identity"] is None
    [stored] = entry["contacts"]
    assert stored["uri"] == _contact_uri(contact)
    assert stored["reg_id"] == 1 and stored["instance_id"] and stored["instance_id"] in contact
    assert stored["flow"].startswith("ep-cscf1.")

    assert await wic.stop() == 0
    unregister = wic.sent("REGISTER")[-1]
    assert _header(unregister, "Expires") == ["0"]
    assert await w6.read(ALICE) is None


async def test_jssip_option_b_gets_an_allocated_impu_and_deregisters(
    stack: Stack, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    wic = await JssipWic.start(stack, "bob", "bob-password")
    jssip.append(wic)
    login = await wic.expect("login")
    assert login["identity"] == BOB
    assert login["ep_cscf"] == stack.ep_cscfs["ep-cscf2"].wss_url

    registered = await wic.expect("registered", "registrationFailed")
    assert registered["event"] == "registered", registered
    assert registered["status"] == 200

    entry = await w6.read_by_external(BOB)
    assert entry is not None, "JsSIP got 200 but the registrar holds no entry for its external identity"
    impu = entry["impu"]
    assert impu.startswith("sip:wrtc-") and impu.endswith("@block2.ims.example.net")
    assert entry["external_identity"] == BOB
    assert len(entry["contacts"]) == 1 and entry["contacts"][0]["flow"].startswith("ep-cscf2.")
    assert registered["p_associated_uri"] == f"<{impu}>, <{BOB}>"

    assert await wic.stop() == 0
    assert await w6.read_by_external(BOB) is None
    assert await w6.read(impu) is None
