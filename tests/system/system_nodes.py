"""Helpers of the system tests: a configuration on free ports, one OS process per node.

Each node runs as ``python -m reference.cli up --config C --state-dir S --nodes <node>``
(the ``wimpu-ref up --nodes`` command). A reader thread stamps every line a node prints
(its log goes to stderr, merged) with the wall-clock time it arrived, so a test can say
when a node logged something. Loopback only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from ports import free_ports

from reference.config import default_config_text
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.stack_access import OBSERVER
from reference.tls import TestPki

ALL_NODES = ("registrar", "s-cscf", "i-cscf", "wwsf", "ep-cscf1", "ep-cscf2")
BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"
BLOCK2 = "sip:wrtc-!.*!@block2.ims.example.net"


BLOCK3 = "sip:wrtc-!.*!@block3.ims.example.net"


def start_registrar(db: Path | str, port: int, state: Path | None = None) -> subprocess.Popen[str]:
    """The wIMPU Registrar alone (``python -m reference.nodes.wimpu_registrar``), once READY, on
    the store ``db`` (a SQLite file or a ``postgresql://`` URI); its state directory (the test PKI
    of mutual TLS) is ``state``, by default ``state`` beside the file ``db``."""
    state = state if state is not None else Path(db).parent / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference.nodes.wimpu_registrar", "--db", str(db), "--port", str(port),
         "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY "), f"registrar did not start: {line!r}"
    return proc


def registrar_client(state: Path, port: int, node: str = OBSERVER, timeout: float = 2.0) -> RegistrarClient:
    """A client of the registrar at ``port`` with the client certificate of ``node`` (mutual TLS)
    from the test PKI of the state directory ``state``: the read-only ``observer`` by default."""
    pki = TestPki(state / "pki")
    return RegistrarClient(
        f"https://127.0.0.1:{port}", timeout=timeout, ssl=lambda: pki.client_context(node=node)
    )


def block1_user(i: int) -> str:
    return f"sip:wrtc-user{i}@block1.ims.example.net"


def block3_user(i: int) -> str:
    return f"sip:wrtc-carol{i}@block3.ims.example.net"


def decomposed_block(
    users: int, p_cscfs: Sequence[str] = ("p-cscf3a", "p-cscf3b"), *, iwf_workers: int = 1
) -> str:
    """TOML for a third block served by a decomposed eP-CSCF ``ep-cscf3``: its IWF alone (in
    ``iwf_workers`` processes) and the P-CSCFs ``p_cscfs`` (each a node), on free ports; users
    ``carol0..`` (password ``pw``)."""
    ports = free_ports(1 + 2 * len(p_cscfs))
    text = f'\n[[ep_cscf]]\nname = "ep-cscf3"\nwss_port = {ports[0]}\np_cscfs = {list(p_cscfs)!r}\n'
    if iwf_workers != 1:
        text += f"iwf_workers = {iwf_workers}\n"
    for i, name in enumerate(p_cscfs):
        text += (
            f'\n[[p_cscf]]\nname = "{name}"\nsip_port = {ports[1 + 2 * i]}\nlink_port = {ports[2 + 2 * i]}\n'
        )
    text += f'\n[[block]]\nwimpu = "{BLOCK3}"\noption = "A"\nep_cscf = "ep-cscf3"\nname = "block3"\n'
    for i in range(users):
        text += f'\n[[user]]\nusername = "carol{i}"\npassword = "pw"\nidentity = "{block3_user(i)}"\n'
        text += f'block = "{BLOCK3}"\n'
    return text.replace("'", '"')


def write_config(
    directory: Path,
    *,
    failover: dict[str, float] | None = None,
    standby: dict[str, Sequence[str]] | None = None,
    block1_users: int = 0,
    extra: str = "",
) -> Path:
    """The reference profile on free ports, with ``[failover]`` timings, standbys per block
    name (``{"block1": ["ep-cscf2"]}``), users ``user0..`` of block 1 (password ``pw``) and
    any extra TOML appended."""
    p = free_ports(8)
    text = default_config_text()
    for old, new in [
        ("registrar = 8180", f"registrar = {p[0]}"),
        ("wwsf = 8443", f"wwsf = {p[1]}"),
        ("i_cscf = 5060", f"i_cscf = {p[2]}"),
        ("s_cscf = 5070", f"s_cscf = {p[3]}"),
        ("wss_port = 7443", f"wss_port = {p[4]}"),
        ("sip_port = 5080", f"sip_port = {p[5]}"),
        ("wss_port = 7444", f"wss_port = {p[6]}"),
        ("sip_port = 5082", f"sip_port = {p[7]}"),
    ]:
        # one pass, whole lines: a port written earlier (50823) must not be taken for a later
        # placeholder ("sip_port = 5082"), which gave port 448273 once
        pattern = re.compile(rf"^{re.escape(old)}$", re.M)
        text, count = pattern.subn(new, text)
        assert count == 1, old
    for block, names in (standby or {}).items():
        line = f'name = "{block}"\n'
        assert line in text
        text = text.replace(line, line + f"standby = {list(names)!r}\n".replace("'", '"'))
    if failover is not None:
        text += "\n[failover]\n" + "".join(f"{k} = {v}\n" for k, v in failover.items())
    for i in range(block1_users):
        text += (
            f'\n[[user]]\nusername = "user{i}"\npassword = "pw"\nidentity = "{block1_user(i)}"\n'
            f'block = "{BLOCK1}"\n'
        )
    path = directory / "stack.toml"
    path.write_text(text + extra)
    return path


@dataclasses.dataclass
class Node:
    """One node's process and the lines it printed, each with its arrival time."""

    name: str
    proc: subprocess.Popen[str]
    lines: list[tuple[float, str]] = dataclasses.field(default_factory=list)
    ready: threading.Event = dataclasses.field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))
            if "Ctrl-C stops it." in line:
                self.ready.set()
        self.ready.set()

    def find(self, pattern: str, after: float = 0.0) -> list[tuple[float, str]]:
        """The lines matching ``pattern`` (a regular expression) printed after ``after``."""
        regex = re.compile(pattern)
        return [(t, line) for t, line in list(self.lines) if t >= after and regex.search(line)]

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def kill(self) -> float:
        """SIGKILL the process (no clean-up at all); returns when it was sent."""
        when = time.time()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
        return when


class Cluster:
    """The nodes of one configuration, each in its own process."""

    def __init__(self, config: Path, state: Path) -> None:
        self.config = config
        self.state = state
        self.nodes: dict[str, Node] = {}

    def start(self, *names: str, timeout: float = 20.0) -> list[Node]:
        """Start ``names`` at the same time; return once each says it is up."""
        started = []
        for name in names:
            proc = subprocess.Popen(
                [sys.executable, "-m", "reference.cli", "up", "--config", str(self.config),
                 "--state-dir", str(self.state), "--nodes", name],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            )  # fmt: skip
            node = Node(name, proc)
            threading.Thread(target=node.read, daemon=True, name=f"read-{name}").start()
            self.nodes[name] = node
            started.append(node)
        for node in started:
            if not node.ready.wait(timeout) or node.proc.poll() is not None:
                raise RuntimeError(f"{node.name} did not start:\n{node.text()}")
        return started

    def stop(self) -> None:
        for node in reversed(list(self.nodes.values())):
            if node.proc.poll() is None:
                node.proc.send_signal(signal.SIGINT)
        for node in self.nodes.values():
            try:
                node.proc.wait(10)

            except subprocess.TimeoutExpired:
                print(f"{node.name} did not stop on SIGINT within 10 s; killed:\n{node.text()[-3000:]}")
                node.proc.kill()
                node.proc.wait(5)


CORE = ("registrar", "s-cscf", "i-cscf", "wwsf")
"Nodes that start together: none needs another to be up to start."


@contextlib.contextmanager
def cluster(config: Path, state: Path, names: Sequence[str] = ALL_NODES) -> Iterator[Cluster]:
    """Start the core nodes together, then every other one in order (a standby after the
    eP-CSCF it stands by for); stop them all (SIGINT) at the end."""
    c = Cluster(config, state)
    try:
        c.start(*[n for n in names if n in CORE])  # the test PKI is created under a file lock
        for name in names:
            if name not in CORE:
                c.start(name)
        yield c
    finally:
        c.stop()
