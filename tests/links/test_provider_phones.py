"""Every phone a payment takes is parsed by domain.phones before anything is written: a number
that does not parse is a 400 naming the field, on both databases."""

import httpx
import pytest

from hazina.services.provider_payments import checked_phone


async def test_a_ussd_push_to_a_bad_number_is_a_400_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    order = (await client.post("/api/v1/orders", json={"amount": 100000, "currency": "TZS"})).json()
    for phone in ("12", "+25571", "not a phone"):
        response = await client.post(
            "/api/v1/payments",
            json={"order_id": order["id"], "method": "clickpesa", "phone": phone},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
        assert response.json()["error"]["description"].startswith("phone: ")
    listed = await client.get("/api/v1/payments")
    assert listed.json()["total"] == 0
    assert (await client.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "created"


@pytest.mark.parametrize(
    ("raw", "provider", "e164"),
    [
        ("0712 345 678", "clickpesa", "+255712345678"),
        ("+255712345678", "clickpesa", "+255712345678"),
        ("0771111111", "paynow", "+263771111111"),
        ("+263771111111", "clickpesa", "+263771111111"),
        ("255712345678", "clickpesa", "+255712345678"),  # ClickPesa's own form
        (None, "clickpesa", None),
        ("255712345678", "acme", "255712345678"),  # no country known: as given
    ],
)
def test_national_numbers_are_read_in_the_providers_country(
    raw: str | None, provider: str, e164: str | None
) -> None:
    assert checked_phone(raw, provider) == e164
