"""Custom resource bodies against a CRD's structural openAPIV3Schema: prune, default, validate.

The order is the real API's (apiextensions-apiserver crdHandler codec, then strategy):
1. pruning (pkg/apiserver/schema/pruning: unknown fields dropped unless under
   `x-kubernetes-preserve-unknown-fields`; apiVersion/kind/metadata kept at the root and in
   `x-kubernetes-embedded-resource` objects);
2. defaulting (pkg/apiserver/schema/defaulting: PruneNonNullableNullsWithoutDefaults, then
   Default — a missing field, or a null in a non-nullable field, takes the default);
3. validation (kube-openapi pkg/validation/validate, converted to field errors by
   apiextensions validation.kubeOpenAPIResultToFieldErrors; messages from
   kube-openapi pkg/validation/errors), then `x-kubernetes-list-type` uniqueness
   (pkg/apiserver/schema/listtype).

Formats: like StripUnsupportedFormatsPostProcess, only the string formats the API server
knows are checked (int32/int64/double/float are stripped and never range-checked).
Not emulated: CEL rules (`x-kubernetes-validations`), validation ratcheting on update,
isbn/creditcard format checks (accepted as valid).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

from modelsync_sandbox.kube.causes import too_long
from modelsync_sandbox.kube.meta import OBJECT_META_FIELDS, clone, json_equal
from modelsync_sandbox.kube.validation import (
    Cause,
    format_go_float,
    format_go_syntax,
    format_go_value,
    invalid,
    required,
)

Schema = Mapping[str, Any]

_META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})


def apply_structural_schema(
    obj: Mapping[str, Any], schema: Schema, *, path_root: str = ""
) -> tuple[dict[str, Any], list[Cause]]:
    """A new object pruned and defaulted by `schema`, and the causes it fails validation with.

    `path_root` prefixes every cause's field (e.g. "spec" when `schema` is the spec schema).
    """
    out: dict[str, Any] = clone(dict(obj))
    _prune(out, schema, _Pruning(path_root), root=True)
    _prune_non_nullable_nulls(out, schema)
    _default(out, schema)
    causes: list[Cause] = []
    _validate(out, schema, path_root, causes)
    _validate_list_types(out, schema, path_root, causes)
    _validate_embedded(out, schema, path_root, causes, root=True)
    return out, causes


def prune(obj: Any, schema: Schema | None, *, root: bool = True) -> tuple[Any, list[str]]:
    """A pruned copy of `obj` and the paths pruning removed (sorted, like PruneWithOptions)."""
    out = clone(obj)
    state = _Pruning("")
    _prune(out, schema, state, root=root)
    return out, sorted(state.removed)


def apply_defaults(obj: Any, schema: Schema) -> Any:
    """A defaulted copy of `obj` (PruneNonNullableNullsWithoutDefaults, then Default)."""
    out = clone(obj)
    _prune_non_nullable_nulls(out, schema)
    _default(out, schema)
    return out


def validate_value(obj: Any, schema: Schema, path: str = "") -> list[Cause]:
    """The causes `obj` fails `schema` with (no pruning or defaulting)."""
    causes: list[Cause] = []
    _validate(obj, schema, path, causes)
    _validate_list_types(obj, schema, path, causes)
    return causes


# -- helpers over schema nodes ---------------------------------------------------------------


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _properties(s: Schema | None) -> Mapping[str, Schema]:
    props = s.get("properties") if s is not None else None
    return props if isinstance(props, Mapping) else {}


def _additional(s: Schema | None) -> tuple[bool, Schema | None]:
    """(are additional properties kept, their schema); `true` keeps them with no schema."""
    if s is None:
        return False, None
    extra = s.get("additionalProperties")
    if isinstance(extra, Mapping):
        return True, extra
    return extra is True, None


def _items(s: Schema | None) -> Schema | None:
    items = s.get("items") if s is not None else None
    return items if isinstance(items, Mapping) else None


def _field_schema(key: str, s: Schema | None) -> Schema | None:
    """defaulting.getSchemaForField: the property's schema, else additionalProperties'."""
    props = _properties(s)
    if key in props:
        return props[key]
    return _additional(s)[1]


def _flag(s: Schema | None, name: str) -> bool:
    return bool(s is not None and s.get(name) is True)


# -- 1. pruning -------------------------------------------------------------------------------


class _Pruning:
    def __init__(self, root_path: str) -> None:
        self.root_path = root_path
        self.removed: list[str] = []


def _prune(
    x: Any, s: Schema | None, state: _Pruning, *, root: bool = False, path: str = ""
) -> None:
    if _flag(s, "x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, state, root=root, path=path)
        return
    if isinstance(x, dict):
        if s is None:
            for key in list(x):
                state.removed.append(_child(path, key))
                del x[key]
            return
        embedded = root or _flag(s, "x-kubernetes-embedded-resource")
        props = _properties(s)
        keep_extra, extra = _additional(s)
        for key in list(x):
            if embedded and key in _META_FIELDS:
                if key == "metadata" and not root:
                    _coerce_metadata(x, _child(path, key), state)
                continue
            if key in props:
                _prune(x[key], props[key], state, path=_child(path, key))
            elif keep_extra:
                _prune(x[key], extra, state, path=_child(path, key))
            else:
                state.removed.append(_child(path, key))
                del x[key]
    elif isinstance(x, list):
        items = _items(s)
        for i, item in enumerate(x):
            _prune(item, items, state, path=_index(path, i))


def _skip_prune(
    x: Any, s: Schema | None, state: _Pruning, *, root: bool = False, path: str = ""
) -> None:
    """Under preserve-unknown-fields: keep unknown keys, still prune the specified ones."""
    if s is None:
        return
    if isinstance(x, dict):
        embedded = root or _flag(s, "x-kubernetes-embedded-resource")
        props = _properties(s)
        keep_extra, extra = _additional(s)
        for key, value in x.items():
            if embedded and key in _META_FIELDS:
                continue
            if key in props:
                _prune(value, props[key], state, path=_child(path, key))
            elif keep_extra:
                _prune(value, extra, state, path=_child(path, key))
    elif isinstance(x, list):
        for i, item in enumerate(x):
            _skip_prune(item, _items(s), state, path=_index(path, i))


def _coerce_metadata(x: dict[str, Any], path: str, state: _Pruning) -> None:
    """objectmeta.Coerce for an embedded resource: unknown ObjectMeta fields are dropped."""
    meta = x.get("metadata")
    if isinstance(meta, dict):
        for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
            state.removed.append(_child(path, key))
            del meta[key]


# -- 2. defaulting ---------------------------------------------------------------------------


def _non_nullable_null(value: Any, s: Schema | None) -> bool:
    return value is None and s is not None and not _flag(s, "nullable")


def _prune_non_nullable_nulls(x: Any, s: Schema | None) -> None:
    """PruneNonNullableNullsWithoutDefaults: drop `key: null` unless nullable or defaulted."""
    if isinstance(x, dict):
        for key in list(x):
            sub = _field_schema(key, s)
            if _non_nullable_null(x[key], sub) and (sub is None or sub.get("default") is None):
                del x[key]
            else:
                _prune_non_nullable_nulls(x[key], sub)
    elif isinstance(x, list):
        for item in x:
            _prune_non_nullable_nulls(item, _items(s))


def _default_value(s: Schema) -> Any:
    """A fresh copy of the schema's default, pruned like PruneDefaults does at CRD creation."""
    value = clone(s.get("default"))
    _prune(value, s, _Pruning(""))
    return value


def _default(x: Any, s: Schema | None) -> None:
    """structuraldefaulting.Default: fill missing fields and non-nullable nulls, recursively."""
    if s is None:
        return
    if isinstance(x, dict):
        props = _properties(s)
        for key, prop in props.items():
            if prop.get("default") is None:
                continue
            if key not in x or _non_nullable_null(x[key], prop):
                x[key] = _default_value(prop)
        _, extra = _additional(s)
        for key in list(x):
            if key in props:
                _default(x[key], props[key])
            elif extra is not None:
                if _non_nullable_null(x[key], extra):
                    x[key] = _default_value(extra)
                _default(x[key], extra)
    elif isinstance(x, list):
        items = _items(s)
        for i in range(len(x)):
            if items is not None and _non_nullable_null(x[i], items):
                x[i] = _default_value(items)
            _default(x[i], items)


# -- 3. validation ---------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _data_format(value: Any) -> str:
    """The format kube-openapi infers from a decoded value (int64 / double for numbers)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "double"
    return ""


def _types(s: Schema) -> list[str]:
    if _flag(s, "x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = s.get("type")
    return [declared] if isinstance(declared, str) and declared else []


def _type_invalid(path: str, value: Any, type_name: str) -> Cause:
    """errors.InvalidType via field.TypeInvalid; a string value is appended with %q."""
    message = f"{path} in body must be of type {type_name}"
    if isinstance(value, str):
        message += ": " + format_go_value(value)
    return Cause(
        "FieldValueTypeInvalid", f"Invalid value: {format_go_value(value)}: {message}", path
    )


def _is_integral(value: float) -> bool:
    return math.isfinite(value) and value == math.floor(value)


def _validate(x: Any, s: Schema, path: str, causes: list[Cause]) -> None:
    if x is None:
        # kube-openapi exits early on null: only the type and enum validators run.
        _check_type(x, s, path, causes)
        _check_enum(x, s, path, causes)
        return
    _check_type(x, s, path, causes)
    _check_composition(x, s, path, causes)
    if isinstance(x, str):
        _check_string(x, s, path, causes)
        _check_format(x, s, path, causes)
    if isinstance(x, int | float) and not isinstance(x, bool):
        _check_number(x, s, path, causes)
    if isinstance(x, list):
        _check_array(x, s, path, causes)
    _check_enum(x, s, path, causes)
    if isinstance(x, dict):
        _check_object(x, s, path, causes)


def _check_type(x: Any, s: Schema, path: str, causes: list[Cause]) -> None:
    types = _types(s)
    if x is None:
        if types and not _flag(s, "nullable"):
            causes.append(_type_invalid(path, "null", ",".join(types)))
        return
    if not types:
        return
    found = _json_type(x)
    fmt = _known_format(s)
    float_int = found == "number" and _is_integral(x) and "integer" in types
    int_float = found == "integer" and "number" in types
    if (
        not isinstance(x, str | list)
        and fmt
        and not (found in types or _data_format(x) == fmt or float_int or int_float)
    ):
        causes.append(_type_invalid(path, _data_format(x), fmt))
        return
    if fmt and isinstance(x, str | list) and not ({"number", "integer"} & set(types)):
        return
    if not (found in types or float_int or int_float):
        causes.append(_type_invalid(path, found, ",".join(types)))


def _run(x: Any, s: Schema, path: str) -> list[Cause]:
    found: list[Cause] = []
    _validate(x, s, path, found)
    return found


def _composite(path: str, message: str) -> Cause:
    """A CompositeError: not a *Validation, so the API reports it at path "<nil>"."""
    return Cause("FieldValueInvalid", f'Invalid value: "": "{path}" {message}', "<nil>")


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The sub-schema result closest to passing (kube-openapi merges its "best failures")."""
    return sorted(results, key=len)[0]


def _check_composition(x: Any, s: Schema, path: str, causes: list[Cause]) -> None:
    """allOf / anyOf / oneOf / not (value validation only in structural schemas)."""
    all_of = [sub for sub in s.get("allOf") or [] if isinstance(sub, Mapping)]
    if all_of:
        results = [_run(x, sub, path) for sub in all_of]
        passed = sum(1 for r in results if not r)
        for result in results:
            causes.extend(result)
        if passed != len(all_of):
            extra = ". None validated" if passed == 0 else ""
            causes.append(_composite(path, f"must validate all the schemas (allOf){extra}"))
    any_of = [sub for sub in s.get("anyOf") or [] if isinstance(sub, Mapping)]
    if any_of:
        results = [_run(x, sub, path) for sub in any_of]
        if all(results):
            causes.append(_composite(path, "must validate at least one schema (anyOf)"))
            causes.extend(_fewest(results))
    one_of = [sub for sub in s.get("oneOf") or [] if isinstance(sub, Mapping)]
    if one_of:
        results = [_run(x, sub, path) for sub in one_of]
        passed = sum(1 for r in results if not r)
        if passed != 1:
            how = "Found none valid" if passed == 0 else f"Found {passed} valid alternatives"
            causes.append(_composite(path, f"must validate one and only one schema (oneOf). {how}"))
            if passed == 0:
                causes.extend(_fewest(results))
    negated = s.get("not")
    if isinstance(negated, Mapping) and not _run(x, negated, path):
        causes.append(_composite(path, "must not validate the schema (not)"))


def _check_string(x: str, s: Schema, path: str, causes: list[Cause]) -> None:
    """stringValidator: maxLength, minLength, pattern; the first failure only."""
    max_length = s.get("maxLength")
    if isinstance(max_length, int) and len(x) > max_length:
        # field.TooLongMaxLength: the value is not shown.
        causes.append(too_long(path, max_length))
        return
    min_length = s.get("minLength")
    if isinstance(min_length, int) and len(x) < min_length:
        causes.append(
            invalid(path, x, f"{path} in body should be at least {min_length} chars long")
        )
        return
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            matched = re.search(pattern, x) is not None
        except re.error:
            matched = True  # a pattern Python cannot compile is not held against the value
        if not matched:
            causes.append(invalid(path, x, f"{path} in body should match '{pattern}'"))


def _bound(limit: float, value: float) -> str:
    """How the bound prints: as an int64 for integer data (the *Int checks), else %v float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(limit))
    return format_go_float(float(limit))


def _check_number(x: float, s: Schema, path: str, causes: list[Cause]) -> None:
    """numberValidator: multipleOf, maximum, minimum (each reported)."""
    factor = s.get("multipleOf")
    if isinstance(factor, int | float) and not isinstance(factor, bool) and factor > 0:
        if isinstance(x, int) and _is_integral(float(factor)):
            ok = x % int(factor) == 0
        else:
            ok = _is_integral(x / factor)
        if not ok:
            causes.append(
                invalid(path, x, f"{path} in body should be a multiple of {_bound(factor, x)}")
            )
    maximum = s.get("maximum")
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        exclusive = _flag(s, "exclusiveMaximum")
        if x > maximum or (exclusive and x == maximum):
            relation = "less than" if exclusive else "less than or equal to"
            causes.append(
                invalid(path, x, f"{path} in body should be {relation} {_bound(maximum, x)}")
            )
    minimum = s.get("minimum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        exclusive = _flag(s, "exclusiveMinimum")
        if x < minimum or (exclusive and x == minimum):
            relation = "greater than" if exclusive else "greater than or equal to"
            causes.append(
                invalid(path, x, f"{path} in body should be {relation} {_bound(minimum, x)}")
            )


def _check_array(x: list[Any], s: Schema, path: str, causes: list[Cause]) -> None:
    """schemaSliceValidator: items, minItems, maxItems, uniqueItems."""
    items = _items(s)
    if items is not None:
        for i, item in enumerate(x):
            _validate(item, items, _index(path, i), causes)
    min_items = s.get("minItems")
    if isinstance(min_items, int) and len(x) < min_items:
        causes.append(
            invalid(path, len(x), f"{path} in body should have at least {min_items} items")
        )
    max_items = s.get("maxItems")
    if isinstance(max_items, int) and len(x) > max_items:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {len(x)}: must have at most {max_items} items",
                path,
            )
        )
    if _flag(s, "uniqueItems") and any(
        json_equal(x[i], x[j]) for i in range(len(x)) for j in range(i)
    ):
        causes.append(invalid(path, "", f"{path} in body shouldn't contain duplicates"))


def _check_enum(x: Any, s: Schema, path: str, causes: list[Cause]) -> None:
    enum = s.get("enum")
    if not isinstance(enum, list) or any(json_equal(x, allowed) for allowed in enum):
        return
    shown = ", ".join(format_go_value(v if isinstance(v, str) else _json_text(v)) for v in enum)
    causes.append(
        Cause(
            "FieldValueNotSupported",
            f"Unsupported value: {format_go_value(x)}: supported values: {shown}",
            path,
        )
    )


def _json_text(value: Any) -> str:
    """encoding/json.Marshal of a decoded value (compact, sorted keys)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _check_object(x: dict[str, Any], s: Schema, path: str, causes: list[Cause]) -> None:
    """objectValidator: min/maxProperties (short-circuit), additionalProperties, properties,
    required."""
    min_props = s.get("minProperties")
    if isinstance(min_props, int) and len(x) < min_props:
        causes.append(
            invalid(path, min_props, f"{path} in body should have at least {min_props} properties")
        )
        return
    max_props = s.get("maxProperties")
    if isinstance(max_props, int) and len(x) > max_props:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {max_props}: must have at most {max_props} items",
                path,
            )
        )
        return
    props = _properties(s)
    extra = s.get("additionalProperties")
    for key in sorted(x):
        if key in props:
            _validate(x[key], props[key], _child(path, key), causes)
        elif isinstance(extra, Mapping):
            _validate(x[key], extra, _child(path, key), causes)
        elif extra is False:
            causes.append(
                invalid(path, key, f"{_child(path, key)} in body is a forbidden property")
            )
    for key in s.get("required") or []:
        if key not in x:
            causes.append(required(_child(path, str(key))))


# -- formats ---------------------------------------------------------------------------------


_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?"
)
_UUID = {
    "uuid": re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}"),
    "uuid3": re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}"),
    "uuid4": re.compile(
        r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}"
    ),
    "uuid5": re.compile(
        r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}"
    ),
}
_HOSTNAME = re.compile(
    r"(?i)(?=.{1,255}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?"
)
_MAC = re.compile(
    r"(?i)(?:[0-9a-f]{2}(?::[0-9a-f]{2}){5,19}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5,19}"
    r"|[0-9a-f]{4}(?:\.[0-9a-f]{4}){2,9})"
)
_DURATION = re.compile(
    r"(?:-\s?)?(?:\d+(?:\.\d+)?\s*(?:ns|us|µs|ms|s|m|h|d|w|"
    r"nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)\s*)+"
)
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+|[^<>]*<[^@\s<>]+@[^@\s<>]+>")
_HEXCOLOR = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_RGBCOLOR = re.compile(r"rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)")
_SSN = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def _is_date_time(text: str) -> bool:
    match = _DATE_TIME.fullmatch(text)
    if not match:
        return False
    try:
        year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return address.version == version

    return check


def _is_cidr(text: str) -> bool:
    if "/" not in text:
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _is_uri(text: str) -> bool:
    """url.ParseRequestURI: an absolute URI or an absolute path."""
    if not text or any(c.isspace() for c in text):
        return False
    parsed = urlparse(text)
    return bool(parsed.scheme) or text.startswith("/")


def _matcher(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.fullmatch(text) is not None


_FORMATS: dict[str, Callable[[str], bool]] = {
    "datetime": _is_date_time,
    "date": _is_date,
    "byte": _is_base64,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
    "cidr": _is_cidr,
    "uri": _is_uri,
    "hostname": _matcher(_HOSTNAME),
    "mac": _matcher(_MAC),
    "duration": _matcher(_DURATION),
    "email": _matcher(_EMAIL),
    "hexcolor": _matcher(_HEXCOLOR),
    "rgbcolor": _matcher(_RGBCOLOR),
    "ssn": _matcher(_SSN),
    "bsonobjectid": _matcher(_OBJECT_ID),
    "password": lambda _text: True,
    "isbn": lambda _text: True,
    "isbn10": lambda _text: True,
    "isbn13": lambda _text: True,
    "creditcard": lambda _text: True,
    **{name: _matcher(rx) for name, rx in _UUID.items()},
}


def _known_format(s: Schema) -> str:
    """The schema's format if the API server keeps it (StripUnsupportedFormatsPostProcess)."""
    fmt = s.get("format")
    if not isinstance(fmt, str) or fmt.replace("-", "") not in _FORMATS:
        return ""
    return fmt


def _check_format(x: str, s: Schema, path: str, causes: list[Cause]) -> None:
    fmt = _known_format(s)
    if fmt and not _FORMATS[fmt.replace("-", "")](x):
        causes.append(_type_invalid(path, x, fmt))


# -- x-kubernetes-list-type and embedded resources ---------------------------------------------


def _validate_list_types(x: Any, s: Schema | None, path: str, causes: list[Cause]) -> None:
    """listtype.ValidateListSetsAndMaps: no duplicate items in sets, no duplicate keys in maps."""
    if s is None:
        return
    if isinstance(x, dict):
        for key in sorted(x):
            _validate_list_types(x[key], _field_schema(key, s), _child(path, key), causes)
    elif isinstance(x, list):
        list_type = s.get("x-kubernetes-list-type")
        if list_type == "set":
            for i, item in enumerate(x):
                if any(json_equal(item, x[j]) for j in range(i)):
                    causes.append(
                        Cause(
                            "FieldValueDuplicate",
                            f"Duplicate value: {format_go_value(item)}",
                            _index(path, i),
                        )
                    )
        elif list_type == "map":
            keys = [k for k in s.get("x-kubernetes-list-map-keys") or [] if isinstance(k, str)]
            seen: list[dict[str, Any]] = []
            for i, item in enumerate(x):
                if not isinstance(item, dict):
                    continue
                identity = {k: item[k] for k in keys if k in item}
                if any(json_equal(identity, other) for other in seen):
                    causes.append(
                        Cause(
                            "FieldValueDuplicate",
                            f"Duplicate value: {format_go_syntax(identity)}",
                            _index(path, i),
                        )
                    )
                seen.append(identity)
        items = _items(s)
        for i, item in enumerate(x):
            _validate_list_types(item, items, _index(path, i), causes)


def _validate_embedded(
    x: Any, s: Schema | None, path: str, causes: list[Cause], *, root: bool = False
) -> None:
    """objectmeta validateEmbeddedResource: apiVersion and kind are required strings."""
    if s is None:
        return
    if isinstance(x, dict):
        if not root and _flag(s, "x-kubernetes-embedded-resource"):
            for key in ("apiVersion", "kind"):
                value = x.get(key)
                if key not in x:
                    causes.append(required(_child(path, key), "must not be empty"))
                elif not isinstance(value, str):
                    causes.append(invalid(_child(path, key), value, "must be a string"))
                elif not value:
                    causes.append(invalid(_child(path, key), value, "must not be empty"))
        for key, value in x.items():
            if key not in _META_FIELDS or not (root or _flag(s, "x-kubernetes-embedded-resource")):
                _validate_embedded(value, _field_schema(key, s), _child(path, key), causes)
    elif isinstance(x, list):
        for i, item in enumerate(x):
            _validate_embedded(item, _items(s), _index(path, i), causes)


# -- structural schema check at CRD creation -------------------------------------------------

_FORBIDDEN_KEYWORDS = (
    "$ref",
    "$schema",
    "id",
    "definitions",
    "patternProperties",
    "additionalItems",
    "dependencies",
)
_VALUE_VALIDATION_FORBIDDEN = (
    "type",
    "default",
    "nullable",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
)


def structural_schema_causes(schema: Schema, field: str = "openAPIV3Schema") -> list[Cause]:
    """Cheap structural-schema checks (apiextensions validateStructuralInvariants & co.)."""
    causes: list[Cause] = []
    _structural(schema, field, causes, need_type=True, in_value_validation=False)
    return causes


def is_structural(schema: Schema) -> list[str]:
    """The structural-schema violations of `schema` as "field: message" lines (empty = ok)."""
    return [f"{c.field}: {c.message}" for c in structural_schema_causes(schema)]


def _structural(
    s: Schema, field: str, causes: list[Cause], *, need_type: bool, in_value_validation: bool
) -> None:
    for keyword in _FORBIDDEN_KEYWORDS:
        if keyword in s:
            causes.append(
                Cause("FieldValueForbidden", "Forbidden: must not be used", _child(field, keyword))
            )
    if in_value_validation:
        for keyword in _VALUE_VALIDATION_FORBIDDEN:
            if keyword in s:
                causes.append(
                    Cause(
                        "FieldValueForbidden",
                        "Forbidden: must be empty to be structural",
                        _child(field, keyword),
                    )
                )
    declared = s.get("type")
    int_or_string = _flag(s, "x-kubernetes-int-or-string")
    preserve = _flag(s, "x-kubernetes-preserve-unknown-fields")
    if declared is not None and declared not in _TYPES:
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {format_go_value(declared)}: supported values: "
                + ", ".join(f'"{t}"' for t in sorted(_TYPES)),
                _child(field, "type"),
            )
        )
    if int_or_string and declared:
        causes.append(
            invalid(
                _child(field, "type"),
                declared,
                "must be empty if x-kubernetes-int-or-string is true",
            )
        )
    if (
        need_type
        and not in_value_validation
        and not declared
        and not int_or_string
        and not preserve
    ):
        causes.append(
            required(_child(field, "type"), "must not be empty for specified object fields")
        )
    if "properties" in s and isinstance(s.get("additionalProperties"), Mapping):
        causes.append(
            Cause(
                "FieldValueForbidden",
                "Forbidden: additionalProperties and properties are mutual exclusive",
                _child(field, "additionalProperties"),
            )
        )
    if declared == "array" and not in_value_validation and not isinstance(s.get("items"), Mapping):
        causes.append(required(_child(field, "items"), "must be specified"))
    if _flag(s, "uniqueItems"):
        causes.append(
            Cause(
                "FieldValueForbidden",
                "Forbidden: uniqueItems cannot be set to true since the runtime complexity "
                "becomes quadratic",
                _child(field, "uniqueItems"),
            )
        )
    if _flag(s, "x-kubernetes-embedded-resource") and declared != "object":
        causes.append(
            invalid(
                _child(field, "type"),
                declared or "",
                "must be object if x-kubernetes-embedded-resource is true",
            )
        )
    for name, prop in _properties(s).items():
        if isinstance(prop, Mapping):
            _structural(
                prop,
                f"{field}.properties[{name}]",
                causes,
                need_type=True,
                in_value_validation=in_value_validation,
            )
    extra = s.get("additionalProperties")
    if isinstance(extra, Mapping):
        _structural(
            extra,
            _child(field, "additionalProperties"),
            causes,
            need_type=True,
            in_value_validation=in_value_validation,
        )
    items = s.get("items")
    if isinstance(items, Mapping):
        _structural(
            items,
            _child(field, "items"),
            causes,
            need_type=True,
            in_value_validation=in_value_validation,
        )
    for keyword in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(keyword) or []):
            if isinstance(sub, Mapping):
                _structural(
                    sub,
                    f"{field}.{keyword}[{i}]",
                    causes,
                    need_type=False,
                    in_value_validation=True,
                )
    negated = s.get("not")
    if isinstance(negated, Mapping):
        _structural(
            negated, _child(field, "not"), causes, need_type=False, in_value_validation=True
        )
