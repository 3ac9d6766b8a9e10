"""The dashboard's notification settings (`/dashboard/links`) with the creator toggles: what
creators are told on which channel is saved per mode through the CSRF-checked form, and shown
checked on the page; a post without the form's token changes nothing."""

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.notifications.preferences import get_preferences
from tests.conftest import make_settings
from tests.web.conftest import post_form

TOGGLES = {"earning_channels": "email", "payout_channels": "email"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Email offered: an SMTP server is configured (nothing is sent in these tests)."""
    return make_settings(database_url, smtp_host="127.0.0.1", smtp_security="none")


async def test_creator_toggles_are_saved_and_shown(
    dashboard: httpx.AsyncClient, container: Container
) -> None:
    saved = await post_form(
        dashboard, "/dashboard/links", "/dashboard/links/notifications", TOGGLES
    )
    assert saved.status_code == 303
    wanted = await get_preferences(container.db, TEST_MERCHANT_ID)
    assert (wanted.earning_channels, wanted.payout_channels) == (("email",), ("email",))
    assert (wanted.paid_channels, wanted.receipt_channels) == ((), ())
    page = (await dashboard.get("/dashboard/links")).text
    for test_id in ("earning-email", "creator-payout-email"):
        assert f'data-test-id="{test_id}" checked' in page
    for test_id in ("earning-whatsapp", "creator-payout-whatsapp"):
        assert f'data-test-id="{test_id}">' in page  # unchecked


async def test_creator_toggles_need_the_csrf_token(
    dashboard: httpx.AsyncClient, container: Container
) -> None:
    refused = await dashboard.post("/dashboard/links/notifications", data=TOGGLES)
    assert refused.status_code == 403
    wanted = await get_preferences(container.db, TEST_MERCHANT_ID)
    assert (wanted.earning_channels, wanted.payout_channels) == ((), ())


async def test_whatsapp_for_creators_needs_a_connected_account(
    dashboard: httpx.AsyncClient,
) -> None:
    refused = await post_form(
        dashboard,
        "/dashboard/links",
        "/dashboard/links/notifications",
        {"payout_channels": "whatsapp"},
    )
    assert refused.status_code == 400
    assert "WhatsApp is not connected" in refused.text
