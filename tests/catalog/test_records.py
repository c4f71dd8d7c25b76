"""The fast page decoder (msgspec into catalog/records.py) against the pydantic path.

The contract: whenever the fast path accepts a page, it gives exactly what the pydantic path
gives (`json.loads`, `parse_page`, `record_of`): the same records with the same value types
and time zones, no skipped entries, the same entry ids and pagination. `decode_page` as a
whole gives the pydantic path's answer for every body, valid, odd or hostile.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from datetime import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from catalog import examples
from catalog.spec_payloads import payloads
from modelsync.catalog.models import Model, ModelVersion
from modelsync.catalog.pages import (
    MODEL_PAGES,
    VERSION_PAGES,
    NotAPage,
    NotJson,
    PageKind,
    ParsedPage,
    _decode_fast,
    decode_page,
    parse_page,
)
from modelsync.catalog.records import (
    ModelRecord,
    SubjectRecord,
    TransformersFrameworkRecord,
    UnknownFrameworkRecord,
    UnknownSourceRecord,
    VersionRecord,
    record_of,
    version_record_of,
)

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Outcome = ParsedPage[Any] | type[Exception]


def canonical(value: Any) -> Any:
    """A value with its exact types spelled out, so that equal means identical: int vs float
    vs bool, -0.0 and NaN, a datetime's time zone object, a record's class and every field
    (the ones the record keeps for checking only included)."""
    if isinstance(value, msgspec.Struct):
        fields = tuple(canonical(getattr(value, name)) for name in value.__struct_fields__)
        return (type(value).__name__, fields)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), repr(value.tzinfo))
    if isinstance(value, str):
        return ("str", type(value).__name__, value)
    if isinstance(value, dict):
        return ("dict", tuple((key, canonical(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", tuple(canonical(item) for item in value))
    if isinstance(value, tuple):
        return ("tuple", tuple(canonical(item) for item in value))
    if value is None or value is msgspec.UNSET:
        return repr(value)
    raise AssertionError(f"unexpected value in a record: {value!r}")


def reference(body: bytes, kind: PageKind[Any]) -> Outcome:
    """What the pydantic path alone makes of `body`."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return NotJson
    try:
        page = parse_page(payload, kind.item_type)
    except ValidationError:
        return NotAPage
    items = tuple(kind.convert(item) for item in page.items)
    return ParsedPage(items, page.skipped, page.pagination, page.entry_ids)


def decoded(body: bytes, kind: PageKind[Any]) -> Outcome:
    try:
        return decode_page(body, kind)
    except (NotJson, NotAPage) as exc:
        return type(exc)


def encoded(value: Any) -> bytes | str:
    """The JSON msgspec encodes (what spec digests are made of, plan/digest.py)."""
    try:
        return msgspec.json.encode(value)
    except UnicodeEncodeError:  # a lone surrogate, which pydantic takes and UTF-8 cannot hold
        return "unencodable"


def same(found: Outcome, expected: Outcome) -> bool:
    if isinstance(found, type) or isinstance(expected, type):
        return found is expected
    return (
        canonical(found.items) == canonical(expected.items)
        and encoded(found.items) == encoded(expected.items)
        and found.skipped == expected.skipped
        and found.entry_ids == expected.entry_ids
        and found.pagination == expected.pagination
    )


def check(body: bytes, kind: PageKind[Any] = MODEL_PAGES) -> bool:
    """decode_page agrees with the pydantic path; returns whether the fast path took it."""
    expected = reference(body, kind)
    fast = _decode_fast(body, kind)
    if fast is not None:
        assert not isinstance(expected, type), (
            f"the fast path took what pydantic refuses: {expected}"
        )
        assert expected.skipped == ()
        assert same(fast, expected)
    assert same(decoded(body, kind), expected)
    return fast is not None


def page_bytes(items: list[Any], *, ascii_only: bool = True, **pagination: Any) -> bytes:
    page = examples.page(items)
    page["pagination"].update(pagination)
    # Lone surrogates become the bytes json.loads still reads and UTF-8 forbids.
    return json.dumps(page, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# --- generated items: valid ones, then odd and hostile ones -----------------------------------

_frameworks = st.sampled_from([None, *examples.FRAMEWORKS.values()])
_sources = st.sampled_from(list(examples.SOURCES.values()))


@st.composite
def valid_models(draw: st.DrawFn) -> dict[str, Any]:
    version = examples.model_version(
        version=draw(st.integers(1, 2**40)),
        deployable=draw(st.booleans()),
        framework=draw(_frameworks),
        source=draw(_sources),
    )
    if version["manifest"]["framework"] is None:
        del version["manifest"]["framework"]
    model = examples.model(f"m-{draw(st.integers(0, 5))}", latest_version=version)
    optional = [
        ("latest_version",),
        ("latest_version", "tags"),
        ("latest_version", "metrics"),
        ("latest_version", "usage_code_snippet"),
        ("latest_version", "manifest", "environment"),
        ("latest_version", "manifest", "description"),
        ("run_steps",),
        ("created_at",),
    ]
    for path in draw(st.lists(st.sampled_from(optional), max_size=3, unique=True)):
        parent = model
        for key in path[:-1]:
            parent = parent.get(key) or {}
        parent.pop(path[-1], None)
    return model


def _nested(depth: int, leaf: Any = 1) -> Any:
    value: Any = leaf
    for index in range(depth):
        value = [value] if index % 2 else {"k": value}
    return value


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(2**63 - 3, 2**63 + 3)
    | st.integers(min_value=2**64, max_value=2**200)
    | st.floats()
    | st.text(max_size=4)
)
_ODD_TEXT = st.sampled_from(
    [
        "5",
        "5.0",
        " 5 ",
        "1e3",
        "1_000",
        "0x10",
        "true",
        "yes",
        "off",
        "1",
        "0",
        "",
        "nan",
        "inf",
        "Infinity",
        "null",
        "\ud800",
        "a\udc00",
        "\x00",
        "é",
        "user",
        "serviceaccount",
        "sklearn",
        "transformers",
        "brand-new",
        "predict",
        "joblib",
    ]
)
_ODD_TIMES = st.sampled_from(
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01t12:00:00z",
        "2024-05-01 12:00:00Z",
        "2024-05-01_12:00:00Z",
        "2024-05-01T12:00:00",
        "2024-05-01T12:00Z",
        "2024-05-01",
        "2024-05-01T12:00:00.123456789Z",
        "2024-05-01T12:00:00.1234565Z",
        "2024-05-01T12:00:00.9999995Z",
        "2024-05-01T12:00:00.1234567",
        "2024-05-01T12:00:00.12345Z",
        "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00+05:30",
        "2024-05-01T12:00:00+0530",
        "2024-05-01T12:00:00+05",
        "2024-05-01T12:00:00-00:00",
        "2024-05-01T12:00:00+23:59",
        "2024-05-01T12:00:00+24:00",
        "2024-05-01T23:59:60Z",
        "2024-02-30T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.9999999Z",
        "2024-05-01T12:00:00,5Z",
        "20240501T120000Z",
        "1700000000",
        "1700000000.5",
    ]
)
_generated_times = st.builds(
    lambda moment, digits, zone: (
        moment.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{moment.microsecond:06d}{moment.microsecond % 10}"[: digits + 1] if digits else "")
        + zone
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(0, 9),
    st.sampled_from(["Z", "z", "", "+00:00", "-07:00", "+14:00", "+05:45"]),
)
_ODD_OBJECTS = st.sampled_from(
    [
        {"type": "brand-new", "some_field": {"a": None}, "library_name": 5},
        {"type": "ipfs", "uri": "ipfs://x", "cid": None},
        {"type": 5},
        {"type": None},
        {},
        {"type": "sklearn", "serialization_format": None, "model_schema": None},
        {
            "type": "sklearn",
            "model_schema": {"infer_method_name": "x", "inputs": [], "outputs": {}},
        },
        {"type": "transformers", "library_name": None},
        {"type": "transformers", "library_name": "diffusers", "extra": [1]},
        {"type": "local", "file_or_folder": None},
        {"type": "external"},
        {"type": "truefoundry", "uri": None},
        {"subject_id": "u-1", "subjectType": "user"},
        {"subjectId": "u-1", "subjectType": "robot", "subject_slug": "x"},
        {"subjectId": "u-1", "subjectType": "user", "subjectSlug": None},
        {"key": "auc", "value": "0.5", "step": None},
        {"key": "auc", "value": 1, "step": 2.0, "timestamp": -1},
        {"python_version": None, "pip_packages": None},
        {"infer_method_name": "predict_proba", "inputs": [{"a": 1.5}], "outputs": [{}]},
    ]
)
_hostile_values = st.recursive(
    _JSON_LEAVES | _ODD_TEXT | _ODD_TIMES | _generated_times | _ODD_OBJECTS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
) | st.sampled_from([90, 99, 100, 101, 110]).map(_nested)
# Copies: a value may be drawn twice, and a later mutation may add fields to it.
_hostile = _hostile_values.map(copy.deepcopy)

_UNKNOWN_KEYS = st.sampled_from(
    [
        "brand_new_field",
        "subject_id",
        "subject_type",
        "subject_slug",
        "subject_display_name",
        "subject_pat_name",
        "subjectPatName",
        "type",
        "usage_code_snippet",
        "latestVersion",
        "uri",
        "file_or_folder",
        "_by_name_subject_id",
        "_usage_code_snippet",
    ]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _containers(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if isinstance(value, dict) else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _containers(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _containers(item, (*prefix, index))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def odd_models(draw: st.DrawFn) -> Any:
    """A valid model with a few of its values replaced, removed or joined by new fields."""
    model = draw(valid_models())
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "add":
            target = _at(model, draw(st.sampled_from(_containers(model))))
            target[draw(_UNKNOWN_KEYS)] = draw(_hostile)
            continue
        paths = _paths(model)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _at(model, path[:-1])
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_hostile)
    return model


@SETTINGS
@given(st.lists(valid_models(), min_size=1, max_size=4), st.booleans())
def test_valid_pages_take_the_fast_path(items: list[Any], ascii_only: bool) -> None:
    assert check(page_bytes(items, ascii_only=ascii_only))


@SETTINGS
@given(st.lists(valid_models() | odd_models(), max_size=4), st.booleans())
def test_odd_pages_decode_as_pydantic_reads_them(items: list[Any], ascii_only: bool) -> None:
    fast = check(page_bytes(items, ascii_only=ascii_only))
    event("fast path" if fast else "pydantic path")


@SETTINGS
@given(st.lists(odd_models(), min_size=1, max_size=3))
def test_odd_version_pages_decode_as_pydantic_reads_them(items: list[Any]) -> None:
    versions = [item.get("latest_version") if isinstance(item, dict) else item for item in items]
    fast = check(page_bytes(versions), VERSION_PAGES)
    event("fast path" if fast else "pydantic path")


@settings(SETTINGS, max_examples=10)
@given(st.data())
def test_pages_the_vendor_schema_admits_decode_as_pydantic_reads_them(data: st.DataObject) -> None:
    payload = data.draw(payloads("ListModelsResponse"))
    check(json.dumps(payload).encode())


@settings(SETTINGS, max_examples=50)
@given(st.data())
def test_versions_the_vendor_schema_admits_decode_as_pydantic_reads_them(
    data: st.DataObject,
) -> None:
    version = data.draw(payloads("ModelVersion"))
    check(page_bytes([version]), VERSION_PAGES)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "total": _hostile,
            "offset": _hostile,
            "limit": _hostile,
            "extra": _hostile,
        },
    ),
    st.sampled_from(["list", "null", "object", "missing"]),
)
def test_envelopes_decode_as_pydantic_reads_them(pagination: dict[str, Any], data: str) -> None:
    page: dict[str, Any] = {"pagination": pagination}
    if data != "missing":
        page["data"] = {"list": [examples.model()], "null": None, "object": {}}[data]
    check(json.dumps(page).encode())


# --- bodies no generator above writes ---------------------------------------------------------

_VALID = page_bytes([examples.model()])


def _replace(old: bytes, new: bytes, body: bytes = _VALID) -> bytes:
    assert old in body
    return body.replace(old, new, 1)


@pytest.mark.parametrize(
    ("body", "fast"),
    [
        (_VALID, True),
        # a repeated key counts with its last value, in both paths
        (_replace(b'"deployable": true', b'"deployable": false, "deployable": true'), True),
        (_replace(b'"deployable": true', b'"deployable": true, "deployable": null'), False),
        (_replace(b'"type": "sklearn"', b'"type": "sklearn", "type": "brand-new"'), False),
        (_replace(b'"subjectId": "u-123"', b'"subjectId": "u-123", "subject_id": "x"'), False),
        # escapes: a time's characters written as escapes may hide a long fraction
        (_replace(b'"2024-05-01T12:00:00Z"', b'"2024-05-01T12:00:00.123456\\u0037Z"'), False),
        (_replace(b'"2024-05-01T12:00:00Z"', b'"2024\\u002d05-01T12:00:00Z"'), False),
        (_replace(b'"fraud-detector"', b'"fr\\u00e9ud\\n\\"\\\\\\/"'), True),
        (_replace(b'"fraud-detector"', b'"\\ud83d\\ude00"'), True),
        (_replace(b'"fraud-detector"', b'"\\ud83d"'), False),
        (_replace(b'"2024-05-01T12:00:00Z"', b'"2024-05-01T12:00:00.1234567Z"'), False),
        (_replace(b'"2024-05-01T12:00:00Z"', b'"2024-05-01T12:00:00.123456Z"'), True),
        # numbers json.loads reads and msgspec does not
        (_replace(b'"value": 0.93', b'"value": NaN'), False),
        (_replace(b'"value": 0.93', b'"value": -Infinity'), False),
        (_replace(b'"value": 0.93', b'"value": 1e400'), False),
        (_replace(b'"value": 0.93', b'"value": 1E2'), True),
        (_replace(b'"step": 10', b'"step": 123456789012345678901234567890'), True),
        (_replace(b'"step": 10', b'"step": 10.0'), False),
        (_replace(b'"step": 10', b'"step": -0'), True),
        # not JSON, or JSON with the wrong encoding
        (_VALID[:-1], False),
        (b"\xef\xbb\xbf" + _VALID, False),
        (_VALID.decode().encode("utf-16"), False),
        (_replace(b'"fraud-detector"', b'"fraud\xff"'), False),
        (_replace(b'"fraud-detector"', b'"fraud\xed\xa0\x80"'), False),
        (_VALID + b" \n", True),
        (_VALID + b" x", False),
        (b"[]", False),
        (b"null", False),
    ],
)
def test_odd_bodies_decode_as_pydantic_reads_them(body: bytes, fast: bool) -> None:
    assert check(body) is fast


def _deep_metadata(depth: int) -> bytes:
    model = examples.model()
    model["latest_version"]["manifest"]["metadata"]["deep"] = _nested(depth)
    return page_bytes([model])


@pytest.mark.parametrize("depth", [*range(95, 105), *range(250, 260), 400])
def test_deep_metadata_is_judged_by_pydantic(depth: int) -> None:
    assert check(_deep_metadata(depth)) is (depth < 100)


def _deep_unknown_field(depth: int) -> bytes:
    return _replace(b'{"id": "m-1"', b'{"id": "m-1", "deep": ' + b"[" * depth + b"]" * depth)


def _reference_from_decode_pages_depth(body: bytes) -> Outcome:
    """reference() with its json.loads as deep in the stack as decode_page's own."""
    return reference(body, MODEL_PAGES)


def test_nesting_near_the_recursion_limit_is_judged_as_json_loads_judges_it() -> None:
    # Python's recursion limit bounds how deep json.loads (and msgspec) can nest; where that
    # limit falls depends on how deep the call is, so both paths are compared at one depth.
    limit = sys.getrecursionlimit()
    fast_paths = set()
    for depth in range(limit - 80, limit + 5):
        body = _deep_unknown_field(depth)
        expected = _reference_from_decode_pages_depth(body)
        assert same(decoded(body, MODEL_PAGES), expected), depth
        fast = _decode_fast(body, MODEL_PAGES)
        if fast is not None:
            assert same(fast, expected), depth
            fast_paths.add(depth)
    assert limit - 80 in fast_paths  # far from the limit: the fast path
    assert limit + 4 not in fast_paths


# --- the records themselves -------------------------------------------------------------------


def test_unknown_framework_and_source_keep_their_fields_on_the_pydantic_path() -> None:
    model = examples.model()
    manifest = model["latest_version"]["manifest"]
    manifest["framework"] = {"type": "brand-new", "some_field": {"a": None}, "n": 1}
    manifest["source"] = {"type": "ipfs", "uri": "ipfs://x", "cid": "abc"}
    page = decode_page(page_bytes([model]), MODEL_PAGES)
    latest = page.items[0].latest_version
    assert latest is not None
    assert latest.manifest.framework == UnknownFrameworkRecord(
        type="brand-new", extra={"some_field": {"a": None}, "n": 1}
    )
    assert latest.manifest.source == UnknownSourceRecord(
        type="ipfs", extra={"uri": "ipfs://x", "cid": "abc"}
    )
    assert latest.manifest.framework.type == "brand-new"


def test_records_read_like_the_pydantic_models() -> None:
    payload = examples.model()
    model = Model.model_validate(payload)
    record = decode_page(page_bytes([payload]), MODEL_PAGES).items[0]
    assert record == record_of(model)
    latest, pydantic_latest = record.latest_version, model.latest_version
    assert latest is not None
    assert pydantic_latest is not None
    assert latest.tags == pydantic_latest.tags == ("prod", "eu")
    assert latest.deployable is True
    assert latest.created_at == pydantic_latest.created_at
    assert latest.manifest.framework is not None
    assert latest.manifest.framework.type == "sklearn"
    assert latest.created_by_subject.subject_type == "user"
    assert type(latest.created_by_subject.subject_type) is str  # not the enum
    assert latest.metrics[1].step == 0  # the spec default
    assert latest._usage_code_snippet is None  # checked, not kept
    assert version_record_of(ModelVersion.model_validate(payload["latest_version"])) == latest


def test_a_transformers_framework_without_library_name_gets_the_default() -> None:
    model = examples.model()
    model["latest_version"]["manifest"]["framework"] = {"type": "transformers"}
    latest = decode_page(page_bytes([model]), MODEL_PAGES).items[0].latest_version
    assert latest is not None
    assert latest.manifest.framework == TransformersFrameworkRecord(library_name="transformers")


def test_records_are_frozen_and_untracked_by_the_gc() -> None:
    record = decode_page(_VALID, MODEL_PAGES).items[0]
    with pytest.raises(AttributeError):
        record.name = "other"  # type: ignore[misc]
    import gc

    assert not gc.is_tracked(record)
    assert isinstance(record, ModelRecord)
    assert isinstance(record.latest_version, VersionRecord)
    assert isinstance(record.created_by_subject, SubjectRecord)


@pytest.mark.parametrize("body", [_VALID, _replace(b'"step": 10', b'"step": "10"')])
def test_the_page_keeps_no_reference_to_its_bytes(body: bytes) -> None:
    body = bytes(bytearray(body))  # a fresh object only this test refers to
    before = sys.getrefcount(body)
    page = decode_page(body, MODEL_PAGES)
    assert page.items
    assert sys.getrefcount(body) == before


def test_a_fast_decoded_page_does_not_share_mutable_state_with_a_later_one() -> None:
    first = decode_page(_VALID, MODEL_PAGES).items[0]
    second = decode_page(_VALID, MODEL_PAGES).items[0]
    assert first == second
    assert first.latest_version is not None
    assert second.latest_version is not None
    assert first.latest_version.manifest.metadata is not second.latest_version.manifest.metadata
    copy.deepcopy(first)  # records copy like any value
