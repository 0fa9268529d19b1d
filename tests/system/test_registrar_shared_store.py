"""Two wIMPU Registrar processes on one PostgreSQL database: one set of registrations (issue 18).

"Several eP-CSCF and I-CSCF processes share one store": each registrar process is its own
``python -m reference.nodes.wimpu_registrar --db postgresql://...``; the eP-CSCF writes through
one, the I-CSCF asks W7 of the other. What one acknowledges, the other answers at once (no cache,
no replication delay: one database), a de-registration through the second is gone from the first,
and a SIGKILL of the first loses nothing the second has to answer. Loopback only, bounded.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ports import free_ports
from system_nodes import BLOCK1, registrar_client, start_registrar

from reference.nodes.wimpu_registrar.model import parse_registration_write


def write(i: int) -> object:
    return parse_registration_write({
        "wimpu": BLOCK1,
        "allocated_by": "third-party",
        "contact": {"uri": f"sip:c{i}@x.invalid;transport=ws", "flow": f"f.{i}",
                    "ep_cscf": "sip:ep-cscf1.ims.example.net", "expires": 600},
    }, f"c{i}")  # fmt: skip


def impu(i: int) -> str:
    return f"sip:wrtc-shared{i}@block1.ims.example.net"


async def test_two_registrar_processes_on_one_database_answer_as_one(tmp_path: Path, pg_dsn: str) -> None:
    state = tmp_path / "state"
    port_a, port_b = free_ports(2)
    procs = [start_registrar(pg_dsn, port_a, state), start_registrar(pg_dsn, port_b, state)]
    count = 20
    try:
        async with (
            registrar_client(state, port_a, "ep-cscf1") as ep_a,
            registrar_client(state, port_b, "ep-cscf1") as ep_b,
            registrar_client(state, port_b, "i-cscf") as icscf_b,
        ):
            for i in range(count):
                await ep_a.write(impu(i), write(i))  # type: ignore[arg-type]
                assert (await icscf_b.status(impu(i))).registered, f"{impu(i)} unknown to the other registrar"
            # a de-registration through the second registrar is gone from the first
            assert await ep_b.remove(impu(0), None)
            assert await ep_a.read(impu(0)) is None
            # the first registrar dies: the second still answers for everything it acknowledged
            os.kill(procs[0].pid, signal.SIGKILL)
            procs[0].wait(5)
            found = [await ep_b.read(impu(i)) is not None for i in range(1, count)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(5)
    print(f"\nshared store: written through A={count} seen by B's W7={count} after A's SIGKILL={sum(found)}")
    assert all(found)
