"""Latency of a legitimate WWSF login, alone and during a brute force (issue 13 item 6).

A WWSF (``reference.nodes.wwsf.service.WwsfService``, HTTPS with the test PKI) runs in
this process. The legitimate user logs in from 127.0.0.2; the attacker sends N failed
logins for the same user from 127.0.0.1, ``concurrency`` at a time. Printed: the median
of the legitimate logins before and during the attack, their ratio, and how the
attacker's attempts were answered (401 hashed and refused, 429 throttled).

Usage: ``python3 bench/login_latency.py [attempts] [concurrency]`` (default 200, 20).
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from reference.nodes.wwsf.service import WwsfService
from reference.tls import TestPki

USERS = {"alice": {"password": "alice-password", "identity": "sip:wrtc-alice@block1.ims.example.net"}}
BLOCKS = [
    {
        "wimpu": "sip:wrtc-!.*!@block1.ims.example.net",
        "option": "A",
        "ep_cscf": {"uri": "wss://127.0.0.1:7443"},
    }
]


async def _post(session: aiohttp.ClientSession, url: str, password: str) -> int:
    async with session.post(url, json={"username": "alice", "password": password}) as response:
        await response.read()
        return response.status


async def measure(attempts: int = 200, concurrency: int = 20) -> dict[str, float]:
    """The legitimate login's median latency (s) alone and during the attack, and the attack's answers."""
    with tempfile.TemporaryDirectory() as tmp:
        pki = TestPki(Path(tmp) / "pki")
        async with WwsfService(pki=pki, users=USERS, blocks=BLOCKS) as wwsf:
            url = f"{wwsf.origin}/login"
            legit = aiohttp.TCPConnector(
                ssl=pki.client_context(), local_addr=("127.0.0.2", 0), force_close=True
            )
            attack = aiohttp.TCPConnector(
                ssl=pki.client_context(), local_addr=("127.0.0.1", 0), limit=concurrency
            )
            async with (
                aiohttp.ClientSession(connector=legit) as user,
                aiohttp.ClientSession(connector=attack) as bad,
            ):

                async def legit_login() -> float:
                    start = time.perf_counter()
                    status = await _post(user, url, "alice-password")
                    assert status == 200, status
                    return time.perf_counter() - start

                alone = [await legit_login() for _ in range(5)]
                answers: collections.Counter[int] = collections.Counter()

                async def attacker() -> None:
                    async def one(i: int) -> None:
                        answers[await _post(bad, url, f"guess-{i}")] += 1

                    await asyncio.gather(*(one(i) for i in range(attempts)))

                task = asyncio.get_running_loop().create_task(attacker())
                await asyncio.sleep(0.05)
                during = []
                for _ in range(5):
                    if task.done():
                        break
                    during.append(await legit_login())
                await task
    result = {
        "alone": statistics.median(alone),
        "during": statistics.median(during) if during else float("nan"),
    }
    result.update({f"answered {status}": float(n) for status, n in sorted(answers.items())})
    return result


def main() -> None:
    attempts = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    result = asyncio.run(measure(attempts, concurrency))
    alone, during = result.pop("alone"), result.pop("during")
    print(
        f"legitimate login median: alone {alone * 1000:.0f} ms, during {attempts} failed logins "
        f"{during * 1000:.0f} ms (x{during / alone:.1f}); attacker: "
        + ", ".join(f"{k}: {v:.0f}" for k, v in result.items())
    )


if __name__ == "__main__":
    main()
