"""What the payout use cases need beyond the database."""

from collections.abc import Mapping
from dataclasses import dataclass

from hazina.domain.errors import BadRequest
from hazina.services.ports import PayoutProvider
from hazina.services.provider_payments import ProviderContext

SANDBOX = "sandbox"
CLICKPESA = "clickpesa"


@dataclass(frozen=True, slots=True)
class PayoutContext:
    # Payout adapters by provider name (the sandbox's, and ClickPesa's beside its collections).
    adapters: Mapping[str, PayoutProvider]
    # The accounts, vault and default accounts the collections use: one set of credentials.
    providers: ProviderContext
    # Seconds after a payout starts at which its provider is asked again while it is still
    # moving; after the last, that last interval repeats until the payout is final.
    check_schedule: tuple[float, ...]

    def adapter(self, provider: str) -> PayoutProvider:
        adapter = self.adapters.get(provider)
        if adapter is None:
            names = ", ".join(sorted(self.adapters))
            raise BadRequest(f"provider must be one of: {names}")
        return adapter

    def delay_of_check(self, provider: str, check: int) -> float:
        """When to ask about a payout for the `check`-th time (0: right after the start). The
        sandbox settles at once."""
        if provider == SANDBOX or not self.check_schedule:
            return 0.0
        return self.check_schedule[min(check, len(self.check_schedule) - 1)]
