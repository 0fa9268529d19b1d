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


# ----- issue 14: one block model, and a node graph that runs one way ------------------

NODES = ROOT / "nodes"
SHARED_BY_EVERY_NODE = ("reference.nodes.wimpu_registrar.client", "reference.nodes.wimpu_registrar.model")
"The W6/W7 client and its data model: every node may call the wIMPU Registrar."
INTERNAL_INTERFACE = "reference.nodes.internal_interface"
ALLOWED_EDGES: dict[str, tuple[str, ...]] = {
    "i_cscf": ("reference.nodes.hss.data",),
    "s_cscf": ("reference.nodes.hss.data",),
    "iwf": (INTERNAL_INTERFACE,),
    "p_cscf": (INTERNAL_INTERFACE,),
    "ep_cscf": ("reference.nodes.iwf", "reference.nodes.p_cscf", INTERNAL_INTERFACE),
}
"""Node package -> the other node modules it may import (and their submodules), beside the
shared ones: the I-CSCF and S-CSCF read the HSS data set; the IWF and the P-CSCF meet only at
the neutral internal interface (TR 23.701 5.2.2.2); the eP-CSCF package puts the two together."""


def _module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted module) of every import of ``path``, relative ones resolved, with the
    names of ``from package import name`` as modules too (they may be submodules)."""
    module = _module_of(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def _within(module: str, prefixes: tuple[str, ...] | list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def node_graph_violations(root: Path = ROOT) -> list[str]:
    """Every import by a node package of another node package that is not an allowed edge."""
    nodes = root / "nodes"
    problems: list[str] = []
    for package in sorted(p for p in nodes.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        own = f"reference.nodes.{package.name}"
        allowed = (*SHARED_BY_EVERY_NODE, *ALLOWED_EDGES.get(package.name, ()))
        for path in sorted(package.rglob("*.py")):
            for line, target in imports_of(path, root):
                if not target.startswith("reference.nodes.") or _within(target, [own]):
                    continue
                if _within(target, allowed) or _is_parent_of_allowed(target, allowed):
                    continue
                where = f"{path.relative_to(root.parent)}:{line} imports "
                if not any(p.startswith(where) and _within(target, [p[len(where) :]]) for p in problems):
                    problems.append(where + target)
    return problems


def _is_parent_of_allowed(target: str, allowed: tuple[str, ...]) -> bool:
    """``from reference.nodes.hss import data`` names the package before the module."""
    return any(a.startswith(target + ".") for a in allowed)


def test_node_packages_import_no_other_node_package_but_the_allowed_edges() -> None:
    problems = node_graph_violations()
    assert not problems, (
        "a node package imports another node package outside the allowed edges:\n" + "\n".join(problems)
    )


def test_the_node_graph_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The check itself: an IWF module importing the P-CSCF is named, file and import."""
    nodes = tmp_path / "reference" / "nodes"
    for name in ("iwf", "p_cscf"):
        (nodes / name).mkdir(parents=True)
        (nodes / name / "__init__.py").write_text("")
    (nodes / "iwf" / "bad.py").write_text("from reference.nodes.p_cscf.flows import register_wic\n")
    (nodes / "iwf" / "good.py").write_text("from reference.nodes.internal_interface import Hello\n")
    problems = node_graph_violations(tmp_path / "reference")
    assert problems == ["reference/nodes/iwf/bad.py:1 imports reference.nodes.p_cscf.flows"]


@pytest.mark.parametrize(
    "path", [ROOT / "blocks.py", *sorted(ROOT.glob("sip/*.py"))], ids=lambda p: str(p.relative_to(ROOT))
)
def test_block_model_and_sip_core_import_no_node_and_no_transport(path: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {target}"
        for line, target in imports_of(path)
        if _within(target, ["reference.nodes", "reference.transport"])
    ]
    assert not bad, "the SIP core and the block model are leaves:\n" + "\n".join(bad)


def test_block_model_imports_only_the_sip_core_of_the_reference() -> None:
    path = ROOT / "blocks.py"
    bad = [
        f"reference/blocks.py:{line} imports {target}"
        for line, target in imports_of(path)
        if target.split(".")[0] == "reference" and not _within(target, ["reference.sip"])
    ]
    assert not bad, (
        "reference/blocks.py may import reference.sip.* and the standard library only:\n" + "\n".join(bad)
    )


def test_the_internal_interface_belongs_to_no_node() -> None:
    path = NODES / "internal_interface.py"
    bad = [
        f"reference/nodes/internal_interface.py:{line} imports {target}"
        for line, target in imports_of(path)
        if _within(target, ["reference.nodes", "reference.transport"])
    ]
    assert not bad, "the IWF <-> P-CSCF interface imports neither node:\n" + "\n".join(bad)
