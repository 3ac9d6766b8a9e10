"""Paying an order from a customer's wallet (`{"method": "credit", "account_id": …}`).

One transaction: the attempt, its pending payment, then the payment's success applied as a
report of the ledger itself through settlement's one path (receipt, events, webhooks, the
order paid), whose charge debits the wallet with a guarded UPDATE (`available >= amount`).
Concurrent spends therefore never overdraw it: one that finds the wallet short is refused
with a 400 and leaves nothing behind, not even the payment.
"""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import LedgerAccount
from hazina.domain.errors import BadRequest
from hazina.domain.ledger import CREDIT, AccountKind, OrderTerms, Purpose
from hazina.domain.providers import ProviderEventKind, own_report
from hazina.services import resources
from hazina.services.attempts import add_payment, open_attempt
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once
from hazina.services.settlement import Scope, apply_report


async def pay_with_credit(
    db: Database,
    merchant_id: uuid.UUID,
    order_id: str,
    account_id: str | None,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
) -> StoredResponse:
    if account_id is None:
        raise BadRequest("account_id (a customer account) is required for method credit")

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        order, _ = await open_attempt(session, merchant_id, order_id, CREDIT)
        terms = None if order.ledger_terms is None else OrderTerms.from_json(order.ledger_terms)
        if terms is not None and terms.purpose == Purpose.TOP_UP:
            raise BadRequest("A top-up order cannot be paid from credit")
        wallet = await session.scalar(
            select(LedgerAccount).where(
                LedgerAccount.id == account_id, LedgerAccount.merchant_id == merchant_id
            )
        )
        if wallet is None or wallet.kind != AccountKind.CUSTOMER:
            raise BadRequest(f"account_id {account_id} is not a customer account")
        if wallet.currency != order.currency:
            raise BadRequest(
                f"Account {account_id} holds {wallet.currency}, not the order's {order.currency}"
            )
        payment = await add_payment(
            session, order, CREDIT, provider=CREDIT, provider_reference=account_id
        )
        report = own_report(
            ProviderEventKind.PAYMENT_SUCCEEDED,
            CREDIT,
            payment.id,
            amount=payment.amount,
            currency=payment.currency,
        )
        await apply_report(session, Scope(CREDIT, merchant_id, None, refundable=True), report, None)
        return 201, resources.payment_created(payment)

    return await respond_once(db, merchant_id, idempotency, ttl, insert)
