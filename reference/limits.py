"""Limits that protect legitimate WICs and users (issue 13 item 6; ``docs/security.md``).

One record for the stack configuration's ``[limits]`` table; the IWF hands the WSS part
to its listener (``reference.transport.websocket``), the WWSF the log-in part to its
throttle (``reference.nodes.wwsf.throttle``). The defaults are the nodes' own defaults.
"""

from __future__ import annotations

import dataclasses

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    wss_max_connections: int = 10_000
    "Open WSS connections of one IWF, all sources (beyond: 503 at the handshake)."
    wss_max_per_source: int = 200
    "Open WSS connections from one source address (beyond: 503; a NAT hides many WICs)."
    wss_retry_after: int = 30
    "Seconds in the Retry-After of those 503s."
    wss_register_within: float | None = 30.0
    "Seconds from opening to the first authorised REGISTER (then close 1008); None: never."
    login_per_source: int = 10
    "Failed web log-ins per source address per ``login_window`` (beyond: 429)."
    login_per_user_source: int = 5
    "Failed log-ins of one user from one source address per ``login_window``."
    login_per_user: int = 30
    "Failed log-ins of one user from addresses not known for that user per ``login_window``."
    login_window: float = 60.0
    "Seconds over which the log-in budgets refill."
    login_hash_workers: int = 2
    "Threads that hash passwords (scrypt) in the WWSF."

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f"{field.name} must be a positive number, got {value!r}")


DEFAULT_LIMITS = Limits()
"The defaults, shared (the record is frozen)."
