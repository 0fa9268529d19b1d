"""A SIP endpoint on port 0 binds TCP and UDP on one port number (reference/transport/endpoint.py).

The kernel picks the TCP port; UDP on that number can be held by another socket of the
machine (seen in a full test run: "Address already in use" at a stack's start). The
endpoint then picks another port; a configured port is bound as is.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import pytest

from reference.transport.endpoint import SipEndpoint


def _taken_once(loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The loop's UDP binds: the first one fails as if another socket held the port."""
    tried: list[int] = []
    original = loop.create_datagram_endpoint

    async def create_datagram_endpoint(factory: Any, **kwargs: Any) -> Any:
        tried.append(kwargs["local_addr"][1])
        if len(tried) == 1:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        return await original(factory, **kwargs)

    monkeypatch.setattr(loop, "create_datagram_endpoint", create_datagram_endpoint)
    return tried


async def test_a_port_taken_for_udp_makes_the_endpoint_pick_another(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = _taken_once(asyncio.get_running_loop(), monkeypatch)
    endpoint = SipEndpoint("x", lambda *a: None, host="127.0.0.1", port=0)
    await endpoint.start()
    try:
        assert len(tried) == 2 and endpoint.port == tried[1]
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):  # both bound on the one port
            with socket.socket(socket.AF_INET, kind) as probe, pytest.raises(OSError):
                probe.bind(("127.0.0.1", endpoint.port))
    finally:
        await endpoint.stop()


async def test_a_configured_port_taken_for_udp_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _taken_once(asyncio.get_running_loop(), monkeypatch)
    endpoint = SipEndpoint("x", lambda *a: None, host="127.0.0.1", port=port)
    with pytest.raises(OSError) as info:
        await endpoint.start()
    await endpoint.stop()
    assert info.value.errno == errno.EADDRINUSE
