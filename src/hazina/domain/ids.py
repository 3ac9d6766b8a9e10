"""Resource identifiers: a prefix and exactly 16 random alphanumerics."""

import secrets
import string

ALPHABET = string.ascii_letters + string.digits
RANDOM_PART_LENGTH = 16

ORDER = "order_"
PAYMENT = "pay_"
REFUND = "rfnd_"
EVENT = "evt_"
WEBHOOK_ENDPOINT = "we_"
PROVIDER_ACCOUNT = "pa_"
INBOUND_EVENT = "ie_"
PAYMENT_LINK = "plink_"
NOTIFICATION = "ntf_"
LEDGER_ACCOUNT = "acct_"
LEDGER_TRANSFER = "ltx_"
# "pout" + 16 characters: the 20 that ClickPesa's orderReference is said to allow.
PAYOUT = "pout_"


# The largest multiple of 62 below 256: bytes at or above it are dropped, so every character
# stays equally likely (no modulo bias).
_UNBIASED_LIMIT = 256 - 256 % len(ALPHABET)


def new_id(prefix: str) -> str:
    """Return `prefix` followed by 16 characters drawn from [A-Za-z0-9] by a CSPRNG."""
    chars: list[str] = []
    while len(chars) < RANDOM_PART_LENGTH:
        # One system call per id, not one per character; 2x covers the dropped bytes.
        for byte in secrets.token_bytes(2 * RANDOM_PART_LENGTH):
            if byte < _UNBIASED_LIMIT and len(chars) < RANDOM_PART_LENGTH:
                chars.append(ALPHABET[byte % len(ALPHABET)])
    return prefix + "".join(chars)


def is_valid_id(value: str, prefix: str) -> bool:
    rest = value.removeprefix(prefix)
    return (
        value.startswith(prefix)
        and len(rest) == RANDOM_PART_LENGTH
        and all(c in ALPHABET for c in rest)
    )


def alphanumeric_reference(value: str) -> str:
    """The id without its underscore, for providers that take only [A-Za-z0-9] (ClickPesa)."""
    return value.replace("_", "")


def from_alphanumeric_reference(reference: str, prefix: str) -> str | None:
    """Undo `alphanumeric_reference` for ids of `prefix`; None if `reference` is not one."""
    bare = prefix.removesuffix("_")
    if not reference.startswith(bare):
        return None
    candidate = prefix + reference.removeprefix(bare)
    return candidate if is_valid_id(candidate, prefix) else None
