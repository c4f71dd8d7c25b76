"""Decode the protobuf request bodies kubectl's typed clients send (`kubectl create
namespace|secret|configmap`) into the JSON form.

Only what those commands send is covered: the `k8s\\0` + runtime.Unknown envelope
and the Namespace, Secret, ConfigMap and ObjectMeta messages, with field numbers
from k8s.io/api/core/v1/generated.proto and k8s.io/apimachinery/pkg/apis/meta/v1/
generated.proto. Other kinds answer 415, as a server without their protobuf
codec would. Hand-written: no maintained Python package ships these messages.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from modelsync_sandbox.kube import errors

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"

# field number -> (JSON name, type); types: str, bytes, int, bool, time, strs (repeated
# string), map (string->string), bmap (string->bytes as base64), or a message name.
_Schema = dict[int, tuple[str, str]]
_MESSAGES: dict[str, _Schema] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "rawbytes"), 4: ("contentType", "str")},
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        5: ("uid", "str"),
        6: ("resourceVersion", "str"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        9: ("deletionTimestamp", "time"),
        10: ("deletionGracePeriodSeconds", "int"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        13: ("ownerReferences", "OwnerReference[]"),
        14: ("finalizers", "strs"),
    },
    "OwnerReference": {
        1: ("kind", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "strs")},
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bmap"),
        4: ("immutable", "bool"),
    },
}
_KINDS = ("Namespace", "Secret", "ConfigMap")


class _Malformed(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise _Malformed("truncated field")
            out.append((number, buf[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise _Malformed(f"unsupported wire type {wire}")
    return out


def _map_entry(buf: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, item in _fields(buf):
        if isinstance(item, bytes):
            if number == 1:
                key = item.decode()
            elif number == 2:
                value = item
    return key, value


def _time(buf: bytes) -> str:
    seconds = int(_message(buf, "Time").get("seconds", 0))
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(buf: bytes, name: str) -> dict[str, Any]:
    schema = _MESSAGES[name]
    out: dict[str, Any] = {}
    for number, item in _fields(buf):
        if number not in schema:
            continue
        key, kind = schema[number]
        if isinstance(item, int):
            if kind == "bool":
                out[key] = bool(item)
            elif kind == "int":
                out[key] = item - (1 << 64) if item >= 1 << 63 else item
            continue
        if kind == "str":
            if item:  # Go's omitempty: an empty string means unset
                out[key] = item.decode()
        elif kind == "rawbytes":
            out[key] = item
        elif kind == "strs":
            out.setdefault(key, []).append(item.decode())
        elif kind == "time":
            if item:
                out[key] = _time(item)
        elif kind in ("map", "bmap"):
            entry_key, value = _map_entry(item)
            out.setdefault(key, {})[entry_key] = (
                value.decode() if kind == "map" else base64.b64encode(value).decode()
            )
        elif kind.endswith("[]"):
            out.setdefault(key, []).append(_message(item, kind[:-2]))
        else:
            out[key] = _message(item, kind)
    return out


def decode(raw: bytes) -> dict[str, Any]:
    """A protobuf-encoded built-in object as the JSON object it stands for."""
    if not raw.startswith(MAGIC):
        raise errors.bad_request("provided object is not a valid protobuf object (missing magic)")
    try:
        envelope = _message(raw[len(MAGIC) :], "Unknown")
        type_meta = envelope.get("typeMeta") or {}
        kind = str(type_meta.get("kind", ""))
        if kind not in _KINDS:
            raise errors.unsupported_media_type(("application/json", "application/yaml"))
        obj = _message(envelope.get("raw", b""), kind)
    except (_Malformed, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}
