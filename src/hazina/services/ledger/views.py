"""The ledger's resources as the API shows them: one serialiser per resource. Every amount
is an integer in minor units beside its currency."""

from typing import Any

from hazina.db.models import LedgerAccount, LedgerEntry, LedgerTransfer
from hazina.domain.clock import iso_z


def account_view(account: LedgerAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "object": "account",
        "kind": account.kind,
        "currency": account.currency,
        "name": account.name,
        "reference": account.reference,
        "notes": account.notes or {},
        "livemode": account.livemode,
        "balance": {
            "pending": account.pending,
            "available": account.available,
            "reserved": account.reserved,
        },
        "created_at": iso_z(account.created_at),
        "updated_at": iso_z(account.updated_at),
    }


def entry_view(entry: LedgerEntry, transfer: LedgerTransfer) -> dict[str, Any]:
    return {
        "id": entry.id,
        "object": "ledger_entry",
        "transfer_id": entry.transfer_id,
        "account_id": entry.account_id,
        "currency": entry.currency,
        "bucket": entry.bucket,
        "amount": entry.amount,
        "transfer_kind": transfer.kind,
        "payment_id": transfer.payment_id,
        "refund_id": transfer.refund_id,
        "order_id": transfer.order_id,
        "created_at": iso_z(entry.created_at),
    }


def transfer_view(transfer: LedgerTransfer, entries: list[LedgerEntry]) -> dict[str, Any]:
    return {
        "id": transfer.id,
        "object": "ledger_transfer",
        "kind": transfer.kind,
        "status": transfer.status,
        "currency": transfer.currency,
        "amount": transfer.amount,
        "payment_id": transfer.payment_id,
        "refund_id": transfer.refund_id,
        "order_id": transfer.order_id,
        "pending_id": transfer.pending_id,
        "destination_account_id": transfer.destination_account_id,
        "livemode": transfer.livemode,
        "entries": [
            {"account_id": e.account_id, "bucket": e.bucket, "amount": e.amount} for e in entries
        ],
        "created_at": iso_z(transfer.created_at),
    }
