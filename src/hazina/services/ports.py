"""What the services need from the outside world, as Protocols the adapters implement."""

from typing import Protocol

from hazina.domain.webhooks import AttemptOutcome, WebhookMessage


class SimulatedProcessor(Protocol):
    """The sandbox's stand-in for a payment network (methods `upi` and `card`)."""

    async def settle(self, method: str) -> bool:
        """Take as long as the simulated network would, then say whether the payment succeeded."""
        ...

    async def settle_refund(self) -> None:
        """Take as long as the simulated network needs to return a refund's money."""
        ...


class WebhookSender(Protocol):
    """Signs and POSTs one webhook attempt; never raises for what the receiver or network did."""

    async def send(self, message: WebhookMessage) -> AttemptOutcome: ...

    async def aclose(self) -> None: ...
