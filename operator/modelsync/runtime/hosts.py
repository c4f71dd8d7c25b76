"""Which catalog URLs the operator may call (an operator-wide flag, not a spec field).

Patterns are `scheme://host[:port]` with `*` wildcards in the host, e.g. `https://*` (the
default: any https host), `https://*.truefoundry.com`, `http://127.0.0.1:*`. A pattern without
a port (or with `:*`) matches any port.

Loopback, link-local, private and other restricted addresses are refused at connect time
unless a pattern names that host or IP without a wildcard (`names_explicitly`): `https://*`
does not reach 127.0.0.1 or 169.254.169.254, `http://127.0.0.1:*` does.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["DEFAULT_ALLOWED_HOSTS", "AllowedHosts", "parse_host_pattern"]

DEFAULT_ALLOWED_HOSTS = ("https://*",)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class _Pattern:
    scheme: str
    host: str
    port: str  # "" or "*": any port


def parse_host_pattern(text: str) -> _Pattern:
    """Parse one pattern; raises ValueError with a message fit for a flag error."""
    scheme, sep, rest = text.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS or not rest or "/" in rest or "@" in rest:
        raise ValueError(f"{text!r}: expected scheme://host[:port], e.g. https://*.example.com")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    if not host or (port and port != "*" and not port.isdigit()):
        raise ValueError(f"{text!r}: bad host or port")
    return _Pattern(scheme, host.lower(), port)


@dataclass(frozen=True)
class AllowedHosts:
    """`allow_insecure_http` lets every pattern also match the same host over plain http."""

    patterns: tuple[_Pattern, ...]
    allow_insecure_http: bool = False

    @classmethod
    def parse(cls, patterns: Iterable[str], *, allow_insecure_http: bool = False) -> AllowedHosts:
        return cls(tuple(parse_host_pattern(p) for p in patterns), allow_insecure_http)

    def check(self, url: str) -> str | None:
        """None when `url` may be called, otherwise why not and the fix (for a
        CatalogNotAllowed message): the host is not in the list, or only another port or
        scheme of it is, or it is allowed over https and plain http needs the flag."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return f"catalog URL {url!r} is not a valid URL"
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        if scheme not in _DEFAULT_PORTS or not host:
            return f"catalog URL {url!r} must be an absolute http(s) URL"
        port_text = str(port) if port is not None else _DEFAULT_PORTS[scheme]
        if self._allows(scheme, host, port_text, insecure_http=self.allow_insecure_http):
            return None
        target = f"{scheme}://{host_text(host)}:{port_text}"
        allowed = ", ".join(self.describe()) or "none"
        if scheme == "http" and self._allows(scheme, host, port_text, insecure_http=True):
            return (
                f"catalog URL {target} is not allowed: plain http needs --allow-insecure-http "
                f"({host_text(host)} is allowed over https by --allowed-hosts {allowed})"
            )
        hosts = [p for p in self.patterns if fnmatch.fnmatchcase(host, p.host)]
        if not hosts:
            why = f"{host_text(host)} is not in --allowed-hosts"
        elif any(self._scheme_ok(p, scheme, self.allow_insecure_http) for p in hosts):
            why = f"port {port_text} of {host_text(host)} is not in --allowed-hosts"
        else:
            why = f"{scheme}://{host_text(host)} is not in --allowed-hosts"
        return (
            f"catalog URL {target} is not allowed: {why} ({allowed}); fix spec.catalog.url, "
            f"or add {target} to --allowed-hosts"
        )

    def _allows(self, scheme: str, host: str, port: str, *, insecure_http: bool) -> bool:
        return any(
            self._scheme_ok(p, scheme, insecure_http)
            and fnmatch.fnmatchcase(host, p.host)
            and p.port in ("", "*", port)
            for p in self.patterns
        )

    @staticmethod
    def _scheme_ok(pattern: _Pattern, scheme: str, insecure_http: bool) -> bool:
        return pattern.scheme == scheme or (
            insecure_http and scheme == "http" and pattern.scheme == "https"
        )

    def names_explicitly(self, host: str) -> bool:
        """True when a pattern without a wildcard in its host names `host` (a DNS name or an
        IP address, IPv6 with or without brackets); such a host may resolve to a loopback or
        private address."""
        wanted = _normal_host(host)
        return any(
            not any(c in p.host for c in "*?[") and _normal_host(p.host) == wanted
            for p in self.patterns
        )

    def describe(self) -> list[str]:
        return [
            f"{p.scheme}://{host_text(p.host)}" + (f":{p.port}" if p.port else "")
            for p in self.patterns
        ]


def _normal_host(host: str) -> str:
    text = host.strip().lower().strip("[]").rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host
