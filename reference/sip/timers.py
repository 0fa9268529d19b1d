"""RFC 3261 transaction timers (section 17 and Appendix A, table 4) and RFC 6026 L/M.

The values are plain numbers of seconds; nothing here reads a clock. A transaction
adds them to the ``now`` it is given (the aioquic pattern), so tests drive every timer
with a fake clock.

``reliable`` means TCP, TLS, SCTP or WebSocket (RFC 7118 section 5: WebSocket is a
reliable transport for the purposes of RFC 3261 section 17). On a reliable transport the
retransmission timers (A, E, G) are not started and the "absorb retransmissions" waits
(D, I, J, K) are zero.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

__all__ = ["T1", "T2", "T4", "TIMER_TABLE", "TimerValues"]

T1: Final = 0.5
"RTT estimate (RFC 3261 17.1.1.1: 'The default value for T1 is 500 ms')."
T2: Final = 4.0
"Maximum retransmit interval for non-INVITE requests and INVITE responses."
T4: Final = 5.0
"Maximum duration a message will remain in the network."

TIMER_TABLE: Final[Mapping[str, tuple[str, str, str]]] = {
    # name: (value, section, meaning)            RFC 3261 Appendix A, table 4
    "T1": ("500ms default", "17.1.1.1", "RTT Estimate"),
    "T2": ("4s", "17.1.2.2", "The maximum retransmit interval for non-INVITE "
           "requests and INVITE responses"),
    "T4": ("5s", "17.1.2.2", "Maximum duration a message will remain in the network"),
    "A": ("initially T1", "17.1.1.2", "INVITE request retransmit interval, for UDP only"),
    "B": ("64*T1", "17.1.1.2", "INVITE transaction timeout timer"),
    "C": ("> 3min", "16.6 bullet 11", "proxy INVITE transaction timeout"),
    "D": ("> 32s for UDP, 0s for TCP/SCTP", "17.1.1.2", "Wait time for response "
          "retransmits"),
    "E": ("initially T1", "17.1.2.2", "non-INVITE request retransmit interval, UDP only"),
    "F": ("64*T1", "17.1.2.2", "non-INVITE transaction timeout timer"),
    "G": ("initially T1", "17.2.1", "INVITE response retransmit interval"),
    "H": ("64*T1", "17.2.1", "Wait time for ACK receipt"),
    "I": ("T4 for UDP, 0s for TCP/SCTP", "17.2.1", "Wait time for ACK retransmits"),
    "J": ("64*T1 for UDP, 0s for TCP/SCTP", "17.2.2", "Wait time for non-INVITE request "
          "retransmits"),
    "K": ("T4 for UDP, 0s for TCP/SCTP", "17.1.2.2", "Wait time for response retransmits"),
    "L": ("64*T1", "RFC 6026 8.7", "Wait time for accepted INVITE request retransmits"),
    "M": ("64*T1", "RFC 6026 8.4", "Wait time for retransmission of 2xx to INVITE or "
          "additional 2xx from other branches of a forked INVITE"),
}  # fmt: skip
"Table 4 of RFC 3261 (plus RFC 6026 timers L and M), for reports."


@dataclasses.dataclass(frozen=True, slots=True)
class TimerValues:
    """T1, T2, T4 and the timers A..M derived from them, for one kind of transport.

    A transaction replaces ``reliable`` with its own transport's reliability
    (``dataclasses.replace(timers, reliable=...)``), so one instance can configure a
    whole transaction layer.
    """

    t1: float = T1
    t2: float = T2
    t4: float = T4
    reliable: bool = False
    "True for TCP, TLS, SCTP and WebSocket."

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            raise ValueError(f"timers need 0 < T1 <= T2, got T1={self.t1} T2={self.t2}")

    def on(self, *, reliable: bool) -> TimerValues:
        """The same values for a transport of the given reliability."""
        return dataclasses.replace(self, reliable=reliable)

    # ----- client, INVITE (17.1.1.2) -------------------------------------------------

    @property
    def timer_a(self) -> float | None:
        """Initial INVITE retransmit interval; None on a reliable transport.

        "If a reliable transport is being used, the client transaction SHOULD NOT
        start timer A" (RFC 3261 17.1.1.2).
        """
        return None if self.reliable else self.t1

    @property
    def timer_b(self) -> float:
        """INVITE transaction timeout: 64*T1 for any transport."""
        return 64 * self.t1

    @property
    def timer_c(self) -> float:
        """Proxy INVITE timeout: "The timer MUST be larger than 3 minutes" (16.6 item 11)."""
        return 181.0

    @property
    def timer_d(self) -> float:
        """Wait for final-response retransmissions: "a value of at least 32 seconds for
        unreliable transports, and a value of zero seconds for reliable transports"
        (17.1.1.2). 32 s, or the server's Timer H (64*T1) when a larger T1 is configured."""
        return 0.0 if self.reliable else max(32.0, 64 * self.t1)

    # ----- client, non-INVITE (17.1.2.2) ---------------------------------------------

    @property
    def timer_e(self) -> float | None:
        """Initial non-INVITE retransmit interval; None on a reliable transport."""
        return None if self.reliable else self.t1

    @property
    def timer_f(self) -> float:
        """Non-INVITE transaction timeout: 64*T1."""
        return 64 * self.t1

    @property
    def timer_k(self) -> float:
        """Wait for response retransmits: "T4 seconds for unreliable transports, and zero
        seconds for reliable transports" (17.1.2.2)."""
        return 0.0 if self.reliable else self.t4

    # ----- server, INVITE (17.2.1) ---------------------------------------------------

    @property
    def timer_g(self) -> float | None:
        """Initial INVITE final-response retransmit interval; None when reliable."""
        return None if self.reliable else self.t1

    @property
    def timer_h(self) -> float:
        """Wait for ACK: "64*T1 seconds for all transports" (17.2.1)."""
        return 64 * self.t1

    @property
    def timer_i(self) -> float:
        """Wait for ACK retransmits: "T4 seconds for unreliable transports, and zero seconds
        for reliable transports" (17.2.1)."""
        return 0.0 if self.reliable else self.t4

    # ----- server, non-INVITE (17.2.2) -----------------------------------------------

    @property
    def timer_j(self) -> float:
        """Wait for request retransmits: "64*T1 seconds for unreliable transports, and zero
        seconds for reliable transports" (17.2.2)."""
        return 0.0 if self.reliable else 64 * self.t1

    # ----- RFC 6026 --------------------------------------------------------------------

    @property
    def timer_l(self) -> float:
        """Server "Accepted" state lifetime: 64*T1 (RFC 6026 8.7)."""
        return 64 * self.t1

    @property
    def timer_m(self) -> float:
        """Client "Accepted" state lifetime: 64*T1 (RFC 6026 8.4)."""
        return 64 * self.t1

    # ----- back-off ------------------------------------------------------------------

    def doubled(self, interval: float) -> float:
        """Timer A's next interval: "intervals that double after each transmission"."""
        return 2 * interval

    def capped(self, interval: float) -> float:
        """Timers E and G's next interval: MIN(2*interval, T2) (17.1.2.2, 17.2.1)."""
        return min(2 * interval, self.t2)
