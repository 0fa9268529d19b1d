"""The shards of the comparison runs against an external SUT (tests/shard.py): together they hold
every scenario of the run exactly once, whatever the shard count; a malformed ``--shard`` is a usage
error before any scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from runs import ROOT, nested_env


def _collected(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--no-reports", *arguments],
        cwd=ROOT, env=nested_env(tmp_path / "captures"), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


@pytest.mark.parametrize("count", [2, 3])
def test_the_shards_hold_every_scenario_once(tmp_path: Path, count: int) -> None:
    every = _ids(_collected(tmp_path))
    shards = [_ids(_collected(tmp_path, "-p", "shard", f"--shard={k}/{count}")) for k in range(count)]
    together = [nodeid for shard in shards for nodeid in shard]
    assert sorted(together) == sorted(every) and len(set(together)) == len(together)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1, [len(s) for s in shards]


@pytest.mark.parametrize("value", ["2/2", "1", "a/2", "-1/2"])
def test_a_malformed_shard_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = _collected(tmp_path, "-p", "shard", f"--shard={value}")
    output = result.stdout[-1000:] + result.stderr[-1000:]
    assert result.returncode == 4 and "--shard" in result.stderr, output
