"""The SSRF guard: in production a webhook may only reach public addresses, over https.

The check happens where the socket is opened, not when the URL is saved: the name is resolved,
every address it gives must be public, and the connection goes to one of those vetted addresses
while TLS still verifies (and sends SNI for) the original host name, and the Host header is
untouched. A name that resolves to a public address when configured and to 127.0.0.1 later (DNS
rebinding) is therefore refused on the attempt that would have reached it. Redirects are never
followed by the sender, so a public URL cannot bounce a request inward either.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from hazina.domain.webhooks import is_public_address

Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedDestination(Exception):
    """The URL or an address it resolves to is not allowed; the attempt fails without a request."""


def check_url(url: str, *, production: bool) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in (("https",) if production else ("http", "https")):
        raise BlockedDestination(f"scheme {scheme or '(none)'} is not allowed")


async def resolve_host(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    # Keep resolver order (it encodes address preference) without repeating an address.
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Resolves each new connection's host itself and connects only to vetted public addresses."""

    def __init__(
        self,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolve = resolve or resolve_host

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        blocked = [address for address in addresses if not is_public_address(address)]
        if not addresses or blocked:
            # httpcore's own error type, so httpx reports it as a connection error.
            raise httpcore.ConnectError(f"{host} resolves to a non-public address; refused")
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook destinations")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool rebuilt on the public-only backend.

    httpx does not take a network backend as an argument, so the pool it built is replaced by
    the same pool with ours; everything else (request/response mapping, errors) is httpx's own.
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits,
        backend: httpcore.AsyncNetworkBackend | None = None,
        verify: bool = True,
    ) -> None:
        super().__init__(limits=limits, verify=verify)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend or PublicOnlyBackend(),
        )
