"""The vault's key ring: AES-256-GCM tokens bound to their context, across key rotation."""

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from hazina.bootstrap import VaultUnavailable, vault
from hazina.config import Environment, Settings
from hazina.vault.keyfile import load_or_create_key_file
from hazina.vault.keyring import KeyRing, KeyRingError, generate_key_entry, parse_master_keys

CONTEXT = "550e8400-e29b-41d4-a716-446655440000:stripe:secret_key"
SECRET = "sk_test_51Hazina0123456789abcdef"


def flip(text: str, index: int) -> str:
    """The url-safe base64 text with one character replaced by another valid one."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.parse(generate_key_entry("k1"))


def test_round_trip_with_a_fresh_nonce_each_time(ring: KeyRing) -> None:
    first, second = ring.encrypt(SECRET, CONTEXT), ring.encrypt(SECRET, CONTEXT)
    assert first != second
    assert first.startswith("v1.k1.")
    assert SECRET not in first
    assert ring.decrypt(first, CONTEXT) == ring.decrypt(second, CONTEXT) == SECRET


def test_unknown_key_id_is_refused(ring: KeyRing) -> None:
    other = KeyRing.parse(generate_key_entry("k9"))
    with pytest.raises(ValueError, match="unknown key id"):
        ring.decrypt(other.encrypt(SECRET, CONTEXT), CONTEXT)


def test_same_key_id_with_another_key_does_not_decrypt(ring: KeyRing) -> None:
    impostor = KeyRing.parse(generate_key_entry("k1"))
    with pytest.raises(ValueError, match="does not authenticate"):
        ring.decrypt(impostor.encrypt(SECRET, CONTEXT), CONTEXT)


@pytest.mark.parametrize(("part", "index"), [(2, 3), (3, 0), (3, 10), (3, -2)])
def test_tampered_nonce_ciphertext_or_tag_is_refused(ring: KeyRing, part: int, index: int) -> None:
    parts = ring.encrypt(SECRET, CONTEXT).split(".")
    parts[part] = flip(parts[part], index % len(parts[part]))
    with pytest.raises(ValueError, match="does not authenticate"):
        ring.decrypt(".".join(parts), CONTEXT)


@pytest.mark.parametrize("token", ["", "v1.k1", "v2.k1.AAAA.AAAA", "v1.k1.AAAA.AAAA", "v1.k1.!!.?"])
def test_malformed_tokens_are_refused(ring: KeyRing, token: str) -> None:
    with pytest.raises(ValueError, match=r"not a vault token|nonce has the wrong length"):
        ring.decrypt(token, CONTEXT)


@pytest.mark.parametrize(
    "context",
    [
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8:stripe:secret_key",  # another merchant's row
        "550e8400-e29b-41d4-a716-446655440000:stripe:webhook_secret",  # another field
        "550e8400-e29b-41d4-a716-446655440000:clickpesa:secret_key",  # another provider
    ],
)
def test_a_token_moved_to_another_context_does_not_decrypt(ring: KeyRing, context: str) -> None:
    with pytest.raises(ValueError, match="does not authenticate"):
        ring.decrypt(ring.encrypt(SECRET, CONTEXT), context)


def test_rotation_old_tokens_still_open_and_new_ones_use_the_newest_key() -> None:
    old_entry, new_entry = generate_key_entry("old"), generate_key_entry("new")
    before = KeyRing.parse(old_entry)
    old_token = before.encrypt(SECRET, CONTEXT)

    after = KeyRing.parse(f"{old_entry},{new_entry}")
    assert after.current_kid == "new"
    assert after.kids == ("old", "new")
    assert after.decrypt(old_token, CONTEXT) == SECRET
    assert not after.is_current(old_token)
    new_token = after.encrypt(SECRET, CONTEXT)
    assert new_token.startswith("v1.new.")
    assert after.is_current(new_token)
    assert before.is_current(old_token)
    assert not after.is_current("garbage")


def test_parse_accepts_newlines_and_spaces() -> None:
    entries = [generate_key_entry("a"), generate_key_entry("b")]
    keys = parse_master_keys(f" {entries[0]} ,\n{entries[1]}\n")
    assert [key.kid for key in keys] == ["a", "b"]
    assert "key=" not in repr(keys[0])


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "no master keys"),
        ("k1", "not of the form kid:base64"),
        ("k.1:" + base64.b64encode(os.urandom(32)).decode(), "key id must be"),
        ("k1:" + base64.b64encode(os.urandom(16)).decode(), "16 bytes; AES-256 needs 32"),
        ("k1:not base64!", "not valid base64"),
        (
            f"k1:{base64.b64encode(os.urandom(32)).decode()},k1:{base64.b64encode(os.urandom(32)).decode()}",
            "appears twice",
        ),
    ],
)
def test_malformed_master_keys_are_explained(spec: str, problem: str) -> None:
    with pytest.raises(KeyRingError, match=problem):
        parse_master_keys(spec)


def test_generated_entries_have_a_dated_kid_and_32_random_bytes() -> None:
    kid, _, key = generate_key_entry().partition(":")
    assert kid.startswith("k2")
    assert len(kid) == 13
    assert len(base64.b64decode(key)) == 32
    with pytest.raises(KeyRingError):
        generate_key_entry("bad kid")


def test_development_key_file_is_created_once_with_owner_only_permissions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hazina.keys"
    ring, created = load_or_create_key_file(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = ring.encrypt(SECRET, CONTEXT)
    again, created_again = load_or_create_key_file(path)
    assert not created_again
    assert again.decrypt(token, CONTEXT) == SECRET
    assert list(tmp_path.iterdir()) == [path]  # no draft left behind


def settings_for(tmp_path: Path, **values: object) -> Settings:
    # A session secret, which production also requires, so only the key ring is under test.
    base = {"master_key_file": str(tmp_path / "hazina.keys"), "session_secret": "s" * 32}
    return Settings.model_validate({**base, **values})


def test_development_without_keys_makes_a_key_file_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, master_keys=None)
    with caplog.at_level(logging.INFO, logger="hazina"):
        first = vault(settings)
        second = vault(settings)
    created = [r.getMessage() for r in caplog.records if "development key ring" in r.getMessage()]
    assert created == [
        f"created a development key ring at {tmp_path / 'hazina.keys'}: back it up, or provider "
        "credentials saved with it cannot be read again"
    ]
    key = (tmp_path / "hazina.keys").read_text().split(":")[1].strip()
    assert key not in caplog.text
    assert second.decrypt(first.encrypt(SECRET, CONTEXT), CONTEXT) == SECRET


def test_malformed_keys_name_their_source(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, master_keys="k1:AAAA")
    with pytest.raises(VaultUnavailable, match="HAZINA_MASTER_KEYS: master key 'k1' is 3 bytes"):
        vault(settings)


def test_production_uses_the_configured_ring(tmp_path: Path) -> None:
    entry = generate_key_entry("prod1")
    settings = settings_for(
        tmp_path, master_keys=entry, env=Environment.PRODUCTION, public_url="https://pay.example"
    )
    assert vault(settings).encrypt(SECRET, CONTEXT).startswith("v1.prod1.")
