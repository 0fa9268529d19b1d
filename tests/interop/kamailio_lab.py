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
PIXIT_OPTION2 = ROOT / "examples" / "pixit" / "kamailio-option2.toml"
"The same lab with its blocks provisioned for block registration option 2 (laid over kamailio.toml)."
PICS_OPTION2 = ROOT / "examples" / "pixit" / "kamailio-option2-pics.toml"


def private_pixit(host: str, pixit: Path = PIXIT) -> Path:
    """The PIXIT on ``host`` (same ports), its state directory var/kamailio-<host>, beside the original;
    a PIXIT that names a ``base`` (kamailio-option2.toml) gets a private copy of its base too."""
    text = pixit.read_text(encoding="utf-8")
    moved = text.replace("127.0.0.1", host).replace("var/kamailio", f"var/kamailio-{host}")
    moved, started = re.subn(r'("kamailio-lab-block2")\]', rf'\1, "{host}"]', moved)
    assert started == 1, f"{pixit}: no start command to move to {host}"
    base = re.search(r'^base = "([^"]+)"$', moved, re.MULTILINE)
    if base is not None:
        private_base = private_pixit(host, pixit.with_name(base.group(1)))
        moved = moved.replace(base.group(0), f'base = "{private_base.name}"')
    private = pixit.with_name(f".{pixit.stem}.{os.getpid()}.{host}.toml")
    private.write_text(moved, encoding="utf-8")
    return private


def remove_lab(private: Path, host: str) -> None:
    """The private PIXITs (the one given, and its base's) and the lab's state directory."""
    for path in private.parent.glob(f".*.{os.getpid()}.{host}.toml"):
        path.unlink(missing_ok=True)
    shutil.rmtree(ROOT / "var" / f"kamailio-{host}", ignore_errors=True)
