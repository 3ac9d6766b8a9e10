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
