"""The SSRF guard: every delivery reaches only what the destination policy allows, checked per
connection, in every mode.

No test connects anywhere but loopback: a "public" address is handed to a recording backend that
refuses, so nothing leaves the machine.
"""

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hazina.delivery.guard import BlockedDestination, GuardedResolver
from hazina.delivery.sender import HttpWebhookSender
from hazina.domain.destinations import DestinationPolicy, Reach, address_reach, parse_ports
from hazina.domain.webhooks import WebhookMessage
from hazina.testing.sink import WebhookSink, always

PUBLIC = "93.184.216.34"
ANY_PORT = parse_ports("1-65535")
PRODUCTION = DestinationPolicy(
    https_only=True, allow_private=False, ports=parse_ports("80,443,8080,8443")
)
LOCAL = DestinationPolicy(https_only=False, allow_private=True, ports=ANY_PORT)
NO_PRIVATE = DestinationPolicy(https_only=False, allow_private=False, ports=ANY_PORT)


@pytest.mark.parametrize(
    ("address", "reach"),
    [
        (PUBLIC, Reach.PUBLIC),
        ("2606:2800:220:1:248:1893:25c8:1946", Reach.PUBLIC),
        ("127.0.0.1", Reach.PRIVATE),
        ("127.8.9.10", Reach.PRIVATE),
        ("10.1.2.3", Reach.PRIVATE),
        ("172.16.0.1", Reach.PRIVATE),
        ("192.168.1.1", Reach.PRIVATE),
        ("100.64.0.1", Reach.PRIVATE),
        ("::1", Reach.PRIVATE),
        ("fd00::1", Reach.PRIVATE),
        # Site-local (deprecated, and still "global" to Python's ipaddress).
        ("fec0::1", Reach.PRIVATE),
        ("feff:ffff::1", Reach.PRIVATE),
        # Never, whatever the setting: cloud metadata, unspecified, multicast, reserved.
        ("169.254.169.254", Reach.NEVER),
        ("fe80::1%eth0", Reach.NEVER),
        ("0.0.0.0", Reach.NEVER),  # noqa: S104
        ("::", Reach.NEVER),
        ("224.0.0.1", Reach.NEVER),
        ("ff02::1", Reach.NEVER),
        ("240.0.0.1", Reach.NEVER),
        ("192.0.2.1", Reach.NEVER),
        ("2001:db8::1", Reach.NEVER),
        # IPv4-mapped: judged by the IPv4 address.
        ("::ffff:127.0.0.1", Reach.PRIVATE),
        ("::ffff:169.254.169.254", Reach.NEVER),
        (f"::ffff:{PUBLIC}", Reach.PUBLIC),
        # IPv4-translated (SIIT).
        ("::ffff:0:7f00:1", Reach.PRIVATE),
        ("::ffff:0:5db8:d822", Reach.PUBLIC),
        # IPv4-compatible (deprecated).
        ("::127.0.0.1", Reach.PRIVATE),
        ("::a9fe:a9fe", Reach.NEVER),
        (f"::{PUBLIC}", Reach.PUBLIC),
        # NAT64, the well-known prefix: the gateway goes to the embedded IPv4 address.
        ("64:ff9b::7f00:1", Reach.PRIVATE),
        ("64:ff9b::a00:1", Reach.PRIVATE),
        ("64:ff9b::a9fe:a9fe", Reach.NEVER),
        ("64:ff9b::5db8:d822", Reach.PUBLIC),
        # NAT64, local-use (RFC 8215): the operator's own translator, whatever it embeds.
        ("64:ff9b:1::5db8:d822", Reach.PRIVATE),
        # 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
        ("2002:7f00:1::1", Reach.PRIVATE),
        ("2002:a9fe:a9fe::1", Reach.NEVER),
        ("2002:5db8:d822::1", Reach.PUBLIC),
        # Teredo: server and (bit-inverted) client; the worst of the two decides.
        ("2001:0:5db8:d822::80ff:fffe", Reach.PRIVATE),  # client 127.0.0.1
        ("2001:0:5db8:d822::a201:2ddd", Reach.PUBLIC),  # client 93.254.210.34
        ("2001:0:a00:1::a201:2ddd", Reach.PRIVATE),  # server 10.0.0.1
        ("2001:0:5db8:d822::ffff:ffff", Reach.NEVER),  # client 0.0.0.0
    ],
)
def test_every_address_form_is_judged_by_where_it_leads(address: str, reach: Reach) -> None:
    assert address_reach(address) is reach
    assert PRODUCTION.allows_address(address) is (reach is Reach.PUBLIC)
    assert LOCAL.allows_address(address) is (reach is not Reach.NEVER)


def test_ports_are_a_list_of_ports_and_ranges() -> None:
    policy = DestinationPolicy(
        https_only=False, allow_private=False, ports=parse_ports("443, 8000-8002")
    )
    assert [port for port in (80, 443, 7999, 8000, 8002, 8003) if policy.allows_port(port)] == [
        443,
        8000,
        8002,
    ]
    for text in ("", "80,", "http", "0", "65536", "90-80"):
        with pytest.raises(ValueError, match="port"):
            parse_ports(text)


def resolver(*answers: list[str]) -> Any:
    """Answers each lookup with the next list: the second answer is a DNS rebinding."""
    remaining = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return resolve


def message(url: str) -> WebhookMessage:
    return WebhookMessage("d-1", url, b"{}", ("whsec_dGVzdA==",))


async def send(
    policy: DestinationPolicy, *urls: str, resolve: Any = None, ssl_context: Any = None
) -> list[Any]:
    sender = HttpWebhookSender(
        timeout_seconds=2, policy=policy, resolve=resolve, ssl_context=ssl_context
    )
    try:
        return [await sender.send(message(url)) for url in urls]
    finally:
        await sender.aclose()


def on_sink(sink: WebhookSink, host: str) -> str:
    """The sink's URL under another name (the tests' resolvers send that name to loopback)."""
    return sink.url("/in").replace("127.0.0.1", host)


async def test_dns_rebinding_is_refused_at_connect_time(sink: WebhookSink) -> None:
    # The receiver closes each connection, so the second attempt opens (and vets) a new one.
    sink.on("/in", always(200, headers={"Connection": "close"}))
    url = on_sink(sink, "hooks.example.com")
    first, second = await send(
        LOCAL, url, url, resolve=resolver(["127.0.0.1"], ["169.254.169.254"])
    )

    # The first lookup was allowed: the connection went to that vetted address, by name.
    assert first.status_code == 200
    assert [request.headers["host"] for request in sink.received] == [
        url.removeprefix("http://").removesuffix("/in")
    ]
    # The same name now resolves to cloud metadata: refused before any socket is opened.
    assert second.status_code is None
    assert second.error == (
        "refused: hooks.example.com resolves to 169.254.169.254, which is not allowed"
    )
    assert len(sink.received) == 1


async def test_a_name_with_any_refused_address_is_refused(sink: WebhookSink) -> None:
    url = on_sink(sink, "mixed.example.com")
    [outcome] = await send(LOCAL, url, resolve=resolver(["127.0.0.1", "64:ff9b::a9fe:a9fe"]))
    assert outcome.error == (
        "refused: mixed.example.com resolves to 64:ff9b::a9fe:a9fe, which is not allowed"
    )
    assert sink.received == []


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("https://hooks.example.com:25/in", "refused: port 25 is not allowed"),
        ("https://hooks.example.com:6379/in", "refused: port 6379 is not allowed"),
        ("http://hooks.example.com/in", "refused: scheme http is not allowed"),
        (f"https://{PUBLIC}:22/in", "refused: port 22 is not allowed"),
    ],
)
async def test_ports_and_schemes_outside_the_policy_are_refused_before_any_lookup(
    url: str, refusal: str
) -> None:
    looked_up: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return [PUBLIC]

    [outcome] = await send(PRODUCTION, url, resolve=resolve)
    assert outcome.error == refusal
    assert looked_up == []


@pytest.mark.parametrize("port", [80, 443, 8080, 8443])
async def test_the_production_ports_are_allowed(port: int) -> None:
    looked_up: list[tuple[str, int]] = []

    async def no_network(host: str, port: int) -> list[str]:
        # Reaching the lookup is what passing the URL check means; nothing leaves the machine.
        looked_up.append((host, port))
        raise OSError("test network: no lookups")

    [outcome] = await send(PRODUCTION, f"https://hooks.example.com:{port}/in", resolve=no_network)
    assert looked_up == [("hooks.example.com", port)]
    assert outcome.status_code is None
    assert outcome.error.startswith("ClientConnectorDNSError: Cannot connect to host hooks.")


async def test_production_refuses_plain_http_and_a_real_local_receiver(sink: WebhookSink) -> None:
    plain, local = await send(
        PRODUCTION,
        sink.url("/in"),
        # Loopback on an allowed port: refused for the address.
        "https://127.0.0.1:443/in",
    )
    assert plain.error == "refused: scheme http is not allowed"
    assert local.error == "refused: 127.0.0.1 resolves to 127.0.0.1, which is not allowed"
    assert sink.received == []


async def test_a_local_receiver_needs_private_targets_allowed(sink: WebhookSink) -> None:
    [refused] = await send(NO_PRIVATE, sink.url("/in"))
    assert refused.error == "refused: 127.0.0.1 resolves to 127.0.0.1, which is not allowed"
    assert sink.received == []

    [delivered] = await send(LOCAL, sink.url("/in"))
    assert delivered.status_code == 200
    assert [request.path for request in sink.received] == ["/in"]


async def test_localhost_by_name_is_resolved_and_judged(sink: WebhookSink) -> None:
    url = sink.url("/in").replace("127.0.0.1", "localhost")
    [refused] = await send(NO_PRIVATE, url)
    assert refused.error is not None
    assert refused.error.startswith("refused: localhost resolves to ")
    assert sink.received == []


async def test_no_redirect_is_followed(sink: WebhookSink) -> None:
    sink.on("/moved", always(302, headers={"Location": sink.url("/target")}))
    [outcome] = await send(LOCAL, sink.url("/moved"))
    assert outcome.status_code == 302
    assert not outcome.succeeded
    assert [request.path for request in sink.received] == ["/moved"]


# TLS through the pinned address: the certificate is checked for the URL's name, which is also
# the SNI sent, although the socket was opened to the address the guard vetted.

HOST = "hooks.example.com"


def _certificates() -> tuple[bytes, bytes, bytes]:
    """A CA, and a certificate for HOST it signed, with its key: (ca_pem, cert_pem, key_pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hazina test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


@pytest.fixture
async def tls_receiver(tmp_path: Any) -> AsyncIterator[tuple[int, list[str | None], bytes]]:
    """An HTTPS receiver on 127.0.0.1 answering 200: (port, SNI names it saw, CA to trust)."""
    ca_pem, cert_pem, key_pem = _certificates()
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: names.append(name)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, names, ca_pem


async def test_tls_verifies_the_url_host_over_the_pinned_address(
    tls_receiver: tuple[int, list[str | None], bytes],
) -> None:
    port, names, ca_pem = tls_receiver
    trusted = ssl.create_default_context(cadata=ca_pem.decode())
    ok, wrong = await send(
        LOCAL,
        f"https://{HOST}:{port}/in",
        # The same address under a name the certificate does not carry: verification fails.
        f"https://other.example.com:{port}/in",
        resolve=resolver(["127.0.0.1"]),
        ssl_context=trusted,
    )
    assert ok.status_code == 200
    assert wrong.status_code is None
    assert "certificate verify failed" in wrong.error
    assert names == [HOST, "other.example.com"]


async def test_refusals_are_not_connection_errors_of_the_network() -> None:
    guard = GuardedResolver(NO_PRIVATE, resolver(["10.0.0.1"]))
    with pytest.raises(BlockedDestination, match=r"10\.0\.0\.1, which is not allowed"):
        await guard.resolve("internal.example.com", 80)
    # Through the sender too: the refusal is reported as such, not as aiohttp's DNS error.
    [outcome] = await send(
        NO_PRIVATE, "http://internal.example.com/in", resolve=resolver(["10.0.0.1"])
    )
    assert outcome.error == (
        "refused: internal.example.com resolves to 10.0.0.1, which is not allowed"
    )
