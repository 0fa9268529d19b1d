"""The sans-I/O layers import no I/O and no clock (house style 1: imports go one way)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "reference"
FORBIDDEN = {"asyncio", "socket", "time", "selectors", "ssl", "aiohttp", "websockets"}
SANS_IO = sorted(
    [*ROOT.glob("sip/*.py"), *ROOT.glob("nodes/*/flows.py"), *ROOT.glob("nodes/iwf/token_check.py"), ROOT / "nodes/p_cscf/state.py"]  # noqa: E501
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_there_are_sans_io_modules_to_check() -> None:
    assert len(SANS_IO) >= 5


@pytest.mark.parametrize("path", SANS_IO, ids=lambda p: str(p.relative_to(ROOT)))
def test_sans_io_module_imports_no_io(path: Path) -> None:
    bad = imported_modules(path) & FORBIDDEN
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: time and I/O are arguments"


def test_sip_core_does_not_import_nodes_or_transport() -> None:
    for path in ROOT.glob("sip/*.py"):
        text = path.read_text(encoding="utf-8")
        assert "reference.nodes" not in text and "reference.transport" not in text, path
