"""JSON on the wire for `KubeApi.send`: request bodies encoded with msgspec, answers decoded
into only what the caller keeps."""

from __future__ import annotations

import json
from typing import Any

import msgspec

__all__ = ["WrittenObject", "decode_object", "decode_written", "encode", "ignore_answer"]


def encode(body: Any) -> bytes:
    """`body` (JSON-ready values) as JSON, as the generated client would send it."""
    try:
        data = msgspec.json.encode(body)
    except (msgspec.EncodeError, TypeError, ValueError):
        return json.dumps(body).encode()  # whatever json.dumps makes of it, error included
    if b"null" in data:
        # msgspec writes NaN and infinities as null; json.dumps (the generated client's
        # encoder) writes tokens the API server refuses. Keep that refusal.
        return json.dumps(body).encode()
    return data


class ObjectIdentity(msgspec.Struct, frozen=True, rename="camel"):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""


class WrittenObject(msgspec.Struct, frozen=True, rename="camel"):
    """What a write answer says about the object: which one, and which version of it."""

    api_version: str = ""
    kind: str = ""
    metadata: ObjectIdentity = msgspec.field(default_factory=ObjectIdentity)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def resource_version(self) -> str:
        return self.metadata.resource_version

    def reference(self) -> dict[str, Any]:
        """The object as far as an Event about it needs (apiVersion, kind, metadata)."""
        meta = self.metadata
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {
                "name": meta.name,
                "namespace": meta.namespace,
                "uid": meta.uid,
                "resourceVersion": meta.resource_version,
            },
        }


_WRITTEN = msgspec.json.Decoder(WrittenObject)


def decode_written(data: bytes) -> WrittenObject | None:
    """The identity in a write's answer; None when the answer does not hold one (the write
    itself succeeded: only what it produced is unknown)."""
    try:
        return _WRITTEN.decode(data)
    except msgspec.DecodeError:
        return None


def decode_object(data: bytes) -> dict[str, Any]:
    """A whole object; a `ValueError` if the answer is not one."""
    value = msgspec.json.decode(data)
    if not isinstance(value, dict):
        raise msgspec.DecodeError("the answer is not a JSON object")
    return value


def ignore_answer(data: bytes) -> None:
    del data
