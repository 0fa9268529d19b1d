"""The shards of the comparison runs against an external SUT (tests/shard.py): together they hold
every scenario of the run exactly once; a malformed ``--shard`` is a usage error before any
scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from nested import nested_env, shard_args
from runs import ROOT
from shard import parse_shard


def _collected(tmp_path: Path, *arguments: str) -> list[str]:
    """The node ids of the scenarios a ``pytest steps --collect-only`` run with ``arguments`` keeps."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--no-reports", *arguments],
        cwd=ROOT, env=nested_env(tmp_path / "captures"), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if line.startswith("steps/") and "::" in line]


def test_two_shards_hold_every_scenario_once(tmp_path: Path) -> None:
    every = _collected(tmp_path)
    shards = [_collected(tmp_path, *shard_args(k, 2)) for k in range(2)]
    together = [nodeid for shard in shards for nodeid in shard]
    assert len(every) > 100 and sorted(together) == sorted(every) and len(set(together)) == len(together)
    assert abs(len(shards[0]) - len(shards[1])) <= 1, [len(s) for s in shards]


@pytest.mark.parametrize("value", ["2/2", "1", "a/2", "-1/2", "0/0"])
def test_a_malformed_shard_is_a_usage_error(value: str) -> None:
    with pytest.raises(pytest.UsageError, match="--shard"):
        parse_shard(value)


def test_a_shard_is_read_as_index_and_count() -> None:
    assert parse_shard("1/3") == (1, 3)


def test_a_run_with_a_malformed_shard_stops_with_a_usage_error_before_any_scenario(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "-q", "-p", "no:cacheprovider", "--no-reports",
         "-p", "shard", "--shard=2/2"],
        cwd=ROOT, env=nested_env(tmp_path / "captures"), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout[-1000:] + result.stderr[-1000:]
    assert result.returncode == 4 and "--shard '2/2'" in result.stderr and " passed" not in output, output
