"""Which provider methods the hosted checkout offers for an order: one per provider that can
collect for the order's merchant, through an account of its own or the deployment's default.

A read only: it names methods, never an account or a credential. The sandbox methods are not
here; the checkout always offers them.
"""

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import Order, ProviderAccount
from hazina.services.registry import ProviderRegistry


async def provider_methods_for_order(
    db: Database, registry: ProviderRegistry, order_id: str
) -> tuple[str, ...]:
    """The order's merchant's provider methods, in the registry's order; none for an unknown
    order (the checkout then shows the order's own error)."""
    async with db.read() as session:
        merchant_id = await session.scalar(select(Order.merchant_id).where(Order.id == order_id))
        if merchant_id is None:
            return ()
        own = set(
            await session.scalars(
                select(ProviderAccount.provider).where(ProviderAccount.merchant_id == merchant_id)
            )
        )
    return tuple(
        method
        for name, adapter in registry.adapters.items()
        if name in own or registry.default_access(name) is not None
        for method in adapter.methods
    )
