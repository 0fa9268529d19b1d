"""The WSS listener's limits (issue 13 item 6): connection caps, the first-REGISTER timer,
small buffers per connection and rate-limited logs of bad input.

Real TLS and WebSocket on loopback; a second source address is another 127.0.0.0/8 one.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conformance.harness.expect import EVENT_WAIT, wait_until_async
from reference.tls import TestPki
from reference.transport.admission import ConnectionAdmission
from reference.transport.websocket import POLICY_VIOLATION, Flow, WebSocketListener

ORIGIN = "https://wwsf.example.net"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(Path(tmp_path_factory.mktemp("pki")) / "pki")


@pytest.fixture
async def listen(pki: TestPki) -> AsyncIterator[Callable[..., Any]]:
    started: list[WebSocketListener] = []

    async def start(**kwargs: Any) -> WebSocketListener:
        listener = WebSocketListener(
            lambda message, flow: None,
            allowed_origins=lambda: [ORIGIN],
            ssl_context=pki.server_context("ep-cscf"),
            **kwargs,
        )
        await listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        await listener.stop()


async def open_ws(pki: TestPki, listener: WebSocketListener, source: str = "127.0.0.1") -> ClientConnection:
    return await connect(
        listener.url,
        ssl=pki.client_context(),
        origin=ORIGIN,  # type: ignore[arg-type]
        subprotocols=["sip"],  # type: ignore[list-item]
        local_addr=(source, 0),
        open_timeout=5,
    )


async def refused_status(pki: TestPki, listener: WebSocketListener, source: str = "127.0.0.1") -> Any:
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(pki, listener, source)
    return refused.value.response


async def until(condition: Callable[[], bool], within: float = EVENT_WAIT) -> None:
    await wait_until_async(condition, "the listener's state", within)


class TestAdmission:
    """RFC 6455 4.2.2: the server may refuse the opening handshake (here 503, RFC 9110 15.6.4)."""

    def test_server_refuses_over_the_per_source_cap_and_admits_other_sources(self) -> None:
        admission = ConnectionAdmission(max_total=10, max_per_source=2, retry_after=7)
        assert admission.admit("a") is None and admission.admit("a") is None
        refusal = admission.admit("a")
        assert refusal is not None and refusal.status == 503 and refusal.retry_after == 7
        assert admission.admit("b") is None
        admission.release("a")
        assert admission.admit("a") is None

    def test_server_refuses_over_the_total_cap(self) -> None:
        admission = ConnectionAdmission(max_total=2, max_per_source=2)
        assert admission.admit("a") is None and admission.admit("b") is None
        assert admission.admit("c") is not None
        admission.release("b")
        admission.release("b")  # an extra release never goes below zero
        assert admission.total == 1 and admission.admit("c") is None


async def test_server_answers_503_with_retry_after_over_the_per_source_cap(
    pki: TestPki, listen: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    listener = await listen(max_per_source=3, retry_after=11)
    mine = [await open_ws(pki, listener) for _ in range(3)]
    with caplog.at_level(logging.WARNING, "wimpu.transport.ws"):
        for _ in range(20):
            response = await refused_status(pki, listener)
            assert response.status_code == 503 and response.headers["Retry-After"] == "11"
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert 1 <= len(refusals) <= 5, "one refusal line per source and minute, then suppressed"
    other = await open_ws(pki, listener, "127.0.0.2")  # another source is not held back
    await mine[0].close()
    await until(lambda: listener.admission.open_from("127.0.0.1") == 2)
    mine[0] = await open_ws(pki, listener)
    for connection in [*mine, other]:
        await connection.close()
    await until(lambda: listener.admission.total == 0)


async def test_server_answers_503_over_the_total_cap(pki: TestPki, listen: Callable[..., Any]) -> None:
    listener = await listen(max_connections=2, max_per_source=2)
    first, second = await open_ws(pki, listener, "127.0.0.2"), await open_ws(pki, listener, "127.0.0.3")
    assert (await refused_status(pki, listener, "127.0.0.4")).status_code == 503
    await first.close()
    await until(lambda: listener.admission.total == 1)
    third = await open_ws(pki, listener, "127.0.0.4")
    await second.close()
    await third.close()


async def test_a_failed_handshake_does_not_hold_a_place(pki: TestPki, listen: Callable[..., Any]) -> None:
    listener = await listen(max_per_source=2)
    for _ in range(5):
        with pytest.raises(InvalidStatus):  # no "sip" subprotocol: refused after admission
            await connect(listener.url, ssl=pki.client_context(), origin=ORIGIN)  # type: ignore[arg-type]
    await until(lambda: listener.admission.total == 0)
    connections = [await open_ws(pki, listener) for _ in range(2)]
    for connection in connections:
        await connection.close()


async def test_server_closes_a_connection_without_authorised_register_with_1008(
    pki: TestPki, listen: Callable[..., Any]
) -> None:
    opened: list[Flow] = []
    listener = await listen(register_within=0.3, on_open=opened.append)
    idle = await open_ws(pki, listener)
    registered = await open_ws(pki, listener, "127.0.0.2")
    await until(lambda: len(opened) == 2)
    listener.authorised(next(f.id for f in opened if f.remote[0] == "127.0.0.2"))
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(idle.recv(), EVENT_WAIT)  # the listener closes it (0.3 s)
    assert idle.close_code == POLICY_VIOLATION
    assert idle.close_reason == "no authorised REGISTER within 0.3 s"
    await asyncio.sleep(0.4)  # on purpose: past the 0.3 s deadline, the authorised one stays open
    assert registered.state.name == "OPEN" and len(listener.flows) == 1
    await registered.close()


async def test_server_keeps_one_tls_record_of_read_buffer_per_connection(
    pki: TestPki, listen: Callable[..., Any]
) -> None:
    listener = await listen()
    client = await open_ws(pki, listener)
    await until(lambda: len(listener.flows) == 1)
    _, connection = next(iter(listener.flows.values()))
    assert len(connection.transport._ssl_protocol._ssl_buffer) <= 2**14 + 2048  # type: ignore[attr-defined]
    await client.send("OPTIONS sip:x SIP/2.0\r\n" + "X-Pad: " + "a" * 40_000 + "\r\n\r\n")  # still readable
    await client.close()


async def test_bad_frames_are_logged_a_few_times_per_source(
    pki: TestPki, listen: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    listener = await listen()
    client = await open_ws(pki, listener)
    with caplog.at_level(logging.WARNING, "wimpu.transport.ws"):
        for i in range(200):
            await client.send(f"garbage {i}\r\n\r\n")
        await client.close()
        await until(lambda: not listener.flows)
    lines = [r.getMessage() for r in caplog.records if "rejected message" in r.getMessage()]
    assert 1 <= len(lines) <= 5, lines


async def test_a_listener_on_an_inherited_socket_names_that_socket_s_address(
    pki: TestPki, listen: Callable[..., Any]
) -> None:
    """An IWF worker serves on its parent's listening socket: its URL is that socket's, not the
    host it was given; a WIC reaches it there."""
    sock = socket.create_server(("127.0.0.1", 0))
    listener = await listen(sock=sock, host="198.51.100.1")
    assert listener.url == f"wss://127.0.0.1:{sock.getsockname()[1]}"
    ws = await open_ws(pki, listener)
    await ws.close()


def test_an_ipv6_host_is_bracketed_in_the_url() -> None:
    listener = WebSocketListener(
        lambda message, flow: None, allowed_origins=lambda: [ORIGIN], ssl_context=None, host="::1", port=7443
    )
    assert listener.url == "ws://[::1]:7443"
