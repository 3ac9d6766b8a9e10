"""ClickPesa speaks decimal strings: each currency's amounts go out and come back with the
currency's own ISO 4217 decimals, against the ClickPesa fake."""

from dataclasses import replace

import pytest

from hazina.domain.providers import ProviderEventKind
from hazina.providers.clickpesa import ClickPesaProvider
from hazina.testing.clickpesa_fake import FakeClickPesa
from tests.providers.clickpesa_provider.conftest import access, register
from tests.providers.clickpesa_provider.test_clickpesa import PAYMENT_ID, REFERENCE, complete, start

CASES = [
    pytest.param("UGX", 5_000, "5000", id="UGX-0-decimal"),
    pytest.param("TZS", 100_050, "1000.50", id="TZS-2-decimal"),
    pytest.param("KWD", 1_234, "1.234", id="KWD-3-decimal"),
]


@pytest.mark.parametrize("phone", [None, "0712345678"], ids=["checkout-link", "ussd-push"])
@pytest.mark.parametrize(("currency", "minor", "sent"), CASES)
async def test_amounts_go_out_as_decimal_strings_and_come_back_in_minor_units(
    provider: ClickPesaProvider,
    control,
    fake: FakeClickPesa,
    currency: str,
    minor: int,
    sent: str,
    phone: str | None,
) -> None:
    await register(control)
    started = await provider.start_payment(
        access(), replace(start(phone, amount=minor), currency=currency)
    )
    order = fake.orders[REFERENCE]
    assert (order.amount, order.currency) == (sent, currency)
    if phone:
        assert f"{currency} {sent}" in started.next_action["message"]

    body = await complete(control, status="SUCCESS")
    [event] = provider.parse_webhook(access(), body, {})
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (event.payment_id, event.amount, event.currency) == (PAYMENT_ID, minor, currency)
    reconciled = await provider.fetch_payment(access(), PAYMENT_ID, REFERENCE)
    assert reconciled is not None
    assert (reconciled.amount, reconciled.currency) == (minor, currency)
