"""Test modules outside a package must have distinct file names: pytest imports them by basename
(rootdir-relative "prepend" import mode), and two of one name stop the whole run at collection."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_outside_a_package_share_a_name() -> None:
    found: dict[str, list[str]] = defaultdict(list)
    for folder in ("tests", "steps"):
        for path in (ROOT / folder).rglob("test_*.py"):
            if "node_modules" in path.parts or (path.parent / "__init__.py").exists():
                continue
            found[path.name].append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in found.items() if len(paths) > 1} == {}
