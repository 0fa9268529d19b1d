"""A pytest plugin of the nested runs against an external SUT: ``--shard K/N`` keeps the K-th of
every N scenarios (K from 0), by the order of their node ids, and deselects the others.

An external SUT serves one scenario at a time (``pytest steps --sut`` refuses xdist workers), so a
run of every feature against one takes as long as its scenarios one after the other. The tests
that compare such a run's verdicts with the in-process ones (``tests/runs.py``: the mixed, the
out-of-process and the single-node runs; the Kamailio runs of ``tests/interop``) start N copies of
the SUT, each on a loopback address of its own (``private_pixit``), and give each copy one shard:
on this 2-core machine the runs mostly wait on their SUTs, so two shards at once take about half
as long. The node ids are sorted first, so the N processes agree on the split whatever order their
collections come in, and every scenario is in exactly one shard.

Loaded with ``-p shard`` with ``tests/`` on ``PYTHONPATH``; nothing else loads it.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="keep the K-th of every N scenarios by node id (K from 0), deselect the others",
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), with 0 <= K < N; a usage error otherwise."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard {text!r}: K/N with two whole numbers, e.g. 0/2") from None
    if not 0 <= index < count:
        raise pytest.UsageError(f"--shard {text!r}: K must be from 0 to N - 1")
    return index, count


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    value = config.getoption("--shard")
    if value is None:
        return
    index, count = parse_shard(value)
    order = {nodeid: n for n, nodeid in enumerate(sorted(item.nodeid for item in items))}
    kept = [item for item in items if order[item.nodeid] % count == index]
    dropped = [item for item in items if order[item.nodeid] % count != index]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
