"""Backoff between attempts of a failed job."""

from datetime import timedelta


def job_backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential: base, 2·base, 4·base … after the 1st, 2nd, 3rd failure, never above `cap`."""
    return min(base * (1 << max(attempts - 1, 0)), cap)
