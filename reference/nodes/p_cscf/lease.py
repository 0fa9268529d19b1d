"""One block's lease as an eP-CSCF sees it: when to claim, what a claim's answer means.

Sans-I/O (the clock is an argument, house style 2). :mod:`.failover` carries the claims
out over W6 and acts on the events. Theory of operation (TR 23.701 5.2.2.2, "If an
eP-CSCF fails then the wIMPU associated with the failed eP-CSCF shall be re-allocated
to another eP-CSCF"):

- The eP-CSCF configured for a block (its *primary*) claims the lease at start; a
  *standby* first waits ``standby_delay`` so that a primary starting at the same time
  wins, then claims like any other. There is no fail-back: a primary that comes back
  while a standby holds the block stands by in turn.
- The holder renews every ``renew_interval``; the lease lives ``duration``.
- A claim refused with the holder's time left sleeps until that time has run out (or
  one renewal interval, whichever is sooner), then claims again: a failed holder's
  block is taken ``duration`` after its last renewal at the latest (the detection
  time), plus one W6 round trip; a released one within one renewal interval.
- An unreachable registrar changes nothing: the holder keeps serving (no self-fencing;
  the registrar extends every lease when it restarts) and every claimant retries every
  ``retry_interval``.

Transitions (state, answer) -> state, with the event they emit::

    (IDLE, granted)          -> HOLDING   Acquired(previous)
    (HOLDING, granted)       -> HOLDING   -            (renewed; Acquired again if it
                                                        was lost to someone in between)
    (HOLDING, held by other) -> IDLE      Lost(holder)
    (IDLE, held by other)    -> IDLE      -
    (any, unreachable)       -> unchanged -
"""

from __future__ import annotations

import dataclasses
import enum

from reference.spec import clause

__all__ = ["Acquired", "BlockLease", "LeaseTiming", "Lost", "Role", "State"]


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseTiming:
    """The timings of the lease protocol (PIXIT items; short in tests)."""

    duration: float = 10.0
    "How long a lease lives after a claim or renewal, in seconds."
    renew_interval: float | None = None
    "How often the holder renews; default a third of ``duration``."
    standby_delay: float | None = None
    "How long a standby waits after its start before its first claim; default ``duration``."
    retry_interval: float | None = None
    "How often to retry while the registrar is unreachable; default min(1, renew interval)."

    def __post_init__(self) -> None:
        if not self.duration > 0:
            raise ValueError(f"lease duration must be positive, got {self.duration}")
        if not 0 < self.renew < self.duration:
            raise ValueError(f"renew interval {self.renew} must be between 0 and the lease duration")

    @property
    def renew(self) -> float:
        return self.duration / 3 if self.renew_interval is None else self.renew_interval

    @property
    def standby(self) -> float:
        return self.duration if self.standby_delay is None else self.standby_delay

    @property
    def retry(self) -> float:
        return min(1.0, self.renew) if self.retry_interval is None else self.retry_interval


class Role(enum.Enum):
    PRIMARY = "primary"
    "The eP-CSCF the block is configured with (5.2.2.1: associated with the block)."
    STANDBY = "standby"
    "An eP-CSCF the block is re-allocated to if its eP-CSCF fails (5.2.2.2)."


class State(enum.Enum):
    IDLE = "idle"
    "Not serving the block."
    HOLDING = "holding"
    "Serving the block: this eP-CSCF holds its lease."


@dataclasses.dataclass(frozen=True, slots=True)
class Acquired:
    """This eP-CSCF now serves the block."""

    wimpu: str
    previous: str | None
    "The holder before (None: first lease; this eP-CSCF's own identity: re-acquired)."
    generation: int


@dataclasses.dataclass(frozen=True, slots=True)
class Lost:
    """Another eP-CSCF serves the block now; this one must stop serving it."""

    wimpu: str
    holder: str


class BlockLease:
    """The lease of one block, for one claimant."""

    def __init__(self, wimpu: str, holder: str, role: Role, timing: LeaseTiming, now: float) -> None:
        self.wimpu = wimpu
        self.holder = holder
        self.role = role
        self.timing = timing
        self.state = State.IDLE
        self.generation = 0
        self.owner: str | None = None
        "Who holds the lease, as last heard (None: unknown)."
        self._due = now if role is Role.PRIMARY else now + timing.standby

    def get_timer(self) -> float:
        """When the next claim (or renewal) is due."""
        return self._due

    def claim_due(self, now: float) -> bool:
        return now >= self._due

    @clause("TR 23.701 5.2.2.2")
    def receive_granted(self, now: float, *, previous: str | None, generation: int) -> Acquired | None:
        """The registrar granted the claim: the block is (still) this eP-CSCF's (5.2.2.2)."""
        self._due = now + self.timing.renew
        self.owner = self.holder
        regained = self.state is State.HOLDING and generation != self.generation
        was_idle = self.state is State.IDLE
        self.state = State.HOLDING
        self.generation = generation
        if was_idle or regained:
            return Acquired(self.wimpu, previous, generation)
        return None

    @clause("TR 23.701 5.2.2.2")
    def receive_held(self, now: float, *, holder: str, remaining: float) -> Lost | None:
        """Another eP-CSCF holds the block for ``remaining`` seconds more (5.2.2.2: it
        serves the block; if this one did, the block was re-allocated away from it)."""
        # Claim again just after it lapses (a renewal by the holder pushes this on), or
        # after one renewal interval if that is sooner: a lease released by a graceful
        # stop is taken within one renewal interval, not at its old expiry.
        self._due = now + min(max(remaining, 0.0) + min(0.02, self.timing.retry), self.timing.renew)
        self.owner = holder
        if self.state is State.HOLDING:
            self.state = State.IDLE
            return Lost(self.wimpu, holder)
        return None

    def receive_unreachable(self, now: float) -> None:
        """The registrar did not answer: keep the state, retry soon."""
        self._due = now + self.timing.retry
