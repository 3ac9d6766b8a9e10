"""Dashboard passwords: argon2id (argon2-cffi's defaults), hashed and checked in threads.

Each argon2 computation is deliberately slow and holds its memory cost (64 MiB by default) while
it runs. Everything a request can start goes through `PasswordChecks`, whose cap keeps a flood of
logins queueing for a slot instead of allocating a thread and its memory each.
"""

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hazina.domain.errors import BadRequest

MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
# An unknown email is checked against this, so response time does not tell which emails exist.
ABSENT_USER_HASH = _hasher.hash("no such dashboard user")


def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(password_hash)


async def hash_password(password: str) -> str:
    """For accounts an operator creates (`hazina merchant create`): one hash, no request."""
    return await asyncio.to_thread(_hash, password)


# The development seed hashes the same configured password at every start (and the tests start
# hundreds of times): one hash per process is as good, since each start only needs *a* hash.
seed_hash = functools.lru_cache(maxsize=4)(_hasher.hash)


class PasswordChecks:
    """Hashing and verification for requests, at most `concurrency` at once in this process."""

    def __init__(self, concurrency: int) -> None:
        # Made with the container, so it belongs to the event loop that serves the requests.
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(_hash, password)

    async def matches(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(_matches, password_hash, password)
