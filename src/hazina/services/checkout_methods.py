"""Which provider methods the hosted checkout offers for an order: one per provider that can
collect for the order's merchant, through an account of its own or the deployment's default.

A read only: it names methods, never an account or a credential. The sandbox's methods come
first, for orders in test mode only: a live order is never offered a simulated payment. A payment
link's order is offered only the methods its link allows, and none once the link is closed; a
provider that collects only some currencies is offered only for orders in one of them.
"""

from dataclasses import dataclass

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import ProviderAccount
from hazina.domain.clock import utc_now
from hazina.domain.gateways import GENERIC, METHOD_PREFIX
from hazina.domain.links import closed_reason
from hazina.domain.states import OrderStatus
from hazina.services.orders import PUBLIC_ORDER
from hazina.services.registry import ProviderRegistry


@dataclass(frozen=True, slots=True)
class CheckoutOffer:
    """What the hosted checkout offers for an order: its methods, or why it takes no new payment
    (`closed`: its payment link is cancelled or expired; a paid order's page shows it paid)."""

    methods: tuple[str, ...]
    closed: str | None = None


async def checkout_offer(db: Database, registry: ProviderRegistry, order_id: str) -> CheckoutOffer:
    """The methods the order's merchant can be paid with that the order allows, in the
    registry's order; none for an unknown order (the checkout then shows the order's own
    error). The same terms `attempts.open_attempt` enforces, read from the same row."""
    order = await db.fetch_one(PUBLIC_ORDER, {"order_id": order_id})
    if order is None:
        return CheckoutOffer(())
    if order.status != OrderStatus.PAID:
        closed = closed_reason(order.link_cancelled_at, order.link_expires_at, utc_now())
        if closed is not None:
            return CheckoutOffer((), closed)
    merchant_id, livemode = order.merchant_id, order.livemode
    async with db.read() as session:
        accounts = (
            await session.execute(
                select(ProviderAccount.provider, ProviderAccount.name)
                .where(ProviderAccount.merchant_id == merchant_id)
                .order_by(ProviderAccount.name)
            )
        ).all()
    own = {provider for provider, _ in accounts}
    # Each generic gateway is a method of its own, named by the merchant.
    gateways = tuple(f"{METHOD_PREFIX}{name}" for provider, name in accounts if provider == GENERIC)
    sandbox = () if livemode else registry.sandbox_methods
    offered = (
        sandbox
        + tuple(
            method
            for name, adapter in registry.adapters.items()
            if name != GENERIC
            and (adapter.currencies is None or order.currency in adapter.currencies)
            and (name in own or registry.default_access(name, livemode=livemode) is not None)
            for method in adapter.methods
        )
        + gateways
    )
    allowed = order.link_methods
    return CheckoutOffer(tuple(m for m in offered if allowed is None or m in allowed))
