"""RFC 3261 Appendix A (table 4) timer values, and RFC 6026 timers L and M."""

from __future__ import annotations

import pytest

from reference.sip.timers import T1, T2, T4, TIMER_TABLE, TimerValues


def test_defaults_are_the_rfc_3261_values() -> None:
    assert (T1, T2, T4) == (0.5, 4.0, 5.0)
    timers = TimerValues()
    assert (timers.t1, timers.t2, timers.t4) == (T1, T2, T4)
    assert timers.reliable is False


def test_unreliable_transport_timers_follow_table_4() -> None:
    timers = TimerValues(reliable=False)
    assert timers.timer_a == T1
    assert timers.timer_b == 64 * T1 == 32.0
    assert timers.timer_c > 180.0
    assert timers.timer_d == 32.0
    assert timers.timer_e == T1
    assert timers.timer_f == 64 * T1
    assert timers.timer_g == T1
    assert timers.timer_h == 64 * T1
    assert timers.timer_i == T4
    assert timers.timer_j == 64 * T1
    assert timers.timer_k == T4
    assert timers.timer_l == timers.timer_m == 64 * T1


def test_reliable_transport_has_no_retransmission_timers_and_zero_waits() -> None:
    timers = TimerValues(reliable=True)
    assert timers.timer_a is None
    assert timers.timer_e is None
    assert timers.timer_g is None
    assert timers.timer_d == 0.0
    assert timers.timer_i == 0.0
    assert timers.timer_j == 0.0
    assert timers.timer_k == 0.0


def test_transaction_timeouts_do_not_depend_on_the_transport() -> None:
    for reliable in (False, True):
        timers = TimerValues(reliable=reliable)
        assert timers.timer_b == timers.timer_f == timers.timer_h == 32.0


def test_on_switches_reliability_only() -> None:
    timers = TimerValues(t1=0.1, t2=1.0, t4=2.0)
    tcp = timers.on(reliable=True)
    assert (tcp.t1, tcp.t2, tcp.t4, tcp.reliable) == (0.1, 1.0, 2.0, True)
    assert timers.reliable is False


def test_timers_scale_with_t1() -> None:
    timers = TimerValues(t1=1.0, t2=8.0)
    assert timers.timer_b == 64.0
    assert timers.timer_j == 64.0
    # Timer D is "at least 32 seconds"; with a larger T1 it covers the server's Timer H.
    assert timers.timer_d == 64.0
    assert TimerValues(t1=0.1).timer_d == 32.0


def test_timer_a_doubles_without_cap() -> None:
    timers = TimerValues()
    intervals = [0.5]
    for _ in range(6):
        intervals.append(timers.doubled(intervals[-1]))
    assert intervals == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]


def test_timer_e_and_g_double_up_to_t2() -> None:
    timers = TimerValues()
    intervals = [0.5]
    for _ in range(5):
        intervals.append(timers.capped(intervals[-1]))
    # "For the default values of T1 and T2, this results in intervals of 500 ms, 1 s,
    # 2 s, 4 s, 4 s, 4 s, etc." RFC 3261 17.1.2.2
    assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_values_are_frozen() -> None:
    timers = TimerValues()
    with pytest.raises(AttributeError):
        timers.t1 = 1.0  # type: ignore[misc]


def test_t1_must_be_positive_and_not_above_t2() -> None:
    with pytest.raises(ValueError):
        TimerValues(t1=0)
    with pytest.raises(ValueError):
        TimerValues(t1=5.0, t2=4.0)


def test_table_4_lists_every_timer() -> None:
    assert set(TIMER_TABLE) == {"T1", "T2", "T4", *"ABCDEFGHIJKLM"}
