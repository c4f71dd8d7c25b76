"""Which addresses the operator may connect to: the pure judgement behind the connect guard.

A catalog URL is configuration written by whoever may create a ModelCatalogSync, and the
operator sends a bearer token there. Addresses that reach the operator's own host, its pod
network or cloud metadata services (loopback, link-local, private, ...) are refused unless the
operator's allow-list names the host or the address explicitly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

__all__ = [
    "ConnectGuard",
    "address_restriction",
    "is_restricted_address",
    "restricted_destinations_guard",
]

ConnectGuard = Callable[[str, str], str | None]
"""Called for every new connection with (host as written in the URL, resolved IP address);
returns None to allow the connection, or a one-line refusal message."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def _restriction(address: IPAddress) -> str | None:
    # Order matters only for the wording: the most specific kind first.
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared (carrier-grade NAT)"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


def address_restriction(address: str) -> str | None:
    """The kind of restricted address `address` is ("loopback", "private", ...), or None when
    it is a public unicast address. Text that is not an IP address counts as "unparseable"."""
    try:
        parsed: IPAddress = ipaddress.ip_address(address)
    except ValueError:
        return "unparseable"
    if isinstance(parsed, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(parsed)
        if embedded is not None:
            return _restriction(embedded)
    return _restriction(parsed)


def is_restricted_address(address: str) -> bool:
    """True for loopback, link-local, private (RFC 1918, 100.64/10, fc00::/7), unspecified,
    multicast and reserved addresses; IPv6 forms of an IPv4 address (mapped, 6to4, NAT64) are
    judged by that IPv4 address. Text that is not an IP address is restricted too."""
    return address_restriction(address) is not None


def restricted_destinations_guard(explicitly_allowed: Callable[[str], bool]) -> ConnectGuard:
    """A guard refusing restricted addresses unless `explicitly_allowed(host)` or
    `explicitly_allowed(ip)` is True (host as written in the URL, without IPv6 brackets)."""

    def guard(host: str, address: str) -> str | None:
        kind = address_restriction(address)
        if kind is None or explicitly_allowed(host) or explicitly_allowed(address):
            return None
        return (
            f"refusing to connect to {host} at {address}, a {kind} address; name the host "
            "explicitly in --allowed-hosts to allow it"
        )

    return guard
