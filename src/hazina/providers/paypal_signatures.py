"""PayPal webhook signatures, verified offline (providers.md section 2.7 B).

PayPal signs `transmission_id|transmission_time|webhook_id|crc32(raw body)` with RSA-SHA256 and
names the signing certificate's URL in `PAYPAL-CERT-URL`. Whoever sends a notification chooses
that URL, so it is only fetched from an allow-listed PayPal host (over https; plain http only
for a loopback address, where `hazina fake paypal` serves its own certificate). Certificates are
cached per URL: PayPal rotates them rarely, and a notification must not cost a fetch.
"""

import base64
import ipaddress
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature as BadRsaSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hazina.domain.providers import InvalidSignature, ProviderFailure

TRANSMISSION_ID = "paypal-transmission-id"
TRANSMISSION_TIME = "paypal-transmission-time"
TRANSMISSION_SIG = "paypal-transmission-sig"
CERT_URL = "paypal-cert-url"
AUTH_ALGO = "paypal-auth-algo"
SIGNING_ALGORITHM = "SHA256withRSA"
# PayPal's own hosts; HAZINA_PAYPAL_CERT_HOSTS replaces the list (tests add the fake's address).
DEFAULT_CERT_HOSTS = ("paypal.com",)
# Enough for every certificate PayPal signs with at once, and a bound on what senders can fill.
MAX_CACHED_CERTIFICATES = 32
MAX_CERTIFICATE_BYTES = 64 * 1024


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lower-case name, whatever case the mapping keeps."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value or None


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    """What PayPal signs: the CRC32 is unsigned decimal, of the exact raw body."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


class CertificateStore:
    """PayPal's signing certificates, fetched from allow-listed hosts and kept in memory."""

    def __init__(
        self,
        allowed_hosts: Sequence[str],
        timeout_seconds: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._allowed = tuple(host.strip().lower().strip(".") for host in allowed_hosts if host)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,  # a redirect could lead off the allow-list
            trust_env=False,
        )
        self._certificates: OrderedDict[str, x509.Certificate] = OrderedDict()

    async def aclose(self) -> None:
        await self._client.aclose()

    def check_url(self, url: str) -> None:
        """Raise `InvalidSignature` unless the URL is on an allow-listed host."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        allowed = any(host == entry or host.endswith("." + entry) for entry in self._allowed)
        if not allowed:
            raise InvalidSignature(f"PayPal certificate URL host {host!r} is not allowed")
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
            raise InvalidSignature("PayPal certificate URL must use https")

    async def load(self, url: str) -> None:
        """Fetch the certificate at `url` unless it is cached."""
        self.check_url(url)
        if url in self._certificates:
            self._certificates.move_to_end(url)
            return
        try:
            response = await self._client.get(url)
        except httpx.TransportError as exc:
            raise ProviderFailure(
                f"PayPal's certificate could not be fetched ({type(exc).__name__})", retryable=True
            ) from exc
        if response.status_code != 200 or len(response.content) > MAX_CERTIFICATE_BYTES:
            raise ProviderFailure(
                f"PayPal's certificate URL answered HTTP {response.status_code}", retryable=True
            )
        try:
            certificate = x509.load_pem_x509_certificate(response.content)
        except ValueError as exc:
            raise InvalidSignature("PayPal certificate URL served no PEM certificate") from exc
        self._certificates[url] = certificate
        while len(self._certificates) > MAX_CACHED_CERTIFICATES:
            self._certificates.popitem(last=False)

    def verify(self, headers: Mapping[str, str], body: bytes, webhook_id: str) -> None:
        """Check the notification's signature with the certificate `load` cached; raise
        `InvalidSignature` for anything missing, expired or not matching."""
        values = {
            name: header(headers, name)
            for name in (TRANSMISSION_ID, TRANSMISSION_TIME, TRANSMISSION_SIG, CERT_URL)
        }
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise InvalidSignature(f"PayPal webhook without {', '.join(missing)}")
        algorithm = header(headers, AUTH_ALGO)
        if algorithm is not None and algorithm != SIGNING_ALGORITHM:
            raise InvalidSignature(f"PayPal signing algorithm {algorithm!r} is not accepted")
        url = str(values[CERT_URL])
        self.check_url(url)
        certificate = self._certificates.get(url)
        if certificate is None:
            raise InvalidSignature("PayPal certificate was not loaded")
        now = datetime.now(UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise InvalidSignature("PayPal certificate is not valid now")
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature("PayPal certificate does not hold an RSA key")
        try:
            signature = base64.b64decode(str(values[TRANSMISSION_SIG]), validate=True)
        except ValueError as exc:
            raise InvalidSignature("PayPal transmission signature is not base64") from exc
        message = signed_message(
            str(values[TRANSMISSION_ID]), str(values[TRANSMISSION_TIME]), webhook_id, body
        )
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except BadRsaSignature:
            raise InvalidSignature("PayPal signature does not match") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
