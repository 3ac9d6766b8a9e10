"""Which provider serves which payment method, and the deployment's default accounts."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.gateways import GENERIC, gateway_name
from hazina.domain.ledger import CREDIT
from hazina.domain.providers import Capability, CredentialFields, ProviderAccess
from hazina.services.ports import PaymentProvider

SANDBOX = "sandbox"


@dataclass(frozen=True, slots=True)
class ProviderRegistry:
    """The sandbox's methods are settled by Hazina's own worker (a simulated network); every
    other method belongs to an HTTP provider adapter."""

    adapters: Mapping[str, PaymentProvider]
    sandbox_methods: tuple[str, ...] = ("upi", "card")
    # Single-tenant deployments: accounts configured by environment, used by merchants that
    # have none of their own for that provider.
    defaults: Mapping[str, ProviderAccess] = field(default_factory=dict)

    def methods(self, *, livemode: bool) -> tuple[str, ...]:
        """Every method of a mode: the sandbox's exist only in test mode."""
        provided = tuple(m for adapter in self.adapters.values() for m in adapter.methods)
        return provided if livemode else self.sandbox_methods + provided

    def is_sandbox(self, method: str) -> bool:
        return method in self.sandbox_methods

    def for_method(self, method: str, *, livemode: bool) -> PaymentProvider:
        if method == GENERIC:
            raise BadRequest("method generic names its gateway: generic:{name}")
        if gateway_name(method):  # one method per gateway the merchant registered
            method = GENERIC
        for adapter in self.adapters.values():
            if method in adapter.methods:
                return adapter
        raise BadRequest(f"method must be one of: {', '.join(self.methods(livemode=livemode))}")

    def can_refund(self, provider: str) -> bool:
        """Whether money of this provider's payments can be sent back by API."""
        # A credit payment (#14 ledger) is refunded into its wallet by the ledger itself.
        if provider in (SANDBOX, CREDIT):
            return True
        return Capability.REFUND in self.get(provider).capabilities

    def can_query_refunds(self, provider: str) -> bool:
        """Whether a refund whose outcome is unknown can still be asked about (or, for Hazina's
        own, was never out of its hands)."""
        if provider in (SANDBOX, CREDIT):
            return True
        return Capability.REFUND_QUERY in self.get(provider).capabilities

    def get(self, name: str) -> PaymentProvider:
        adapter = self.adapters.get(name)
        if adapter is None:
            raise NotFound(f"Unknown provider: {name}")
        return adapter

    def credential_catalogue(self) -> dict[str, CredentialFields]:
        """What an account of each provider holds, as its adapter declares it."""
        return {name: adapter.credentials for name, adapter in self.adapters.items()}

    def default_access(self, provider: str, *, livemode: bool) -> ProviderAccess | None:
        """The deployment's account for the provider, if it is of this mode: a test key never
        collects for a live merchant, nor a live key for a test one."""
        default = self.defaults.get(provider)
        if default is None or default.mode != ("live" if livemode else "test"):
            return None
        return default

    async def aclose(self) -> None:
        for adapter in self.adapters.values():
            await adapter.aclose()
