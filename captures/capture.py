"""Capture the loopback traffic of the stack while a test runs, into a self-decrypting pcapng.

``dumpcap`` (from the tshark packages) runs as a subprocess: it does not slow the system
under test, where an in-process scapy sniffer slowed a WebSocket echo loop about 9x
(``/work/shared/design/tooling-notes.md``). Without dumpcap, scapy's ``AsyncSniffer``
with ``conf.use_pcap = True`` (so loopback packets are not seen twice) is the fallback.
When neither can open the interface, :class:`CaptureUnavailable` says why: a test that
needs the wire fails instead of passing without it.

Knowing when the capture really runs, and when it has everything: dumpcap prints
"Capturing on" some tens of milliseconds before its filter is in place (packets sent
in between are lost, measured here), and it hands packets on only when the kernel
retires a buffer block (about 250 ms). So the capture also listens on a probe port of
its own: :meth:`LiveCapture.start` sends empty UDP datagrams to it until one comes back
out of dumpcap, and :meth:`LiveCapture.stop` sends one more and waits for it, so every
packet sent before the stop is in the file; then SIGINT, and dumpcap reports what it
received and dropped (any drop raises :class:`CaptureIncomplete`). The decoder ignores
empty datagrams. dumpcap writes to a pipe that a thread copies to the file.

Finally the TLS key log the clients wrote (``SSLContext.keylog_filename`` =
:attr:`LiveCapture.keylog_path`) goes into a Decryption Secrets Block, so
``tshark -r FILE`` decrypts with no option.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Literal

from .errors import CaptureError, CaptureIncomplete, CaptureUnavailable
from .pcapfile import BlockScanner, inject_secrets
from .sniffer import ScapySniffer

__all__ = ["CaptureStats", "LiveCapture", "bpf_for_hosts", "bpf_for_ports"]

Method = Literal["auto", "dumpcap", "scapy"]

_CAPTURED = re.compile(rb"Packets captured: (\d+)")
_RECEIVED = re.compile(rb"Packets received/dropped on interface '[^']*': (\d+)/(\d+)")


def bpf_for_ports(ports: Iterable[int]) -> str:
    """A capture filter for TCP and UDP on any of ``ports`` (IPv4 and IPv6)."""
    unique = sorted(set(ports))
    if not unique:
        raise ValueError("a capture needs at least one port")
    return " or ".join(f"port {p}" for p in unique)


def bpf_for_hosts(hosts: Iterable[str]) -> str:
    """A capture filter for any packet to or from one of ``hosts`` (IP addresses)."""
    unique = sorted(set(hosts))
    if not unique:
        raise ValueError("a capture needs at least one host")
    return " or ".join(f"host {h}" for h in unique)


@dataclasses.dataclass(frozen=True, slots=True)
class CaptureStats:
    """What the capture tool reported when it stopped."""

    method: str
    packets: int
    "Packets written to the file (the probe datagrams included)."
    received: int | None
    "Packets the kernel passed through the filter (dumpcap's, or libpcap's count for scapy)."
    dropped: int

    @property
    def complete(self) -> bool:
        return self.dropped == 0 and (self.received is None or self.received == self.packets)


class LiveCapture:
    """A loopback capture on the given ports, written to ``path`` (pcapng).

    Args:
        path: the pcapng file to write (its directory is created).
        ports: every listening port of the stack (and of the emulated peers).
        hosts: instead of (or with) ports, every packet to or from these addresses: a scenario
            whose nodes listen on a loopback address of their own (127.x.y.z) is captured
            from before its first node starts, whatever ports they pick.
        within: with ports, only packets both of whose ends are among these addresses: another
            process using the same port numbers on another loopback address at the same time (a
            second stack on a shared lab machine) stays out of the capture.
        anchors: with ``within``, only packets with at least one end among these addresses (the
            SUT's and the suite's nodes'): an address of ``within`` that is not an anchor (127.0.0.1,
            where clients connect from) may be one end, never both, so the same ports used by a
            process on that address (another lab on the default address) stay out too. The probe
            datagram is captured whatever its addresses.
        interface: the interface to capture on.
        keylog_path: where TLS clients should write their NSS key log; by default
            ``path`` with the suffix ``.keys``. Emptied at :meth:`start`.
        method: ``dumpcap``, ``scapy``, or ``auto`` (dumpcap, else scapy).
        settle: seconds to wait before stopping, for packets still in flight.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        ports: Iterable[int] = (),
        *,
        hosts: Iterable[str] = (),
        within: Iterable[str] = (),
        anchors: Iterable[str] = (),
        interface: str = "lo",
        keylog_path: str | os.PathLike[str] | None = None,
        method: Method = "auto",
        settle: float = 0.05,
    ) -> None:
        self.path = Path(path)
        self.ports = sorted(set(ports))
        self.hosts = sorted(set(hosts))
        self.within = sorted(set(within))
        self.anchors = sorted(set(anchors))
        if self.anchors and not set(self.anchors) <= set(self.within):
            raise ValueError(f"anchors {self.anchors} must be among the addresses within {self.within}")
        if not self.ports and not self.hosts:
            raise ValueError("a capture needs at least one port or host")
        self.interface = interface
        self.keylog_path = Path(keylog_path) if keylog_path is not None else self.path.with_suffix(".keys")
        self.method = method
        self.settle = settle
        self.stats: CaptureStats | None = None
        self._probe: socket.socket | None = None
        self._probes_seen: set[int] = set()
        "Source ports of the open probe senders whose datagram has come out of the capture tool."
        self._senders: dict[int, socket.socket] = {}
        """Probe senders by source port, each kept open until its one datagram has been captured, so
        the kernel cannot give its port to a later probe: a sighting names exactly one probe."""
        self._seen = threading.Condition()
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._stderr: IO[bytes] | None = None
        self._sniffer: ScapySniffer | None = None

    def __enter__(self) -> LiveCapture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(require_complete=exc[0] is None)

    @property
    def filter(self) -> str:
        """The BPF filter: the given ports (or hosts), and the probe port once started; with
        ``within`` both ends among those addresses, with ``anchors`` one of them an anchor."""
        probe = [self._probe.getsockname()[1]] if self._probe is not None else []
        parts = []
        if self.ports or probe:
            parts.append(bpf_for_ports([*self.ports, *probe]))
        if self.hosts:
            parts.append(bpf_for_hosts(self.hosts))
        either = " or ".join(parts)
        if not self.within:
            return either
        src = " or ".join(f"src host {h}" for h in self.within)
        dst = " or ".join(f"dst host {h}" for h in self.within)
        if not self.anchors:
            return f"({either}) and ({src}) and ({dst})"
        # one end on an anchor; the probe datagram (127.0.0.1 to 127.0.0.1) is let through on its own port
        nodes = [bpf_for_ports(self.ports)] if self.ports else []
        nodes += [bpf_for_hosts(self.hosts)] if self.hosts else []
        anchored = f"({' or '.join(nodes)}) and ({src}) and ({dst}) and ({bpf_for_hosts(self.anchors)})"
        if not probe:
            return anchored
        return f"(udp dst port {probe[0]} and ({src}) and ({dst})) or ({anchored})"

    # ----- the probe ------------------------------------------------------------------

    def _probe_seen(self, source_port: int) -> None:
        with self._seen:
            if source_port in self._senders:  # else not one of ours, or already reaped: ignored
                self._probes_seen.add(source_port)
                self._seen.notify_all()

    def _reap(self, *, every: bool = False) -> None:
        """Close the probe senders whose datagram has been captured (``every``: all of them)."""
        with self._seen:
            for port in [p for p in self._senders if every or p in self._probes_seen]:
                self._senders.pop(port).close()
                self._probes_seen.discard(port)

    def _wait_probe(self, timeout: float, alive: Callable[[], bool]) -> bool:
        """Send probes until one of them has come out of the capture tool.

        Each probe leaves from a socket of its own, so its source port names it, and the socket
        stays open until that datagram has been captured (:attr:`_senders`): a probe sent earlier
        (at start, several are in flight) never stands in for this one, and neither does an
        earlier probe whose port the kernel would otherwise hand out again (a stop that took a
        recycled port for its own probe once returned before the capture had the last packets).
        """
        assert self._probe is not None
        target = self._probe.getsockname()
        deadline = time.monotonic() + timeout
        ports: set[int] = set()
        try:
            while time.monotonic() < deadline and alive():
                sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sender.bind((target[0], 0))
                port = sender.getsockname()[1]
                with self._seen:
                    self._senders[port] = sender
                ports.add(port)
                sender.sendto(b"", target)
                with self._seen:
                    if self._seen.wait_for(lambda: not ports.isdisjoint(self._probes_seen), 0.05):
                        return True
            return False
        finally:
            self._reap()

    # ----- start ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start capturing; returns once a probe datagram has been captured.

        Raises:
            CaptureUnavailable: neither dumpcap nor scapy can capture here.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        os.close(os.open(self.keylog_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        self._probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._probe.bind(("127.0.0.1" if self.interface == "lo" else "", 0))
        reasons: list[str] = []
        starters = {"dumpcap": self._start_dumpcap, "scapy": self._start_scapy}
        for name in ("dumpcap", "scapy") if self.method == "auto" else (self.method,):
            reason = starters[name](timeout)
            if reason is None:
                return
            reasons.append(f"{name}: {reason}")
        self._probe.close()
        self._probe = None
        self._reap(every=True)
        raise CaptureUnavailable(f"cannot capture on {self.interface!r}: " + "; ".join(reasons))

    def _start_dumpcap(self, timeout: float) -> str | None:
        dumpcap = shutil.which("dumpcap")
        if dumpcap is None:
            return "not installed (Debian package tshark, see scripts/install.sh)"
        self._stderr = tempfile.TemporaryFile()
        command = [dumpcap, "-q", "-n", "-i", self.interface, "-f", self.filter, "-w", "-"]
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self._process = process
        probe_port = self._probe.getsockname()[1] if self._probe else 0
        scanner = BlockScanner(probe_port, self._probe_seen)
        self._pump = threading.Thread(
            target=self._copy, args=(process, scanner), name="capture-pump", daemon=True
        )
        self._pump.start()
        if self._wait_probe(timeout, lambda: process.poll() is None):
            return None
        status = process.poll()
        self._kill()
        text = self._read_stderr().decode("utf-8", "replace").strip()
        if status is not None:
            return text.splitlines()[-1] if text else f"exited with status {status}"
        return f"no probe datagram captured within {timeout} s"

    def _copy(self, process: subprocess.Popen[bytes], scanner: BlockScanner) -> None:
        """The pump thread: dumpcap's pcapng stream to the file, watching for probes."""
        assert process.stdout is not None
        with open(self.path, "wb") as file:
            while chunk := os.read(process.stdout.fileno(), 1 << 20):
                file.write(chunk)
                file.flush()  # before the scanner may report a probe: sync() readers see the file
                scanner.feed(chunk)

    def _read_stderr(self) -> bytes:
        if self._stderr is None:
            return b""
        self._stderr.seek(0)
        return self._stderr.read()

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._pump is not None:
            self._pump.join(5)
        self._process = self._pump = None

    def _start_scapy(self, timeout: float) -> str | None:
        probe_port = self._probe.getsockname()[1] if self._probe else 0
        sniffer = ScapySniffer(self.interface, self.filter, probe_port, self._probe_seen)
        reason = sniffer.start()
        if reason is not None:
            return reason
        self._sniffer = sniffer
        if self._wait_probe(timeout, sniffer.alive):
            return None
        self._sniffer = None
        reason = sniffer.error()
        sniffer.stop(None)
        return reason or f"no probe datagram captured within {timeout} s"

    # ----- sync -----------------------------------------------------------------------

    def sync(self, timeout: float = 5.0) -> None:
        """Return once every packet sent before the call is in :attr:`path` (the capture goes on).

        A probe datagram is sent and waited for, as at :meth:`stop`; the file then holds every
        earlier packet, and can be decoded (with :attr:`keylog_path`) while capturing continues.

        Raises:
            CaptureIncomplete: the probe did not come through within ``timeout``.
        """
        if self._process is None and self._sniffer is None:
            raise CaptureError("the capture is not running")
        if self._process is None:
            raise CaptureUnavailable("reading a capture while it runs needs dumpcap (scapy writes at stop)")
        time.sleep(self.settle)
        process = self._process
        if not self._wait_probe(timeout, lambda: process.poll() is None):
            raise CaptureIncomplete(f"{self.path}: the sync probe was not captured within {timeout} s")

    # ----- stop -----------------------------------------------------------------------

    def stop(self, *, require_complete: bool = True, timeout: float = 5.0) -> CaptureStats:
        """Stop once every packet sent so far is captured (the final probe datagram waited for at
        most ``timeout`` s); write the file with its secrets.

        Raises:
            CaptureIncomplete: packets were dropped, or the final probe never came
                through (with ``require_complete``).
            CaptureError: the capture tool failed.
        """
        if self.stats is not None:
            return self.stats
        if self._process is None and self._sniffer is None:
            raise CaptureError("the capture was not started")
        time.sleep(self.settle)
        process, sniffer = self._process, self._sniffer
        if process is not None:
            drained = self._wait_probe(timeout, lambda: process.poll() is None)
        else:
            assert sniffer is not None
            drained = self._wait_probe(timeout, sniffer.alive)
        stats = self._stop_dumpcap() if self._process is not None else self._stop_scapy()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        self._reap(every=True)
        self.stats = stats
        inject_secrets(self.path, self.keylog_path.read_bytes() if self.keylog_path.exists() else b"")
        if require_complete and not (stats.complete and drained):
            received = "" if stats.received is None else f" of {stats.received} received"
            raise CaptureIncomplete(
                f"{self.path}: {stats.dropped} packets dropped, {stats.packets} written{received} "
                f"({stats.method})" + ("" if drained else "; the final probe datagram was never captured")
            )
        return stats

    def _stop_dumpcap(self) -> CaptureStats:
        process = self._process
        assert process is not None
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._kill()
            raise CaptureError("dumpcap did not stop within 15 s of SIGINT") from None
        if self._pump is not None:
            self._pump.join()
        self._process = self._pump = None
        text = self._read_stderr()
        if self._stderr is not None:
            self._stderr.close()
        if process.returncode != 0:
            reason = text.decode("utf-8", "replace").strip()
            raise CaptureError(f"dumpcap failed ({process.returncode}): {reason}")
        captured, received = _CAPTURED.search(text), _RECEIVED.search(text)
        if captured is None:
            raise CaptureError(f"dumpcap did not report its packet count: {text.decode('utf-8', 'replace')}")
        return CaptureStats(
            "dumpcap",
            int(captured[1]),
            int(received[1]) if received else None,
            int(received[2]) if received else 0,
        )

    def _stop_scapy(self) -> CaptureStats:
        sniffer, self._sniffer = self._sniffer, None
        assert sniffer is not None
        return CaptureStats("scapy", *sniffer.stop(self.path))
