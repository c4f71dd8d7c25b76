"""The allowed-catalog-hosts flag (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync.runtime.hosts import AllowedHosts, parse_host_pattern


def test_default_allows_any_https_host_and_port() -> None:
    hosts = AllowedHosts.parse(["https://*"])
    assert hosts.check("https://app.truefoundry.com") is None
    assert hosts.check("https://app.truefoundry.com:8443/x") is None


def test_default_refuses_plain_http_and_says_how_to_allow_it() -> None:
    reason = AllowedHosts.parse(["https://*"]).check("http://127.0.0.1:8181")
    assert reason == (
        "catalog URL http://127.0.0.1:8181 is not allowed: plain http needs "
        "--allow-insecure-http (127.0.0.1 is allowed over https by --allowed-hosts https://*)"
    )


def test_plain_http_to_a_host_not_allowed_at_all_says_the_host_is_not_allowed() -> None:
    hosts = AllowedHosts.parse(["https://*.truefoundry.com"])
    assert hosts.check("http://127.0.0.1:8181") == (
        "catalog URL http://127.0.0.1:8181 is not allowed: 127.0.0.1 is not in --allowed-hosts "
        "(https://*.truefoundry.com); fix spec.catalog.url, or add http://127.0.0.1:8181 to "
        "--allowed-hosts"
    )
    assert hosts.check("https://evil.example") == (
        "catalog URL https://evil.example:443 is not allowed: evil.example is not in "
        "--allowed-hosts (https://*.truefoundry.com); fix spec.catalog.url, or add "
        "https://evil.example:443 to --allowed-hosts"
    )


def test_a_host_allowed_on_another_port_or_scheme_says_so() -> None:
    hosts = AllowedHosts.parse(["https://ml.corp:9443", "http://[::1]:8181"])
    assert hosts.check("https://ml.corp") == (
        "catalog URL https://ml.corp:443 is not allowed: port 443 of ml.corp is not in "
        "--allowed-hosts (https://ml.corp:9443, http://[::1]:8181); fix spec.catalog.url, or "
        "add https://ml.corp:443 to --allowed-hosts"
    )
    # The flag would not help: ml.corp is allowed over https on another port only.
    refusal = hosts.check("http://ml.corp:80")
    assert refusal is not None
    assert "http://ml.corp is not in --allowed-hosts" in refusal
    assert "--allow-insecure-http" not in refusal
    refusal = hosts.check("https://[::1]:8181")
    assert refusal is not None
    assert "https://[::1] is not in --allowed-hosts" in refusal


def test_no_pattern_at_all_is_said_plainly() -> None:
    refusal = AllowedHosts.parse([]).check("https://app.truefoundry.com")
    assert refusal is not None
    assert "app.truefoundry.com is not in --allowed-hosts (none)" in refusal


HOSTS = ["catalog.example", "ml.corp", "127.0.0.1", "::1"]
pattern_texts = st.builds(
    lambda scheme, host, port: f"{scheme}://{host}{port}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["*", "*.example", "catalog.example", "ml.corp", "127.0.0.1", "[::1]"]),
    st.sampled_from(["", ":*", ":443", ":80", ":8181"]),
)
urls = st.builds(
    lambda scheme, host, port: f"{scheme}://{f'[{host}]' if ':' in host else host}{port}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(HOSTS),
    st.sampled_from(["", ":443", ":80", ":8181"]),
)


@given(st.lists(pattern_texts, max_size=4), urls)
def test_the_insecure_http_hint_appears_exactly_when_the_flag_would_allow_the_url(
    patterns: list[str], url: str
) -> None:
    refusal = AllowedHosts.parse(patterns).check(url)
    with_flag = AllowedHosts.parse(patterns, allow_insecure_http=True).check(url)
    if refusal is None:
        assert with_flag is None  # the flag only ever allows more
        return
    assert ("--allow-insecure-http" in refusal) == (with_flag is None)
    assert refusal.startswith("catalog URL ")
    assert "\n" not in refusal


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
