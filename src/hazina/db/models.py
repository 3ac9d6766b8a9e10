"""Tables. Every merchant-owned row carries `merchant_id`, and every query of it filters on it."""

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hazina.db.types import UtcDateTime
from hazina.domain.clock import utc_now

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
AutoIncrement = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class Merchant(Base):
    """One mode of a merchant account. Every account is a pair of twin rows, test and live,
    sharing `account_id`: each twin has its own API keys, and every merchant-owned row points
    at one twin, so scoping by `merchant_id` also keeps test and live data apart."""

    __tablename__ = "merchants"
    __table_args__ = (
        UniqueConstraint("account_id", "livemode", name="uq_merchants_account_mode"),
        UniqueConstraint("email", "livemode", name="uq_merchants_email_mode"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The test twin's id, shared by both twins (migrated merchants keep theirs as test twins).
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255))
    api_key: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the secret: secrets are 256-bit random, so a fast hash is enough and keeps
    # authentication off the hot path's critical section.
    api_secret_hash: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("idx_orders_merchant_id", "merchant_id"),
        Index("idx_orders_merchant_created", "merchant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    receipt: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20), default="created")
    # #14 ledger: splits, platform fee, purpose and customer wallet (domain.ledger.OrderTerms);
    # NULL for a plain order, read with the order settlement locks anyway.
    ledger_terms: Mapped[dict[str, Any] | None]
    # #16 a payment link's order carries the link's terms, so `attempts.open_attempt` enforces
    # them on the row it locks anyway: the methods it allows (NULL: any), when it expires, when
    # it was cancelled. All NULL for an order without a link.
    link_methods: Mapped[list[str] | None] = mapped_column(JSON)
    link_expires_at: Mapped[datetime | None]
    link_cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("idx_payments_order_id", "order_id"),
        Index("idx_payments_status", "status"),
        Index("idx_payments_merchant_created", "merchant_id", "created_at"),
        Index("idx_payments_provider_reference", "provider", "provider_reference"),
        Index("idx_payments_provider_payment_reference", "provider", "provider_payment_reference"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    vpa: Mapped[str | None] = mapped_column(String(255))
    card_network: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_description: Mapped[str | None] = mapped_column(Text)
    captured: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sum of the payment's pending and processed refunds. Reserved by one conditional UPDATE
    # (`amount_refunded + x <= amount`), so concurrent refunds can never exceed the payment.
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Which provider collects it ("sandbox" for `upi`/`card`) and through which account; NULL
    # account: the deployment-wide default account configured by environment.
    provider: Mapped[str] = mapped_column(String(20), default="sandbox", server_default="sandbox")
    provider_account_id: Mapped[str | None] = mapped_column(String(64))
    # The provider's id of what Hazina started (Stripe Checkout Session, ClickPesa order
    # reference), and of the money movement once it happened (PaymentIntent, transaction id).
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    provider_payment_reference: Mapped[str | None] = mapped_column(String(255))
    next_action: Mapped[dict[str, Any] | None]
    # What the provider reported collecting, in minor units of `received_currency`.
    amount_received: Mapped[int | None] = mapped_column(BigInteger)
    received_currency: Mapped[str | None] = mapped_column(String(3))
    # Set when a provider's report needs a human: amount or currency mismatch, late success,
    # a second successful payment for one order.
    review_reason: Mapped[str | None] = mapped_column(String(50))
    # `manual`: the provider only authorised the money; `captured` turns true when the merchant
    # captures `amount_captured` of it (services.captures). `automatic`: captured on success.
    capture_method: Mapped[str] = mapped_column(
        String(10), default="automatic", server_default="automatic"
    )
    amount_captured: Mapped[int | None] = mapped_column(BigInteger)
    # A manual authorisation the provider released uncaptured (Stripe cancels it after ~7 days).
    authorization_expired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("idx_refunds_payment_id", "payment_id"),
        Index("idx_refunds_merchant_created", "merchant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # The provider's refund id once it accepted the refund (Stripe `re_…`).
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    # Why a `failed` refund failed: the provider's reason, or why Hazina gave up on it.
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    processed_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A create request's stored response, replayed byte for byte while the key is unexpired."""

    __tablename__ = "idempotency_keys"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    # Up to 255 characters from the client, plus Hazina's scope prefix (see services.idempotency).
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Event(Base):
    """Something that happened, written in the transaction of the change it announces."""

    __tablename__ = "events"
    __table_args__ = (Index("idx_events_merchant_created", "merchant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    type: Mapped[str] = mapped_column(String(50))
    resource_id: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class WebhookEndpoint(Base):
    """A merchant URL with its own secret and event filter. The contract's single `webhook_url`
    is the merchant's primary endpoint; a NULL url means "not configured": nothing is delivered."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("idx_webhook_endpoints_merchant_id", "merchant_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    url: Mapped[str | None] = mapped_column(Text)
    # Vault tokens (services/webhook_secrets.py) once `secrets_sealed`; plaintext before that:
    # rows written before migration 0009, or by an older process during a rolling upgrade,
    # until start-up or `hazina keys rotate` seals them.
    secret: Mapped[str] = mapped_column(Text)
    # After a regeneration the old secret keeps signing (beside the new one) until this time.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    secrets_sealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # NULL: every event type.
    event_types: Mapped[list[str] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class WebhookLog(Base):
    """A delivery: one event to one endpoint and its attempt count (the contract's webhook log)."""

    __tablename__ = "webhook_logs"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_logs_event_endpoint"),
        Index("idx_webhook_logs_merchant_id", "merchant_id"),
        Index("idx_webhook_logs_status", "status"),
        Index(
            "idx_webhook_logs_next_retry_at",
            "next_retry_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("idx_webhook_logs_endpoint_id", "endpoint_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    event: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    next_retry_at: Mapped[datetime | None]
    response_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: when, what came back, how long it took, what went wrong."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("idx_webhook_attempts_delivery_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(AutoIncrement, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_logs.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(default=utc_now)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


SINGLETON_JOB_PREDICATE = "kind = 'janitor' AND status IN ('pending', 'processing')"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("idx_jobs_due", "status", "run_at"),
        # At most one live job of a self-scheduling kind, however many workers enqueue it.
        Index(
            "uq_jobs_live_singleton",
            "kind",
            unique=True,
            postgresql_where=text(SINGLETON_JOB_PREDICATE),
            sqlite_where=text(SINGLETON_JOB_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(AutoIncrement, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    run_at: Mapped[datetime] = mapped_column(default=utc_now)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (Index("idx_audit_logs_merchant_created", "merchant_id", "created_at"),)

    id: Mapped[int] = mapped_column(AutoIncrement, primary_key=True, autoincrement=True)
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchants.id"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ProviderAccount(Base):
    """A merchant's credentials for one provider. `secrets` maps each field to a vault token
    (AES-256-GCM, key id inside, bound to merchant + provider + field); `hints` holds the last
    four characters shown on read.

    A merchant has one account per provider, except generic gateways (migration 0013): many,
    each by its `name` (`''` for every other provider), with its `settings` (the redirect URL
    template) and a signing secret whose previous value verifies until
    `previous_secret_expires_at`."""

    __tablename__ = "provider_accounts"
    __table_args__ = (
        UniqueConstraint(
            "merchant_id", "provider", "name", name="uq_provider_accounts_merchant_provider_name"
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    provider: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(40), default="", server_default="")
    mode: Mapped[str] = mapped_column(String(10))
    secrets: Mapped[dict[str, Any]]
    hints: Mapped[dict[str, Any]]
    settings: Mapped[dict[str, Any] | None]
    previous_secret_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class InboundEvent(Base):
    """A provider notification exactly as received, stored whether or not it verified.

    `events` holds what the adapter normalised it into once verified, so a replay re-applies
    those without needing the (time-limited) signature again.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        Index("idx_inbound_events_merchant_received", "merchant_id", "received_at"),
        Index("idx_inbound_events_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_account_id: Mapped[str | None] = mapped_column(String(64))
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("merchants.id"))
    # received | processed | duplicate | ignored | rejected | failed
    status: Mapped[str] = mapped_column(String(20))
    event_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    events: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    payment_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    processed_at: Mapped[datetime | None]


class ProviderEventReceipt(Base):
    """One row per provider fact applied: the primary key is what de-duplicates notifications.

    Keyed per account, so one merchant's notifications cannot pre-empt another's by reusing
    their event ids. The deployment's default account is `''`, not NULL: a primary key column
    cannot hold NULL on PostgreSQL, and NULLs would never collide on SQLite.
    """

    __tablename__ = "provider_event_receipts"

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider_account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    inbound_event_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class DashboardUser(Base):
    """A person who logs in to the dashboard; belongs to one merchant and sees only its rows."""

    __tablename__ = "dashboard_users"
    __table_args__ = (Index("idx_dashboard_users_merchant_id", "merchant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    email: Mapped[str] = mapped_column(String(255), unique=True)
    # argon2id, in its PHC string form (algorithm, parameters and salt travel with the hash).
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every session carries the version it started with; logging out or changing the password
    # bumps it, so each cookie signed before then (copies included) stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


# --- #14 double-entry ledger -----------------------------------------------------------------


class LedgerAccount(Base):
    """Where money is owed or held, in one currency. Balances are columns kept equal to the sum
    of the account's entries per bucket (`pending`, `available`, `reserved`): each is changed
    by the statement that posts an entry, in its transaction (services.ledger.postings)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        Index("idx_ledger_accounts_merchant_created", "merchant_id", "created_at"),
        # NULL for the merchant's own sub-accounts (NULLs never collide): one system account
        # per key, however many settlements create it at once.
        UniqueConstraint("merchant_id", "system_key", name="uq_ledger_accounts_system_key"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    # revenue | platform_fee | clearing | payouts_in_transit | creator | customer
    kind: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    # System accounts only: `revenue:USD`, `clearing:stripe:USD`, …
    system_key: Mapped[str | None] = mapped_column(String(80))
    name: Mapped[str | None] = mapped_column(String(255))
    # The merchant's own id for the creator or customer.
    reference: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[dict[str, Any] | None]
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


# The transfer kinds of services.ledger.charges.CHARGE and holds.POST / holds.VOID.
LEDGER_CHARGE_PREDICATE = "kind = 'charge'"
LEDGER_HOLD_END_PREDICATE = "kind IN ('post', 'void')"


class LedgerTransfer(Base):
    """A set of entries summing to zero, immutable once written; a correction is a new
    transfer. A `pending` transfer (two-phase) holds money in `reserved` until a later transfer
    posts or voids it (`pending_id`)."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        Index("idx_ledger_transfers_merchant_created", "merchant_id", "created_at"),
        Index("idx_ledger_transfers_payment_id", "payment_id"),
        Index("idx_ledger_transfers_pending_id", "pending_id"),
        # The database's own guard behind has_charge and the holds' row locks: a payment is
        # charged once, a hold posted or voided once, whatever a bug upstream tries.
        Index(
            "uq_ledger_transfers_charge",
            "payment_id",
            unique=True,
            postgresql_where=text(LEDGER_CHARGE_PREDICATE),
            sqlite_where=text(LEDGER_CHARGE_PREDICATE),
        ),
        Index(
            "uq_ledger_transfers_hold_end",
            "pending_id",
            unique=True,
            postgresql_where=text(LEDGER_HOLD_END_PREDICATE),
            sqlite_where=text(LEDGER_HOLD_END_PREDICATE),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    # charge | refund | refund_restored | release | reserve | post | void | transfer
    kind: Mapped[str] = mapped_column(String(30))
    # posted | pending | voided (a voided or posted pending transfer keeps its entries)
    status: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    # What moved: the sum of the transfer's credits.
    amount: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[str | None] = mapped_column(String(64))
    refund_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))
    # Two-phase: the pending transfer this one posts or voids; a pending transfer's destination.
    pending_id: Mapped[str | None] = mapped_column(String(64))
    destination_account_id: Mapped[str | None] = mapped_column(String(64))
    # Charges: the provider whose settlement delay applies, what refunds have reversed of it
    # so far (the proportional reversal is a function of this total), when it became available.
    provider: Mapped[str | None] = mapped_column(String(20))
    reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    released_at: Mapped[datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class LedgerEntry(Base):
    """One signed amount on one account's bucket: credits positive, debits negative."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("idx_ledger_entries_account_id", "account_id", "id"),
        Index("idx_ledger_entries_transfer_id", "transfer_id"),
    )

    id: Mapped[int] = mapped_column(AutoIncrement, primary_key=True, autoincrement=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("ledger_transfers.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    currency: Mapped[str] = mapped_column(String(3))
    # pending | available | reserved
    bucket: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class LedgerSetting(Base):
    """A merchant twin's ledger choices; no row: the defaults."""

    __tablename__ = "ledger_settings"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    # Platform fees stay with the merchant when a payment is refunded (the creators' shares are
    # still reversed); false: the fee is reversed in proportion too.
    keep_fees_on_refunds: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class LedgerCheck(Base):
    """The outcome of each `hazina ledger check` (nightly from the janitor): /health shows the
    latest."""

    __tablename__ = "ledger_checks"

    id: Mapped[int] = mapped_column(AutoIncrement, primary_key=True, autoincrement=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    accounts: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(Integer)
    # The first broken account or transfer and why, when not ok.
    problem: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


# --- #15 payouts ------------------------------------------------------------------------------


class Payout(Base):
    """Money leaving a ledger account for a phone or a bank account (services.payouts). Its
    amount plus the provider's fee is held by a pending ledger transfer (`reservation_id`) from
    the moment it is created until it is paid (posted) or fails (voided)."""

    __tablename__ = "payouts"
    __table_args__ = (
        Index("idx_payouts_merchant_created", "merchant_id", "created_at"),
        Index("idx_payouts_account_id", "account_id"),
        Index("idx_payouts_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    # What the recipient receives, and what the provider charges on top (both reserved).
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # domain.payouts.MobileMoney / BankAccount as JSON; shown masked.
    destination: Mapped[dict[str, Any]]
    provider: Mapped[str] = mapped_column(String(20))
    provider_account_id: Mapped[str | None] = mapped_column(String(64))
    # pending | processing | paid | failed | canceled | refunded | reversed (domain.payouts)
    status: Mapped[str] = mapped_column(String(20))
    # Why it failed, or why the money came back.
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # The provider's own id of the disbursement, once it answered.
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    # The pending ledger transfer holding the money.
    reservation_id: Mapped[str | None] = mapped_column(String(64))
    # api | schedule
    source: Mapped[str] = mapped_column(String(10), default="api")
    # Set, and committed, before the provider is first asked to send it: from then on Hazina
    # asks the provider about it before ever sending it again.
    submitted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class PayoutSchedule(Base):
    """How a ledger account is paid out automatically: `manual` (never), `daily` or `weekly`
    (on `weekday`, 0 = Monday), once its available balance reaches `minimum`."""

    __tablename__ = "payout_schedules"

    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    interval: Mapped[str] = mapped_column(String(10))
    weekday: Mapped[int | None] = mapped_column(Integer)
    minimum: Mapped[int] = mapped_column(BigInteger, default=0)
    # The default destination scheduled payouts go to.
    destination: Mapped[dict[str, Any]]
    next_run_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


# --- #16 payment links and notifications ---------------------------------------------------


class PaymentLink(Base):
    """A shareable page (`/l/{code}`) for paying one order. Its status is not stored but read
    from its order (paid), `cancelled_at` and `expires_at`, so it can never disagree with the
    order that settlement alone changes."""

    __tablename__ = "payment_links"
    __table_args__ = (
        Index("idx_payment_links_merchant_created", "merchant_id", "created_at"),
        Index("idx_payment_links_order_id", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    # The unguessable part of the public URL: it is the only thing a buyer is given.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(String(255))
    reference: Mapped[str | None] = mapped_column(String(255))
    # Methods the link page offers; NULL: every method of the merchant's mode.
    methods: Mapped[list[str] | None] = mapped_column(JSON)
    customer_name: Mapped[str | None] = mapped_column(String(255))
    customer_phone: Mapped[str | None] = mapped_column(String(20))
    customer_email: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Notification(Base):
    """One message to one recipient on one channel (a link sent to a buyer, a merchant told of a
    payment, a receipt), written in the transaction that causes it and sent by a job."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("idx_notifications_merchant_subject", "merchant_id", "subject_id"),
        Index("idx_notifications_provider_message", "provider_message_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    # E.164 phone or email address, as given; masked whenever it is read back.
    recipient: Mapped[str] = mapped_column(String(255))
    # What it is about: a payment link, an order.
    subject_id: Mapped[str] = mapped_column(String(64))
    # What the message says, fixed when it was caused (amount, URL, code).
    content: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The channel's id of the message (WhatsApp `wamid.…`), which its status reports name.
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class NotificationSetting(Base):
    """Who a merchant twin tells what: one row per twin (mode); no row, nothing is sent."""

    __tablename__ = "notification_settings"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    merchant_email: Mapped[str | None] = mapped_column(String(255))
    merchant_phone: Mapped[str | None] = mapped_column(String(20))
    # Channels (`whatsapp`, `email`) telling the merchant an order was paid, and the buyer.
    paid_channels: Mapped[list[str]] = mapped_column(JSON)
    receipt_channels: Mapped[list[str]] = mapped_column(JSON)
    # Channels telling a creator (a creator ledger account with a contact) what it earned, and
    # that a payout of its money ended (migration 0016; existing rows tell no one).
    earning_channels: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    payout_channels: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class WhatsAppContact(Base):
    """When a customer last wrote to a merchant twin's WhatsApp number: within 24 hours of it,
    a link goes as free-form text; otherwise as the approved template."""

    __tablename__ = "whatsapp_contacts"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    last_message_at: Mapped[datetime]


class CreatorContact(Base):
    """Whom to tell about a creator account's money: its earnings and its payouts' ends. Stored
    as given, like every notification recipient, and masked whenever it is read back."""

    __tablename__ = "creator_contacts"

    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"))
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
