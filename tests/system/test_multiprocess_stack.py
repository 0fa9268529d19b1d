"""The reference stack as separate operating-system processes, one per node.

Each node runs in its own ``wimpu-ref up --nodes <node>`` process on its configured
port; they share only the configuration file and the state directory (the test PKI).
A WIC registers through eP-CSCF 1 and a remote party calls it through the I-CSCF.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ports import free_ports

from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.config import default_config_text, load_config
from reference.transport.endpoint import Target

NODES = ["registrar", "s-cscf", "i-cscf", "wwsf", "ep-cscf1", "ep-cscf2"]


def config_file(tmp_path: Path) -> Path:
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
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "stack.toml"
    path.write_text(text)
    return path


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Path]:
    config = config_file(tmp_path)
    state = tmp_path / "state"
    procs: list[subprocess.Popen[str]] = []
    try:
        for node in NODES:
            proc = subprocess.Popen(
                [sys.executable, "-m", "reference.cli", "up", "--config", str(config),
                 "--state-dir", str(state), "--nodes", node],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            procs.append(proc)
            assert proc.stdout is not None
            deadline, lines = time.monotonic() + 20, []
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                lines.append(line)
                if "Ctrl-C stops it." in line or not line:
                    break
            assert "Ctrl-C stops it." in "".join(lines), f"{node} did not start:\n{''.join(lines)}"
        yield config
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def test_nodes_in_separate_processes_register_and_call(processes: Path, tmp_path: Path) -> None:
    config = load_config(processes)
    from reference.tls import TestPki

    ctx = TestPki(tmp_path / "state" / "pki").client_context()
    login = await web_login(f"https://127.0.0.1:{config.ports['wwsf']}", "alice", "alice-password", ctx)
    assert login.ep_cscf_url == f"wss://127.0.0.1:{config.ep_ports['ep-cscf1'][0]}"
    wic = Wic("alice", ssl_context=ctx)
    wic.answer_mode = "answer"
    await wic.connect(login.ep_cscf_url, origin=f"https://127.0.0.1:{config.ports['wwsf']}")
    assert (await wic.register(login.identity, token=login.token)).status == 200
    remote = RemoteParty("remote.example.org")
    await remote.start()
    try:
        response = await remote.call(login.identity, Target("TCP", "127.0.0.1", config.ports["i_cscf"]))
        assert response.status == 200, response.start_line()
        assert len(wic.answered_invites()) == 1
    finally:
        await remote.stop()
        await wic.close()
