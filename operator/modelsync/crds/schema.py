"""Custom resource bodies against a CRD's structural openAPIV3Schema: prune, default, validate.

What the API server does with a custom resource's body, for `modelsync render` (through
crds/admission.py) and for the sandbox's API server (modelsync_sandbox.kube), which both use
this one implementation.

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
Not here: CEL rules (`x-kubernetes-validations`; crds/cel.py runs the ones the render
needs), validation ratcheting on update, isbn/creditcard format checks (accepted as valid).

The passes walk a `CompiledSchema` (`compile_schema`): the schema's nodes with what the
passes look up read once. The server compiles a CRD version's schema once and keeps it;
the functions taking a plain schema compile it on every call. Pruning, null dropping and
defaulting, passes 1 and 2, are done in one walk that builds the result (`_shaped`), except
for a schema with a property schema that is not an object (the real API refuses such a CRD;
here the passes run one after the other, so that they fail where they always did).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, cast
from urllib.parse import urlparse

from modelsync.crds.apimachinery import (
    OBJECT_META_FIELDS,
    Cause,
    clone,
    format_go_float,
    format_go_syntax,
    format_go_value,
    invalid,
    json_equal,
    required,
    too_long,
)

Schema = Mapping[str, Any]

_META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
# isinstance() arguments, made once (an `X | Y` in the call makes a new union every time).
_CONTAINERS = (dict, list)
_NUMBERS = (int, float)
_STR_OR_LIST = (str, list)


def apply_structural_schema(
    obj: Mapping[str, Any], schema: Schema, *, path_root: str = ""
) -> tuple[dict[str, Any], list[Cause]]:
    """A new object pruned and defaulted by `schema`, and the causes it fails validation with.

    `path_root` prefixes every cause's field (e.g. "spec" when `schema` is the spec schema).
    """
    return compile_schema(schema).apply(obj, path_root=path_root)


def prune(obj: Any, schema: Schema | None, *, root: bool = True) -> tuple[Any, list[str]]:
    """A pruned copy of `obj` and the paths pruning removed (sorted, like PruneWithOptions)."""
    out = clone(obj)
    state = _Pruning("")
    _prune(out, _compile_optional(schema), state, root=root)
    return out, sorted(state.removed)


def apply_defaults(obj: Any, schema: Schema) -> Any:
    """A defaulted copy of `obj` (PruneNonNullableNullsWithoutDefaults, then Default)."""
    out = clone(obj)
    node = _Node(schema)
    _prune_non_nullable_nulls(out, node)
    _default(out, node)
    return out


def validate_value(obj: Any, schema: Schema, path: str = "") -> list[Cause]:
    """The causes `obj` fails `schema` with (no pruning or defaulting)."""
    return compile_schema(schema).validate(obj, path)


# -- compiled schemas --------------------------------------------------------------------------


class _Node:
    """One schema node: its keywords as the passes use them, each looked up and checked
    once. A property whose schema is null is None here (no schema), one whose schema is not
    an object is a `_Broken` node."""

    __slots__ = (
        "all_of",
        "any_of",
        "composed",
        "default",
        "default_pruned",
        "embedded",
        "enum",
        "exclusive_max",
        "exclusive_min",
        "extra",
        "extra_false",
        "fmt",
        "fmt_check",
        "int_or_string",
        "items",
        "keep_extra",
        "list_type",
        "max_items",
        "max_length",
        "max_props",
        "maximum",
        "min_items",
        "min_length",
        "min_props",
        "minimum",
        "multiple_of",
        "needs_embedded",
        "needs_list_types",
        "negated",
        "nullable",
        "number_checked",
        "numeric_types",
        "one_of",
        "pattern",
        "preserve",
        "props",
        "props_broken",
        "props_defaulted",
        "raw",
        "required",
        "string_checked",
        "types",
        "unique_items",
        "well_formed",
    )

    default: Any
    well_formed: bool

    def __init__(self, s: Schema) -> None:
        self.raw = s
        props = s.get("properties")
        self.props: dict[str, _Node | None] = {}
        if isinstance(props, Mapping):
            self.props = {key: _compile_property(value) for key, value in props.items()}
        # The defaulting pass reads every property's default: it fails on a malformed one.
        self.props_broken = any(p is None or _is_broken(p) for p in self.props.values())
        self.props_defaulted: tuple[tuple[str, _Node], ...] = ()
        if not self.props_broken:
            self.props_defaulted = tuple(
                (key, p) for key, p in self.props.items() if p is not None and p.default is not None
            )
        extra = s.get("additionalProperties")
        self.extra: _Node | None = _Node(extra) if isinstance(extra, Mapping) else None
        self.keep_extra = self.extra is not None or extra is True
        self.extra_false = extra is False
        items = s.get("items")
        self.items: _Node | None = _Node(items) if isinstance(items, Mapping) else None
        self.preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = s.get("x-kubernetes-embedded-resource") is True
        self.nullable = s.get("nullable") is True
        self.int_or_string = s.get("x-kubernetes-int-or-string") is True
        self.default = s.get("default")
        self.default_pruned: Any = _UNSET  # the default as pruned at CRD creation, when needed
        declared = s.get("type")
        if self.int_or_string:
            self.types: tuple[str, ...] = ("integer", "string")
        elif isinstance(declared, str) and declared:
            self.types = (declared,)
        else:
            self.types = ()
        self.numeric_types = "number" in self.types or "integer" in self.types
        self.fmt = _known_format(s)
        self.fmt_check = _FORMATS[self.fmt.replace("-", "")] if self.fmt else None
        self.max_length = _int_keyword(s, "maxLength")
        self.min_length = _int_keyword(s, "minLength")
        pattern = s.get("pattern")
        self.pattern: re.Pattern[str] | None = None
        if isinstance(pattern, str) and pattern:
            # A pattern Python cannot compile is not held against the value.
            with contextlib.suppress(re.error):
                self.pattern = re.compile(pattern)
        factor = _number_keyword(s, "multipleOf")
        self.multiple_of = factor if factor is not None and factor > 0 else None
        self.maximum = _number_keyword(s, "maximum")
        self.exclusive_max = s.get("exclusiveMaximum") is True
        self.minimum = _number_keyword(s, "minimum")
        self.exclusive_min = s.get("exclusiveMinimum") is True
        self.string_checked = not (
            self.max_length is None and self.min_length is None and self.pattern is None
        )
        self.number_checked = not (
            self.multiple_of is None and self.maximum is None and self.minimum is None
        )
        self.min_items = _int_keyword(s, "minItems")
        self.max_items = _int_keyword(s, "maxItems")
        self.unique_items = s.get("uniqueItems") is True
        enum = s.get("enum")
        self.enum: list[Any] | None = enum if isinstance(enum, list) else None
        self.min_props = _int_keyword(s, "minProperties")
        self.max_props = _int_keyword(s, "maxProperties")
        self.required: Any = s.get("required") or ()  # iterated when used, as it comes
        self.all_of = _sub_schemas(s.get("allOf"))
        self.any_of = _sub_schemas(s.get("anyOf"))
        self.one_of = _sub_schemas(s.get("oneOf"))
        negated = s.get("not")
        self.negated: _Node | None = _Node(negated) if isinstance(negated, Mapping) else None
        self.composed = (
            self.all_of != () or self.any_of != () or self.one_of != () or self.negated is not None
        )
        list_type = s.get("x-kubernetes-list-type")
        self.list_type = list_type if list_type in ("set", "map") else ""
        # Whether the list-type and embedded-resource passes can find anything under here.
        self.needs_list_types = bool(self.list_type) or _any_child(self, "needs_list_types")
        self.needs_embedded = self.embedded or _any_child(self, "needs_embedded")
        # Every schema under here an object (or absent): no pass can fail on the schema.
        subs = (self.all_of, self.any_of, self.one_of)
        self.well_formed = (
            not self.props_broken
            and None not in subs
            and all(
                n.well_formed
                for n in (
                    *cast(dict[str, _Node], self.props).values(),
                    *(self.extra, self.items, self.negated),
                    *(n for group in subs for n in group or ()),
                )
                if n is not None
            )
        )


class _Broken:
    """A property schema that is not an object (nor null): every use fails, as looking a
    keyword up in it would."""

    __slots__ = ()
    # The passes go on into it (and fail where a keyword is looked up).
    needs_list_types = True
    needs_embedded = True

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"a property schema is not an object (looking up {name})")


_UNSET: Any = object()


def _is_broken(node: object) -> bool:
    return type(node) is _Broken


def _compile_property(value: Any) -> _Node | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return _Node(value)
    return cast(_Node, _Broken())


def _sub_schemas(value: Any) -> tuple[_Node, ...] | None:
    """allOf/anyOf/oneOf: the object members, compiled; None if the value cannot be iterated
    (the composition check then fails when it runs)."""
    if not value:
        return ()
    try:
        members = list(value)
    except TypeError:
        return None
    return tuple(_Node(sub) for sub in members if isinstance(sub, Mapping))


def _int_keyword(s: Schema, name: str) -> int | None:
    value = s.get(name)
    return value if isinstance(value, int) else None


def _number_keyword(s: Schema, name: str) -> float | None:
    value = s.get(name)
    if isinstance(value, _NUMBERS) and not isinstance(value, bool):
        return value
    return None


def _any_child(node: _Node, flag: str) -> bool:
    """Whether a child the per-field passes walk into has `flag` (a malformed one counts:
    the pass must reach it to fail there)."""
    children = [*node.props.values(), node.extra, node.items]
    for child in children:
        if child is None:
            continue
        if _is_broken(child) or getattr(child, flag):
            return True
    return False


class CompiledSchema:
    """A structural schema ready for the passes; build it once per schema (`compile_schema`)
    and keep it while the schema does not change.

    With `remember`, `apply` and `pruned_paths` remember what the passes make of top-level
    values (an object's spec, its status): given the same object again (the field validation
    and the write of one request, a status write passing the stored spec along), they take
    that without a walk. A value the passes leave as it is is its own result: `apply` returns
    it, not a copy. Values given to either and what `apply` returns must then never be
    changed below the top level (the server changes neither stored objects nor request
    bodies there)."""

    __slots__ = ("_remembered", "_root")

    def __init__(self, root: _Node, *, remember: bool = False) -> None:
        self._root = root
        # id(value) -> (value, the top-level key, what the passes make of it there).
        self._remembered: dict[int, tuple[Any, str, Any]] | None = {} if remember else None

    def _shape_top(self, key: str, value: Any, sub: _Node | None) -> Any:
        """What the passes make of a top-level value pruned under its property `key`."""
        remembered = self._remembered
        if remembered is None or not isinstance(value, _CONTAINERS):
            return _shaped(value, sub, _PRUNE)
        known = remembered.get(id(value))
        if known is not None and known[0] is value and known[1] == key:
            return known[2]
        shaped = _shaped(value, sub, _PRUNE)
        if shaped == value:
            # Nothing was pruned, dropped or defaulted (the passes only remove and add).
            shaped = value
        if len(remembered) >= _REMEMBERED_MAX:
            remembered.clear()
        remembered[id(value)] = (value, key, shaped)
        return shaped

    def apply(
        self, obj: Mapping[str, Any], *, path_root: str = "", validate: bool = True
    ) -> tuple[dict[str, Any], list[Cause]]:
        """A new object pruned and defaulted, and the causes it fails validation with
        (none looked for without `validate`)."""
        node = self._root
        if node.well_formed:
            top = self._shape_top if self._remembered is not None else None
            out: dict[str, Any] = _shaped(dict(obj), node, _PRUNE, root=True, top=top)
        else:  # pass by pass, so that it fails where the passes do
            out = clone(dict(obj))
            _prune(out, node, _Pruning(path_root), root=True)
            _prune_non_nullable_nulls(out, node)
            _default(out, node)
        causes: list[Cause] = []
        # A malformed schema validates anyway: where validation would fail on it, it does.
        if validate or not node.well_formed:
            _validate(out, node, path_root, causes)
            _validate_list_types(out, node, path_root, causes)
            _validate_embedded(out, node, path_root, causes, root=True)
        return out, causes if validate else []

    def validate(self, obj: Any, path: str = "") -> list[Cause]:
        """The causes `obj` fails the schema with (no pruning or defaulting)."""
        causes: list[Cause] = []
        _validate(obj, self._root, path, causes)
        _validate_list_types(obj, self._root, path, causes)
        return causes

    def pruned_paths(self, obj: Any) -> list[str]:
        """What pruning `obj` (as a root) would remove, sorted; `obj` is left as it is."""
        node = self._root
        if self._remembered is not None and node.well_formed and isinstance(obj, dict):
            # Values the passes leave as they are lose nothing to pruning.
            obj = {
                k: v
                for k, v in obj.items()
                if not (
                    k in node.props
                    and k not in _META_FIELDS
                    and isinstance(v, _CONTAINERS)
                    and self._shape_top(k, v, node.props[k]) is v
                )
            }
        state = _Pruning("")
        _prune(obj, self._root, state, root=True, dry=True)
        return sorted(state.removed)

    def property(self, name: str) -> CompiledSchema | None:
        """The schema of a property (one given as an object), compiled."""
        node = self._root.props.get(name)
        if node is None or _is_broken(node):
            return None
        return CompiledSchema(node)


def compile_schema(schema: Schema, *, remember: bool = False) -> CompiledSchema:
    return CompiledSchema(_Node(schema), remember=remember)


# How many top-level values a CompiledSchema remembers (then it starts over).
_REMEMBERED_MAX = 2048


def _compile_optional(schema: Schema | None) -> _Node | None:
    return None if schema is None else _Node(schema)


# -- helpers over raw schema mappings (the structural check) -----------------------------------


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _properties(s: Schema | None) -> Mapping[str, Schema]:
    props = s.get("properties") if s is not None else None
    return props if isinstance(props, Mapping) else {}


def _flag(s: Schema | None, name: str) -> bool:
    return bool(s is not None and s.get(name) is True)


def _field_schema(key: str, s: _Node | None) -> _Node | None:
    """defaulting.getSchemaForField: the property's schema, else additionalProperties'."""
    if s is None:
        return None
    props = s.props
    if key in props:
        return props[key]
    return s.extra


# -- 1. pruning -------------------------------------------------------------------------------


class _Pruning:
    def __init__(self, root_path: str) -> None:
        self.root_path = root_path
        self.removed: list[str] = []


def _prune(
    x: Any,
    s: _Node | None,
    state: _Pruning,
    *,
    root: bool = False,
    path: str = "",
    dry: bool = False,
) -> None:
    """`dry`: only note what would be removed."""
    if s is not None and s.preserve:
        _skip_prune(x, s, state, root=root, path=path, dry=dry)
        return
    if isinstance(x, dict):
        if s is None:
            for key in list(x):
                state.removed.append(_child(path, key))
                if not dry:
                    del x[key]
            return
        embedded = root or s.embedded
        props = s.props
        keep_extra = s.keep_extra
        for key in list(x):
            if embedded and key in _META_FIELDS:
                if key == "metadata" and not root:
                    _coerce_metadata(x, _child(path, key), state, dry)
                continue
            if key in props:
                _prune(x[key], props[key], state, path=_child(path, key), dry=dry)
            elif keep_extra:
                _prune(x[key], s.extra, state, path=_child(path, key), dry=dry)
            else:
                state.removed.append(_child(path, key))
                if not dry:
                    del x[key]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, item in enumerate(x):
            _prune(item, items, state, path=_index(path, i), dry=dry)


def _skip_prune(
    x: Any,
    s: _Node | None,
    state: _Pruning,
    *,
    root: bool = False,
    path: str = "",
    dry: bool = False,
) -> None:
    """Under preserve-unknown-fields: keep unknown keys, still prune the specified ones."""
    if s is None:
        return
    if isinstance(x, dict):
        embedded = root or s.embedded
        props = s.props
        keep_extra = s.keep_extra
        for key, value in x.items():
            if embedded and key in _META_FIELDS:
                continue
            if key in props:
                _prune(value, props[key], state, path=_child(path, key), dry=dry)
            elif keep_extra:
                _prune(value, s.extra, state, path=_child(path, key), dry=dry)
    elif isinstance(x, list):
        for i, item in enumerate(x):
            _skip_prune(item, s.items, state, path=_index(path, i), dry=dry)


def _coerce_metadata(x: dict[str, Any], path: str, state: _Pruning, dry: bool) -> None:
    """objectmeta.Coerce for an embedded resource: unknown ObjectMeta fields are dropped."""
    meta = x.get("metadata")
    if isinstance(meta, dict):
        for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
            state.removed.append(_child(path, key))
            if not dry:
                del meta[key]


# -- 2. defaulting ---------------------------------------------------------------------------


def _non_nullable_null(value: Any, s: _Node | None) -> bool:
    return value is None and s is not None and not s.nullable


def _prune_non_nullable_nulls(x: Any, s: _Node | None) -> None:
    """PruneNonNullableNullsWithoutDefaults: drop `key: null` unless nullable or defaulted."""
    if isinstance(x, dict):
        for key in list(x):
            value = x[key]
            sub = _field_schema(key, s)
            if value is None:
                if _non_nullable_null(value, sub) and (sub is None or sub.default is None):
                    del x[key]
            elif isinstance(value, _CONTAINERS):
                _prune_non_nullable_nulls(value, sub)
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for item in x:
            if isinstance(item, _CONTAINERS):
                _prune_non_nullable_nulls(item, items)


def _default_value(s: _Node) -> Any:
    """A fresh copy of the schema's default, pruned like PruneDefaults does at CRD creation."""
    if s.default_pruned is _UNSET:
        value = clone(s.default)
        _prune(value, s, _Pruning(""))
        s.default_pruned = value
    return clone(s.default_pruned)


def _default(x: Any, s: _Node | None) -> None:
    """structuraldefaulting.Default: fill missing fields and non-nullable nulls, recursively."""
    if s is None:
        return
    if isinstance(x, dict):
        if s.props_broken:
            raise AttributeError("a property schema is not an object")
        props = s.props
        for key, prop in s.props_defaulted:
            if key not in x or _non_nullable_null(x[key], prop):
                x[key] = _default_value(prop)
        extra = s.extra
        for key in list(x):
            value = x[key]
            if key in props:
                if isinstance(value, _CONTAINERS):
                    _default(value, props[key])
            elif extra is not None:
                if _non_nullable_null(value, extra):
                    x[key] = value = _default_value(extra)
                _default(value, extra)
    elif isinstance(x, list):
        items = s.items
        for i in range(len(x)):
            if items is not None and _non_nullable_null(x[i], items):
                x[i] = _default_value(items)
            _default(x[i], items)


# -- 1 and 2 in one walk -----------------------------------------------------------------------

# How a value is pruned: as `_prune` does, as `_skip_prune` does, or not at all.
_PRUNE, _SKIP, _KEEP = 0, 1, 2


def _shaped(
    x: Any,
    s: _Node | None,
    mode: int,
    *,
    root: bool = False,
    top: Callable[[str, Any, _Node | None], Any] | None = None,
) -> Any:
    """`x` pruned, its non-nullable nulls dropped and its defaults filled in: what the three
    passes make of it, in one walk that builds a new value (`x` is left alone). Every
    subtree goes through the passes on its own, so doing it subtree by subtree is the same.
    For well-formed schemas only (`_Node.well_formed`). `top` shapes the root's property
    values that are pruned as such (CompiledSchema._shape_top)."""
    if isinstance(x, dict):
        if s is None:
            return {} if mode == _PRUNE else clone(x)
        if mode == _PRUNE and s.preserve:
            mode = _SKIP
        props = s.props
        extra = s.extra
        embedded = mode != _KEEP and (root or s.embedded)
        out: dict[str, Any] = {}
        for key, value in x.items():
            sub = props.get(key, extra)
            child_mode = _PRUNE
            if mode == _KEEP:
                child_mode = _KEEP
            elif embedded and key in _META_FIELDS:
                child_mode = _KEEP
                if key == "metadata" and not root and mode == _PRUNE and isinstance(value, dict):
                    value = {k: v for k, v in value.items() if k in OBJECT_META_FIELDS}
            elif key not in props and not s.keep_extra:
                if mode == _PRUNE:
                    continue
                child_mode = _KEEP
            if value is None:
                if sub is not None and not sub.nullable and sub.default is None:
                    continue
                out[key] = None
            elif top is not None and child_mode == _PRUNE and key in props:
                out[key] = top(key, value, sub)
            else:
                out[key] = _shaped(value, sub, child_mode)
        for key, prop in s.props_defaulted:
            if key not in out or (out[key] is None and not prop.nullable):
                out[key] = default = _default_value(prop)
                _default(default, prop)
        if extra is not None and not extra.nullable:
            for key, value in out.items():
                if value is None and key not in props:
                    out[key] = default = _default_value(extra)
                    _default(default, extra)
        return out
    if isinstance(x, list):
        if s is None:
            return [_shaped(item, None, mode) for item in x]
        if mode == _PRUNE and s.preserve:
            mode = _SKIP
        items = s.items
        if mode == _SKIP and items is None:
            mode = _KEEP
        result = [_shaped(item, items, mode) for item in x]
        if items is not None and not items.nullable:
            for i, item in enumerate(result):
                if item is None:
                    result[i] = default = _default_value(items)
                    _default(default, items)
        return result
    return x


# -- 3. validation ---------------------------------------------------------------------------

_JSON_TYPES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


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


def _validate(x: Any, s: _Node, path: str, causes: list[Cause]) -> None:
    if x is None:
        # kube-openapi exits early on null: only the type and enum validators run.
        _check_type(x, s, path, causes)
        _check_enum(x, s, path, causes)
        return
    types = s.types
    if types and (_JSON_TYPES.get(type(x)) or _json_type(x)) not in types:
        _check_type(x, s, path, causes)  # (of the right type, nothing to check)
    if s.composed:
        _check_composition(x, s, path, causes)
    if isinstance(x, str):
        if s.string_checked:
            _check_string(x, s, path, causes)
        if s.fmt_check is not None and not s.fmt_check(x):
            causes.append(_type_invalid(path, x, s.fmt))
    elif isinstance(x, dict):
        if s.enum is not None:
            _check_enum(x, s, path, causes)
        _check_object(x, s, path, causes)
        return
    elif isinstance(x, list):
        _check_array(x, s, path, causes)
    elif isinstance(x, _NUMBERS) and not isinstance(x, bool) and s.number_checked:
        _check_number(x, s, path, causes)
    if s.enum is not None:
        _check_enum(x, s, path, causes)


def _check_type(x: Any, s: _Node, path: str, causes: list[Cause]) -> None:
    types = s.types
    if x is None:
        if types and not s.nullable:
            causes.append(_type_invalid(path, "null", ",".join(types)))
        return
    if not types:
        return
    found = _JSON_TYPES.get(type(x)) or _json_type(x)
    if found in types:
        return  # whatever the format, nothing to report
    fmt = s.fmt
    float_int = found == "number" and _is_integral(x) and "integer" in types
    int_float = found == "integer" and "number" in types
    if (
        not isinstance(x, _STR_OR_LIST)
        and fmt
        and not (_data_format(x) == fmt or float_int or int_float)
    ):
        causes.append(_type_invalid(path, _data_format(x), fmt))
        return
    if fmt and isinstance(x, _STR_OR_LIST) and not s.numeric_types:
        return
    if not (float_int or int_float):
        causes.append(_type_invalid(path, found, ",".join(types)))


def _run(x: Any, s: _Node, path: str) -> list[Cause]:
    found: list[Cause] = []
    _validate(x, s, path, found)
    return found


def _composite(path: str, message: str) -> Cause:
    """A CompositeError: not a *Validation, so the API reports it at path "<nil>"."""
    return Cause("FieldValueInvalid", f'Invalid value: "": "{path}" {message}', "<nil>")


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The sub-schema result closest to passing (kube-openapi merges its "best failures")."""
    return sorted(results, key=len)[0]


def _members(subs: tuple[_Node, ...] | None) -> tuple[_Node, ...]:
    if subs is None:
        raise TypeError("a composition keyword's value is not a list")
    return subs


def _check_composition(x: Any, s: _Node, path: str, causes: list[Cause]) -> None:
    """allOf / anyOf / oneOf / not (value validation only in structural schemas)."""
    all_of = _members(s.all_of)
    if all_of:
        results = [_run(x, sub, path) for sub in all_of]
        passed = sum(1 for r in results if not r)
        for result in results:
            causes.extend(result)
        if passed != len(all_of):
            extra = ". None validated" if passed == 0 else ""
            causes.append(_composite(path, f"must validate all the schemas (allOf){extra}"))
    any_of = _members(s.any_of)
    if any_of:
        results = [_run(x, sub, path) for sub in any_of]
        if all(results):
            causes.append(_composite(path, "must validate at least one schema (anyOf)"))
            causes.extend(_fewest(results))
    one_of = _members(s.one_of)
    if one_of:
        results = [_run(x, sub, path) for sub in one_of]
        passed = sum(1 for r in results if not r)
        if passed != 1:
            how = "Found none valid" if passed == 0 else f"Found {passed} valid alternatives"
            causes.append(_composite(path, f"must validate one and only one schema (oneOf). {how}"))
            if passed == 0:
                causes.extend(_fewest(results))
    if s.negated is not None and not _run(x, s.negated, path):
        causes.append(_composite(path, "must not validate the schema (not)"))


def _check_string(x: str, s: _Node, path: str, causes: list[Cause]) -> None:
    """stringValidator: maxLength, minLength, pattern; the first failure only."""
    max_length = s.max_length
    if max_length is not None and len(x) > max_length:
        # field.TooLongMaxLength: the value is not shown.
        causes.append(too_long(path, max_length))
        return
    min_length = s.min_length
    if min_length is not None and len(x) < min_length:
        causes.append(
            invalid(path, x, f"{path} in body should be at least {min_length} chars long")
        )
        return
    pattern = s.pattern
    if pattern is not None and pattern.search(x) is None:
        causes.append(invalid(path, x, f"{path} in body should match '{pattern.pattern}'"))


def _bound(limit: float, value: float) -> str:
    """How the bound prints: as an int64 for integer data (the *Int checks), else %v float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(limit))
    return format_go_float(float(limit))


def _check_number(x: float, s: _Node, path: str, causes: list[Cause]) -> None:
    """numberValidator: multipleOf, maximum, minimum (each reported)."""
    factor = s.multiple_of
    if factor is not None:
        if isinstance(x, int) and _is_integral(float(factor)):
            ok = x % int(factor) == 0
        else:
            ok = _is_integral(x / factor)
        if not ok:
            causes.append(
                invalid(path, x, f"{path} in body should be a multiple of {_bound(factor, x)}")
            )
    maximum = s.maximum
    if maximum is not None:
        exclusive = s.exclusive_max
        if x > maximum or (exclusive and x == maximum):
            relation = "less than" if exclusive else "less than or equal to"
            causes.append(
                invalid(path, x, f"{path} in body should be {relation} {_bound(maximum, x)}")
            )
    minimum = s.minimum
    if minimum is not None:
        exclusive = s.exclusive_min
        if x < minimum or (exclusive and x == minimum):
            relation = "greater than" if exclusive else "greater than or equal to"
            causes.append(
                invalid(path, x, f"{path} in body should be {relation} {_bound(minimum, x)}")
            )


def _check_array(x: list[Any], s: _Node, path: str, causes: list[Cause]) -> None:
    """schemaSliceValidator: items, minItems, maxItems, uniqueItems."""
    items = s.items
    if items is not None:
        for i, item in enumerate(x):
            _validate(item, items, _index(path, i), causes)
    min_items = s.min_items
    if min_items is not None and len(x) < min_items:
        causes.append(
            invalid(path, len(x), f"{path} in body should have at least {min_items} items")
        )
    max_items = s.max_items
    if max_items is not None and len(x) > max_items:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {len(x)}: must have at most {max_items} items",
                path,
            )
        )
    if s.unique_items and any(json_equal(x[i], x[j]) for i in range(len(x)) for j in range(i)):
        causes.append(invalid(path, "", f"{path} in body shouldn't contain duplicates"))


def _check_enum(x: Any, s: _Node, path: str, causes: list[Cause]) -> None:
    enum = s.enum
    if enum is None or any(json_equal(x, allowed) for allowed in enum):
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


def _check_object(x: dict[str, Any], s: _Node, path: str, causes: list[Cause]) -> None:
    """objectValidator: min/maxProperties (short-circuit), additionalProperties, properties,
    required."""
    min_props = s.min_props
    if min_props is not None and len(x) < min_props:
        causes.append(
            invalid(path, min_props, f"{path} in body should have at least {min_props} properties")
        )
        return
    max_props = s.max_props
    if max_props is not None and len(x) > max_props:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {max_props}: must have at most {max_props} items",
                path,
            )
        )
        return
    props = s.props
    extra = s.extra
    extra_false = s.extra_false
    # The causes come in key order; keys are walked in the object's order and, in the rare
    # case that finds something, again sorted.
    before = len(causes)
    for key in x:
        if key in props:
            _validate(x[key], cast(_Node, props[key]), _child(path, key), causes)
        elif extra is not None:
            _validate(x[key], extra, _child(path, key), causes)
        elif extra_false:
            causes.append(
                invalid(path, key, f"{_child(path, key)} in body is a forbidden property")
            )
    if len(causes) > before and len(x) > 1:
        del causes[before:]
        for key in sorted(x):
            if key in props:
                _validate(x[key], cast(_Node, props[key]), _child(path, key), causes)
            elif extra is not None:
                _validate(x[key], extra, _child(path, key), causes)
            elif extra_false:
                causes.append(
                    invalid(path, key, f"{_child(path, key)} in body is a forbidden property")
                )
    for key in s.required:
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


# -- x-kubernetes-list-type and embedded resources ---------------------------------------------


def _validate_list_types(x: Any, s: _Node | None, path: str, causes: list[Cause]) -> None:
    """listtype.ValidateListSetsAndMaps: no duplicate items in sets, no duplicate keys in maps."""
    if s is None or not s.needs_list_types:
        return
    if isinstance(x, dict):
        for key in sorted(x):
            _validate_list_types(x[key], _field_schema(key, s), _child(path, key), causes)
    elif isinstance(x, list):
        list_type = s.list_type
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
            raw_keys = s.raw.get("x-kubernetes-list-map-keys") or []
            keys = [k for k in raw_keys if isinstance(k, str)]
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
        items = s.items
        for i, item in enumerate(x):
            _validate_list_types(item, items, _index(path, i), causes)


def _validate_embedded(
    x: Any, s: _Node | None, path: str, causes: list[Cause], *, root: bool = False
) -> None:
    """objectmeta validateEmbeddedResource: apiVersion and kind are required strings."""
    if s is None or not s.needs_embedded:
        return
    if isinstance(x, dict):
        embedded = s.embedded
        if not root and embedded:
            for key in ("apiVersion", "kind"):
                value = x.get(key)
                if key not in x:
                    causes.append(required(_child(path, key), "must not be empty"))
                elif not isinstance(value, str):
                    causes.append(invalid(_child(path, key), value, "must be a string"))
                elif not value:
                    causes.append(invalid(_child(path, key), value, "must not be empty"))
        for key, value in x.items():
            if key not in _META_FIELDS or not (root or embedded):
                _validate_embedded(value, _field_schema(key, s), _child(path, key), causes)
    elif isinstance(x, list):
        for i, item in enumerate(x):
            _validate_embedded(item, s.items, _index(path, i), causes)


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
