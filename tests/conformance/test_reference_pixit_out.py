"""``wimpu-ref up --pixit-out``: the reference stack as separate processes, described by a PIXIT that passes
``wimpu-conformance check``."""

from __future__ import annotations

import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.pixit import load_pixit
from reference.config import default_config_text
from reference.tls import TestPki

ROOT = Path(__file__).resolve().parents[2]
PORTS = ("registrar = 8180", "wwsf = 8443", "i_cscf = 5060", "s_cscf = 5070", "wss_port = 7443",
         "sip_port = 5080", "wss_port = 7444", "sip_port = 5082")  # fmt: skip


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def config(tmp_path: Path, ports: list[int]) -> Path:
    """The default configuration with these ports (0: the stack picks free ones)."""
    text = default_config_text()
    for fixed, port in zip(PORTS, ports, strict=True):
        assert fixed in text
        text = text.replace(fixed, f"{fixed.split(' = ')[0]} = {port}")
    path = tmp_path / "stack.toml"
    path.write_text(text, encoding="utf-8")
    return path


def up(tmp_path: Path, *extra: str, ports: list[int] | None = None) -> subprocess.Popen[str]:
    stack = config(tmp_path, ports or [0] * len(PORTS))
    command = [sys.executable, "-m", "reference.cli", "up", "--config", str(stack),
               "--state-dir", str(tmp_path / "state"), *extra]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_up(process: subprocess.Popen[str]) -> str:
    """The output of ``wimpu-ref up`` until it says it is up (or ends)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops it." in line:
            break
    assert "Ctrl-C stops it." in "".join(lines), "".join(lines)
    return "".join(lines)


def stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in reversed(processes):
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def check(pixit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "check", str(pixit), "--wait", "10"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def stack_pixit(tmp_path: Path) -> Iterator[Path]:
    """A reference stack in its own process on free ports, and the PIXIT it wrote."""
    out = tmp_path / "out" / "pixit.toml"
    process = up(tmp_path, "--pixit-out", str(out))
    try:
        assert f"PIXIT (the stack, external)  {out}" in wait_up(process)
        yield out
    finally:
        stop([process])


def structure(path: Path) -> dict[str, object]:
    """Tables and keys of a TOML file (arrays of tables by their first entry)."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    return {
        table: sorted(value[0] if isinstance(value, list) else value)
        for table, value in data.items()
    }


def test_a_ready_reference_stack_passes_the_check(stack_pixit: Path) -> None:
    done = check(stack_pixit)
    assert done.returncode == 0, done.stderr
    assert "every external node is ready" in done.stdout and done.stderr == ""
    pixit = load_pixit(stack_pixit)
    assert pixit.modes() == {"external"}
    assert [n.name for n in pixit.ep_cscfs] == ["ep-cscf1", "ep-cscf2"]
    assert pixit.wwsf_signing_key is not None
    assert stat.S_IMODE(pixit.wwsf_signing_key.stat().st_mode) == 0o600
    assert structure(stack_pixit) == structure(ROOT / "examples" / "pixit" / "out-of-process.toml")


def test_check_says_in_one_line_when_the_registrar_refuses_the_client_certificate(
    stack_pixit: Path, tmp_path: Path
) -> None:
    """The registrar requires mutual TLS: without the PIXIT's client certificate, or with one of
    another CA, the check fails at once with one line naming it (docs/pixit.md, Preflight)."""
    text = stack_pixit.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith(("client_cert", "client_key"))]
    none = tmp_path / "no-cert.toml"
    none.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = check(none)
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "registrar" in x]
    assert "refused the suite's client certificate (none given: set [registrar] client_cert" in line, line
    foreign = TestPki(tmp_path / "foreign")
    cert = foreign.ensure_client("observer")
    other = tmp_path / "foreign.toml"
    other.write_text(
        "\n".join(lines).replace("[registrar]", f'[registrar]\nclient_cert = "{cert}"\n'
                                 f'client_key = "{foreign.client_key_path("observer")}"', 1) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    done = check(other)
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "registrar" in x]
    assert f"refused the suite's client certificate ([registrar] client_cert {cert}" in line, line


def test_pixit_out_with_nodes_needs_fixed_ports(tmp_path: Path) -> None:
    process = up(tmp_path, "--nodes", "registrar", "--pixit-out", str(tmp_path / "pixit.toml"))
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 2, out
    assert out.strip().splitlines() == [
        "wimpu-ref: configuration error: --pixit-out: wwsf runs elsewhere without a fixed port in the "
        "configuration, so the PIXIT cannot say where it is"
    ]
    assert not (tmp_path / "pixit.toml").exists()


def test_a_pixit_written_by_one_of_several_processes(tmp_path: Path) -> None:
    """``--nodes``: the eP-CSCFs' process writes the PIXIT; the WWSF's process saved the signing key."""
    ports = free_ports(len(PORTS))
    out = tmp_path / "pixit.toml"
    processes = [up(tmp_path, "--nodes", "registrar,s-cscf,i-cscf,wwsf", ports=ports)]
    try:
        wait_up(processes[0])
        processes.append(up(tmp_path, "--nodes", "ep-cscf1,ep-cscf2", "--pixit-out", str(out), ports=ports))
        wait_up(processes[1])
        done = check(out)
        assert done.returncode == 0, done.stderr
        pixit = load_pixit(out)
        assert pixit.wwsf_signing_key == (tmp_path / "state" / "wwsf-signing-key.pem").resolve()
        assert pixit.node("registrar").url == f"https://127.0.0.1:{ports[0]}"
        assert pixit.nodes["ep-cscf2"].sip is not None and pixit.nodes["ep-cscf2"].sip.port == ports[7]
    finally:
        stop(processes)
