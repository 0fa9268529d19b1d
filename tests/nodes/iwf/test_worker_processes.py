"""IWF workers (``reference.nodes.ep_cscf.workers``): the specification a worker gets, how it starts,
refuses, is restarted and stops. ``tests/system/test_iwf_workers.py`` runs two of them in a stack.

Each worker here accepts on a listening socket of the test (as on worker 1's) and links to a stand-in
P-CSCF that only says hello (the internal interface's first frame): a worker accepts no WIC before a
P-CSCF has linked."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reference.blocks import WimpuBlock
from reference.clock import OffsetFileClock
from reference.config import load_config
from reference.limits import Limits
from reference.nodes.ep_cscf.workers import IwfWorkers, WorkerFailed, WorkerSpec, worker_name
from reference.nodes.internal_interface import Hello, encode
from reference.nodes.wwsf.tokens import TokenIssuer
from reference.stack import Stack
from reference.tls import TestPki

BLOCK = WimpuBlock.parse("sip:wrtc-!.*!@block3.ims.example.net", "A", name="block3")


@pytest.fixture
def pcscf() -> Iterator[int]:
    """A stand-in P-CSCF's end of the internal interface: it answers each IWF's hello with its own
    and keeps the link open. Its port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def link(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        hello = Hello("p-cscf", "p-cscf3a", "sip:p-cscf3a.ims.example.net", "127.0.0.1:5999", (BLOCK,), ())
        writer.write(encode(hello))
        while await reader.read(65536):
            pass
        writer.close()

    stop: list[asyncio.Event] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        server = await asyncio.start_server(link, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        await stop[0].wait()
        server.close()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port[0]
    loop.call_soon_threadsafe(stop[0].set)
    thread.join(10)
    loop.close()


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A listening socket, as worker 1's: the workers accept on it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s
    s.close()


def spec(tmp_path: Path, sock: socket.socket, pcscf_port: int) -> WorkerSpec:
    pki = TestPki(tmp_path / "pki")
    pki.server_context("ep-cscf")
    return WorkerSpec(
        name="ep-cscf3-w2",
        identity="sip:ep-cscf3.ims.example.net",
        origin="https://wwsf.example",
        jwks=TokenIssuer("https://wwsf.example", clock=time.time).jwks(),
        realm="ims.example.net",
        cert=str(pki.cert_path("ep-cscf")),
        key=str(pki.key_path("ep-cscf")),
        keylog=None,
        fd=sock.fileno(),
        p_cscfs=[("p-cscf3a", "127.0.0.1", pcscf_port)],
        retry_after=2,
        clock_offset_file=None,
        limits=dataclasses.asdict(Limits()),
    )


def test_worker_names_carry_no_dot_and_the_first_is_the_ep_cscf() -> None:
    assert [worker_name("ep-cscf3", i) for i in (1, 2, 10)] == ["ep-cscf3", "ep-cscf3-w2", "ep-cscf3-w10"]


def test_the_specification_travels_as_one_json_line(tmp_path: Path, listening: socket.socket) -> None:
    original = spec(tmp_path, listening, 9)
    line = original.to_json()
    assert "\n" not in line and WorkerSpec.from_json(line) == original


async def test_a_worker_accepts_on_the_inherited_socket_and_stops_when_its_pipe_closes(
    tmp_path: Path, listening: socket.socket, pcscf: int
) -> None:
    workers = IwfWorkers([spec(tmp_path, listening, pcscf)])
    await workers.start()
    process = workers.processes["ep-cscf3-w2"]
    port = listening.getsockname()[1]
    listening.close()  # the test's copy: the worker's is the socket's only acceptor now
    context = TestPki(tmp_path / "pki").client_context()
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
    cert = writer.get_extra_info("peercert")
    assert cert is not None  # the worker accepted and presented the eP-CSCF's certificate
    writer.close()
    await workers.stop()
    assert process.returncode == 0 and workers.processes == {}


async def test_a_worker_with_no_p_cscf_accepts_nothing_and_fails_the_start_in_one_line(
    tmp_path: Path, listening: socket.socket, capfd: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens at its P-CSCF's link address: it would answer its share of the WICs 503."""
    workers = IwfWorkers([dataclasses.replace(spec(tmp_path, listening, 9), link_timeout=0.5)])
    with pytest.raises(WorkerFailed, match=r"IWF worker ep-cscf3-w2 did not start \(exit code 1;"):
        await workers.start()
    assert "IWF worker ep-cscf3-w2: no P-CSCF of p-cscf3a linked within" in capfd.readouterr().err
    assert workers.processes == {}


async def test_a_worker_whose_certificate_cannot_be_read_fails_the_start_in_one_line(
    tmp_path: Path, listening: socket.socket, pcscf: int, capfd: pytest.CaptureFixture[str]
) -> None:
    broken = dataclasses.replace(spec(tmp_path, listening, pcscf), key=str(tmp_path / "missing.key"))
    with pytest.raises(WorkerFailed, match=r"did not start \(exit code 1;"):
        await IwfWorkers([broken]).start()
    assert "IWF worker ep-cscf3-w2: cannot load the certificate of 'ep-cscf'" in capfd.readouterr().err


async def until(check: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
async def test_a_worker_that_dies_is_started_again(
    tmp_path: Path, listening: socket.socket, pcscf: int, how: signal.Signals
) -> None:
    workers = IwfWorkers([spec(tmp_path, listening, pcscf)], restart_delay=0.1)
    await workers.start()
    try:
        first = workers.processes["ep-cscf3-w2"]
        first.send_signal(how)  # a crash, or an operator's kill
        await until(lambda: workers.processes["ep-cscf3-w2"] is not first)
        assert len(workers.restarts["ep-cscf3-w2"]) == 1
        again = workers.processes["ep-cscf3-w2"]
        assert again.returncode is None and again.pid != first.pid
    finally:
        await workers.stop()
    assert again.returncode == 0  # stopped cleanly, not restarted by the stop


async def test_a_worker_that_keeps_dying_is_left_down_after_its_restarts(
    tmp_path: Path, listening: socket.socket, pcscf: int, caplog: pytest.LogCaptureFixture
) -> None:
    workers = IwfWorkers([spec(tmp_path, listening, pcscf)], restart_delay=0.0, max_restarts=2)
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


def test_no_worker_outlives_its_sigkilled_parent(
    tmp_path: Path, listening: socket.socket, pcscf: int
) -> None:
    """The parent (a stack) killed with SIGKILL: its worker sees its stdin close and stops, so no
    orphan keeps accepting the eP-CSCF's connections."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, spec(tmp_path, listening, pcscf).to_json()],
        stdout=subprocess.PIPE, text=True, pass_fds=(listening.fileno(),),
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
    Stack(config, clock=lambda: 0.0, nodes=["registrar"])  # a process without that IWF: no matter
