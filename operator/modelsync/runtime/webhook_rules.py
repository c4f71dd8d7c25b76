"""The pure rules of the push-trigger webhook (`modelsync run --webhook-port`): the request
signature, what a body asks for, and the per-sync rate limit. No I/O; runtime/webhook.py
serves them.

A request is signed with the sync's key: the header `X-Modelsync-Signature` holds
`sha256=` and the lowercase hex HMAC-SHA256 of the raw body, as GitHub's webhooks do, so
`openssl dgst -sha256 -hmac KEY` computes it. An empty body asks for a full sync;
`{"models": ["REPO/NAME", ...]}` for a refresh of those models alone (named as
`modelsync reconcile --model` takes them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final

from modelsync.api.model_names import MODEL_NAME_FORMS, parse_model_name

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_MODELS",
    "SIGNATURE_HEADER",
    "SIGNATURE_PREFIX",
    "BadBody",
    "HookRequest",
    "RateLimiter",
    "parse_body",
    "retry_after_header",
    "sign",
    "signature_matches",
]

SIGNATURE_HEADER: Final = "X-Modelsync-Signature"
SIGNATURE_PREFIX: Final = "sha256="
MAX_BODY_BYTES: Final = 64 * 1024
MAX_MODELS: Final = 100
_HEX_DIGITS: Final = 64


def sign(key: bytes, body: bytes) -> str:
    """The header value a request with this body carries: `sha256=<hex HMAC-SHA256>`."""
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_matches(key: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the body's signature under `key` (constant-time comparison).

    The hex digits may be of either case; anything else (no header, another algorithm,
    a digest of the wrong length) does not match."""
    if header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    if len(given) != _HEX_DIGITS or not given.isascii():
        return False
    return hmac.compare_digest(given, sign(key, body)[len(SIGNATURE_PREFIX) :])


class BadBody(ValueError):
    """The body is not an empty body nor `{"models": [...]}`; the message says why."""


@dataclass(frozen=True)
class HookRequest:
    """What an accepted request asks for: the named models (normalized, sorted, without
    duplicates), or a full sync when there are none."""

    models: tuple[str, ...] = ()

    @property
    def full_sync(self) -> bool:
        return not self.models


def parse_body(body: bytes) -> HookRequest:
    """An empty (or blank) body or `{}`: a full sync; `{"models": [names]}`: those models.
    BadBody for anything else: not UTF-8 JSON, another shape, an unknown key, an empty list,
    more than MAX_MODELS names, or a name that is not REPO/NAME or an fqn."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("the body is not UTF-8 text") from None
    if not text.strip():
        return HookRequest()
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise BadBody(
            'the body is not JSON: send {"models": ["REPO/NAME", ...]} or nothing'
        ) from None
    if not isinstance(doc, dict):
        raise BadBody('the body must be a JSON object: {"models": ["REPO/NAME", ...]}')
    unknown = sorted(str(k) for k in doc if k != "models")
    if unknown:
        raise BadBody(f'unknown field {unknown[0]!r}: the body takes only "models"')
    if "models" not in doc:
        return HookRequest()
    names = doc["models"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadBody('"models" must be a list of model names (strings)')
    if not names:
        raise BadBody('"models" is empty: name at least one model, or send an empty body')
    if len(names) > MAX_MODELS:
        raise BadBody(f'"models" names {len(names)} models; at most {MAX_MODELS} per request')
    models: set[str] = set()
    for name in names:
        try:
            models.add(str(parse_model_name(name)))
        except ValueError:
            shown = name if len(name) <= 80 else name[:80] + "..."
            raise BadBody(f"{shown!r} is not a model name: expected {MODEL_NAME_FORMS}") from None
    return HookRequest(tuple(sorted(models)))


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: `burst` requests at once, then one per `refill_seconds`.

    Time is given by the caller (a monotonic clock), so the rule is testable without
    waiting. At most `max_keys` buckets are kept; a full bucket holds no information
    (it is what a new key starts with), so those go first when there are too many."""

    def __init__(self, burst: int, refill_seconds: float, *, max_keys: int = 10_000) -> None:
        if burst < 1 or refill_seconds <= 0 or max_keys < 1:
            raise ValueError("burst and max_keys must be >= 1 and refill_seconds > 0")
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.max_keys = max_keys
        self._buckets: dict[Hashable, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(0.0, now - bucket.updated)
        return min(float(self.burst), bucket.tokens + elapsed / self.refill_seconds)

    def take(self, key: Hashable, now: float) -> float:
        """Take one token of `key`'s bucket: 0.0 when there was one (the request may go),
        else the seconds until there will be one (nothing taken)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = self._level(bucket, now)
        bucket.updated = max(bucket.updated, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) * self.refill_seconds

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self.max_keys:
            return
        full = [k for k, b in self._buckets.items() if self._level(b, now) >= self.burst]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:  # all busy: forget the oldest
            del self._buckets[next(iter(self._buckets))]


def retry_after_header(wait: float) -> str:
    """The Retry-After value (whole seconds, at least 1) for a wait in seconds."""
    return str(max(1, math.ceil(wait)))
