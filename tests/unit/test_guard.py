"""The SSRF guard: production deliveries reach only public addresses, checked per connection.

No test connects anywhere but loopback: the "public" address is handed to a recording backend
that refuses, so nothing leaves the machine.
"""

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from hazina.delivery.guard import GuardedTransport, PublicOnlyBackend
from hazina.delivery.sender import HttpWebhookSender
from hazina.domain.webhooks import WebhookMessage
from hazina.testing.sink import WebhookSink

PUBLIC = "93.184.216.34"


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the network: records where it was asked to connect, connects nowhere."""

    def __init__(self) -> None:
        self.connected_to: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected_to.append((host, port))
        raise httpcore.ConnectError("test network: refused")

    async def sleep(self, seconds: float) -> None:
        return None


def resolver(*answers: list[str]) -> Any:
    """Answers each lookup with the next list: the second answer is a DNS rebinding."""
    remaining = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return resolve


def sender_over(backend: httpcore.AsyncNetworkBackend) -> HttpWebhookSender:
    transport = GuardedTransport(limits=httpx.Limits(max_connections=4), backend=backend)
    return HttpWebhookSender(timeout_seconds=2, production=True, transport=transport)


def message(url: str) -> WebhookMessage:
    return WebhookMessage("d-1", url, b"{}", ("whsec_dGVzdA==",))


async def test_dns_rebinding_is_refused_at_connect_time() -> None:
    network = RecordingBackend()
    backend = PublicOnlyBackend(inner=network, resolve=resolver([PUBLIC], ["127.0.0.1"]))
    sender = sender_over(backend)
    try:
        first = await sender.send(message("https://hooks.example.com/in"))
        second = await sender.send(message("https://hooks.example.com/in"))
    finally:
        await sender.aclose()

    # The first lookup was public: the connection went to that vetted address, by IP.
    assert network.connected_to == [(PUBLIC, 443)]
    assert first.error is not None
    assert "test network" in first.error
    # The same name now resolves to loopback: refused before any socket is opened.
    assert second.status_code is None
    assert second.error is not None
    assert "non-public address" in second.error
    assert network.connected_to == [(PUBLIC, 443)]


async def test_a_name_with_any_private_address_is_refused() -> None:
    network = RecordingBackend()
    sender = sender_over(PublicOnlyBackend(inner=network, resolve=resolver([PUBLIC, "10.0.0.5"])))
    try:
        outcome = await sender.send(message("https://mixed.example.com/in"))
    finally:
        await sender.aclose()
    assert outcome.error is not None
    assert "non-public" in outcome.error
    assert network.connected_to == []


async def test_production_refuses_plain_http_and_a_real_local_receiver(sink: WebhookSink) -> None:
    sender = HttpWebhookSender(timeout_seconds=2, production=True)
    try:
        plain = await sender.send(message(sink.url("/in")))
        local = await sender.send(message(sink.url("/in").replace("http://", "https://")))
    finally:
        await sender.aclose()
    assert plain.error is not None
    assert plain.error.startswith("refused: scheme http")
    assert local.error is not None
    assert "non-public address" in local.error
    assert sink.received == []


async def test_development_reaches_localhost_and_follows_no_redirect(sink: WebhookSink) -> None:
    from hazina.testing.sink import always

    sink.on("/moved", always(302, headers={"Location": sink.url("/target")}))
    sender = HttpWebhookSender(timeout_seconds=2, production=False)
    try:
        outcome = await sender.send(message(sink.url("/moved")))
    finally:
        await sender.aclose()
    assert outcome.status_code == 302
    assert not outcome.succeeded
    assert [request.path for request in sink.received] == ["/moved"]
