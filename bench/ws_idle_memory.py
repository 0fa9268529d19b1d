"""Memory per idle WSS connection of the IWF's listener (issue 13 item 6).

The listener (``reference.transport.websocket.WebSocketListener`` with the test PKI's TLS)
runs in a child process; this process opens N WSS connections to it with the ``sip``
subprotocol, an authorised Origin and a permessage-deflate offer (as browsers make), and
sends nothing more. The child reports, before and after: its RSS (``/proc/self/status``,
so OpenSSL and zlib count too) and the Python heap traced by ``tracemalloc``. The figure
is the difference divided by N.

Usage: ``python3 bench/ws_idle_memory.py [connections] [listener keyword arguments as JSON]``
(default 200 connections, the listener's defaults), e.g.
``python3 bench/ws_idle_memory.py 200 '{"compression": null}'``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ORIGIN = "https://127.0.0.1:8443"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _child(pki_dir: str, kwargs: dict[str, Any]) -> None:
    import gc
    import tracemalloc

    from reference.tls import TestPki
    from reference.transport.websocket import WebSocketListener

    pki = TestPki(pki_dir)
    listener = WebSocketListener(
        lambda message, flow: None,
        allowed_origins=lambda: [ORIGIN],
        ssl_context=pki.server_context("ep-cscf"),
        **kwargs,
    )
    await listener.start()
    tracemalloc.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"port": listener.port}), flush=True)
    while line := await reader.readline():
        gc.collect()
        traced, _ = tracemalloc.get_traced_memory()
        print(json.dumps({"rss_kib": _rss_kib(), "traced": traced, "flows": len(listener.flows)}), flush=True)
        if line.strip() == b"quit":
            break
    await listener.stop()


async def _parent(count: int, kwargs: dict[str, Any]) -> dict[str, float]:
    from websockets.asyncio.client import connect

    from reference.tls import TestPki

    with tempfile.TemporaryDirectory() as tmp:
        pki = TestPki(Path(tmp) / "pki")
        pki.server_context("ep-cscf")  # issue the certificate before the child reads the PKI
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", str(pki.directory), json.dumps(kwargs),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        port = json.loads(await child.stdout.readline())["port"]

        async def measure() -> dict[str, int]:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(b"measure\n")
            await child.stdin.drain()
            return dict(json.loads(await child.stdout.readline()))

        context: ssl.SSLContext = pki.client_context()
        warm = await connect(f"wss://127.0.0.1:{port}", ssl=context, origin=ORIGIN, subprotocols=["sip"])  # type: ignore[list-item, arg-type]
        await warm.close()
        await asyncio.sleep(0.2)
        before = await measure()
        connections = []
        for _ in range(count):
            connections.append(
                await connect(f"wss://127.0.0.1:{port}", ssl=context, origin=ORIGIN, subprotocols=["sip"])  # type: ignore[list-item, arg-type]
            )
        await asyncio.sleep(0.5)
        after = await measure()
        for connection in connections:
            await connection.close()
        child.stdin.write(b"quit\n")
        await child.stdin.drain()
        await child.stdout.readline()
        await child.wait()
    return {
        "connections": after["flows"],
        "rss_bytes_per_connection": (after["rss_kib"] - before["rss_kib"]) * 1024 / count,
        "traced_bytes_per_connection": (after["traced"] - before["traced"]) / count,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(_child(sys.argv[2], json.loads(sys.argv[3])))
        return
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    result = asyncio.run(_parent(count, kwargs))
    print(
        f"{result['connections']:.0f} idle WSS connections, listener {kwargs or 'defaults'}: "
        f"RSS {result['rss_bytes_per_connection'] / 1024:.1f} KiB, "
        f"Python heap {result['traced_bytes_per_connection'] / 1024:.1f} KiB per connection"
    )


if __name__ == "__main__":
    main()
