"""Ledger figures read over the API, and the check's recomputation, for the ledger's tests."""

from typing import Any

import httpx

from hazina.db.database import Database
from hazina.services.ledger.check import check_ledger


async def new_account(
    client: httpx.AsyncClient, kind: str = "creator", currency: str = "INR", **extra: Any
) -> str:
    response = await client.post(
        "/api/v1/accounts", json={"kind": kind, "currency": currency, **extra}
    )
    assert response.status_code == 201, response.text
    account_id: str = response.json()["id"]
    return account_id


async def balance_of(client: httpx.AsyncClient, account_id: str) -> dict[str, int]:
    response = await client.get(f"/api/v1/accounts/{account_id}")
    assert response.status_code == 200, response.text
    balance: dict[str, int] = response.json()["balance"]
    return balance


async def own_account(client: httpx.AsyncClient, kind: str, currency: str) -> dict[str, Any]:
    """One of the merchant's system accounts, from GET /api/v1/balance."""
    body = (await client.get("/api/v1/balance")).json()
    found = [a for a in body["accounts"] if a["kind"] == kind and a["currency"] == currency]
    assert len(found) == 1, body
    account: dict[str, Any] = found[0]
    return account


async def assert_ledger_sound(db: Database) -> None:
    result = await check_ledger(db)
    assert result.ok, result.problem
