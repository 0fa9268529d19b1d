"""Login throttling, sans-I/O (``reference/nodes/wwsf/throttle.py``): budgets per source,
per user and source, per user; refusals before hashing; the real user not locked out."""

from __future__ import annotations

import pytest

from reference.nodes.wwsf.throttle import Budget, LoginThrottle, TokenBuckets, source_key

X, Y = "192.0.2.66", "198.51.100.7"


def fail(throttle: LoginThrottle, username: str, source: str, now: float, times: int) -> list[bool]:
    return [throttle.attempt(username, source, now).allowed for _ in range(times)]


def test_token_bucket_refills_evenly_over_its_window() -> None:
    buckets = TokenBuckets(Budget(3, 60.0))
    for _ in range(3):
        assert buckets.wait("k", 0.0) == 0
        buckets.take("k", 0.0)
    assert buckets.wait("k", 0.0) == pytest.approx(20.0)
    assert buckets.wait("k", 15.0) == pytest.approx(5.0)
    assert buckets.wait("k", 20.0) == 0


def test_token_buckets_keep_at_most_max_keys() -> None:
    buckets = TokenBuckets(Budget(1, 60.0), max_keys=100)
    for i in range(1000):
        buckets.take(i, 0.0)
    assert len(buckets) == 100


def test_one_user_from_one_source_is_refused_after_its_budget_with_retry_after() -> None:
    throttle = LoginThrottle(per_user_source=Budget(5, 60.0))
    assert fail(throttle, "alice", X, 0.0, 6) == [True] * 5 + [False]
    verdict = throttle.attempt("alice", X, 0.0)
    assert not verdict.allowed and verdict.retry_after == 12
    assert verdict.reason == "too many failed logins for this user from this address"
    assert throttle.attempt("alice", X, 12.0).allowed


def test_one_source_guessing_many_users_is_refused_after_its_budget() -> None:
    throttle = LoginThrottle(per_source=Budget(10, 60.0))
    allowed = [throttle.attempt(f"user{i}", X, 0.0).allowed for i in range(12)]
    assert allowed == [True] * 10 + [False] * 2
    assert throttle.attempt("user99", X, 0.0).reason == "too many failed logins from this address"
    assert throttle.attempt("user0", Y, 0.0).allowed


def test_attacker_at_x_does_not_lock_out_the_real_user_at_y() -> None:
    throttle = LoginThrottle()
    fail(throttle, "alice", X, 0.0, 200)
    assert throttle.attempt("alice", Y, 1.0).allowed  # Y never seen before: still allowed


def test_a_spread_attack_locks_unknown_sources_but_not_the_users_known_one() -> None:
    throttle = LoginThrottle(per_user=Budget(30, 60.0))
    assert throttle.attempt("alice", Y, 0.0).allowed
    throttle.succeeded("alice", Y, 0.0)  # alice's usual browser
    for n in range(20):
        fail(throttle, "alice", f"203.0.113.{n}", 1.0, 5)
    assert not throttle.attempt("alice", "203.0.113.200", 1.0).allowed  # unknown: per-user budget spent
    assert throttle.attempt("alice", Y, 1.0).allowed  # known: exempt from the per-user budget


def test_success_refunds_the_attempt() -> None:
    throttle = LoginThrottle(per_user_source=Budget(2, 60.0))
    for _ in range(10):
        assert throttle.attempt("alice", X, 0.0).allowed
        throttle.succeeded("alice", X, 0.0)


def test_refused_attempts_spend_nothing() -> None:
    throttle = LoginThrottle(per_user_source=Budget(1, 60.0), per_source=Budget(5, 60.0))
    fail(throttle, "alice", X, 0.0, 100)  # 1 allowed, 99 refused
    assert [throttle.attempt(f"u{i}", X, 0.0).allowed for i in range(5)] == [True] * 4 + [False]


def test_ipv6_sources_are_throttled_by_their_64() -> None:
    assert source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert source_key(None) == "?"
