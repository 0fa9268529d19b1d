"""The probe datagrams of a live capture name exactly one probe each (captures/capture.py).

A stop once took a probe port the kernel had recycled from an earlier, already captured probe
for its own, returned at once, and the capture lacked the scenario's last 0.8 s (the failover
scenario's "harness and wire disagree" teardown error, 1 of 20 stress runs; issue 14). Here a
thread plays the capture tool: it reads the probe socket and reports each datagram's source port.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from captures.capture import LiveCapture


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[LiveCapture]:
    live = LiveCapture(tmp_path / "x.pcapng", hosts=["127.0.0.1"])
    live._probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    live._probe.bind(("127.0.0.1", 0))
    yield live
    live._reap(every=True)
    live._probe.close()


def deliver(capture: LiveCapture, count: int) -> threading.Thread:
    """The capture tool: report the next ``count`` probe datagrams it receives."""
    assert capture._probe is not None
    probe = capture._probe

    def run() -> None:
        for _ in range(count):
            _, (_, port) = probe.recvfrom(64)
            capture._probe_seen(port)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_captured_probe_closes_its_sender_and_forgets_its_port(capture: LiveCapture) -> None:
    tool = deliver(capture, 1)
    assert capture._wait_probe(5.0, lambda: True)
    tool.join(5)
    assert capture._senders == {} and capture._probes_seen == set()


def test_a_sighting_of_a_port_no_open_probe_has_does_not_count(capture: LiveCapture) -> None:
    """A recycled port, or an old datagram of a probe already reaped, stands in for no probe."""
    tool = deliver(capture, 1)
    assert capture._wait_probe(5.0, lambda: True)
    tool.join(5)
    stale = 40000
    capture._probe_seen(stale)
    assert capture._probes_seen == set()
    assert not capture._wait_probe(0.2, lambda: True), "nothing was captured: the wait must fail"


def test_probes_not_yet_captured_keep_their_ports_until_the_capture_stops(capture: LiveCapture) -> None:
    assert not capture._wait_probe(0.2, lambda: True)  # the tool delivers nothing
    open_ports = set(capture._senders)
    assert open_ports, "the probes sent are still open: their ports cannot be handed out again"
    capture._reap(every=True)
    assert capture._senders == {}
