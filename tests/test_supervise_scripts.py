"""scripts/supervise.sh and scripts/supervised.sh (restart-supervised.sh its restart): the restart of
one node of a lab (the PIXIT's ``[[ep_cscf]] restart``, TP_WIMPU_BLK_007), its failure and its start
again (``fail`` and ``start_again``, TP_WIMPU_LIFE_010), on a small TCP server standing for the node.

The Kamailio lab (interop/kamailio/start.sh) and ``reference-failover.toml`` run their eP-CSCF under
the supervisor; here its contract is checked alone: the restart kills the node and every child of it
with SIGKILL and returns once a new process accepts connections; a kill without the restart request
(the PIXIT's ``fail``) leaves the node dead and the supervisor exits with the node's status; a restart
of a node not run by the supervisor says so."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.harness.scenario_capture import release_host, scenario_host

ROOT = Path(__file__).resolve().parents[1]
SUPERVISE = ROOT / "scripts" / "supervise.sh"
RESTART = ROOT / "scripts" / "restart-supervised.sh"
SUPERVISED = ROOT / "scripts" / "supervised.sh"

NODE = """
import os, socket, sys, time
started = os.path.join(sys.argv[3], "started")
if os.path.exists(started):  # a restart: a node that takes a while to listen again
    time.sleep(1)
open(started, "w").close()
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
if os.fork() == 0:  # a worker, as Kamailio's: it holds the listening socket too
    time.sleep(600)
    sys.exit(0)
while True:
    listener.accept()[0].close()
"""
"""The node: accepts connections on HOST PORT, with a child process that shares its socket; started
again (a file in STATE_DIR says so), it listens only after a second."""


@contextlib.contextmanager
def supervised(state: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, int]]:
    """A node under supervise.sh in its own process group, on a loopback address of its own."""
    host = scenario_host()
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    command = [
        "sh",
        str(SUPERVISE),
        str(state),
        "node",
        host,
        str(port),
        sys.executable,
        "-c",
        NODE,
        host,
        str(port),
        str(state),
    ]
    supervisor = subprocess.Popen(command, start_new_session=True)
    try:
        assert accepts(host, port, within=10), "the supervised node does not listen"
        yield supervisor, host, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGKILL)
        supervisor.wait(10)
        for pid in children_of(state):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        release_host(host)


def accepts(host: str, port: int, within: float = 0.0) -> bool:
    """A connection to ``host:port`` is accepted, now or (tried every 50 ms) within ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def children_of(state: Path) -> list[int]:
    """The node's pid and its children's, from its pid file."""
    pid = int((state / "node.pid").read_text())
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *map(int, found)]


def alive(pid: int) -> bool:
    """``pid`` runs and is not a zombie."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_restart_kills_the_node_and_its_children_and_returns_once_a_new_node_listens(
    tmp_path: Path,
) -> None:
    with supervised(tmp_path) as (_, host, port):
        assert (tmp_path / "node.address").read_text().split() == [host, str(port)]
        before = children_of(tmp_path)
        assert len(before) == 2, f"the node and its worker: {before}"
        done = subprocess.run(
            ["sh", str(RESTART), str(tmp_path), "node"], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        after = children_of(tmp_path)
        assert after[0] != before[0], "no new node process"
        assert not any(alive(pid) for pid in before), "a process of the crashed node is left"
        assert accepts(host, port), "restart-supervised.sh returned before the node listens"
        assert not (tmp_path / "node.restart").exists()


def test_a_kill_without_a_restart_request_leaves_the_node_down(tmp_path: Path) -> None:
    """The PIXIT's ``fail`` (TP_WIMPU_LIFE_003): SIGKILL to the node's pid, the supervisor exits."""
    with supervised(tmp_path) as (supervisor, host, port):
        node, worker = children_of(tmp_path)
        os.kill(worker, signal.SIGKILL)
        os.kill(node, signal.SIGKILL)
        assert supervisor.wait(10) == 128 + signal.SIGKILL
        time.sleep(0.5)  # a supervisor that started it again would have by now
        assert not accepts(host, port)


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        ([], 2, "usage: supervised.sh restart|fail|start-again STATE_DIR NAME"),
        (["node"], 1, "has no node run by supervise.sh"),
    ],
)
def test_a_restart_of_a_node_not_supervised_says_so(
    tmp_path: Path, arguments: list[str], status: int, message: str
) -> None:
    args = [str(tmp_path), *arguments] if arguments else []
    done = subprocess.run(["sh", str(RESTART), *args], capture_output=True, text=True, timeout=30)
    assert (done.returncode, message in done.stderr) == (status, True), done.stderr


def test_the_supervisor_needs_a_command() -> None:
    done = subprocess.run(
        ["sh", str(SUPERVISE), "/nonexistent", "node", "127.0.0.1", "1"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "usage: supervise.sh" in done.stderr


def supervised_sh(action: str, state: Path) -> subprocess.CompletedProcess[str]:
    """``supervised.sh ACTION STATE node``."""
    return subprocess.run(
        ["sh", str(SUPERVISED), action, str(state), "node"], capture_output=True, text=True, timeout=30
    )


def test_a_fail_keeps_the_node_down_until_it_is_started_again(tmp_path: Path) -> None:
    """``supervised.sh fail`` (the PIXIT's ``fail``): the node and its worker killed, the supervisor
    waits; ``supervised.sh start-again`` (``start_again``) returns once a new node listens."""
    with supervised(tmp_path) as (supervisor, host, port):
        before = children_of(tmp_path)
        done = supervised_sh("fail", tmp_path)
        assert done.returncode == 0, done.stderr
        time.sleep(0.5)  # a supervisor that started it again would have by now
        assert not accepts(host, port) and supervisor.poll() is None, "down, its supervisor waiting"
        assert not any(alive(pid) for pid in before), "a process of the failed node is left"
        again = supervised_sh("start-again", tmp_path)
        assert again.returncode == 0, again.stderr
        assert accepts(host, port), "start-again returned before the node listens"
        assert children_of(tmp_path)[0] != before[0] and not (tmp_path / "node.down").exists()


def test_a_fail_of_a_node_that_is_down_says_so(tmp_path: Path) -> None:
    """A second ``fail`` finds no process (its supervisor emptied the pid file): an error, and the
    node is started again by ``start-again`` as after one ``fail``."""
    with supervised(tmp_path) as (_, host, port):
        assert supervised_sh("fail", tmp_path).returncode == 0
        assert (tmp_path / "node.pid").read_text() == "", "the supervisor marks the node down"
        again = supervised_sh("fail", tmp_path)
        assert (again.returncode, "is not running" in again.stderr) == (1, True), again.stderr
        assert supervised_sh("start-again", tmp_path).returncode == 0 and accepts(host, port)


def test_a_start_again_of_a_node_that_did_not_fail_and_an_unknown_action_say_so(tmp_path: Path) -> None:
    with supervised(tmp_path):
        done = supervised_sh("start-again", tmp_path)
        assert (done.returncode, "node was not made to fail" in done.stderr) == (1, True), done.stderr
        done = supervised_sh("pause", tmp_path)
        assert (done.returncode, "unknown action pause" in done.stderr) == (2, True), done.stderr
