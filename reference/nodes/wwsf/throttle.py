"""Login throttling of the WWSF (TR 23.701 5.2.2.5.2 step 1 "common web authentication",
issue 13 item 6): slows password guessing without locking the real user out.

Sans-I/O: every method takes ``now`` (monotonic seconds); the service asks
:meth:`LoginThrottle.attempt` *before* it hashes a password, answers a refusal with
HTTP 429 and ``Retry-After`` (RFC 6585 4, RFC 9110 10.2.3), and reports the outcome.

Design. Each attempt spends one token from up to three token buckets; a bucket holds
``attempts`` tokens and gets all of them back over ``window`` seconds (one every
``window / attempts`` s). An attempt is refused, without spending anything, when one of
its buckets is empty. A successful login gives back what it spent.

1. **Per source address** (an IPv4 address, or the /64 of an IPv6 one): one host cannot
   guess many passwords, for one user or spread over many users.
2. **Per user and source**: the tightest budget, for the usual attack, one host against
   one account. It is kept apart from the source budget so a NAT shared by many users
   does not make one user's typos count against another's account.
3. **Per user, any source**: against a guessing spread over many addresses. Lock-out is
   the danger here, so this budget is larger than the per-source one (one attacking
   address can never empty it alone), and a source from which the user has logged in
   successfully in the last ``known_for`` seconds is *not* charged to it.

Why the real user is not locked out: an attacker failing from source X empties the
buckets of X and of (user, X), which the user at source Y never uses; what X spends of
the user's own bucket is capped by X's budget, smaller than the user's. Only an attacker
with several addresses can empty the user's bucket, and even then the user still logs in
from any address they used successfully before (their usual browser) and, elsewhere,
after ``Retry-After``; a successful login refills the (user, source) and source buckets.

Refusals are decided before any hashing, so a throttled guess costs the server a table
look-up, not a scrypt. Memory is bounded: each table keeps at most ``max_keys`` buckets
(least recently used dropped first; a dropped bucket is full again) and each user at most
``known_per_user`` known sources.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["Budget", "LoginThrottle", "TokenBuckets", "Verdict", "source_key"]


@dataclasses.dataclass(frozen=True, slots=True)
class Budget:
    """``attempts`` login attempts per ``window`` seconds (refilled evenly)."""

    attempts: int
    window: float

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.window <= 0:
            raise ValueError("a budget needs attempts >= 1 and window > 0")


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one login attempt, before any password is checked."""

    allowed: bool
    retry_after: int = 0
    "Whole seconds until the attempt would be allowed (for ``Retry-After``)."
    reason: str = ""


@dataclasses.dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """A bounded table of token buckets, one per key, all with one :class:`Budget`."""

    def __init__(self, budget: Budget, *, max_keys: int = 10_000) -> None:
        self.budget = budget
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: Hashable, now: float) -> _Bucket:
        rate = self.budget.attempts / self.budget.window
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.budget.attempts), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.budget.attempts), bucket.tokens + elapsed * rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` has a token (0: it has one now)."""
        bucket = self._refilled(key, now)
        if bucket.tokens >= 1:
            return 0.0
        return (1 - bucket.tokens) * self.budget.window / self.budget.attempts

    def take(self, key: Hashable, now: float) -> None:
        self._refilled(key, now).tokens -= 1

    def give(self, key: Hashable, now: float) -> None:
        bucket = self._refilled(key, now)
        bucket.tokens = min(float(self.budget.attempts), bucket.tokens + 1)


def source_key(address: str | None) -> str:
    """The throttling key of a source address: IPv4 as is, IPv6 by its /64 (one host or
    one home usually has a whole /64)."""
    if not address:
        return "?"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    """The three budgets of the module docstring, and the sources known per user.

    Args:
        per_source: failed-login budget of one source address, over all users.
        per_user_source: budget of one user from one source address.
        per_user: budget of one user over all sources not known for that user.
        known_for: seconds a source stays known after a successful login of the user.
        known_per_user: known sources kept per user (most recent first).
        max_keys: buckets kept per table.
    """

    def __init__(
        self,
        *,
        per_source: Budget = Budget(10, 60.0),
        per_user_source: Budget = Budget(5, 60.0),
        per_user: Budget = Budget(30, 60.0),
        known_for: float = 30 * 24 * 3600.0,
        known_per_user: int = 8,
        max_keys: int = 10_000,
    ) -> None:
        self.sources = TokenBuckets(per_source, max_keys=max_keys)
        self.user_sources = TokenBuckets(per_user_source, max_keys=max_keys)
        self.users = TokenBuckets(per_user, max_keys=max_keys)
        self.known_for = known_for
        self.known_per_user = known_per_user
        self._known: dict[str, OrderedDict[str, float]] = {}

    def _tables(self, username: str, source: str, now: float) -> list[tuple[TokenBuckets, Hashable, str]]:
        tables: list[tuple[TokenBuckets, Hashable, str]] = [
            (self.sources, source, "too many failed logins from this address"),
            (self.user_sources, (username, source), "too many failed logins for this user from this address"),
        ]
        if not self._known_key(username, source, now):
            tables.append((self.users, username, "too many failed logins for this user"))
        return tables

    def attempt(self, username: str, source: str, now: float) -> Verdict:
        """Decide an attempt before the password is checked; an allowed one is charged."""
        key = source_key(source)
        tables = self._tables(username, key, now)
        waits = [(table.wait(k, now), reason) for table, k, reason in tables]
        longest, reason = max(waits, key=lambda w: w[0])
        if longest > 0:
            return Verdict(False, max(1, math.ceil(longest)), reason)
        for table, k, _ in tables:
            table.take(k, now)
        return Verdict(True)

    def succeeded(self, username: str, source: str, now: float) -> None:
        """The allowed attempt was the right password: refund it, remember the source."""
        key = source_key(source)
        for table, k, _ in self._tables(username, key, now):
            table.give(k, now)
        known = self._known.setdefault(username, OrderedDict())
        known[key] = now
        known.move_to_end(key)
        while len(known) > self.known_per_user:
            known.popitem(last=False)

    def is_known(self, username: str, source: str, now: float) -> bool:
        """Has ``username`` logged in successfully from ``source`` within ``known_for``?"""
        return self._known_key(username, source_key(source), now)

    def _known_key(self, username: str, key: str, now: float) -> bool:
        known = self._known.get(username)
        seen = None if known is None else known.get(key)
        return seen is not None and now - seen < self.known_for
