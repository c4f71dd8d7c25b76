"""Small helpers over JSON objects and their metadata."""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime
from typing import Any, cast

from modelsync.crds.apimachinery import OBJECT_META_FIELDS, clone, json_equal

JsonObject = dict[str, Any]

__all__ = [
    "OBJECT_META_FIELDS",
    "JsonObject",
    "clone",
    "clone_object",
    "finalizers",
    "generate_name",
    "is_deleting",
    "json_equal",
    "metadata",
    "new_uid",
    "now_rfc3339",
    "ordered",
]

# The alphabet and suffix length kube-apiserver uses for generateName
# (k8s.io/apiserver/pkg/storage/names: no vowels, no look-alike characters).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SUFFIX_LENGTH = 5
_MAX_NAME_LENGTH = 63


def clone_object(obj: JsonObject) -> JsonObject:
    return cast(JsonObject, clone(obj))


_now_cache: tuple[int, str] = (-1, "")


def now_rfc3339() -> str:
    """The time now, to the second (formatted once a second)."""
    global _now_cache
    second = int(time.time())
    cached = _now_cache
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _now_cache = cached
    return cached[1]


def new_uid() -> str:
    """str(uuid.uuid4()), without the UUID object."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def generate_name(prefix: str) -> str:
    base = prefix[: _MAX_NAME_LENGTH - _SUFFIX_LENGTH]
    suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_SUFFIX_LENGTH))
    return base + suffix


def metadata(obj: JsonObject) -> JsonObject:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def finalizers(obj: JsonObject) -> list[str]:
    return [str(f) for f in metadata(obj).get("finalizers") or []]


def is_deleting(obj: JsonObject) -> bool:
    return bool(metadata(obj).get("deletionTimestamp"))


def ordered(obj: JsonObject) -> JsonObject:
    """apiVersion, kind, metadata first, as the API server writes them."""
    head: JsonObject = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    head.update((k, v) for k, v in obj.items() if k not in head)
    return head
