"""The Kamailio eP-CSCF of interop/kamailio as a lab for the interop tests: its PIXIT moved to a
loopback address of its own (the same ports), so that another run on this machine keeps its ports."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIXIT = ROOT / "examples" / "pixit" / "kamailio.toml"
PICS = ROOT / "examples" / "pixit" / "kamailio-pics.toml"


def private_pixit(host: str) -> Path:
    """The PIXIT on ``host`` (same ports), its state directory var/kamailio-<host>, beside the original."""
    text = PIXIT.read_text(encoding="utf-8")
    moved = text.replace("127.0.0.1", host).replace("var/kamailio", f"var/kamailio-{host}")
    moved, started = re.subn(r'("kamailio-lab-block2")\]', rf'\1, "{host}"]', moved)
    assert started == 1, f"{PIXIT}: no start command to move to {host}"
    private = PIXIT.with_name(f".{PIXIT.stem}.{os.getpid()}.{host}.toml")
    private.write_text(moved, encoding="utf-8")
    return private


def remove_lab(private: Path, host: str) -> None:
    """The private PIXIT and the lab's state directory."""
    private.unlink(missing_ok=True)
    shutil.rmtree(ROOT / "var" / f"kamailio-{host}", ignore_errors=True)
