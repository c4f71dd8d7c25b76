"""Parse one page of a listing, keeping the good items when some are malformed.

The envelope (`data` list + `pagination`) must be valid; each item is then validated on its
own, so one broken model costs that model only.

`decode_page` turns a page's bytes into records (catalog/records.py). Its fast path decodes
the whole page with msgspec into the strict record types; a page that path refuses for any
reason takes the pydantic path instead (`json.loads`, then `parse_page`, then `record_of`),
which decides what is valid exactly as before. The fast path therefore only ever accepts
pages the pydantic path reads to the very same records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from pydantic import BaseModel, ConfigDict, ValidationError

from modelsync.catalog.models import Model, ModelVersion, Pagination
from modelsync.catalog.records import (
    ModelRecord,
    ModelSchemaRecord,
    PaginationRecord,
    RecordSharing,
    SklearnFrameworkRecord,
    VersionRecord,
    XGBoostFrameworkRecord,
    record_of,
    version_record_of,
)

__all__ = [
    "MODEL_PAGES",
    "VERSION_PAGES",
    "NotAPage",
    "NotJson",
    "PageKind",
    "ParsedPage",
    "SkippedModel",
    "decode_page",
    "describe_validation_error",
    "parse_page",
]

ItemT = TypeVar("ItemT")
ModelT = TypeVar("ModelT", bound=BaseModel)
RecordT = TypeVar("RecordT", ModelRecord, VersionRecord)

_MAX_ERRORS_IN_REASON = 3


@dataclass(frozen=True)
class SkippedModel:
    """An item of a page that failed validation: its `id` when it had a string one."""

    id: str | None
    reason: str


@dataclass(frozen=True)
class ParsedPage(Generic[ItemT]):
    items: tuple[ItemT, ...]
    skipped: tuple[SkippedModel, ...]
    pagination: PaginationRecord
    entry_ids: tuple[str | None, ...]  # every entry in order, valid or not: id or None

    @property
    def size(self) -> int:
        """Entries on the page, valid or not: what the offset advances by."""
        return len(self.entry_ids)


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[Any]
    pagination: Pagination


class NotJson(ValueError):
    """The body is not JSON at all (a truncated or garbled response)."""


class NotAPage(ValueError):
    """The body is JSON but not a page: the envelope is not the spec's shape. The message
    names the failing fields without echoing values."""


def describe_validation_error(error: ValidationError) -> str:
    """A short reason naming the failing fields, without echoing the input values."""
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(part) for part in problem['loc']) or '(root)'}: {problem['msg']}"
        for problem in problems[:_MAX_ERRORS_IN_REASON]
    ]
    if len(problems) > _MAX_ERRORS_IN_REASON:
        parts.append(f"and {len(problems) - _MAX_ERRORS_IN_REASON} more")
    return "; ".join(parts)


def _item_id(item: object) -> str | None:
    if isinstance(item, dict):
        value = item.get("id")
        if isinstance(value, str):
            return value
    return None


def parse_page(payload: object, item_type: type[ModelT]) -> ParsedPage[ModelT]:
    """Raises pydantic's ValidationError when the envelope itself is not the spec's shape."""
    envelope = _Envelope.model_validate(payload)
    items: list[ModelT] = []
    skipped: list[SkippedModel] = []
    entry_ids: list[str | None] = []
    for raw in envelope.data:
        try:
            item = item_type.model_validate(raw)
        except ValidationError as error:
            entry_ids.append(_item_id(raw))
            skipped.append(SkippedModel(entry_ids[-1], describe_validation_error(error)))
        else:
            key = getattr(item, "id", None)
            entry_ids.append(key if isinstance(key, str) else _item_id(raw))
            items.append(item)
    pagination = envelope.pagination
    return ParsedPage(
        tuple(items),
        tuple(skipped),
        PaginationRecord(total=pagination.total, offset=pagination.offset, limit=pagination.limit),
        tuple(entry_ids),
    )


# --- the fast path --------------------------------------------------------------------------


class _ModelEnvelope(msgspec.Struct, frozen=True, gc=False):
    data: tuple[ModelRecord, ...]
    pagination: PaginationRecord


class _VersionEnvelope(msgspec.Struct, frozen=True, gc=False):
    data: tuple[VersionRecord, ...]
    pagination: PaginationRecord


# msgspec rounds a fraction of a second longer than 6 digits to microseconds where pydantic
# cuts it off, so a page that may hold such a time takes the pydantic path: one with a long
# fraction in a string, or with a digit, `.`, `+`, `-`, `Z` or `z` written as an escape.
_LONG_FRACTION = re.compile(rb'\.\d{7,}[Zz+\-"]')
_ESCAPED_TIME_CHARACTER = re.compile(rb"\\u00(?:3[0-9]|2[bBdDeE]|5[aA]|7[aA])")
# pydantic refuses JSON values nested about 255 deep in `metadata` and the model schemas
# (its recursion guard); the fast path leaves anything nested this deep to pydantic.
_MAX_JSON_DEPTH = 100
# msgspec's nesting limit is Python's recursion limit, as json.loads's is, but msgspec goes a
# few levels deeper from the same call depth. Decoding a few frames deeper than the fallback's
# json.loads runs makes the fast path refuse every document json.loads would refuse.
_STACK_MARGIN = 16


def _too_deep(value: object, budget: int) -> bool:
    if type(value) is dict:
        children: Iterable[object] = value.values()
    elif type(value) is list:
        children = value
    else:
        return False
    if budget <= 1:
        return True
    return any(_too_deep(child, budget - 1) for child in children)


def _schema_too_deep(framework: object) -> bool:
    if isinstance(framework, SklearnFrameworkRecord | XGBoostFrameworkRecord):
        schema: ModelSchemaRecord | None = framework.model_schema
        if schema is not None:
            return any(_too_deep(row, _MAX_JSON_DEPTH) for row in (*schema.inputs, *schema.outputs))
    return False


def _accept_version(version: VersionRecord) -> bool:
    """Finish a version the fast path decoded (drop its usage snippet); False when a JSON
    value in it is nested too deep for the fast path to judge."""
    if version._usage_code_snippet is not None:
        msgspec.structs.force_setattr(version, "_usage_code_snippet", None)
    manifest = version.manifest
    for value in manifest.metadata.values():
        if type(value) in (dict, list) and _too_deep(value, _MAX_JSON_DEPTH):
            return False
    return not _schema_too_deep(manifest.framework)


def _accept_model(model: ModelRecord) -> bool:
    latest = model.latest_version
    return latest is None or _accept_version(latest)


def _decode_deeper(
    decode: Callable[[bytes | bytearray], Any], body: bytes | bytearray, frames: int = _STACK_MARGIN
) -> Any:
    if frames == 0:
        return decode(body)
    return _decode_deeper(decode, body, frames - 1)


@dataclass(frozen=True, eq=False)
class PageKind(Generic[RecordT]):
    """How to decode the pages of one endpoint: the fast decoder of the whole page and the
    pydantic item type with its conversion to a record."""

    item_name: str
    decode_fast: Callable[[bytes | bytearray], Any]
    accept: Callable[[RecordT], bool]  # finishes a fast-decoded item; False: use pydantic
    item_type: type[BaseModel]
    convert: Callable[[Any], RecordT]
    share: Callable[[RecordSharing, RecordT], None]  # its equal parts shared (RecordSharing)


MODEL_PAGES: PageKind[ModelRecord] = PageKind(
    "Model",
    msgspec.json.Decoder(_ModelEnvelope).decode,
    _accept_model,
    Model,
    record_of,
    RecordSharing.share_model,
)
VERSION_PAGES: PageKind[VersionRecord] = PageKind(
    "ModelVersion",
    msgspec.json.Decoder(_VersionEnvelope).decode,
    _accept_version,
    ModelVersion,
    version_record_of,
    RecordSharing.share_version,
)


def _decode_fast(body: bytes | bytearray, kind: PageKind[RecordT]) -> ParsedPage[RecordT] | None:
    if _LONG_FRACTION.search(body) or _ESCAPED_TIME_CHARACTER.search(body):
        return None
    try:
        envelope = _decode_deeper(kind.decode_fast, body)
        items: tuple[RecordT, ...] = envelope.data
        accept = kind.accept
        for item in items:
            if not accept(item):
                return None
    # UnicodeDecodeError is a ValueError; msgspec raises it for invalid UTF-8.
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    return ParsedPage(items, (), envelope.pagination, tuple(item.id for item in items))


def decode_page(
    body: bytes | bytearray, kind: PageKind[RecordT], sharing: RecordSharing | None = None
) -> ParsedPage[RecordT]:
    """The records of one page, and the entries that failed validation.

    `sharing`: the RecordSharing of the listing the page belongs to (None: one of this page
    alone); equal parts of its records are kept once. Raises NotJson when the body is not
    JSON and NotAPage when the envelope is invalid. The result holds no reference to `body`.
    """
    decoded = _decode_fast(body, kind)
    if decoded is None:
        # In this frame: json.loads nests as deep here as the fast path does (_STACK_MARGIN).
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise NotJson from None
        try:
            page = parse_page(payload, kind.item_type)
        except ValidationError as error:
            raise NotAPage(describe_validation_error(error)) from None
        del payload
        convert = kind.convert
        decoded = ParsedPage(
            tuple(convert(item) for item in page.items),
            page.skipped,
            page.pagination,
            page.entry_ids,
        )
    share, shared = kind.share, RecordSharing() if sharing is None else sharing
    for item in decoded.items:
        share(shared, item)
    return decoded
