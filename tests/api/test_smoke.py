import httpx

from hazina.worker import Worker
from tests.waiting import drain


async def test_order_to_paid(client: httpx.AsyncClient, worker: Worker) -> None:
    order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
    created = await client.post(
        "/api/v1/payments", json={"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
    )
    assert created.status_code == 201
    await drain(worker)
    payment = (await client.get(f"/api/v1/payments/{created.json()['id']}")).json()
    assert payment["status"] == "success"
    assert (await client.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "paid"
