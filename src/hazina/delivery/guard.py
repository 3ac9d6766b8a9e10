"""The SSRF guard, on in every mode: a webhook reaches only what the DestinationPolicy allows.

The check happens where the socket is opened, not when the URL is saved. Before anything else the
sender refuses a scheme or port outside the policy, and an address literal the policy does not
allow (aiohttp connects to a literal without asking the resolver). For a name, the connector's
resolver is this guard: it resolves the name itself, refuses it unless every address it gives is
allowed, and hands aiohttp only those vetted addresses to connect to. A name that resolves to a
public address when configured and to 127.0.0.1 later (DNS rebinding) is therefore refused on the
connection that would have reached it: the connector keeps no DNS cache, so every new connection
asks again. aiohttp still knows the request by its host name, so TLS verifies the certificate
for (and sends SNI with) the original name, the Host header is untouched, and a pooled connection
is reused only for the name it was opened for. Redirects are never followed by the sender, so a
public URL cannot bounce a request inward either.

Built on aiohttp's public resolver interface (`aiohttp.abc.AbstractResolver`).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from hazina.domain.destinations import DestinationPolicy

Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedDestination(Exception):
    """The URL or an address it resolves to is not allowed; the attempt fails without a request."""


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


async def resolve_host(host: str, port: int) -> list[str]:
    literal = _literal(host)
    if literal is not None:
        return [literal]  # an address literal needs no lookup
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    # Keep resolver order (it encodes address preference) without repeating an address.
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refusal(host: str, address: str) -> BlockedDestination:
    return BlockedDestination(f"{host} resolves to {address}, which is not allowed")


def check_url(policy: DestinationPolicy, url: URL) -> None:
    """What can be judged before any lookup: scheme, port, and an address literal."""
    if not policy.allows_scheme(url.scheme):
        raise BlockedDestination(f"scheme {url.scheme or '(none)'} is not allowed")
    port = url.port or 0
    if not policy.allows_port(port):
        raise BlockedDestination(f"port {port} is not allowed")
    host = url.host or ""
    literal = _literal(host)
    if literal is not None and not policy.allows_address(literal):
        raise _refusal(host, literal)


class GuardedResolver(AbstractResolver):
    """The connector's resolver: only allowed addresses come out of it, or none at all."""

    def __init__(self, policy: DestinationPolicy, resolve: Resolver | None = None) -> None:
        self._policy = policy
        self._resolve = resolve or resolve_host

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._resolve(host, port)  # an OSError: aiohttp's DNS error
        if not addresses:
            raise OSError(f"{host} has no address")
        blocked = [address for address in addresses if not self._policy.allows_address(address)]
        if blocked:
            raise _refusal(host, blocked[0])
        return [
            {
                "hostname": host,  # what TLS verifies and SNI names
                "host": address,  # what the socket connects to
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None
