"""IWF workers: the IWF of a decomposed eP-CSCF in several processes on one WSS port (issue 18).

TR 23.701 5.2.2.2: "The IWF can communicate with any P-CSCF since this is internal. [...] The IWFs
can scale separately then the P-CSCFs." The IWF's work per WIC request (TLS, WebSocket, the WWSF
token's signature) is the eP-CSCF's CPU-bound part, so it is the part run on every core: with
``iwf_workers = N`` on a decomposed ``[[ep_cscf]]``, the process that starts the IWF (worker 1,
named as the eP-CSCF) starts N - 1 more (``<name>-w2`` ...). Worker 1 binds the WSS port as a single
IWF does (a port in use is an error, as ever); the others inherit that listening socket
(``pass_fds``) and accept on it too, so the WICs' connections go to whichever worker is free first.
Each worker links to every P-CSCF of the eP-CSCF over the internal interface under its own name, and
its flow tokens carry that name (``<iwf name>.<flow id>.<MAC>``), so a terminating request reaches a
WIC through whichever worker holds its WebSocket. What must be shared is shared already:
registrations and block leases in the wIMPU Registrar, dialogs in the P-CSCFs.

A worker is a child process (``python -m reference.nodes.ep_cscf.workers``) that reads its
:class:`WorkerSpec` as one JSON line on stdin (public data and file paths: the WWSF's public keys,
the eP-CSCF's certificate and key files, never the CA's key), links to a P-CSCF, only then accepts
connections and answers ``ready`` on stdout, and stops when stdin closes: its parent's exit, even a
SIGKILL, ends it. A worker that exits while the stack runs (a crash, a SIGTERM) is started again
after a second, at most five times a minute; the WICs it held lose their WebSockets and connect
again, to the workers still accepting. Each worker applies the ``[limits]`` to the connections it
holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from reference.clock import OffsetFileClock
from reference.limits import Limits
from reference.nodes.ep_cscf.decomposed import IwfAlone
from reference.nodes.iwf.pool import PcscfTarget
from reference.nodes.iwf.service import TrustedWwsf
from reference.nodes.iwf.token_check import keys_from_jwks
from reference.tls import PkiError, server_context_from

__all__ = ["IwfWorkers", "WorkerFailed", "WorkerSpec", "worker_name"]

log = logging.getLogger("wimpu.iwf.workers")

READY = "ready"
START_TIMEOUT = 30.0
"Seconds a worker has to import, load its keys, link to a P-CSCF and accept."
LINK_TIMEOUT = 20.0
"Seconds a worker waits for its first P-CSCF link before it gives up (it accepts no WIC without one)."
RESTART_DELAY = 1.0
"Seconds before a worker that exited on its own is started again."
MAX_RESTARTS = 5
"Restarts of one worker within a minute before it is left down (a worker that cannot live)."


def worker_name(ep_cscf: str, index: int) -> str:
    """The IWF name of worker ``index`` (1-based): the eP-CSCF's own name for the first.

    No dot: a flow token is ``<iwf name>.<flow id>.<MAC>`` and the P-CSCF reads the name up to the
    first dot (``reference.nodes.p_cscf.link``).
    """
    return ep_cscf if index == 1 else f"{ep_cscf}-w{index}"


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What one worker needs: everything the stack would give an :class:`IwfAlone`, as data."""

    name: str
    identity: str
    origin: str
    jwks: Mapping[str, Any]
    "The WWSF's JWK Set (public keys only)."
    realm: str
    cert: str
    key: str
    "The eP-CSCF's TLS certificate chain and its key (files of the stack's PKI)."
    keylog: str | None
    fd: int
    "The listening socket worker 1 bound, inherited under this number (``pass_fds``)."
    p_cscfs: Sequence[tuple[str, str, int]]
    "(name, host, link port) of each P-CSCF, in the pool's order."
    retry_after: int
    clock_offset_file: str | None
    limits: Mapping[str, Any]
    log_level: int = logging.WARNING
    "The parent's logging level (``wimpu-ref up --verbose`` reaches the workers)."
    link_timeout: float = LINK_TIMEOUT
    "Seconds to wait for the first P-CSCF link before giving up."

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, line: str) -> WorkerSpec:
        data = json.loads(line)
        data["p_cscfs"] = [tuple(t) for t in data["p_cscfs"]]
        return cls(**data)

    def build(self) -> IwfAlone:
        """The worker's IWF, on the listening socket it inherited."""
        context = server_context_from(self.cert, self.key, "ep-cscf")
        if self.keylog:
            context.keylog_filename = self.keylog
        clock = OffsetFileClock(self.clock_offset_file) if self.clock_offset_file else None
        return IwfAlone(
            name=self.name,
            identity=self.identity,
            wwsf=TrustedWwsf(self.origin, keys_from_jwks(dict(self.jwks)), realm=self.realm),
            ssl_context=context,
            p_cscfs=[PcscfTarget(name, host, port) for name, host, port in self.p_cscfs],
            retry_after=self.retry_after,
            clock=clock,
            limits=Limits(**self.limits),
            sock=socket.socket(fileno=self.fd),
        )


class WorkerFailed(RuntimeError):
    """A worker did not start: its own last words are in the message."""


class IwfWorkers:
    """Workers 2..N of one IWF, each a child process: started and stopped together, and a worker
    that exits while the stack runs started again (its WICs' WebSockets died with it; they connect
    again and the kernel gives them to a live worker meanwhile)."""

    def __init__(
        self,
        specs: Sequence[WorkerSpec],
        *,
        restart_delay: float = RESTART_DELAY,
        max_restarts: int = MAX_RESTARTS,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.restarts: dict[str, list[float]] = {name: [] for name in self.specs}
        "Worker -> when it was started again (monotonic seconds), within the last minute."
        self.restart_delay = restart_delay
        self.max_restarts = max_restarts
        self._watches: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    async def start(self) -> None:
        """Start every worker and wait until each listens.

        Raises:
            WorkerFailed: a worker exited or did not answer within :data:`START_TIMEOUT`; the
                workers already started are stopped.
        """
        try:
            for spec in self.specs.values():
                self.processes[spec.name] = await _spawn(spec)
            for name, process in self.processes.items():
                await _ready(name, process)
        except BaseException:  # WorkerFailed, a spawn's OSError, a cancelled start: none stays
            await self.stop()
            raise
        for name in self.processes:
            self._watch(name)

    def _watch(self, name: str) -> None:
        self._watches[name] = asyncio.get_running_loop().create_task(
            self._supervise(name), name=f"watch-{name}"
        )

    async def _supervise(self, name: str) -> None:
        """Start worker ``name`` again each time it exits on its own (a death while it starts
        counts the same), at most :attr:`max_restarts` times a minute: a worker that cannot live is
        then left down, with an error, and the others serve."""
        while True:
            code = await self.processes[name].wait()
            if self._stopping:
                return
            now = time.monotonic()
            recent = self.restarts[name] = [t for t in self.restarts[name] if now - t < 60.0]
            if len(recent) >= self.max_restarts:
                log.error(
                    "IWF worker %s exited (code %s), its %d restarts within a minute used up: left down; "
                    "the other workers take its share of the WICs' connections",
                    name, code, len(recent),
                )  # fmt: skip
                return
            log.error(
                "IWF worker %s exited (code %s): starting it again in %g s", name, code, self.restart_delay
            )
            await asyncio.sleep(self.restart_delay)
            if self._stopping:
                return
            recent.append(time.monotonic())
            try:
                self.processes[name] = await _spawn(self.specs[name])
            except OSError as exc:
                log.error("IWF worker %s not started again, left down: %s", name, exc)
                return
            try:
                await _ready(name, self.processes[name])
            except WorkerFailed as exc:
                log.error("%s", exc)
                if self.processes[name].returncode is None:  # it hangs in its start
                    self.processes[name].kill()

    async def stop(self) -> None:
        """Close each worker's stdin (it stops), then wait; a worker that hangs is killed."""
        self._stopping = True
        for task in self._watches.values():
            task.cancel()
        self._watches.clear()
        for process in self.processes.values():
            if process.stdin is not None:
                process.stdin.close()
        for name, process in self.processes.items():
            try:
                await asyncio.wait_for(process.wait(), 10.0)
            except TimeoutError:
                log.warning("IWF worker %s did not stop within 10 s: killed", name)
                process.kill()
                await process.wait()
        self.processes.clear()


async def _spawn(spec: WorkerSpec) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reference.nodes.ep_cscf.workers",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        pass_fds=(spec.fd,),  # worker 1's listening socket, under the same number
        start_new_session=True,  # a Ctrl-C at the terminal reaches the parent, which stops it
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(spec.to_json().encode() + b"\n")
    return process


async def _ready(name: str, process: asyncio.subprocess.Process) -> None:
    """Until worker ``name`` says it listens.

    Raises:
        WorkerFailed: it exited first, or said nothing within :data:`START_TIMEOUT`.
    """
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
    except TimeoutError:
        raise WorkerFailed(
            f"IWF worker {name} did not start (no answer within {START_TIMEOUT:g} s)"
        ) from None
    if line.strip() != READY.encode():
        # b"": it closed stdout by exiting; its exit code comes once it is reaped.
        try:
            code: int | None = await asyncio.wait_for(process.wait(), 5.0)
        except TimeoutError:
            code = None
        why = f"exit code {code}" if code is not None else f"it wrote {line[:60]!r}"
        raise WorkerFailed(f"IWF worker {name} did not start ({why}; its errors are on stderr)")
    log.info("IWF worker %s listening (pid %d)", name, process.pid)


class NoPcscf(RuntimeError):
    """No P-CSCF of the eP-CSCF linked within the spec's ``link_timeout``."""


async def _serve(spec: WorkerSpec) -> None:
    """Link to a P-CSCF, then accept WICs on the inherited socket until stdin closes or a signal."""
    iwf = spec.build()
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, closed.set)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    eof = loop.create_task(stdin.read())  # returns at EOF: the parent closed the pipe or exited
    eof.add_done_callback(lambda _: closed.set())
    try:
        await iwf.pool.start()
        # No WIC is accepted before a P-CSCF can take its REGISTER: a worker without a link would
        # answer its share of the connections 503.
        deadline = loop.time() + spec.link_timeout
        while not any(iwf.pool.up(t.name) for t in iwf.pool.targets):
            if closed.is_set():
                return
            if loop.time() > deadline:
                names = ", ".join(t.name for t in iwf.pool.targets)
                raise NoPcscf(f"no P-CSCF of {names} linked within {spec.link_timeout:g} s")
            await asyncio.sleep(0.05)
        await iwf.iwf.start()
        print(READY, flush=True)
        os.dup2(2, 1)  # nothing reads stdout after this line: later output goes to stderr
        await closed.wait()
    finally:
        eof.cancel()
        await iwf.stop()


def main() -> int:
    line = sys.stdin.readline()
    if not line.strip():
        print("IWF worker: no specification on stdin", file=sys.stderr)
        return 2
    spec = WorkerSpec.from_json(line)
    logging.basicConfig(level=spec.log_level, format=f"%(asctime)s %(name)-18s {spec.name}: %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(spec))
    except (NoPcscf, PkiError, OSError) as exc:  # one line, the cause named
        print(f"IWF worker {spec.name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
