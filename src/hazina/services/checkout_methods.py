"""Which provider methods the hosted checkout offers for an order: one per provider that can
collect for the order's merchant, through an account of its own or the deployment's default.

A read only: it names methods, never an account or a credential. The sandbox's methods come
first, for orders in test mode only: a live order is never offered a simulated payment.
"""

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import ProviderAccount
from hazina.services.orders import PUBLIC_ORDER
from hazina.services.registry import ProviderRegistry


async def methods_for_order(
    db: Database, registry: ProviderRegistry, order_id: str
) -> tuple[str, ...]:
    """The methods the order's merchant can be paid with, in the registry's order; none for an
    unknown order (the checkout then shows the order's own error)."""
    order = await db.fetch_one(PUBLIC_ORDER, {"order_id": order_id})
    if order is None:
        return ()
    merchant_id, livemode = order.merchant_id, order.livemode
    async with db.read() as session:
        own = set(
            await session.scalars(
                select(ProviderAccount.provider).where(ProviderAccount.merchant_id == merchant_id)
            )
        )
    sandbox = () if livemode else registry.sandbox_methods
    return sandbox + tuple(
        method
        for name, adapter in registry.adapters.items()
        if name in own or registry.default_access(name, livemode=livemode) is not None
        for method in adapter.methods
    )
