"""Normalised provider reports survive storage unchanged, so a replay applies the same facts."""

from datetime import UTC, datetime

from hazina.domain.providers import (
    ProviderAccess,
    ProviderEvent,
    ProviderEventKind,
    event_from_json,
    event_to_json,
)


def test_a_report_round_trips_through_json():
    event = ProviderEvent(
        kind=ProviderEventKind.PAYMENT_SUCCEEDED,
        dedup_key="evt_1",
        raw_type="checkout.session.completed",
        raw_status="paid",
        payment_id="pay_0123456789abcdef",
        provider_reference="cs_test_1",
        amount=5000,
        currency="USD",
        occurred_at=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
    )
    assert event_from_json(event_to_json(event)) == event


def test_an_access_repr_shows_no_secret():
    access = ProviderAccess("stripe", "pa_1", "test", {"secret_key": "sk_test_supersecret"})
    assert "supersecret" not in repr(access)
    assert "supersecret" not in str(access)
