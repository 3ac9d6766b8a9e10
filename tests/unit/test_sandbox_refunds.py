"""The sandbox's refund timing: the contract's 3-5 s, or TEST_PROCESSING_DELAY in test mode."""

import random

from hazina.providers.sandbox import SandboxProcessor, SandboxSimulation


def simulation(*, test_mode: bool) -> SandboxSimulation:
    return SandboxSimulation(
        test_mode=test_mode,
        test_delay_ms=250,
        test_success=True,
        success_rates={"upi": 0.9, "card": 0.95},
        delay_min_ms=5000,
        delay_max_ms=10000,
    )


def test_test_mode_refunds_take_the_test_processing_delay() -> None:
    assert SandboxProcessor(simulation(test_mode=True)).refund_delay() == 0.25


def test_refunds_otherwise_take_three_to_five_seconds() -> None:
    processor = SandboxProcessor(simulation(test_mode=False), rng=random.Random(7))
    delays = [processor.refund_delay() for _ in range(200)]
    assert all(3.0 <= delay <= 5.0 for delay in delays)
    assert max(delays) - min(delays) > 1.0
