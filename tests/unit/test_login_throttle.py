"""The login throttle: failures per email and address in a sliding window."""

from hazina.services.dashboard_users import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_blocks_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, 60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("a@example.com", "1.2.3.4") is None
        throttle.record_failure("a@example.com", "1.2.3.4")
        clock.now += 10
    assert throttle.retry_after("A@Example.com ", "1.2.3.4") == 30
    clock.now += 30
    assert throttle.retry_after("a@example.com", "1.2.3.4") is None


def test_each_email_and_address_counts_separately() -> None:
    throttle = LoginThrottle(1, 60, clock=Clock())
    throttle.record_failure("a@example.com", "1.2.3.4")
    assert throttle.retry_after("a@example.com", "1.2.3.4") is not None
    assert throttle.retry_after("b@example.com", "1.2.3.4") is None
    assert throttle.retry_after("a@example.com", "5.6.7.8") is None


def test_a_successful_login_resets_the_count() -> None:
    throttle = LoginThrottle(2, 60, clock=Clock())
    throttle.record_failure("a@example.com", "ip")
    throttle.reset("a@example.com", "ip")
    throttle.record_failure("a@example.com", "ip")
    assert throttle.retry_after("a@example.com", "ip") is None


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(1, 60, max_entries=2, clock=Clock())
    for email in ("a@x", "b@x", "c@x"):
        throttle.record_failure(email, "ip")
    assert throttle.retry_after("a@x", "ip") is None  # the oldest was dropped
    assert throttle.retry_after("c@x", "ip") is not None
