"""The fallback capture when dumpcap is missing: scapy's ``AsyncSniffer`` on a libpcap socket.

``conf.use_pcap = True`` (tooling notes: without it every loopback packet is captured
twice). The socket is opened here and handed to the sniffer, so that libpcap's own
counters (``pcap_stats``: packets received and dropped by the kernel) can be read at the
end: an in-process sniffer dissects every packet in Python and does fall behind a burst,
and a capture that lost packets must say so, not pretend.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .packets import Datagram, parse_frame

__all__ = ["ScapySniffer"]


class ScapySniffer:
    """Sniff ``interface`` with a BPF filter; call ``on_probe`` for each datagram to ``probe_port``."""

    def __init__(self, interface: str, bpf: str, probe_port: int, on_probe: Callable[[int], None]) -> None:
        self.interface = interface
        self.bpf = bpf
        self._probe_port = probe_port
        self._on_probe = on_probe
        self._sniffer: Any = None
        self._socket: Any = None
        self._use_pcap = False

    def start(self) -> str | None:
        """Open the socket and start the sniffer thread; returns why it failed, or None."""
        import scapy.layers.l2  # noqa: F401 - registers Ethernet, for dissection and the file's link type
        from scapy.config import conf
        from scapy.sendrecv import AsyncSniffer

        self._use_pcap = conf.use_pcap
        try:
            conf.use_pcap = True
            self._socket = conf.L2listen(iface=self.interface, filter=self.bpf)
        except Exception as exc:  # noqa: BLE001 - any failure to open is the reason given
            conf.use_pcap = self._use_pcap
            return f"{type(exc).__name__}: {exc}"
        self._sniffer = AsyncSniffer(opened_socket=self._socket, store=True, prn=self._watch)
        self._sniffer.start()
        return None

    def _watch(self, packet: Any) -> None:
        frame = parse_frame(1, bytes(packet))  # loopback and Ethernet: LINKTYPE_ETHERNET
        if isinstance(frame, Datagram) and frame.dst[1] == self._probe_port:
            self._on_probe(frame.src[1])

    def alive(self) -> bool:
        sniffer = self._sniffer
        return sniffer is not None and sniffer.exception is None and sniffer.thread.is_alive()

    def error(self) -> str | None:
        error = self._sniffer.exception if self._sniffer is not None else None
        return f"{type(error).__name__}: {error}" if error is not None else None

    def stop(self, path: Path | None) -> tuple[int, int | None, int]:
        """Stop; write the packets to ``path`` (pcapng) if given.

        Returns:
            (packets written, None, packets the kernel dropped for want of buffer space).
        """
        from scapy.config import conf
        from scapy.utils import wrpcapng

        packets = self._sniffer.stop() if self._sniffer is not None and self._sniffer.running else []
        counters = _pcap_counters(self._socket)
        self._socket.close()
        conf.use_pcap = self._use_pcap
        if path is not None:
            wrpcapng(str(path), packets)
        # ps_recv is no use on loopback: the kernel counts the outgoing and the incoming
        # copy of each packet, and libpcap drops the outgoing one after counting it.
        dropped = counters[1] if counters is not None else 0
        return len(packets), None, dropped


def _pcap_counters(sock: Any) -> tuple[int, int] | None:
    """libpcap's pcap_stats (ps_recv, ps_drop + ps_ifdrop) of a scapy libpcap socket."""
    try:
        from scapy.libs.winpcapy import pcap_stat, pcap_stats

        stat = pcap_stat()
        if pcap_stats(sock.pcap_fd.pcap, ctypes.byref(stat)) != 0:
            return None
        return int(stat.ps_recv), int(stat.ps_drop) + int(stat.ps_ifdrop)
    except (AttributeError, ImportError, OSError):
        return None
