"""Backoff between attempts of a failed job."""

from datetime import timedelta


def job_backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential: base, 2·base, 4·base … after the 1st, 2nd, 3rd failure, never above `cap`.

    Doubles step by step and stops at the cap, so a large attempt count cannot overflow timedelta.
    """
    delay = base
    for _ in range(max(attempts - 1, 0)):
        if delay >= cap / 2:
            return cap
        delay *= 2
    return min(delay, cap)
