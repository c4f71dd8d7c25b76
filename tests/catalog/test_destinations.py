"""Which resolved addresses the connect guard refuses (catalog/destinations.py)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.catalog import is_restricted_address, restricted_destinations_guard
from modelsync.catalog.destinations import address_restriction

RESTRICTED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "172.31.255.255": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "shared (carrier-grade NAT)",
    "100.127.255.254": "shared (carrier-grade NAT)",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "0.0.0.0": "unspecified",  # noqa: S104 - an address under test, nothing binds it
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "255.255.255.255": "private",
    "240.0.0.1": "private",
    "192.0.2.10": "private",  # documentation range
    "2001:db8::1": "private",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.1.2.3": "private",
    "2002:7f00:1::1": "loopback",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "::127.0.0.1": "reserved",  # IPv4-compatible, deprecated
    "not-an-address": "unparseable",
    "": "unparseable",
}

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "kind"), sorted(RESTRICTED.items()))
def test_restricted_addresses(address: str, kind: str) -> None:
    assert is_restricted_address(address)
    assert address_restriction(address) == kind


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert not is_restricted_address(address)
    assert address_restriction(address) is None


ipv4 = st.ip_addresses(v=4)


@given(ipv4)
def test_ipv4_mapped_ipv6_is_judged_like_its_ipv4(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert is_restricted_address(str(mapped)) == is_restricted_address(str(address))
    assert address_restriction(str(mapped)) == address_restriction(str(address))


@given(ipv4)
def test_nat64_and_6to4_are_judged_like_their_ipv4(address: ipaddress.IPv4Address) -> None:
    packed = int(address)
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | packed)
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (packed << 80) | 1)
    assert is_restricted_address(str(nat64)) == is_restricted_address(str(address))
    assert is_restricted_address(str(six_to_four)) == is_restricted_address(str(address))


@given(st.ip_addresses())
def test_every_non_global_address_is_restricted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped or address.sixtofour or address in ipaddress.ip_network("64:ff9b::/96")
    ):
        return  # judged by the IPv4 address inside (tested above)
    if not address.is_global or address.is_multicast or address.is_loopback:
        assert is_restricted_address(str(address))
    if address.is_private or address.is_link_local or address.is_unspecified:
        assert is_restricted_address(str(address))


@given(st.ip_addresses(v=4, network="10.0.0.0/8") | st.ip_addresses(v=4, network="127.0.0.0/8"))
def test_rfc1918_and_loopback_ranges(address: ipaddress.IPv4Address) -> None:
    assert is_restricted_address(str(address))


def test_guard_allows_public_and_explicitly_named() -> None:
    named = {"catalog.internal", "10.9.8.7"}
    guard = restricted_destinations_guard(named.__contains__)
    assert guard("catalog.example.com", "8.8.8.8") is None
    assert guard("catalog.internal", "10.0.0.5") is None  # the host is named
    assert guard("other.internal", "10.9.8.7") is None  # the address is named
    refusal = guard("evil.example.com", "169.254.169.254")
    assert refusal == (
        "refusing to connect to evil.example.com at 169.254.169.254, a link-local address; "
        "name the host explicitly in --allowed-hosts to allow it"
    )
    assert guard("localhost", "127.0.0.1") is not None
    assert guard("::1", "::1") is not None


def test_guard_asks_only_about_restricted_addresses() -> None:
    asked: list[str] = []

    def explicitly(name: str) -> bool:
        asked.append(name)
        return False

    guard = restricted_destinations_guard(explicitly)
    assert guard("public.example", "1.1.1.1") is None
    assert asked == []
    assert guard("rebound.example", "127.0.0.1") is not None
    assert asked == ["rebound.example", "127.0.0.1"]
