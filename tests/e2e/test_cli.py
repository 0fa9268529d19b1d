"""``wimpu-ref up`` starts the stack, prints its endpoints, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def test_wimpu_ref_up_prints_endpoints_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference.cli", "up"],
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
        assert "wIMPU Registrar (W6/W7)" in text and "https://127.0.0.1:8180" in text, text
        assert "registrar client certificates" in text and "client.<node>.pem" in text, text
        assert "observer" in text and "ep-cscf1" in text, text
        assert "block 'block1' registers as block1@ims.example.net with password '" in text, text
        assert "block-secret" not in text, text
        assert "WWSF" in text and "https://127.0.0.1:" in text, text
        assert "eP-CSCF ep-cscf1 (IWF, WSS)" in text and "wss://127.0.0.1:" in text, text
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping..." in out
