"""Steps of the fake scenarios: each step "sends" SIP and HTTP messages, the ``world`` fixture writes the
scenario's ``.pcapng``, ``.ladder.json`` and ``.wire.json`` in its teardown, as the step harness does.

Deliberately not redacted: the ``raw`` texts and a ladder note carry a JWT and a password, so the test
proves that the reports redact them again. Each message of ``.wire.json`` has an extra ``x_step`` field
(the step that sent it, ``teardown`` for the last one): the test compares it with the step attachments.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capturekit import Flow
from pytest_bdd import given, parsers, scenarios, then, when
from scapy.utils import PcapNgWriter

from captures import inject_secrets

scenarios("demo/wire_evidence.feature")

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"
PASSWORD = "alice-password"
KEYLOG = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
CAPTURES = Path(os.environ.get("WIMPU_CAPTURES_DIR", Path(__file__).parent / "captures"))
PORTS = {"WIC@40001": 40001, "WIC@40002": 40002, "ep-cscf1": 7443, "wwsf": 8443, "s-cscf": 5070}


def sip(start_line: str, step: str, extra: str = "") -> str:
    """A SIP message; ``X-Step`` names the step that sent it."""
    method = "INVITE" if start_line.startswith("SIP/") else start_line.split()[0]
    call_id = re.sub(r"[^a-z]", "", step.lower())[:20]
    return (
        f"{start_line}\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK{time.monotonic_ns()}\r\n"
        f"Call-ID: {call_id}@example\r\nCSeq: 1 {method}\r\nX-Step: {step}\r\n"
        f"{extra}Content-Length: 0\r\n\r\n"
    )


class FakeWorld:
    def __init__(self, request: pytest.FixtureRequest) -> None:
        from pytest_bdd.scenario import scenario_wrapper_template_registry

        template = scenario_wrapper_template_registry.get(request.node.obj)
        self.feature = template.feature.rel_filename
        self.test = request.node.name
        self.stem = re.sub(r"[^A-Za-z0-9._-]+", "_", self.test).strip("_")
        self.captured = True
        self.broken = False
        self.messages: list[dict[str, Any]] = []
        self.step = ""

    def send(self, src: str, dst: str, transport: str, raw: str) -> None:
        time.sleep(0.005)
        self.messages.append(
            {
                "index": len(self.messages),
                "frame": 4 + 2 * len(self.messages),
                "time": time.time(),
                "src": src,
                "dst": dst,
                "transport": transport,
                "start_line": raw.split("\r\n", 1)[0],
                "raw": raw,
                "x_step": self.step,
            }
        )
        time.sleep(0.005)

    def write(self) -> None:
        if not self.captured:
            return
        self.step = "teardown"
        self.send("WIC@40001", "ep-cscf1", "TCP", sip("REGISTER sip:ims.example.net SIP/2.0", "teardown"))
        folder = CAPTURES / self.feature.removesuffix(".feature")
        folder.mkdir(parents=True, exist_ok=True)
        pcapng = folder / f"{self.stem}.pcapng"
        writer = PcapNgWriter(str(pcapng))
        flows: dict[tuple[str, str], tuple[Flow, int]] = {}
        for m in self.messages:
            key = tuple(sorted((m["src"], m["dst"])))
            if key not in flows:
                flow = Flow(("127.0.0.1", PORTS[key[0]]), ("127.0.0.1", PORTS[key[1]]))
                for packet in flow.handshake():
                    packet.time = m["time"] - 0.001
                    writer.write(packet)
                flows[key] = (flow, 0)
            flow = flows[key][0]
            side = 0 if m["src"] == key[0] else 1
            for packet in flow.send(side, m["raw"].encode()):
                packet.time = m["time"]
                writer.write(packet)
        writer.close()
        inject_secrets(pcapng, KEYLOG)
        if self.broken:  # as a capture cut short would be
            pcapng.write_bytes(pcapng.read_bytes()[:-5])
        start = self.messages[0]["time"]
        events = [
            {
                "time": round(m["time"] - start, 6),
                "src": m["src"],
                "dst": m["dst"],
                "label": m["start_line"].split(" ", 1)[0],
                "transport": m["transport"],
                "note": f"token {TOKEN}" if "Bearer" in m["raw"] else "",
            }
            for m in self.messages
        ]
        lanes = sorted({lane for e in events for lane in (e["src"], e["dst"])})
        document = {
            "feature": self.feature,
            "test": self.test,
            "scenario": self.test,
            "pcapng": pcapng.name,
            "messages": self.messages,
        }
        (folder / f"{self.stem}.ladder.json").write_text(json.dumps({"lanes": lanes, "events": events}))
        (folder / f"{self.stem}.wire.json").write_text(json.dumps(document, indent=1))
        # an external SUT's own output, as ExternalSut.stop leaves it (here in clear on purpose)
        log = f"SUT: REGISTER with Bearer {TOKEN} password={PASSWORD}\n"
        (folder / f"{self.stem}.sut.log").write_text(log)


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[FakeWorld]:
    fake = FakeWorld(request)
    yield fake
    fake.write()


def current(world: FakeWorld, name: str) -> FakeWorld:
    world.step = name
    return world


@given("the fake stack is running")
def fake_stack(world: FakeWorld) -> None:
    current(world, "Given the fake stack is running")


@given("the fake stack is running with a broken capture file")
def broken_capture(world: FakeWorld) -> None:
    current(world, "Given the fake stack is running with a broken capture file").broken = True


@given("the fake stack is not captured")
def not_captured(world: FakeWorld) -> None:
    world.captured = False


@when("alice logs in and registers")
def alice_registers(world: FakeWorld) -> None:
    w = current(world, "When alice logs in and registers")
    body = json.dumps({"username": "alice", "password": PASSWORD})
    w.send("WIC@40001", "wwsf", "HTTP", f"POST /login HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n{body}")
    w.send(
        "wwsf",
        "WIC@40001",
        "HTTP",
        f'HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{{"token": "{TOKEN[:4]}"}}',
    )
    register = "REGISTER sip:ims.example.net SIP/2.0"
    w.send("WIC@40001", "ep-cscf1", "TCP", sip(register, w.step, f"Authorization: Bearer {TOKEN}\r\n"))
    w.send("ep-cscf1", "WIC@40001", "TCP", sip("SIP/2.0 200 OK", w.step))


@when("alice is called")
def alice_is_called(world: FakeWorld) -> None:
    w = current(world, "And alice is called")
    w.send("s-cscf", "ep-cscf1", "TCP", sip("INVITE sip:wrtc-alice@ims.example.net SIP/2.0", w.step))
    w.send("ep-cscf1", "WIC@40001", "TCP", sip("INVITE sip:a@a.invalid SIP/2.0", w.step))
    w.send("ep-cscf1", "WIC@40002", "TCP", sip("INVITE sip:b@b.invalid SIP/2.0", w.step))


@then("the call is answered")
def call_answered(world: FakeWorld) -> None:
    w = current(world, "Then the call is answered")
    w.send("WIC@40002", "ep-cscf1", "TCP", sip("SIP/2.0 200 OK", w.step))
    w.send("ep-cscf1", "WIC@40001", "TCP", sip("CANCEL sip:a@a.invalid SIP/2.0", w.step))


@when(parsers.parse("{user} sends a message"))
def sends_message(world: FakeWorld, user: str) -> None:
    w = current(world, f"When {user} sends a message")
    w.send("WIC@40001", "ep-cscf1", "TCP", sip(f"MESSAGE sip:{user}@ims.example.net SIP/2.0", w.step))


@then("nothing is on the wire")
def nothing(world: FakeWorld) -> None:
    pass
