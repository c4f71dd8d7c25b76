"""argparse value types of the `modelsync` subcommands (import-light: stdlib at import)."""

from __future__ import annotations

import argparse
import urllib.parse
from datetime import timedelta


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def duration(text: str) -> float:
    """A positive duration in seconds, written like `90`, `1m30s` or `500ms`."""
    from modelsync.api.duration import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value.total_seconds()


_BYTE_UNITS = {"": 1, "ki": 1024, "mi": 1024**2, "gi": 1024**3}
_MIN_RESPONSE_BYTES = 1024


def byte_size(text: str) -> int:
    """A byte count of at least 1Ki: `33554432`, `32Mi`, `512Ki`, `1Gi` (a trailing `B` is
    allowed)."""
    raw = text.strip().lower().removesuffix("b")
    digits = raw.rstrip("kmgi")
    unit = raw[len(digits) :]
    if not digits.isdigit() or unit not in _BYTE_UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 33554432 or 32Mi")
    value = int(digits) * _BYTE_UNITS[unit]
    if value < _MIN_RESPONSE_BYTES:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least {_MIN_RESPONSE_BYTES} bytes")
    return value


def object_name(text: str) -> str:
    """A Kubernetes object name (DNS-1123 subdomain)."""
    from modelsync.api.naming import is_dns1123_subdomain

    if not is_dns1123_subdomain(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid object name")
    return text


def http_url(text: str) -> str:
    """An http://HOST:PORT/PATH URL, or "" (off)."""
    if not text:
        return ""
    parts = urllib.parse.urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} has an invalid port") from None
    if parts.scheme != "http" or not parts.path:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http://HOST:PORT/PATH URL")
    return text
