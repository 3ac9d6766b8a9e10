"""The credential cache: hits skip the database only for the secret that was verified."""

import uuid
from datetime import UTC, datetime

from hazina.services.merchants import CredentialCache, MerchantIdentity, hash_secret

_ID = uuid.uuid4()
IDENTITY = MerchantIdentity(
    id=_ID,
    name="Duka",
    email="owner@duka.example",
    api_key="key_test_abc",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    account_id=_ID,
    livemode=False,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_remembered_credential_is_found_until_it_expires() -> None:
    clock = FakeClock()
    cache = CredentialCache(10, clock=clock)
    cache.remember("key_abc", hash_secret("s3cret"), IDENTITY)
    hit = cache.lookup("key_abc")
    assert hit is not None
    assert (hit.identity, hit.secret_hash) == (IDENTITY, hash_secret("s3cret"))
    clock.now += 9.9
    assert cache.lookup("key_abc") is not None
    clock.now += 0.1
    assert cache.lookup("key_abc") is None


def test_a_zero_ttl_remembers_nothing() -> None:
    cache = CredentialCache(0)
    cache.remember("key_abc", hash_secret("s3cret"), IDENTITY)
    assert cache.lookup("key_abc") is None


def test_the_oldest_entry_makes_room() -> None:
    cache = CredentialCache(10, max_entries=2)
    for key in ("a", "b", "c"):
        cache.remember(key, hash_secret(key), IDENTITY)
    assert cache.lookup("a") is None
    assert cache.lookup("b") is not None
    assert cache.lookup("c") is not None
