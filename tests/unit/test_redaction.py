"""Credentials in URLs are masked before they are stored (audit rows) or shown (Settings' repr)."""

import pytest

from hazina.config import Settings
from hazina.domain.redaction import redact_url

MASTER_KEYS = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
SESSION_SECRET = "session-secret-that-is-long-enough-0123456789"


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pass@host.example/hook?x=1", "https://user:***@host.example/hook?x=1"),
        ("https://user:pass@host.example:8443/h", "https://user:***@host.example:8443/h"),
        ("https://:pass@host.example/h", "https://:***@host.example/h"),
        (
            "https://h.example/h?token=abc&page=2&api_key=zz&Signature=s&client_secret=c",
            "https://h.example/h?token=***&page=2&api_key=***&Signature=***&client_secret=***",
        ),
        (
            "postgresql+asyncpg://hazina:s3cret@db:5432/h",
            "postgresql+asyncpg://hazina:***@db:5432/h",
        ),
        ("https://[::1]:8443/x?sig=1", "https://[::1]:8443/x?sig=***"),
        # Nothing to hide: unchanged, byte for byte.
        ("https://user@host.example/h?page=2", "https://user@host.example/h?page=2"),
        ("sqlite+aiosqlite:///./hazina.db", "sqlite+aiosqlite:///./hazina.db"),
        ("not a url", "not a url"),
        ("order_123", "order_123"),
    ],
)
def test_urls_lose_their_credentials_only(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_the_settings_repr_hides_the_database_password_session_secret_and_master_keys() -> None:
    settings = Settings.model_validate(
        {
            "database_url": "postgresql://hazina:db-password-xyz@db.internal:5432/hazina",
            "session_secret": SESSION_SECRET,
            "master_keys": MASTER_KEYS,
            "stripe_secret_key": "sk_test_hidden0000000000",
        }
    )
    shown = repr(settings) + str(settings)
    for secret in ("db-password-xyz", SESSION_SECRET, MASTER_KEYS, "AAECAwQF", "sk_test_hidden"):
        assert secret not in shown
    assert "postgresql+asyncpg://hazina:***@db.internal:5432/hazina" in shown
    assert settings.database_url.endswith("db-password-xyz@db.internal:5432/hazina")  # still usable
