"""Imports go one way (house style 1).

Between packages: ``reference`` <- ``captures`` <- ``conformance`` <- ``reports``, with ``steps/`` (the
Gherkin bindings) on top; a package imports only itself and the packages below it. Nothing outside
``tests/`` changes ``sys.path`` or loads a module by file path. Inside ``reference``, the sans-I/O
layers import no I/O and no clock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
ROOT = CHECKOUT / "reference"
LAYERS = ("reference", "captures", "conformance", "reports", "steps")
"Bottom to top: each may import the ones before it."
LOAD_BY_PATH = ("sys.path", "spec_from_file_location", "SourceFileLoader", "runpy.run_path", "__import__(")
"What loads code around the installed packages (the ``sys.path`` a module changes, a file loaded by path)."
OUTSIDE_TESTS = ("reference", "captures", "conformance", "reports", "steps", "bench", "scripts", "interop")


def _python_files(folder: str) -> Iterator[Path]:
    yield from sorted(p for p in (CHECKOUT / folder).rglob("*.py") if "node_modules" not in p.parts)


def _absolute_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``, relative ones made absolute."""
    module = list(path.relative_to(CHECKOUT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            elif node.module:
                yield node.lineno, node.module


def layer_violations(layer: str) -> list[str]:
    """``file:line imports module`` for every import of ``layer`` that goes up the graph."""
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    found = []
    for path in _python_files(layer):
        for line, module in _absolute_imports(path):
            if module.split(".")[0] in above:
                found.append(f"{path.relative_to(CHECKOUT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_a_package_imports_only_the_packages_below_it(layer: str) -> None:
    bad = layer_violations(layer)
    below = ", ".join(LAYERS[: LAYERS.index(layer)]) or "none"
    assert not bad, f"{layer} may import only {below}; against the graph:\n" + "\n".join(bad)


def test_the_layer_check_sees_an_import_up_the_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a captures module importing the PIXIT is reported with file and line."""
    (tmp_path / "captures").mkdir()
    (tmp_path / "captures" / "x.py").write_text(
        "from reference.sip import message\nfrom conformance import pixit\n"
    )
    (tmp_path / "captures" / "y.py").write_text("from .z import w\nfrom ..steps import common\n")
    monkeypatch.setattr(f"{__name__}.CHECKOUT", tmp_path)
    assert layer_violations("captures") == [
        "captures/x.py:2 imports conformance",
        "captures/y.py:2 imports steps",
    ]


@pytest.mark.parametrize("folder", OUTSIDE_TESTS)
def test_no_code_outside_tests_loads_modules_around_the_packages(folder: str) -> None:
    found = [
        f"{path.relative_to(CHECKOUT)}:{number}: {line.strip()}"
        for path in _python_files(folder)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(word in line for word in LOAD_BY_PATH) and not line.lstrip().startswith("#")
    ]
    assert not found, "imports go through the installed packages:\n" + "\n".join(found)


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
