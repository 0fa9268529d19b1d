"""``wimpu-ref up`` starts the stack, prints its endpoints, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.harness.scenario_capture import release_host, scenario_host


@pytest.fixture
def host() -> Iterator[str]:
    """A loopback address of this test's own: the default profile's fixed ports (8180, 8443,
    5060 ...) on 127.0.0.1 would collide with any other run of them on this machine."""
    claimed = scenario_host()
    yield claimed
    release_host(claimed)


def test_wimpu_ref_up_prints_endpoints_and_stops_on_sigint(tmp_path: Path, host: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference.cli", "up", "--host", host, "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops it." in line:
            break
    text = "".join(lines)
    try:
        assert "wIMPU Registrar (W6/W7)" in text and f"https://{host}:8180" in text, text
        assert "registrar client certificates" in text and "client.<node>.pem" in text, text
        assert "observer" in text and "ep-cscf1" in text, text
        assert "block 'block1' registers as block1@ims.example.net with password '" in text, text
        assert "block-secret" not in text, text
        assert "WWSF" in text and f"https://{host}:" in text, text
        assert "eP-CSCF ep-cscf1 (IWF, WSS)" in text and f"wss://{host}:" in text, text
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping..." in out
