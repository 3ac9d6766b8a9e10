"""Payouts end to end with real processes: `hazina serve` (or a separate `hazina worker`) and
`hazina fake clickpesa`, on SQLite and PostgreSQL. Every ending: mobile money paid only once the
status query says SUCCESS, bank paid, failed and credited back, reversed and refunded by a
signed event (sent three times) and credited back once; the ledger check after each; the
creator, told by email (a real SMTP server), once of its earning and once per payout that was
paid or failed. And a worker SIGKILLed after ClickPesa accepted a payout and before Hazina
recorded it: the payout is found by status query on restart and never sent twice."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hazina.domain import ids
from hazina.services.ledger.check import check_ledger
from hazina.testing.sink import WebhookSink
from tests.e2e.servers import HazinaProcess, Hub, api, free_port, open_hub
from tests.e2e.test_providers import API_KEY, CHECKSUM_KEY, CLIENT_ID, start_fake
from tests.mailbox import Mailbox, smtp_server, text_of
from tests.payouts.helpers import CURRENCY
from tests.web.conftest import log_in, post_form

pytestmark = [pytest.mark.slow]

FUNDS = 1_000_000  # 10,000.00 TZS
CREATOR_EMAIL = "amina@creators.example"
BANK = {
    "type": "bank",
    "account_number": "0150123456789",
    "account_name": "Amina Juma",
    "bic": "CORUTZTZ",
    "transfer_type": "ACH",
}


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as opened:
        await opened.prepare()
        yield opened


class Fake:
    """`hazina fake clickpesa`, driven through its control routes."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def register(self, webhook_url: str | None) -> None:
        async with httpx.AsyncClient(base_url=self.url) as control:
            response = await control.post(
                "/_control/clients",
                json={
                    "client_id": CLIENT_ID,
                    "api_key": API_KEY,
                    "checksum_key": CHECKSUM_KEY,
                    "webhook_url": webhook_url,
                },
            )
        assert response.status_code == 201, response.text

    async def control(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as control:
            if body is None:
                response = await control.get(path)
            else:
                response = await control.post(path, json=body)
        assert response.status_code == 200, response.text
        return response

    async def settle(self, payout_id: str, status: str) -> None:
        await self.control(f"/_control/payouts/{_ref(payout_id)}/settle", {"status": status})

    async def deliver_again(self, payout_id: str) -> str:
        response = await self.control(f"/_control/payouts/{_ref(payout_id)}/deliver", {})
        return response.headers["x-fake-delivery-status"]

    async def disbursements(self, payout_id: str) -> int:
        response = await self.control(f"/_control/payouts/{_ref(payout_id)}")
        return int(response.json()["disbursements"])


def _ref(payout_id: str) -> str:
    return ids.alphanumeric_reference(payout_id)


def clickpesa_env(fake: Fake) -> dict[str, str]:
    return {
        "HAZINA_CLICKPESA_API_BASE": fake.url,
        "CLICKPESA_CLIENT_ID": CLIENT_ID,
        "CLICKPESA_API_KEY": API_KEY,
        "CLICKPESA_WEBHOOK_SIGNING_KEY": CHECKSUM_KEY,
        "HAZINA_PAYOUT_CHECK_SCHEDULE": "[0.3]",
    }


async def funded_creator(
    hub: Hub, client: httpx.AsyncClient, contact: dict[str, str] | None = None
) -> str:
    """A creator (with `contact`, if given) paid through an order with a split, by the sandbox,
    released at once."""
    account = await client.post(
        "/api/v1/accounts", json={"kind": "creator", "currency": CURRENCY, "name": "Amina"}
    )
    assert account.status_code == 201, account.text
    creator: str = account.json()["id"]
    if contact is not None:
        saved = await client.put(f"/api/v1/accounts/{creator}/contact", json=contact)
        assert saved.status_code == 200, saved.text
    order = await client.post(
        "/api/v1/orders",
        json={
            "amount": FUNDS,
            "currency": CURRENCY,
            "splits": [{"account_id": creator, "amount": FUNDS}],
        },
    )
    assert order.status_code == 201, order.text
    payment = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"},
    )
    assert payment.status_code == 201, payment.text

    async def available() -> bool:
        return (await balance(client, creator))["available"] == FUNDS

    await hub.eventually(available, within=30, what="the creator's earnings available")
    return creator


async def balance(client: httpx.AsyncClient, account_id: str) -> dict[str, int]:
    response = await client.get(f"/api/v1/accounts/{account_id}")
    assert response.status_code == 200, response.text
    found: dict[str, int] = response.json()["balance"]
    return found


async def payout_status(client: httpx.AsyncClient, payout_id: str) -> str:
    response = await client.get(f"/api/v1/payouts/{payout_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def reach(hub: Hub, client: httpx.AsyncClient, payout_id: str, status: str) -> None:
    async def reached() -> bool:
        return await payout_status(client, payout_id) == status

    await hub.eventually(reached, within=30, what=f"payout {payout_id} {status}")


async def create(client: httpx.AsyncClient, creator: str, destination: dict[str, Any]) -> str:
    response = await client.post(
        "/api/v1/payouts",
        json={
            "account_id": creator,
            "amount": 100_000,
            "currency": CURRENCY,
            "destination": destination,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["provider"] == "clickpesa"
    assert body["fee"] == 4710  # the fake's 4.71 % of 1,000.00 TZS, from its preview
    payout_id: str = body["id"]
    return payout_id


async def assert_ledger_sound(hub: Hub) -> None:
    async with hub.database() as db:
        result = await check_ledger(db)
    assert result.ok, result.problem


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    with smtp_server(smtp_port) as box:
        yield box


def smtp_env(port: int) -> dict[str, str]:
    return {
        "HAZINA_SMTP_HOST": "127.0.0.1",
        "HAZINA_SMTP_PORT": str(port),
        "HAZINA_SMTP_SECURITY": "none",
    }


async def tell_creators_by_email(server: HazinaProcess) -> None:
    """The merchant's choice, made as a person makes it: the dashboard's settings form."""
    assert server.url is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as dashboard:
        assert (await log_in(dashboard)).status_code == 303
        saved = await post_form(
            dashboard,
            "/dashboard/links",
            "/dashboard/links/notifications",
            {"earning_channels": "email", "payout_channels": "email"},
        )
        assert saved.status_code == 303, saved.text


async def test_every_ending_of_a_clickpesa_payout(
    hub: Hub, sink: WebhookSink, mailbox: Mailbox, smtp_port: int
) -> None:
    fake = Fake(await start_fake(hub, "clickpesa"))
    server = await hub.serve(worker=True, **clickpesa_env(fake), **smtp_env(smtp_port))
    await fake.register(f"{server.url}/hooks/clickpesa")
    await tell_creators_by_email(server)
    async with api(server) as client:
        configured = await client.put(
            "/api/v1/webhooks/config", json={"webhook_url": sink.url("/m")}
        )
        assert configured.status_code == 200, configured.text
        creator = await funded_creator(hub, client, {"name": "Amina", "email": CREATOR_EMAIL})
        spent = 0

        # Mobile money: processing while ClickPesa says AUTHORIZED, paid once it says SUCCESS.
        paid = await create(client, creator, {"type": "mobile_money", "phone": "0712 345 678"})
        await reach(hub, client, paid, "processing")
        await fake.settle(paid, "SUCCESS")
        await reach(hub, client, paid, "paid")
        spent += 104_710
        assert await balance(client, creator) == {
            "pending": 0,
            "available": FUNDS - spent,
            "reserved": 0,
        }
        await assert_ledger_sound(hub)

        bank = await create(client, creator, BANK)
        await reach(hub, client, bank, "processing")
        await fake.settle(bank, "SUCCESS")
        await reach(hub, client, bank, "paid")
        spent += 104_710
        await assert_ledger_sound(hub)

        failed = await create(client, creator, {"type": "mobile_money", "phone": "+255754000001"})
        await reach(hub, client, failed, "processing")
        await fake.settle(failed, "FAILED")
        await reach(hub, client, failed, "failed")
        assert (await balance(client, creator))["available"] == FUNDS - spent
        await assert_ledger_sound(hub)

        # Paid, then the money came back: the signed event, three times, credits it once.
        for ending in ("REVERSED", "REFUNDED"):
            returned = await create(
                client, creator, {"type": "mobile_money", "phone": "0754000002"}
            )
            await reach(hub, client, returned, "processing")
            await fake.settle(returned, "SUCCESS")
            await reach(hub, client, returned, "paid")
            assert (await balance(client, creator))["available"] == FUNDS - spent - 104_710
            await fake.settle(returned, ending)  # sends PAYOUT REVERSED / PAYOUT REFUNDED
            await reach(hub, client, returned, ending.lower())
            assert await fake.deliver_again(returned) == "200"
            assert await fake.deliver_again(returned) == "200"
            assert await balance(client, creator) == {
                "pending": 0,
                "available": FUNDS - spent,
                "reserved": 0,
            }
            await assert_ledger_sound(hub)

        for payout_id in (paid, bank, failed):
            assert await fake.disbursements(payout_id) == 1

        # Every step reached the merchant's endpoint, like any other event.
        async def delivered() -> bool:
            payloads = [json.loads(r.body) for r in sink.at("/m")]
            sent = {(p["event"], p["data"]["id"]) for p in payloads if p["event"][:7] == "payout."}
            wanted = {("payout.paid", paid), ("payout.paid", bank), ("payout.failed", failed)}
            wanted |= {("payout.processing", paid), ("payout.created", failed)}
            return wanted <= sent and {"payout.reversed", "payout.refunded"} <= {e for e, _ in sent}

        await hub.eventually(delivered, within=30, what="the payout events delivered")

    # The creator was told by email: once of its earning, once per payout paid (four: the
    # returned ones were paid first) or failed; the returns, sent three times, told nothing.
    async def told() -> bool:
        return len(mailbox.to(CREATOR_EMAIL)) >= 6

    await hub.eventually(told, within=30, what="the creator's emails")
    emails = mailbox.to(CREATOR_EMAIL)
    assert sorted(str(message["Subject"]) for message in emails) == sorted(
        ["You earned TSh 10,000.00"]
        + ["Payout paid: TSh 1,000.00"] * 4
        + ["Payout failed: TSh 1,000.00"]
    )
    texts = [text_of(message) for message in emails]
    assert any(f"your payout {paid} of TSh 1,000.00 was paid to" in text for text in texts)
    assert any(f"your payout {failed} of TSh 1,000.00 did not go" in text for text in texts)
    assert all(text.startswith("Hi Amina, ") for text in texts)


async def test_a_worker_killed_after_clickpesa_accepted_never_sends_twice(hub: Hub) -> None:
    fake = Fake(await start_fake(hub, "clickpesa"))
    env = clickpesa_env(fake)
    server = await hub.serve(worker=False, **env)
    # No webhook URL: the payout can only be found by asking ClickPesa.
    await fake.register(None)
    async with api(server) as client:
        creator = await funded_creator_with_worker(hub, client, env)
        # Every create now disburses, then waits before answering: the worker dies meanwhile.
        await fake.control("/_control/payouts/hold", {"seconds": 60})
        doomed = hub.worker("doomed-worker", 4, HAZINA_JOB_LEASE_SECONDS="2", **env)
        payout_id = await create(client, creator, {"type": "mobile_money", "phone": "0712345678"})

        async def accepted() -> bool:
            return await fake.disbursements(payout_id) == 1

        await hub.eventually(accepted, within=30, what="ClickPesa accepted the payout")
        doomed.kill()  # SIGKILL: Hazina never heard the answer
        assert await payout_status(client, payout_id) == "pending"
        await fake.control("/_control/payouts/hold", {"seconds": 0})

        # The operator's way: found by status query (the bar goes to stderr, the tally to stdout).
        code, output = await hub.run("payouts", "reconcile", within=60, **env)
        assert code == 0, output
        assert "payouts: 1 processing" in output
        assert await payout_status(client, payout_id) == "processing"
        hub.worker("survivor", 4, HAZINA_JOB_LEASE_SECONDS="2", **env)
        await fake.settle(payout_id, "SUCCESS")
        await reach(hub, client, payout_id, "paid")
        assert await fake.disbursements(payout_id) == 1
        assert (await balance(client, creator))["available"] == FUNDS - 104_710
        await assert_ledger_sound(hub)


async def funded_creator_with_worker(
    hub: Hub, client: httpx.AsyncClient, env: dict[str, str]
) -> str:
    """Funding needs a worker (the sandbox settles the payment); it stops before the story."""
    helper: HazinaProcess = hub.worker("funding-worker", 4, **env)
    try:
        return await funded_creator(hub, client)
    finally:
        helper.kill()


async def test_twenty_concurrent_payouts_against_a_balance_covering_five(hub: Hub) -> None:
    """A real server (the sandbox pays out: no ClickPesa account): exactly 5 accepted."""
    server = await hub.serve(worker=True)
    async with api(server) as client:
        creator = await funded_creator(hub, client)
        amount = 198_019  # + its fee (1 %, rounded up: 1,981) = 200,000, a fifth of the balance
        body = {
            "account_id": creator,
            "amount": amount,
            "currency": CURRENCY,
            "destination": {"type": "mobile_money", "phone": "+255712345678"},
        }
        answers = await asyncio.gather(
            *(client.post("/api/v1/payouts", json=body) for _ in range(20))
        )
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [201] * 5 + [400] * 15, [a.text for a in answers]
        refused = {a.json()["error"]["description"] for a in answers if a.status_code == 400}
        assert refused == {f"Insufficient funds in account {creator}"}
        assert await balance(client, creator) == {"pending": 0, "available": 0, "reserved": FUNDS}
        for answer in answers:
            if answer.status_code == 201:
                await reach(hub, client, answer.json()["id"], "paid")
        assert await balance(client, creator) == {"pending": 0, "available": 0, "reserved": 0}
        await assert_ledger_sound(hub)
