"""Each scenario claims a loopback address of its own, machine-wide (issue 14: a nested run and
its parent, or two xdist workers whose pids are 200 apart, drew the same address before)."""

from __future__ import annotations

import itertools
import os
import socket

import pytest

from conformance.harness import scenario_capture as wire


def test_an_address_held_by_another_process_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "_counter", itertools.count(5))
    second = 20 + os.getpid() % 200
    taken = f"127.{second}.0.6"  # the first candidate (n = 5), held as another process would
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind((taken, wire.CLAIM_PORT))
    try:
        host = wire.scenario_host()
        assert host == f"127.{second}.0.7"
        again = wire.scenario_host()
        assert again not in (taken, host)
        wire.release_host(host)
        wire.release_host(again)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind((host, wire.CLAIM_PORT))  # released: free again
        probe.close()
    finally:
        holder.close()
