"""Unit and property tests of the sandbox's own pure pieces: version priority, continue
tokens, content negotiation, the protobuf decoder, and the store's watch history."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.kube import errors, negotiation, protobuf
from modelsync_sandbox.kube.listing import decode_continue, encode_continue
from modelsync_sandbox.kube.resources import version_priority
from modelsync_sandbox.kube.store import ADDED, DELETED, MODIFIED, Store


def test_version_priority_matches_the_crd_versioning_docs() -> None:
    # The example order from "Versions in CustomResourceDefinitions" (kubernetes.io).
    ordered = [
        "v10",
        "v2",
        "v1",
        "v11beta2",
        "v10beta3",
        "v3beta1",
        "v12alpha1",
        "v11alpha2",
        "foo1",
        "foo10",
    ]
    assert sorted(reversed(ordered), key=version_priority) == ordered


names = st.text(alphabet=string.ascii_lowercase + string.digits + "-.", min_size=1, max_size=40)


@given(st.integers(min_value=0, max_value=2**53), names, names)
def test_continue_tokens_round_trip(rv: int, namespace: str, name: str) -> None:
    assert decode_continue(encode_continue(rv, (namespace, name))) == (rv, (namespace, name))


@pytest.mark.parametrize("token", ["", "!!!", base64.b64encode(b"{}").decode(), "eyJ4Ijox"])
def test_bad_continue_tokens_are_bad_requests(token: str) -> None:
    with pytest.raises(errors.ApiError) as err:
        decode_continue(token)
    assert err.value.code == 400


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", negotiation.JSON),
        ("*/*", negotiation.JSON),
        ("application/json", negotiation.JSON),
        ("application/vnd.kubernetes.protobuf,application/json", negotiation.JSON),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", negotiation.TABLE),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", negotiation.TABLE),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", negotiation.PARTIAL),
        ("application/json;as=Table;v=v9;g=meta.k8s.io,application/json", negotiation.JSON),
    ],
)
def test_response_format(accept: str, expected: str) -> None:
    assert negotiation.response_format(accept) == expected


def test_unacceptable_accept_is_406() -> None:
    with pytest.raises(errors.ApiError) as err:
        negotiation.response_format("application/vnd.kubernetes.protobuf")
    assert err.value.code == 406


def test_aggregated_discovery_only_when_asked_first() -> None:
    v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert negotiation.aggregated_discovery_version(f"{v2},application/json") == "v2"
    assert negotiation.aggregated_discovery_version(f"application/json,{v2}") is None
    assert negotiation.aggregated_discovery_version("application/json") is None


# -- protobuf ------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes | str | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    raw = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def _entry(number: int, key: str, value: bytes | str) -> bytes:
    return _field(number, _field(1, key) + _field(2, value))


def _envelope(kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, "v1") + _field(2, kind)
    return protobuf.MAGIC + _field(1, type_meta) + _field(2, raw)


keys = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=20)


@given(
    name=names,
    labels=st.dictionaries(keys, st.text(max_size=20), max_size=4),
    data=st.dictionaries(keys, st.binary(max_size=64), max_size=4),
)
def test_protobuf_secret_decodes_to_its_json_form(
    name: str, labels: dict[str, str], data: dict[str, bytes]
) -> None:
    meta = (
        _field(1, name)
        + _field(3, "default")
        + b"".join(_entry(11, k, v) for k, v in labels.items())
    )
    secret = _field(1, meta) + b"".join(_entry(2, k, v) for k, v in data.items())
    secret += _field(3, "Opaque") + _field(5, 1)
    decoded = protobuf.decode(_envelope("Secret", secret))
    expected_meta: dict[str, object] = {"name": name, "namespace": "default"}
    if labels:
        expected_meta["labels"] = labels
    expected: dict[str, object] = {"apiVersion": "v1", "kind": "Secret", "metadata": expected_meta}
    if data:
        expected["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    expected.update(type="Opaque", immutable=True)
    assert decoded == expected


def test_protobuf_namespace_with_finalizers() -> None:
    body = _field(1, _field(1, "ns1")) + _field(2, _field(1, "kubernetes"))
    assert protobuf.decode(_envelope("Namespace", body)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ns1"},
        "spec": {"finalizers": ["kubernetes"]},
    }


def test_protobuf_errors() -> None:
    with pytest.raises(errors.ApiError) as err:
        protobuf.decode(b"not protobuf")
    assert err.value.code == 400
    with pytest.raises(errors.ApiError) as err:
        protobuf.decode(_envelope("Pod", b""))
    assert err.value.code == 415
    with pytest.raises(errors.ApiError) as err:
        protobuf.decode(_envelope("Secret", b"\x0a\xff"))  # truncated field
    assert err.value.code == 400


# -- store history -------------------------------------------------------------------------


@given(
    ops=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), max_size=30),
    history=st.integers(min_value=1, max_value=8),
    since=st.integers(min_value=0, max_value=35),
)
def test_events_since_replays_exactly_what_followed_or_says_gone(
    ops: list[tuple[str, bool]], history: int, since: int
) -> None:
    store = Store(history_size=history)
    skey = "example.dev/widgets"
    log: list[tuple[int, str, str]] = []
    for name, delete in ops:
        key = ("default", name)
        exists = store.get(skey, key) is not None
        if delete and exists:
            obj = dict(store.get(skey, key) or {})
            obj["metadata"] = dict(obj["metadata"])
            kind = DELETED
        else:
            obj = {"metadata": {"name": name, "namespace": "default", "uid": name}}
            kind = MODIFIED if exists else ADDED
        store.commit(skey, kind, obj)
        log.append((store.resource_version, kind, name))
    replay = store.collection(skey).events_since(since)
    kept_from = log[-history][0] if len(log) > history else 1
    if since + 1 < kept_from:
        assert replay is None
    else:
        assert replay is not None
        assert [(e.rv, e.type, e.obj["metadata"]["name"]) for e in replay] == [
            entry for entry in log if entry[0] > since
        ]
