"""The Payouts page: creators' balances, the payout form (typed amounts, a double submit is
one payout), the list with status and masked destination, cancel while pending."""

import re

import httpx

from hazina.worker import Worker
from tests.payouts.helpers import funded_creator
from tests.waiting import drain
from tests.web.conftest import csrf_of

PAGE = "/dashboard/payouts"


def form_key(page: httpx.Response) -> str:
    found = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def test_a_creator_is_paid_out_from_the_page(
    client: httpx.AsyncClient, dashboard: httpx.AsyncClient, worker: Worker
) -> None:
    creator = await funded_creator(client, worker, 1_000_000)
    page = await dashboard.get(PAGE)
    assert page.status_code == 200
    assert creator in page.text
    assert "TSh 10,000.00" in page.text  # the creator's available balance
    form = {
        "csrf_token": csrf_of(page),
        "form_key": form_key(page),
        "account_id": creator,
        "amount": "1,000.00",
        "type": "mobile_money",
        "phone": "0712 345 678",
    }
    first = await dashboard.post(PAGE, data=form)
    again = await dashboard.post(PAGE, data=form)  # the same form twice: one payout
    assert first.status_code == again.status_code == 303
    payouts = (await client.get("/api/v1/payouts")).json()
    assert payouts["total"] == 1
    [payout] = payouts["data"]
    assert payout["amount"] == 100_000
    listed = (await dashboard.get(PAGE)).text
    assert "•••• 5678" in listed
    assert "+255712345678" not in listed
    cancel = await dashboard.post(
        f"{PAGE}/{payout['id']}/cancel", data={"csrf_token": csrf_of(await dashboard.get(PAGE))}
    )
    assert cancel.status_code == 303
    assert (await client.get(f"/api/v1/payouts/{payout['id']}")).json()["status"] == "canceled"
    await drain(worker)
    assert "TSh 10,000.00" in (await dashboard.get(PAGE)).text


async def test_a_bad_form_says_why_and_changes_nothing(
    client: httpx.AsyncClient, dashboard: httpx.AsyncClient, worker: Worker
) -> None:
    creator = await funded_creator(client, worker, 10_000)
    page = await dashboard.get(PAGE)
    form = {
        "csrf_token": csrf_of(page),
        "account_id": creator,
        "amount": "5000",  # more than the 100.00 available
        "type": "mobile_money",
        "phone": "0712345678",
    }
    refused = await dashboard.post(PAGE, data=form)
    assert refused.status_code == 400
    assert "Insufficient funds" in refused.text
    assert (await client.get("/api/v1/payouts")).json()["total"] == 0
