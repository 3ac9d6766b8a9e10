"""ClickPesa's v2 checksum: HMAC-SHA256 over the canonical JSON of a payload.

The rule (providers.md 3.6): drop `checksum` and `checksumMethod`, sort object keys at every level
(arrays keep their order), serialise as compact JSON the way JavaScript's `JSON.stringify` does,
and take the lowercase hex HMAC-SHA256 under the account's checksum key. The adapter signs its
requests and verifies webhooks with it, the fake does the reverse; both need the same rule.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

EXCLUDED_KEYS = frozenset({"checksum", "checksumMethod"})


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    # JSON.stringify writes 1000.0 as 1000; Python would write 1000.0 and change the digest.
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The exact text the checksum covers."""
    kept = {key: value for key, value in payload.items() if key not in EXCLUDED_KEYS}
    # ensure_ascii=False: JSON.stringify leaves non-ASCII characters as they are.
    return json.dumps(_canonical(kept), separators=(",", ":"), ensure_ascii=False)


def compute_checksum(key: str, payload: Mapping[str, Any]) -> str:
    message = canonical_json(payload).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def checksum_matches(key: str, payload: Mapping[str, Any], checksum: str) -> bool:
    """Constant-time comparison; case-insensitive, since hex says nothing by its case."""
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str from a forged body.
    expected = compute_checksum(key, payload).encode("ascii")
    return hmac.compare_digest(expected, checksum.strip().lower().encode("utf-8"))
