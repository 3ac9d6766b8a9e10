"""What the services need from the outside world, as Protocols the adapters implement."""

from typing import Protocol


class SimulatedProcessor(Protocol):
    """The sandbox's stand-in for a payment network (methods `upi` and `card`)."""

    async def settle(self, method: str) -> bool:
        """Take as long as the simulated network would, then say whether the payment succeeded."""
        ...
