"""The ledger under random sequences of everything that moves money, on SQLite and PostgreSQL.

A hypothesis state machine drives the real use cases (orders with splits and fees, sandbox
reports applied through settlement: successes, failures, duplicate notifications, short
payments held for review and resolved, partial refunds that process or fail, top-ups, credit
spends, releases of pending money). After every step:

- `hazina ledger check`'s recomputation passes (balances equal their entries, transfers sum
  to zero);
- the balances of all accounts of a currency sum to zero;
- each creator holds exactly its share of the payments that succeeded minus its share of what
  was refunded of them (domain.ledger.share / reversal, computed here from the payments'
  own figures);
- no wallet is overdrawn by a spend;
- payouts (#15) reserve amount + fee from a creator's available balance, and whatever their
  provider reports in whatever order (processing, paid, failed, refunded, reversed, each maybe
  twice) or a cancel, each creator holds its share less what its payouts took for good, and
  its `reserved` is exactly what its payouts still moving hold.
"""

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)
from sqlalchemy import func, select

from hazina.bootstrap import Container, start
from hazina.db.models import LedgerAccount, LedgerTransfer, Payment, Payout
from hazina.domain.errors import BadRequest, Conflict
from hazina.domain.ledger import CREDIT, OrderTerms, Split, reversal, share
from hazina.domain.providers import ProviderEvent, ProviderEventKind, own_report
from hazina.services import orders, payments, refunds, reviews
from hazina.services.idempotency import StoredResponse
from hazina.services.ledger import accounts, charges, credit
from hazina.services.ledger.check import check_ledger
from hazina.services.merchants import find_merchant_by_email
from hazina.services.payouts import creation as payout_creation
from hazina.services.payouts.settlement import apply_payout_report
from hazina.services.settlement import Scope, apply_report
from tests.conftest import make_settings
from tests.databases import truncate_all

TTL = timedelta(hours=1)
NO_DELAY = timedelta(0)


def body(stored: StoredResponse) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(stored.body)
    return parsed


@dataclass
class World:
    """The running system one test drives, shared by every example of it."""

    runner: asyncio.Runner
    container: Container
    merchant_id: uuid.UUID

    def run(self, awaitable: Any) -> Any:
        return self.runner.run(awaitable)


@dataclass
class Model:
    order_terms: dict[str, tuple[int, OrderTerms | None]] = field(default_factory=dict)
    payment_orders: dict[str, str] = field(default_factory=dict)
    creators: list[str] = field(default_factory=list)
    wallets: list[str] = field(default_factory=list)
    # A payment that succeeded: what it received, the shares of its order's terms.
    charged: dict[str, int] = field(default_factory=dict)


def build_machine(world: World) -> type[RuleBasedStateMachine]:
    db = world.container.db
    registry = world.container.providers.registry
    merchant = world.merchant_id
    scope = Scope("sandbox", merchant, None, refundable=True)

    async def report(kind: ProviderEventKind, reason: str, payment_id: str, **extra: Any) -> None:
        async with db.transaction() as session:
            await apply_report(session, scope, own_report(kind, reason, payment_id, **extra), None)

    class Ledger(RuleBasedStateMachine):
        creators = Bundle("creators")
        wallets = Bundle("wallets")
        orders = Bundle("orders")
        payments = Bundle("payments")
        pending_refunds = Bundle("pending_refunds")
        payouts = Bundle("payouts")

        def __init__(self) -> None:
            super().__init__()
            self.model = Model()

        async def _account(self, kind: str) -> str:
            new = accounts.NewAccount(kind, "INR")
            stored = await accounts.create_account(db, merchant, new, None, TTL, livemode=False)
            account_id: str = body(stored)["id"]
            return account_id

        @initialize(target=creators)
        def first_creators(self) -> Any:
            made = [world.run(self._account("creator")) for _ in range(2)]
            self.model.creators += made
            return multiple(*made)

        @initialize(target=wallets)
        def first_wallet(self) -> str:
            wallet: str = world.run(self._account("customer"))
            self.model.wallets.append(wallet)
            return wallet

        @rule(
            target=orders,
            amount=st.integers(100, 50_000),
            # Mostly split: a plain order is the exception here.
            creators=st.sampled_from([[0], [1], [0, 1], [0, 1], []]),
            cuts=st.lists(st.integers(1, 20_000), min_size=2, max_size=2),
            fee_bps=st.one_of(st.none(), st.integers(0, 3_000)),
        )
        def create_order(
            self, amount: int, creators: list[int], cuts: list[int], fee_bps: int | None
        ) -> str:
            splits = tuple(
                Split(self.model.creators[i], min(cuts[i], amount // 3)) for i in creators
            )
            new = orders.NewOrder(amount, "INR", splits=splits, platform_fee_bps=fee_bps)
            stored = world.run(orders.create_order(db, merchant, new, None, TTL, livemode=False))
            order_id: str = body(stored)["id"]
            self.model.order_terms[order_id] = (amount, new.ledger_terms())
            return order_id

        @rule(
            target=payments,
            order=orders,
            outcome=st.sampled_from(["success", "duplicated", "failure", "short", "none"]),
        )
        def pay(self, order: str, outcome: str) -> Any:
            """A payment attempt on the order, and what the sandbox then reports about it."""
            new = payments.NewPayment(order, "upi", vpa="user@paytm")
            try:
                stored = world.run(
                    payments.create_payment(
                        db, world.container.providers, merchant, False, new, None, TTL, 3
                    )
                )
            except BadRequest:  # the order is paid
                return multiple()
            payment_id: str = body(stored)["id"]
            self.model.payment_orders[payment_id] = order
            if outcome in ("success", "duplicated"):
                self.succeed(payment_id)
            if outcome == "duplicated":  # the same notification again: a duplicate
                self.succeed(payment_id)
            if outcome == "failure":
                self.fail(payment_id)
            if outcome == "short":
                self.succeed_short(payment_id)
            return payment_id

        @rule(target=orders, wallet=wallets, amount=st.integers(100, 20_000))
        def create_top_up(self, wallet: str, amount: int) -> str:
            new = orders.NewOrder(amount, "INR", purpose="top_up", customer_account_id=wallet)
            stored = world.run(orders.create_order(db, merchant, new, None, TTL, livemode=False))
            order_id: str = body(stored)["id"]
            self.model.order_terms[order_id] = (amount, new.ledger_terms())
            return order_id

        @rule(payment=payments)
        def succeed(self, payment: str) -> None:
            world.run(report(ProviderEventKind.PAYMENT_SUCCEEDED, "sandbox", payment))

        @rule(payment=payments)
        def fail(self, payment: str) -> None:
            world.run(report(ProviderEventKind.PAYMENT_FAILED, "sandbox-fail", payment))

        @rule(payment=payments)
        def succeed_short(self, payment: str) -> None:
            """The provider reports less than the order: held for review."""
            amount, _ = self.model.order_terms[self.model.payment_orders[payment]]
            world.run(
                report(
                    ProviderEventKind.PAYMENT_SUCCEEDED,
                    "sandbox-short",
                    payment,
                    amount=amount - 1,
                    currency="INR",
                )
            )

        @rule(payment=payments, accept=st.booleans())
        def resolve_review(self, payment: str, accept: bool) -> None:
            resolution = reviews.Resolution.ACCEPT if accept else reviews.Resolution.REFUND
            with contextlib.suppress(BadRequest):  # not in review
                world.run(
                    reviews.resolve_review(db, registry, merchant, payment, resolution, actor="t")
                )

        @rule(target=pending_refunds, payment=payments, percent=st.integers(1, 100))
        def refund(self, payment: str, percent: int) -> Any:
            """A refund of `percent` of what is left to refund (when it succeeded)."""

            async def left() -> int:
                async with db.read() as session:
                    row = await session.get_one(Payment, payment)
                return int(row.amount_received or row.amount) - row.amount_refunded

            amount = max(1, world.run(left()) * percent // 100)
            new = refunds.NewRefund(amount)
            try:
                stored = world.run(
                    refunds.create_refund(db, registry, merchant, payment, new, None, TTL, 3)
                )
            except BadRequest:  # not successful, or nothing left
                return multiple()
            return (payment, body(stored)["id"])

        @rule(refund=pending_refunds, processed=st.booleans())
        def settle_refund(self, refund: tuple[str, str], processed: bool) -> None:
            payment, refund_id = refund
            kind = (
                ProviderEventKind.REFUND_SUCCEEDED if processed else ProviderEventKind.REFUND_FAILED
            )
            world.run(report(kind, "sandbox-refund", payment, refund_id=refund_id))

        @rule(order=orders, wallet=wallets)
        def spend_credit(self, order: str, wallet: str) -> None:
            try:
                stored = world.run(credit.pay_with_credit(db, merchant, order, wallet, None, TTL))
            except BadRequest:  # short of credit, a top-up, or paid already
                return
            self.model.payment_orders[body(stored)["id"]] = order

        @rule()
        def release(self) -> None:
            async def release_all() -> None:
                async with db.read() as session:
                    waiting = list(
                        await session.scalars(
                            select(LedgerTransfer.id).where(
                                LedgerTransfer.kind == charges.CHARGE,
                                LedgerTransfer.released_at.is_(None),
                            )
                        )
                    )
                for transfer_id in waiting:
                    await charges.release_charge(db, transfer_id, lambda _: NO_DELAY)

            world.run(release_all())

        @rule(creator=creators, amount=st.integers(1_000, 50_000))
        def earn(self, creator: str, amount: int) -> None:
            """A creator's half of a paid order, released: money a payout can take."""
            new = orders.NewOrder(amount, "INR", splits=(Split(creator, amount // 2),))
            stored = world.run(orders.create_order(db, merchant, new, None, TTL, livemode=False))
            order_id: str = body(stored)["id"]
            self.model.order_terms[order_id] = (amount, new.ledger_terms())
            self.pay(order_id, "success")
            self.release()

        @rule(target=payouts, creator=creators, percent=st.integers(1, 120))
        def pay_out(self, creator: str, percent: int) -> Any:
            """A payout of `percent` of the creator's available balance (over 100: refused)."""

            async def available() -> int:
                async with db.read() as session:
                    return (await session.get_one(LedgerAccount, creator)).available

            amount = max(1, world.run(available()) * percent // 100)
            destination = {"type": "mobile_money", "phone": "+255712345678"}
            new = payout_creation.NewPayout(creator, amount, "INR", destination, "sandbox")
            try:
                stored = world.run(
                    payout_creation.create_payout(
                        db, world.container.payouts, merchant, False, new, None, TTL
                    )
                )
            except BadRequest:  # amount + fee more than available
                return multiple()
            payout_id: str = body(stored)["id"]
            return payout_id

        @rule(
            payout=payouts,
            kind=st.sampled_from(
                [
                    ProviderEventKind.PAYOUT_PROCESSING,
                    ProviderEventKind.PAYOUT_PAID,
                    ProviderEventKind.PAYOUT_FAILED,
                    ProviderEventKind.PAYOUT_REFUNDED,
                    ProviderEventKind.PAYOUT_REVERSED,
                ]
            ),
            copies=st.integers(1, 3),
            same_key=st.booleans(),
        )
        def report_payout(
            self, payout: str, kind: ProviderEventKind, copies: int, same_key: bool
        ) -> None:
            """The provider says so, maybe more than once (the same notification, or the same
            fact by webhook and by status query under different keys)."""
            for copy in range(copies):
                key = f"{kind.value}:{payout}" + ("" if same_key else f":{copy}")
                fact = ProviderEvent(kind, key, "sandbox", kind.value, payout_id=payout)

                async def apply(fact: ProviderEvent = fact) -> None:
                    async with db.transaction() as session:
                        await apply_payout_report(session, scope, fact, None)

                world.run(apply())

        @rule(payout=payouts)
        def cancel_payout(self, payout: str) -> None:
            with contextlib.suppress(Conflict):  # sent already
                world.run(payout_creation.cancel_payout(db, merchant, payout))

        @invariant()
        def ledger_holds(self) -> None:
            world.run(self._check())

        async def _check(self) -> None:
            result = await check_ledger(db)
            assert result.ok, result.problem
            async with db.read() as session:
                sums = await session.execute(
                    select(
                        LedgerAccount.currency,
                        func.sum(
                            LedgerAccount.pending + LedgerAccount.available + LedgerAccount.reserved
                        ),
                    ).group_by(LedgerAccount.currency)
                )
                for currency, total in sums:
                    assert total == 0, f"{currency} accounts sum to {total}"
                rows = list(
                    await session.execute(
                        select(
                            Payment.id,
                            Payment.status,
                            Payment.amount_received,
                            Payment.amount_refunded,
                            Payment.method,
                        ).where(Payment.id.in_(list(self.model.payment_orders)))
                    )
                )
                taken = dict.fromkeys(self.model.creators, 0)
                held = dict.fromkeys(self.model.creators, 0)
                for account_id, status, total in await session.execute(
                    select(Payout.account_id, Payout.status, Payout.amount + Payout.fee).where(
                        Payout.account_id.in_(self.model.creators)
                    )
                ):
                    if status == "paid":  # gone; a reservation stays in the account
                        taken[account_id] += total
                    if status in ("pending", "processing"):
                        held[account_id] += total
                balances = {
                    account.id: account
                    for account in await session.scalars(
                        select(LedgerAccount).where(
                            LedgerAccount.id.in_(self.model.creators + self.model.wallets)
                        )
                    )
                }
            expected = dict.fromkeys(self.model.creators, 0)
            # A wallet may only go below zero when a top-up of it is refunded after it was spent.
            clawed_back: set[str] = set()
            for payment_id, status, received, refunded, method in rows:
                if status == "success" and payment_id not in self.model.charged:
                    self.model.charged[payment_id] = int(received or 0)
                if payment_id not in self.model.charged:
                    continue
                charged = self.model.charged[payment_id]
                amount, terms = self.model.order_terms[self.model.payment_orders[payment_id]]
                if terms is not None and terms.customer_account_id and refunded:
                    clawed_back.add(terms.customer_account_id)
                for part in share(charged, amount, terms).creators:
                    kept = part.amount - reversal(part.amount, charged, 0, refunded)
                    expected[part.account_id] += kept
                assert method in ("upi", CREDIT)
            for creator, amount in expected.items():
                account = balances[creator]
                assert account.reserved == held[creator], (creator, held[creator])
                figures = account.pending + account.available + account.reserved
                assert figures == amount - taken[creator], (creator, amount, taken[creator])
            for wallet in self.model.wallets:
                assert balances[wallet].pending == 0
                assert balances[wallet].available >= 0 or wallet in clawed_back

    return Ledger


def test_the_ledger_stays_balanced_under_random_money_movements(database_url: str) -> None:
    with asyncio.Runner() as runner:
        container = runner.run(start(make_settings(database_url)))
        try:
            found = runner.run(
                find_merchant_by_email(container.db, container.settings.test_merchant_email)
            )
            assert found is not None
            world = World(runner, container, found.id)
            machine = build_machine(world)
            machine.TestCase.settings = settings(
                max_examples=25,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            machine.TestCase().runTest()
        finally:
            runner.run(truncate_all(container.db))
            runner.run(container.close())
