"""Ports for nodes a test starts in other processes, on 127.0.0.1.

A port the kernel hands out for ``bind(0)`` and the test then releases comes from the
ephemeral range, the range outgoing connections draw their source ports from: between the
release and the child's bind, any connection on the machine can take it (a rare "address
in use" at a node's start). These ports come from below that range instead, where only a
listener that chose the same port could collide, and each is checked free for TCP and UDP.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 10_000


def ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (32768 when it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports below the ephemeral range, free on 127.0.0.1 for TCP and UDP."""
    top = ephemeral_start()
    if top - LOWEST < 1000:
        raise RuntimeError(f"the ephemeral port range starts at {top}: too few ports below it for the tests")
    ports: list[int] = []
    for _ in range(10_000):
        port = random.randrange(LOWEST, top)
        if port not in ports and _free(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"found only {len(ports)} of {count} free ports below {top}")
