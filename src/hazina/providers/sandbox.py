"""The sandbox provider: the contract's simulated UPI and card network."""

import asyncio
import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SandboxSimulation:
    """Test mode: fixed delay and outcome. Otherwise a random delay and per-method success rate."""

    test_mode: bool
    test_delay_ms: int
    test_success: bool
    success_rates: dict[str, float]
    delay_min_ms: int
    delay_max_ms: int
    # The contract's ProcessRefundJob takes 3-5 s; test mode uses `test_delay_ms` for both.
    refund_delay_min_ms: int = 3000
    refund_delay_max_ms: int = 5000


@dataclass(slots=True)
class SandboxProcessor:
    simulation: SandboxSimulation
    rng: random.Random = field(default_factory=random.Random)

    def decide(self, method: str) -> tuple[float, bool]:
        """(delay in seconds, succeeded)."""
        sim = self.simulation
        if sim.test_mode:
            return sim.test_delay_ms / 1000, sim.test_success
        low, high = sorted((sim.delay_min_ms, sim.delay_max_ms))
        delay = self.rng.uniform(low, high) / 1000
        return delay, self.rng.random() < sim.success_rates.get(method, 0.0)

    async def settle(self, method: str) -> bool:
        delay, succeeded = self.decide(method)
        await asyncio.sleep(delay)
        return succeeded

    def refund_delay(self) -> float:
        """Seconds a refund takes; a sandbox refund always goes through."""
        sim = self.simulation
        if sim.test_mode:
            return sim.test_delay_ms / 1000
        low, high = sorted((sim.refund_delay_min_ms, sim.refund_delay_max_ms))
        return self.rng.uniform(low, high) / 1000

    async def settle_refund(self) -> None:
        await asyncio.sleep(self.refund_delay())
