"""Where outbound webhooks may go: which addresses, which ports, which schemes.

An address is public (anyone's server on the internet), private (this machine or the operator's
own network: reachable only when the operator says so), or never reachable (link-local, which
holds cloud metadata services, multicast, unspecified, reserved and documentation ranges).
An IPv6 address that carries an IPv4 address (IPv4-mapped and -translated, IPv4-compatible, NAT64,
6to4, Teredo) is judged by the IPv4 address it leads to, since that is where the packets end up.
"""

import ipaddress
from dataclasses import dataclass
from enum import IntEnum

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Reach(IntEnum):
    """Ordered: an address that leads to several places is as reachable as the worst of them."""

    PUBLIC = 0
    PRIVATE = 1
    NEVER = 2


# The operator's own networks: RFC 1918, shared (carrier-grade NAT) space, unique-local IPv6,
# the deprecated site-local IPv6 (Python still calls it global) and local-use NAT64 (RFC 8215),
# whose embedded IPv4 sits where the operator's prefix length puts it, so it cannot be judged.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
        "fec0::/10",
        "64:ff9b:1::/48",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (none for a plain IPv6 address)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.teredo is not None:
        return list(ip.teredo)  # the relay server and the client behind it
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    last32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64 or ip in _IPV4_TRANSLATED:
        return [last32]
    # :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return [last32]
    return []


def _reach_of(ip: IPAddress) -> Reach:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return max(_reach_of(inner) for inner in embedded)
    if ip.is_loopback or any(ip in network for network in _PRIVATE_NETWORKS):
        return Reach.PRIVATE
    if ip.is_global and not ip.is_multicast:
        return Reach.PUBLIC
    return Reach.NEVER


def address_reach(address: str) -> Reach:
    """How reachable an IP address is (`fe80::1%eth0` zone ids allowed); ValueError if not one."""
    return _reach_of(ipaddress.ip_address(address.split("%", 1)[0]))


def parse_ports(text: str) -> tuple[range, ...]:
    """`80,443,8000-8999` → the ports it names; ValueError for anything else."""
    ranges: list[range] = []
    for item in text.split(","):
        first, _, last = item.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"not a port or a port range: {item.strip()!r}") from None
        if not 1 <= low <= high <= 65535:
            raise ValueError(f"ports are 1-65535, low to high: {item.strip()!r}")
        ranges.append(range(low, high + 1))
    return tuple(ranges)


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """What the SSRF guard lets a delivery reach; built from Settings."""

    https_only: bool
    allow_private: bool
    ports: tuple[range, ...]

    def allows_scheme(self, scheme: str) -> bool:
        return scheme == "https" or (scheme == "http" and not self.https_only)

    def allows_port(self, port: int) -> bool:
        return any(port in ports for ports in self.ports)

    def allows_address(self, address: str) -> bool:
        reach = address_reach(address)
        return reach is Reach.PUBLIC or (reach is Reach.PRIVATE and self.allow_private)
