"""Backoff between failed job attempts: exponential from a base, capped."""

from datetime import timedelta

import pytest

from hazina.domain.retry import job_backoff

BASE = timedelta(seconds=10)
CAP = timedelta(hours=1)


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (9, 2560)],
)
def test_backoff_doubles_after_each_failure(attempts: int, seconds: int) -> None:
    assert job_backoff(attempts, BASE, CAP) == timedelta(seconds=seconds)


def test_backoff_never_exceeds_the_cap() -> None:
    assert job_backoff(10, BASE, CAP) == CAP  # 5120 s > 3600 s
    assert job_backoff(60, BASE, CAP) == CAP
    assert job_backoff(3, BASE, timedelta(seconds=25)) == timedelta(seconds=25)


@pytest.mark.parametrize("attempts", [0, -3])
def test_no_failure_yet_waits_the_base(attempts: int) -> None:
    assert job_backoff(attempts, BASE, CAP) == BASE


def test_backoff_is_monotonic() -> None:
    waits = [job_backoff(n, timedelta(milliseconds=50), timedelta(seconds=2)) for n in range(1, 12)]
    assert waits == sorted(waits)
    assert waits[0] == timedelta(milliseconds=50)
    assert waits[-1] == timedelta(seconds=2)


def test_zero_base_means_retry_at_once() -> None:
    assert job_backoff(4, timedelta(0), CAP) == timedelta(0)


def test_many_attempts_do_not_overflow() -> None:
    # 10 s · 2^999 is far beyond timedelta's range: the cap must apply before the arithmetic does.
    assert job_backoff(1000, BASE, CAP) == CAP
    assert job_backoff(1000, timedelta(days=1), timedelta(days=999_999_999)) == timedelta(
        days=999_999_999
    )
