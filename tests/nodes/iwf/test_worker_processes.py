"""IWF workers (``reference.nodes.ep_cscf.workers``): the specification a worker gets, how it starts,
refuses and stops. ``tests/system/test_iwf_workers.py`` runs two of them in a stack."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reference.clock import OffsetFileClock
from reference.config import load_config
from reference.limits import Limits
from reference.nodes.ep_cscf.workers import IwfWorkers, WorkerFailed, WorkerSpec, worker_name
from reference.nodes.wwsf.tokens import TokenIssuer
from reference.stack import Stack


def spec(tmp_path: Path, port: int) -> WorkerSpec:
    issuer = TokenIssuer("https://wwsf.example", clock=time.time)
    return WorkerSpec(
        name="ep-cscf3-w2",
        identity="sip:ep-cscf3.ims.example.net",
        origin="https://wwsf.example",
        jwks=issuer.jwks(),
        realm="ims.example.net",
        pki_dir=str(tmp_path / "pki"),
        keylog=None,
        host="127.0.0.1",
        port=port,
        p_cscfs=[("p-cscf3a", "127.0.0.1", 9)],  # nothing listens: the worker keeps retrying its link
        retry_after=2,
        clock_offset_file=None,
        limits=dataclasses.asdict(Limits()),
    )


@pytest.fixture
def shared_port() -> Iterator[socket.socket]:
    """A listening socket in the SO_REUSEPORT group, as worker 1's."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s
    s.close()


def test_worker_names_carry_no_dot_and_the_first_is_the_ep_cscf() -> None:
    assert [worker_name("ep-cscf3", i) for i in (1, 2, 10)] == ["ep-cscf3", "ep-cscf3-w2", "ep-cscf3-w10"]


def test_the_specification_travels_as_one_json_line(tmp_path: Path) -> None:
    original = spec(tmp_path, 7443)
    line = original.to_json()
    assert "\n" not in line and "PRIVATE" not in line and '"d"' not in line  # public keys only
    assert WorkerSpec.from_json(line) == original


async def test_a_worker_listens_on_the_shared_port_and_stops_when_its_pipe_closes(
    tmp_path: Path, shared_port: socket.socket
) -> None:
    workers = IwfWorkers([spec(tmp_path, shared_port.getsockname()[1])])
    await workers.start()
    process = workers.processes["ep-cscf3-w2"]
    assert process.returncode is None
    await workers.stop()
    assert process.returncode == 0 and workers.processes == {}


async def test_a_worker_that_cannot_join_the_port_fails_the_start_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:  # no SO_REUSEPORT: the port is this socket's alone
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        workers = IwfWorkers([spec(tmp_path, taken.getsockname()[1])])
        with pytest.raises(WorkerFailed, match=r"IWF worker ep-cscf3-w2 did not start \(exit code 1;"):
            await workers.start()
    assert "IWF worker ep-cscf3-w2: cannot listen on 127.0.0.1:" in capfd.readouterr().err
    assert workers.processes == {}


async def until(check: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.05)


async def test_a_worker_that_dies_is_started_again(tmp_path: Path, shared_port: socket.socket) -> None:
    workers = IwfWorkers([spec(tmp_path, shared_port.getsockname()[1])], restart_delay=0.1)
    await workers.start()
    try:
        first = workers.processes["ep-cscf3-w2"]
        first.kill()  # as a crash would
        await until(
            lambda: (
                workers.processes["ep-cscf3-w2"] is not first and len(workers.restarts["ep-cscf3-w2"]) == 1
            )
        )
        again = workers.processes["ep-cscf3-w2"]
        await until(lambda: again.returncode is None and again.pid != first.pid)
    finally:
        await workers.stop()
    assert again.returncode == 0  # stopped cleanly, not restarted by the stop


async def test_a_worker_that_keeps_dying_is_left_down_after_its_restarts(
    tmp_path: Path, shared_port: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    workers = IwfWorkers([spec(tmp_path, shared_port.getsockname()[1])], restart_delay=0.0, max_restarts=2)
    await workers.start()
    try:
        for n in range(3):  # a death while it starts counts the same: it exits, it is restarted
            victim = workers.processes["ep-cscf3-w2"]
            victim.kill()
            await victim.wait()
            if n < 2:
                await until(lambda v=victim: workers.processes["ep-cscf3-w2"] is not v)  # type: ignore[misc]
        await until(lambda: "restarts within a minute used up: left down" in caplog.text)
        assert len(workers.restarts["ep-cscf3-w2"]) == 2
    finally:
        await workers.stop()


def test_no_worker_outlives_its_sigkilled_parent(tmp_path: Path, shared_port: socket.socket) -> None:
    """The parent (a stack) killed with SIGKILL: its worker sees its stdin close and stops, so no
    orphan keeps a share of the eP-CSCF's port."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, WorkerSpec.to_json(spec(tmp_path, shared_port.getsockname()[1]))],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(5)
    deadline = time.monotonic() + 15
    while Path(f"/proc/{worker}").exists() and Path(f"/proc/{worker}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() < deadline, f"worker {worker} still runs after its parent's SIGKILL"
        time.sleep(0.05)


PARENT = """
import asyncio, sys
from reference.nodes.ep_cscf.workers import IwfWorkers, WorkerSpec
async def main():
    workers = IwfWorkers([WorkerSpec.from_json(sys.argv[1])])
    await workers.start()
    print(workers.processes["ep-cscf3-w2"].pid, flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


def test_workers_refuse_an_in_process_clock(tmp_path: Path) -> None:
    config = dataclasses.replace(load_config(None), iwf_workers={"ep-cscf1": 2}, state_dir=str(tmp_path))
    with pytest.raises(ValueError, match="iwf_workers needs a clock other processes can read"):
        Stack(config, clock=lambda: 0.0)
    Stack(config, clock=OffsetFileClock(tmp_path / "offset"))  # a clock every process reads: accepted
