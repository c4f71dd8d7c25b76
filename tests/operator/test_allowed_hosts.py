"""The allowed-catalog-hosts flag (pure)."""

from __future__ import annotations

import pytest

from modelsync.runtime.hosts import AllowedHosts, parse_host_pattern


def test_default_allows_any_https_host_and_port() -> None:
    hosts = AllowedHosts.parse(["https://*"])
    assert hosts.check("https://app.truefoundry.com") is None
    assert hosts.check("https://app.truefoundry.com:8443/x") is None


def test_default_refuses_plain_http_and_says_how_to_allow_it() -> None:
    reason = AllowedHosts.parse(["https://*"]).check("http://127.0.0.1:8181")
    assert reason is not None
    assert "--allow-insecure-http" in reason
    assert "http://127.0.0.1:8181" in reason


def test_allow_insecure_http_lets_https_patterns_match_http() -> None:
    hosts = AllowedHosts.parse(["https://*"], allow_insecure_http=True)
    assert hosts.check("http://127.0.0.1:8181") is None


def test_http_pattern_with_port_wildcard() -> None:
    hosts = AllowedHosts.parse(["http://127.0.0.1:*"])
    assert hosts.check("http://127.0.0.1:8181") is None
    assert hosts.check("http://10.0.0.1:8181") is not None
    assert hosts.check("https://127.0.0.1") is not None


def test_host_wildcards_and_exact_ports() -> None:
    hosts = AllowedHosts.parse(["https://*.truefoundry.com", "https://ml.corp:9443"])
    assert hosts.check("https://app.truefoundry.com") is None
    assert hosts.check("https://truefoundry.com.evil.io") is not None
    assert hosts.check("https://ml.corp:9443") is None
    assert hosts.check("https://ml.corp") is not None  # 443 is not 9443
    assert hosts.check("https://APP.TrueFoundry.com") is None  # hosts are case-insensitive


def test_ipv6_hosts() -> None:
    hosts = AllowedHosts.parse(["http://[::1]:*"])
    assert hosts.check("http://[::1]:8181") is None
    assert hosts.describe() == ["http://[::1]:*"]


@pytest.mark.parametrize("url", ["ftp://x", "https://", "not a url", "http://[::1"])
def test_unusable_urls_are_refused(url: str) -> None:
    assert AllowedHosts.parse(["https://*", "http://*"]).check(url) is not None


@pytest.mark.parametrize(
    "pattern", ["*", "app.truefoundry.com", "https://", "https://a/b", "ftp://x", "https://h:x"]
)
def test_bad_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ValueError, match="host"):
        parse_host_pattern(pattern)


@pytest.mark.parametrize(
    ("patterns", "host", "named"),
    [
        (["https://*"], "127.0.0.1", False),
        (["http://127.0.0.1:*"], "127.0.0.1", True),
        (["http://127.0.0.1:8181"], "127.0.0.1", True),
        (["https://catalog.internal"], "CATALOG.internal.", True),
        (["https://*.internal"], "catalog.internal", False),
        (["https://cat?log.internal"], "catalog.internal", False),
        (["https://[::1]:8443"], "::1", True),
        (["https://[::1]:8443"], "[0:0::1]", True),
        (["https://10.0.0.7"], "10.0.0.8", False),
        (["https://*", "https://169.254.169.254"], "169.254.169.254", True),
    ],
)
def test_names_explicitly_needs_a_pattern_without_wildcards(
    patterns: list[str], host: str, named: bool
) -> None:
    assert AllowedHosts.parse(patterns).names_explicitly(host) is named
