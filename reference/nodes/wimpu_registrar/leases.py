"""Block leases: which eP-CSCF serves each wIMPU block now (TR 23.701 5.2.2.2, failover).

"Each block of wIMPU shall be allocated a different eP-CSCF" and "If an eP-CSCF fails
then the wIMPU associated with the failed eP-CSCF shall be re-allocated to another
eP-CSCF." The text says neither who detects the failure nor who decides; this project's
answer is a lease per block held in the wIMPU Registrar, the one store every eP-CSCF
already shares (W6):

- the eP-CSCF serving a block holds its lease and renews it well before it lapses;
- an eP-CSCF standing by for the block claims the lease once it has lapsed: a claim is
  one write transaction (``BEGIN IMMEDIATE`` on SQLite, the writer lock on PostgreSQL,
  :mod:`.backends`), so of two eP-CSCFs claiming one block at once exactly one wins, even
  through two registrar processes sharing one PostgreSQL database, and the other is told
  who holds it and for how long;
- every change of holder increments ``generation`` (a fencing token);
- the WWSF reads the holders to point WICs at the eP-CSCF serving their block.

Clock-free like :mod:`.store`: every function takes ``now``. The functions run inside a
transaction the :class:`~.store.Store` opens.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from typing import Any, Final

from reference.spec import clause

from .backends import Db
from .model import (
    ConflictError,
    NotFoundError,
    ValidationError,
    _block,
    _object,
    _text,
    check_wimpu,
)

__all__ = [
    "LEASES_SCHEMA",
    "MAX_LEASE_DURATION",
    "MIN_LEASE_DURATION",
    "Lease",
    "LeaseClaim",
    "LeaseHeldError",
    "LeaseOutcome",
    "block_key",
    "claim",
    "extend_all",
    "parse_lease_claim",
    "read",
    "read_all",
    "release",
]

MIN_LEASE_DURATION: Final = 0.05
"Shortest lease accepted, in seconds (short leases make failover tests fast)."
MAX_LEASE_DURATION: Final = 3600.0
"Longest lease accepted, in seconds."

LEASES_SCHEMA: Final = """
CREATE TABLE leases (
    block_key   TEXT PRIMARY KEY,
    wimpu       TEXT NOT NULL,
    holder      TEXT NOT NULL,
    access      TEXT,
    duration    REAL NOT NULL,
    expires_at  REAL NOT NULL,
    released    INTEGER NOT NULL DEFAULT 0,
    generation  INTEGER NOT NULL,
    acquired_at REAL NOT NULL,
    renewed_at  REAL NOT NULL
)
"""

_COLUMNS: Final = (
    "block_key, wimpu, holder, access, duration, expires_at, released, generation, acquired_at, renewed_at"
)


class LeaseOutcome(enum.Enum):
    """What a granted claim did."""

    ACQUIRED = "acquired"
    "The block had no lease yet: the claimant holds it (generation 1)."
    RENEWED = "renewed"
    "The claimant already held the lease (live or lapsed): it is extended."
    TAKEN_OVER = "taken-over"
    "Another eP-CSCF's lease had lapsed or was released: the claimant holds it now."


class LeaseHeldError(ConflictError):
    """Another eP-CSCF holds a live lease on the block (409)."""

    def __init__(self, lease: Lease, now: float) -> None:
        super().__init__(
            f"block {lease.wimpu} is served by {lease.holder} for {lease.remaining(now):.3f} s more"
        )
        self.lease = lease
        self.now = now


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """The lease of one block, as stored."""

    wimpu: str
    "The wildcarded IMPU of the block, as its first claimant wrote it."
    holder: str
    "Identity of the eP-CSCF serving the block."
    access: Mapping[str, str] | None
    "Where WICs reach the holder (``uri``, ``identity``), for the WWSF directory; None: unchanged."
    duration: float
    expires_at: float
    released: bool
    "The holder gave the lease up (a standby may take it at once)."
    generation: int
    "Incremented at each change of holder: a fencing token."
    acquired_at: float
    renewed_at: float

    def live(self, now: float) -> bool:
        return not self.released and self.expires_at > now

    def remaining(self, now: float) -> float:
        """Seconds until the lease lapses (0 once lapsed)."""
        return max(0.0, self.expires_at - now) if not self.released else 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseClaim:
    """The body of a lease claim (W6)."""

    holder: str
    duration: float
    access: Mapping[str, str] | None = None


def block_key(wimpu: str) -> str:
    """One key per block whatever the spelling of its wildcarded IMPU (TS 23.003 13.4A)."""
    return _block(check_wimpu(wimpu)).key()


def parse_lease_claim(body: object) -> LeaseClaim:
    """Validate the JSON body of a lease claim.

    Raises:
        ValidationError: naming the first offending field.
    """
    fields = _object(body, "", {"holder", "duration"}, {"access"})
    holder = _text(fields["holder"], "holder")
    duration = fields["duration"]
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not math.isfinite(duration):
        raise ValidationError("duration", "must be a number of seconds")
    if not MIN_LEASE_DURATION <= duration <= MAX_LEASE_DURATION:
        raise ValidationError(
            "duration",
            f"must be between {MIN_LEASE_DURATION} and {MAX_LEASE_DURATION} seconds, got {duration}",
        )
    access = fields.get("access")
    if access is not None:
        a = _object(access, "access", {"uri", "identity"}, set())
        access = {"uri": _text(a["uri"], "access.uri"), "identity": _text(a["identity"], "access.identity")}
    return LeaseClaim(holder=holder, duration=float(duration), access=access)


def _lease(row: tuple[Any, ...]) -> Lease:
    _, wimpu, holder, access, duration, expires_at, released, generation, acquired_at, renewed_at = row
    return Lease(
        wimpu=str(wimpu),
        holder=str(holder),
        access=None if access is None else dict(json.loads(str(access))),
        duration=float(duration),
        expires_at=float(expires_at),
        released=bool(released),
        generation=int(generation),
        acquired_at=float(acquired_at),
        renewed_at=float(renewed_at),
    )


def read(db: Db, wimpu: str) -> Lease | None:
    """The lease of a block, live or lapsed, or None if it never had one."""
    row = db.execute(f"SELECT {_COLUMNS} FROM leases WHERE block_key = ?", (block_key(wimpu),)).fetchone()
    return None if row is None else _lease(row)


def read_all(db: Db) -> list[Lease]:
    """Every block's lease, live or lapsed, by wildcarded IMPU."""
    return [_lease(r) for r in db.execute(f"SELECT {_COLUMNS} FROM leases ORDER BY wimpu")]


@clause("TR 23.701 5.2.2.2")
def claim(db: Db, wimpu: str, request: LeaseClaim, now: float) -> tuple[Lease, LeaseOutcome, str | None]:
    """Claim or renew the lease of a block (run inside one write transaction).

    5.2.2.2: "If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF
    shall be re-allocated to another eP-CSCF." The lease goes to the claimant if the
    block has none, if the claimant holds it already, or if the holder's lease has
    lapsed or was released (re-allocation); otherwise the claim is refused.

    Returns:
        The lease as stored, what the claim did, and the previous holder (None for a
        first lease; the claimant itself for a renewal).

    Raises:
        LeaseHeldError: another eP-CSCF holds a live lease on the block.
    """
    key = block_key(wimpu)
    current = read(db, wimpu)
    access = None if request.access is None else json.dumps(dict(request.access), sort_keys=True)
    expires_at = now + request.duration
    if current is None:
        db.execute(
            f"INSERT INTO leases ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?)",
            (key, wimpu, request.holder, access, request.duration, expires_at, now, now),
        )
        outcome, previous = LeaseOutcome.ACQUIRED, None
    elif current.holder == request.holder:
        db.execute(
            "UPDATE leases SET access = ?, duration = ?, expires_at = ?, released = 0, renewed_at = ?"
            " WHERE block_key = ?",
            (access, request.duration, expires_at, now, key),
        )
        outcome, previous = LeaseOutcome.RENEWED, current.holder
    elif current.live(now):
        raise LeaseHeldError(current, now)
    else:
        db.execute(
            "UPDATE leases SET holder = ?, access = ?, duration = ?, expires_at = ?, released = 0,"
            " generation = generation + 1, acquired_at = ?, renewed_at = ? WHERE block_key = ?",
            (request.holder, access, request.duration, expires_at, now, now, key),
        )
        outcome, previous = LeaseOutcome.TAKEN_OVER, current.holder
    stored = read(db, wimpu)
    assert stored is not None
    return stored, outcome, previous


def release(db: Db, wimpu: str, holder: str, now: float) -> Lease:
    """The holder gives the lease up (a graceful stop): a standby may take it at once.

    Raises:
        NotFoundError: the block has no lease.
        ConflictError: another eP-CSCF holds the lease.
    """
    current = read(db, wimpu)
    if current is None:
        raise NotFoundError(f"block {wimpu} has no lease")
    if current.holder != holder:
        raise ConflictError(f"block {wimpu} is held by {current.holder}, not {holder}")
    db.execute(
        "UPDATE leases SET released = 1,"
        " expires_at = CASE WHEN expires_at < ? THEN expires_at ELSE ? END WHERE block_key = ?",
        (now, now, block_key(wimpu)),
    )
    stored = read(db, wimpu)
    assert stored is not None
    return stored


def extend_all(db: Db, now: float) -> int:
    """Grace after a registrar restart: every unreleased lease lives one duration more.

    While the registrar was down no holder could renew; without a grace the standbys
    and the holders would race for every block as soon as it is back, and a healthy
    eP-CSCF could lose its blocks (and its WICs their connections) for nothing. This
    is the grace period Chubby gives its clients after a master fail-over.

    Returns:
        How many leases were extended.
    """
    return db.execute(
        "UPDATE leases SET expires_at = ? + duration WHERE released = 0 AND expires_at < ? + duration",
        (now, now),
    ).rowcount
