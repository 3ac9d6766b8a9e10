"""A versioned AES-256-GCM key ring: the key id travels with each token, so old tokens keep
decrypting after a new key is added, and rotation can tell which ones to re-seal."""

import base64
import binascii
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
# Key ids appear inside tokens (dot-separated) and in `kid:key` entries (comma-separated).
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyRingError(ValueError):
    """HAZINA_MASTER_KEYS (or the development key file) is malformed."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    kid: str
    key: bytes = field(repr=False)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # binascii.Error is a ValueError, which is what a malformed token must raise.
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_master_keys(spec: str) -> list[MasterKey]:
    """`kid:base64(32 bytes)` entries separated by commas or newlines, oldest first."""
    keys: list[MasterKey] = []
    for position, entry in enumerate(re.split(r"[,\n]", spec), start=1):
        entry = entry.strip()
        if not entry:
            continue
        kid, colon, encoded = entry.partition(":")
        kid = kid.strip()
        if not colon:
            raise KeyRingError(f"master key entry {position} is not of the form kid:base64")
        if not _KID.match(kid):
            raise KeyRingError(
                f"master key entry {position}: the key id must be 1-32 of [A-Za-z0-9_-]"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise KeyRingError(f"master key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyRingError(f"master key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        if any(existing.kid == kid for existing in keys):
            raise KeyRingError(f"master key id {kid!r} appears twice")
        keys.append(MasterKey(kid, key))
    if not keys:
        raise KeyRingError("no master keys given")
    return keys


def generate_kid() -> str:
    """A date, so operators see which key is newer, and a random suffix, so two keys made the
    same day still differ."""
    return f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(2)}"


def generate_key_entry(kid: str | None = None) -> str:
    """A fresh `kid:base64` entry to append to HAZINA_MASTER_KEYS."""
    kid = kid or generate_kid()
    if not _KID.match(kid):
        raise KeyRingError("the key id must be 1-32 of [A-Za-z0-9_-]")
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


class KeyRing:
    """Seals with the newest key; opens with whichever key a token names.

    Token: `v1.<kid>.<nonce>.<ciphertext+tag>` (url-safe base64). The context string is the
    associated data: authenticated, not stored, so the caller must present the same one.
    """

    def __init__(self, keys: Sequence[MasterKey]) -> None:
        if not keys:
            raise KeyRingError("a key ring needs at least one key")
        self._ciphers = {key.kid: AESGCM(key.key) for key in keys}
        if len(self._ciphers) != len(keys):
            raise KeyRingError("master key ids must be unique")
        self.current_kid = keys[-1].kid

    @classmethod
    def parse(cls, spec: str) -> "KeyRing":
        return cls(parse_master_keys(spec))

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_kid].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        return ".".join((FORMAT_VERSION, self.current_kid, _b64encode(nonce), _b64encode(sealed)))

    def decrypt(self, token: str, context: str) -> str:
        kid, nonce, sealed = self._split(token)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise ValueError("unknown key id")
        try:
            plaintext = cipher.decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag:
            raise ValueError("the token does not authenticate: tampered or moved") from None
        return plaintext.decode("utf-8")

    def is_current(self, token: str) -> bool:
        parts = token.split(".")
        return len(parts) == 4 and parts[0] == FORMAT_VERSION and parts[1] == self.current_kid

    @staticmethod
    def _split(token: str) -> tuple[str, bytes, bytes]:
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != FORMAT_VERSION:
            raise ValueError("not a vault token")
        nonce, sealed = _b64decode(parts[2]), _b64decode(parts[3])
        if len(nonce) != NONCE_BYTES:
            raise ValueError("the token's nonce has the wrong length")
        return parts[1], nonce, sealed
