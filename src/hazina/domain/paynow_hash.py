"""Paynow's message hash (providers.md 4.3): SHA-512 over the values in message order.

Every value of the message except `hash` (any case), in the order the fields appear, joined
without separators, then the integration key; UTF-8, SHA-512, uppercase hex. Inbound messages
are hashed over their URL-decoded values in the order they arrived, so callers parse with
`urllib.parse.parse_qsl` (order kept) and pass the pairs as they came. The adapter signs its
requests and verifies Paynow's answers and status updates with it; the fake does the reverse.
"""

import hashlib
import hmac
from collections.abc import Iterable


def paynow_hash(fields: Iterable[tuple[str, str]], integration_key: str) -> str:
    text = "".join(value for name, value in fields if name.lower() != "hash")
    return hashlib.sha512((text + integration_key).encode()).hexdigest().upper()


def hash_matches(fields: Iterable[tuple[str, str]], integration_key: str) -> bool:
    """Whether the message's own `hash` field is the one its values give; constant time."""
    pairs = list(fields)
    given = next((value for name, value in pairs if name.lower() == "hash"), "")
    expected = paynow_hash(pairs, integration_key)
    # Paynow writes uppercase; a lowercase copy of the right digest is the same digest.
    return hmac.compare_digest(given.upper().encode(), expected.encode())
