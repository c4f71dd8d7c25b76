"""Field management: metadata.managedFields and server-side apply, after
sigs.k8s.io/structured-merge-diff (typed compare/merge, field sets, the merge.Updater) and
k8s.io/apiserver pkg/endpoints/handlers/fieldmanager (managers, strip, reset fields).

A field set is a set of paths (`set[Path]`); a path is a tuple of elements as FieldsV1
writes them: `f:name` (a field), `k:{"type":"Ready"}` (an item of a list keyed by those
fields), `v:"value"` (an item of a set). How a value is walked (which maps are granular, which lists
atomic, sets or keyed) comes from a `Node` schema: from the CRD's structural schema for
custom resources, from the Go types' tags for the built-in kinds.

Every write records which manager set which fields ("Update" entries: the fields it added
or changed, taken from whoever had them); an apply ("Apply" entry) declares the fields of
its configuration, merges it into the object, removes what it stopped declaring unless
someone else owns it, and fails with conflicts for fields another manager owns with a
different value (unless forced).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelsync_sandbox.kube.meta import clone, json_equal

Path = tuple[str, ...]
JsonObject = dict[str, Any]

UPDATE = "Update"
APPLY = "Apply"
FIELDS_V1 = "FieldsV1"

SCALAR, STRUCT, MAP, ATOMIC = "scalar", "struct", "map", "atomic"
LIST_ATOMIC, LIST_SET, LIST_MAP = "list-atomic", "list-set", "list-map"
DEDUCED = "deduced"

# isinstance() arguments, made once (an `X | Y` in the call makes a new union every time).
_CONTAINERS = (dict, list)
_MAP_OR_NONE = (dict, type(None))
_LIST_OR_NONE = (list, type(None))


@dataclass(frozen=True)
class Node:
    """How a value is walked: `kind` is one of the constants above."""

    kind: str
    fields: Mapping[str, Node] = field(default_factory=dict)
    elem: Node | None = None  # a map's values, a list's items
    keys: tuple[str, ...] = ()  # a keyed list's key fields

    def child(self, name: str) -> Node:
        if self.kind == DEDUCED:
            return _DEDUCED
        if name in self.fields:
            return self.fields[name]
        return self.elem if self.elem is not None else _DEDUCED


_DEDUCED = Node(DEDUCED)
_SCALAR = Node(SCALAR)
_ATOMIC = Node(ATOMIC)


def _struct(**fields: Node) -> Node:
    return Node(STRUCT, fields)


def _map(elem: Node = _SCALAR) -> Node:
    return Node(MAP, elem=elem)


def _list(kind: str = LIST_ATOMIC, elem: Node = _SCALAR, keys: tuple[str, ...] = ()) -> Node:
    return Node(kind, elem=elem, keys=keys)


def _effective(node: Node, value: Any) -> str:
    """What to do with a value: deduced values are maps (granular), lists (atomic), scalars."""
    if node.kind != DEDUCED:
        return node.kind
    if isinstance(value, dict):
        return MAP
    if isinstance(value, list):
        return LIST_ATOMIC
    return SCALAR


# -- schemas -------------------------------------------------------------------------------

OBJECT_META = _struct(
    labels=_map(),
    annotations=_map(),
    finalizers=_list(LIST_SET),
    ownerReferences=_list(LIST_MAP, _ATOMIC, ("uid",)),
    managedFields=_list(LIST_ATOMIC, _ATOMIC),
)
_CONDITIONS = _list(LIST_MAP, _struct(), ("type",))


def _root(**fields: Node) -> Node:
    return _struct(apiVersion=_SCALAR, kind=_SCALAR, metadata=OBJECT_META, **fields)


DEDUCED_ROOT = _root()

# The built-in kinds, from their Go types' tags (+listType, +mapType, +structType).
BUILTIN_SCHEMAS: dict[str, Node] = {
    "/secrets": _root(data=_map(), stringData=_map()),
    "/configmaps": _root(data=_map(), binaryData=_map()),
    "/namespaces": _root(spec=_struct(finalizers=_list()), status=_struct(conditions=_CONDITIONS)),
    "/events": _root(
        involvedObject=_ATOMIC,
        related=_ATOMIC,
        source=_struct(),
        series=_struct(),
    ),
    "events.k8s.io/events": _root(
        regarding=_ATOMIC,
        related=_ATOMIC,
        deprecatedSource=_struct(),
        series=_struct(),
    ),
    "coordination.k8s.io/leases": _root(spec=_struct()),
    "apiextensions.k8s.io/customresourcedefinitions": _root(
        spec=_struct(
            names=_struct(shortNames=_list(), categories=_list()),
            versions=_list(LIST_ATOMIC, _ATOMIC),
            conversion=_struct(webhook=_struct(conversionReviewVersions=_list())),
        ),
        status=_struct(
            conditions=_CONDITIONS,
            acceptedNames=_struct(shortNames=_list(), categories=_list()),
            storedVersions=_list(),
        ),
    ),
}

# The struct fields of each built-in kind's Go type, as a freshly made object has them:
# structured-merge-diff sees a Go struct with every struct field there (also empty, also
# omitempty ones), nil pointers, maps and slices of omitempty fields not.
ZERO_OBJECTS: dict[str, JsonObject] = {
    "/namespaces": {"spec": {}, "status": {}},
    "coordination.k8s.io/leases": {"spec": {}},
    "/events": {
        "involvedObject": {},
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
    },
    "events.k8s.io/events": {
        "eventTime": None,
        "regarding": {},
        "deprecatedSource": {},
        "deprecatedFirstTimestamp": None,
        "deprecatedLastTimestamp": None,
    },
    "apiextensions.k8s.io/customresourcedefinitions": {
        "spec": {"group": "", "names": {"plural": "", "kind": ""}, "scope": "", "versions": None},
        "status": {
            "acceptedNames": {"plural": "", "kind": ""},
            "conditions": None,
            "storedVersions": None,
        },
    },
}


def typed_view(skey: str, obj: Any, builtin: bool, schema: Node) -> Any:
    """An object as structured-merge-diff sees it. Custom resources as they are; a built-in
    one as its Go struct: the struct fields always there, empty maps not."""
    if not builtin:
        return obj

    def fill(zero: Any, value: Any) -> Any:
        if isinstance(zero, dict) and isinstance(value, dict):
            out = {k: fill(zero[k], v) if k in zero else v for k, v in value.items()}
            for key, empty in zero.items():
                out.setdefault(key, clone(empty))
            return out
        return value

    def drop_empty_maps(value: Any, node: Node) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                child = node.child(key)
                item = drop_empty_maps(item, child)
                if isinstance(item, dict) and not item and _effective(child, item) == MAP:
                    continue
                out[key] = item
            return out
        if isinstance(value, list):
            return [drop_empty_maps(v, node.elem or _DEDUCED) for v in value]
        return value

    return drop_empty_maps(fill(ZERO_OBJECTS.get(skey, {}), obj), schema)


def crd_schema(openapi: Mapping[str, Any] | None) -> Node:
    """The Node of a custom resource from its version's openAPIV3Schema."""
    body = _from_openapi(openapi) if openapi else _DEDUCED
    fields = dict(body.fields) if body.kind == STRUCT else {}
    fields.update(apiVersion=_SCALAR, kind=_SCALAR, metadata=OBJECT_META)
    return Node(STRUCT, fields, elem=body.elem if body.kind == STRUCT else None)


def _from_openapi(schema: Mapping[str, Any]) -> Node:
    if schema.get("x-kubernetes-preserve-unknown-fields") is True and not schema.get("properties"):
        return _DEDUCED
    if schema.get("x-kubernetes-int-or-string") is True:
        return _SCALAR
    kind = schema.get("type")
    if kind == "object":
        if schema.get("x-kubernetes-map-type") == "atomic":
            return _ATOMIC
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        elem = None
        if isinstance(extra, Mapping):
            elem = _from_openapi(extra)
        elif schema.get("x-kubernetes-preserve-unknown-fields") is True:
            elem = _DEDUCED
        if props:
            return Node(STRUCT, {k: _from_openapi(v) for k, v in props.items()}, elem=elem)
        return Node(MAP, elem=elem or _DEDUCED)
    if kind == "array":
        items = schema.get("items")
        elem = _from_openapi(items) if isinstance(items, Mapping) else _DEDUCED
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            return _list(LIST_SET, elem)
        if list_type == "map":
            keys = tuple(str(k) for k in schema.get("x-kubernetes-list-map-keys") or ())
            return _list(LIST_MAP, elem, keys)
        return _list(LIST_ATOMIC, elem)
    return _SCALAR


# -- path elements ---------------------------------------------------------------------------


# How json.dumps(ensure_ascii=False) writes a string.
_json_string: Callable[[str], str] = json.encoder.encode_basestring


def _compact(value: Any) -> str:
    if type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        # The usual list-map key ({"type":"Ready"}), written as json.dumps would.
        members = (f"{_json_string(k)}:{_json_string(v)}" for k, v in sorted(value.items()))
        return "{" + ",".join(members) + "}"
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _item_element(node: Node, item: Any) -> str | None:
    """The path element of a list item: `k:{...}` for keyed lists, `v:...` for sets."""
    if node.kind == LIST_SET:
        return "v:" + _compact(item)
    if node.kind == LIST_MAP and isinstance(item, dict):
        return "k:" + _compact({k: item[k] for k in sorted(node.keys) if k in item})
    return None


def path_string(path: Path) -> str:
    """fieldpath.Path.String(): `.spec.size`, `[type="Ready"]`, `[="value"]`."""
    out = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            keys = json.loads(rest)
            out.append("[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            out.append("[=" + rest + "]")
        else:
            out.append("[" + rest + "]")
    return "".join(out)


# -- field sets ------------------------------------------------------------------------------


def to_field_set(value: Any, node: Node, prefix: Path = ()) -> set[Path]:
    """typed.ToFieldSet, what an applied configuration declares: every leaf, atomic value,
    list item, map entry and empty or null value; a struct's own fields holding a map or a
    list are only the way to what they hold."""
    out: set[Path] = set()
    kind = _effective(node, value)
    if kind in (STRUCT, MAP) and isinstance(value, dict):
        for key, item in value.items():
            path = (*prefix, f"f:{key}")
            child = node.child(key)
            out |= to_field_set(item, child, path)
            declared = node.kind == STRUCT and key in node.fields
            leaf = _effective(child, item) in (SCALAR, ATOMIC, LIST_ATOMIC)
            if leaf or (_empty(item) and not isinstance(item, list)) or not declared:
                out.add(path)
    elif kind in (LIST_SET, LIST_MAP) and isinstance(value, list):
        for item in value:
            element = _item_element(node, item)
            if element is None:
                continue
            path = (*prefix, element)
            out.add(path)
            if kind == LIST_MAP:
                out |= to_field_set(item, node.elem or _DEDUCED, path)
    return out


def _all_paths(value: Any, node: Node, prefix: Path, out: set[Path]) -> None:
    """Every path under a value that a write added, into `out`: each map field, list item
    and leaf."""
    kind = _effective(node, value)
    if kind in (STRUCT, MAP) and isinstance(value, dict):
        for key, item in value.items():
            path = (*prefix, f"f:{key}")
            out.add(path)
            if isinstance(item, _CONTAINERS):  # (nothing is under a scalar)
                _all_paths(item, node.child(key), path, out)
    elif kind in (LIST_SET, LIST_MAP) and isinstance(value, list):
        for item in value:
            element = _item_element(node, item)
            if element is None:
                continue
            path = (*prefix, element)
            out.add(path)
            if kind == LIST_MAP and isinstance(item, _CONTAINERS):
                _all_paths(item, node.elem or _DEDUCED, path, out)


@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)


_MISSING = object()


def compare(
    lhs: Any, rhs: Any, node: Node, skip: frozenset[Path] | tuple[Path, ...] = ()
) -> Comparison:
    """typed.Compare: what changed from `lhs` to `rhs`, path by path. A map or list item
    only in `rhs` is added with everything under it; a changed leaf (or atomic value) is
    modified. Nothing at or under a `skip` path is looked at (nor reported)."""
    result = Comparison()
    _compare(lhs, rhs, node, (), result, skip)
    return result


# Values json_equal finds equal to themselves (a float may be NaN).
_PLAIN_TYPES = frozenset((str, int, bool, type(None)))


def _self_equal(value: Any) -> bool:
    """json_equal(value, value) all the way down: no NaN anywhere in it (and only JSON
    types). Comparing such a value with itself finds nothing at any path under it."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return True
    if kind is float:
        return bool(value == value)
    if kind is dict:
        return all(type(item) in _PLAIN_TYPES or _self_equal(item) for item in value.values())
    if kind is list:
        return all(type(item) in _PLAIN_TYPES or _self_equal(item) for item in value)
    return False


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, _CONTAINERS) and not value)


def _compare(
    lhs: Any,
    rhs: Any,
    node: Node,
    path: Path,
    out: Comparison,
    skip: frozenset[Path] | tuple[Path, ...],
) -> None:
    """Two present values at `path`: leaves (and atomic values, and two empty ones) are
    equal or modified; maps and keyed lists are compared item by item."""
    if lhs is rhs and _self_equal(lhs):
        return  # one value (shared by two versions of an object) is equal to itself
    kind = _effective(node, rhs if rhs is not None else lhs)
    granular_map = (
        kind in (STRUCT, MAP) and isinstance(lhs, _MAP_OR_NONE) and isinstance(rhs, _MAP_OR_NONE)
    )
    granular_list = (
        kind in (LIST_SET, LIST_MAP)
        and isinstance(lhs, _LIST_OR_NONE)
        and isinstance(rhs, _LIST_OR_NONE)
    )
    if not (granular_map or granular_list) or (_empty(lhs) and _empty(rhs)):
        if path and not json_equal(lhs, rhs):
            out.modified.add(path)
        return
    if granular_map:
        left = lhs if isinstance(lhs, dict) else {}
        right = rhs if isinstance(rhs, dict) else {}
        for key in list(left) + [k for k in right if k not in left]:
            child = (*path, f"f:{key}")
            if child in skip:
                continue
            a, b = left.get(key, _MISSING), right.get(key, _MISSING)
            _item(a, b, node.child(key), child, out, skip)
        return
    left_items = _index_items(node, lhs)
    right_items = _index_items(node, rhs)
    elem = node.elem or _DEDUCED
    for element in list(left_items) + [e for e in right_items if e not in left_items]:
        child = (*path, element)
        if child in skip:
            continue
        a, b = left_items.get(element, _MISSING), right_items.get(element, _MISSING)
        if kind == LIST_SET:
            if a is _MISSING:
                out.added.add(child)
            elif b is _MISSING:
                out.removed.add(child)
        else:
            _item(a, b, elem, child, out, skip)


def _item(
    a: Any,
    b: Any,
    node: Node,
    path: Path,
    out: Comparison,
    skip: frozenset[Path] | tuple[Path, ...],
) -> None:
    """A map field or keyed-list item: added or removed whole, or compared inside."""
    if a is _MISSING and b is not _MISSING:
        out.added.add(path)
        _all_paths(b, node, path, out.added)
    elif b is _MISSING and a is not _MISSING:
        out.removed.add(path)
        _all_paths(a, node, path, out.removed)
    else:
        _compare(a, b, node, path, out, skip)


def _index_items(node: Node, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, list):
        for item in value:
            element = _item_element(node, item)
            if element is not None:
                out.setdefault(element, item)
    return out


# -- merging (apply) -----------------------------------------------------------------------


def merge(lhs: Any, rhs: Any, node: Node) -> Any:
    """typed.Merge: `rhs` (an applied configuration) over `lhs` (the live object)."""
    kind = _effective(node, rhs if rhs is not None else lhs)
    if kind in (STRUCT, MAP) and isinstance(lhs, dict) and isinstance(rhs, dict):
        out = {k: clone(v) for k, v in lhs.items()}
        for key, value in rhs.items():
            out[key] = merge(lhs[key], value, node.child(key)) if key in lhs else clone(value)
        return out
    if kind in (LIST_SET, LIST_MAP) and isinstance(lhs, list) and isinstance(rhs, list):
        return _merge_list(node, lhs, rhs)
    return clone(rhs)


def _merge_list(node: Node, lhs: list[Any], rhs: list[Any]) -> list[Any]:
    """visitListItems: items keep the live order, config items merge into theirs; new ones
    come where the configuration puts them relative to the shared ones."""
    elem = node.elem or _DEDUCED

    def element(item: Any) -> str:
        found = _item_element(node, item)
        return found if found is not None else _compact(item)

    left = [(element(i), i) for i in lhs]
    right = [(element(i), i) for i in rhs]
    left_keys = {e for e, _ in left}
    right_map = dict(right)
    shared = [e for e, _ in right if e in left_keys]
    out: list[Any] = []
    done: set[str] = set()
    li = ri = 0
    next_shared = shared.pop(0) if shared else None

    def merged(e: str, lhs_item: Any) -> Any:
        rhs_item = right_map.get(e, _MISSING)
        if rhs_item is _MISSING:
            return clone(lhs_item)
        if node.kind == LIST_MAP:
            return merge(lhs_item, rhs_item, elem)
        return clone(rhs_item)

    left_map = dict(left)
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right):
            e = left[li][0]
            if e == right[ri][0]:
                done.add(e)
                out.append(merged(e, left[li][1]))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if e in right_map and next_shared is not None and next_shared != e:
                li += 1
                continue
        if li < len(left):
            e = left[li][0]
            if e not in right_map:
                out.append(clone(left[li][1]))
                li += 1
                continue
            if e in done:
                li += 1
                continue
        if ri < len(right):
            e = right[ri][0]
            done.add(e)
            out.append(merged(e, left_map[e]) if e in left_map else clone(right[ri][1]))
            ri += 1
            if next_shared is not None and next_shared == e:
                next_shared = shared.pop(0) if shared else None
    return out


def remove_paths(value: Any, node: Node, drop: set[Path], keep: set[Path], path: Path = ()) -> Any:
    """The value without the items at `drop` paths, except where `keep` (owned) paths are at
    or under them: then only the unkept parts go (the pruning of an apply)."""
    kind = _effective(node, value)
    if kind in (STRUCT, MAP) and isinstance(value, dict):
        out = {}
        for key, item in value.items():
            child = (*path, f"f:{key}")
            if child in drop and not _owns_within(keep, child):
                continue
            out[key] = remove_paths(item, node.child(key), drop, keep, child)
        return out
    if kind in (LIST_SET, LIST_MAP) and isinstance(value, list):
        kept = []
        for item in value:
            element = _item_element(node, item)
            child = (*path, element) if element is not None else path
            if element is not None and child in drop and not _owns_within(keep, child):
                continue
            if kind == LIST_MAP and element is not None:
                item = remove_paths(item, node.elem or _DEDUCED, drop, keep, child)
            kept.append(item)
        return kept
    return value


def _owns_within(owned: set[Path], path: Path) -> bool:
    size = len(path)
    return any(p[:size] == path for p in owned)


# -- FieldsV1 --------------------------------------------------------------------------------


def encode(paths: Iterable[Path]) -> JsonObject:
    """A field set as FieldsV1: nested objects, `.` marking a node that is itself a member."""
    members = set(paths)
    root: JsonObject = {}
    for path in sorted(members):
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in members:
        node = root
        for element in path:
            node = node[element]
        if node:
            node["."] = {}
    return _sorted_tree(root)


# Field sets -> their FieldsV1, as recently rendered: objects of one kind written the same
# way have the same sets. The FieldsV1 go into stored objects, which are never changed.
# Read back by identity too: those FieldsV1 objects decode to the sets they were made of.
_RENDERED: dict[frozenset[Path], JsonObject] = {}
_RENDERED_BY_ID: dict[int, tuple[JsonObject, frozenset[Path]]] = {}
_RENDERED_SIZE = 512


def _rendered(paths: set[Path]) -> JsonObject:
    key = frozenset(paths)
    found = _RENDERED.get(key)
    if found is None:
        found = encode(key)
        if len(_RENDERED) >= _RENDERED_SIZE:
            _RENDERED.clear()
            _RENDERED_BY_ID.clear()
        _RENDERED[key] = found
        _RENDERED_BY_ID[id(found)] = (found, key)
    return found


def _decoded(fields: Any) -> set[Path]:
    known = _RENDERED_BY_ID.get(id(fields))
    if known is not None and known[0] is fields:
        return set(known[1])
    return decode(fields)


def _sorted_tree(tree: JsonObject) -> JsonObject:
    return {k: _sorted_tree(tree[k]) for k in sorted(tree)}


def decode(fields: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return out
    for element, child in fields.items():
        if element == ".":
            if prefix:
                out.add(prefix)
            continue
        path = (*prefix, str(element))
        if isinstance(child, dict) and child and set(child) != {"."}:
            out |= decode(child, path)
        else:
            out.add(path)
    return out


# -- managers --------------------------------------------------------------------------------


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: set[Path]

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers are one manager across versions: their identity has no apiVersion.
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def to_dict(self) -> JsonObject:
        out: JsonObject = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = FIELDS_V1
        out["fieldsV1"] = _rendered(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def parse_entries(value: Any) -> list[Entry] | None:
    """metadata.managedFields as entries; None if absent, empty or malformed (the server
    then keeps what it had)."""
    if not isinstance(value, list) or not value:
        return None
    out = []
    for item in value:
        if not isinstance(item, dict) or item.get("operation") not in (UPDATE, APPLY):
            return None
        out.append(
            Entry(
                manager=str(item.get("manager") or ""),
                operation=str(item["operation"]),
                api_version=str(item.get("apiVersion") or ""),
                subresource=str(item.get("subresource") or ""),
                time=item.get("time") if isinstance(item.get("time"), str) else None,
                fields=_decoded(item.get("fieldsV1")),
            )
        )
    return out


def render_entries(entries: list[Entry]) -> list[JsonObject]:
    """Apply entries first, then by time, manager, apiVersion, subresource."""
    ordered = sorted(
        (e for e in entries if e.fields),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource),
    )
    return [e.to_dict() for e in ordered]


# Paths no manager owns (fieldmanager StripMetaManager).
_STRIPPED: frozenset[Path] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:selfLink"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:clusterName"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:resourceVersion"),
    }
)


def _strip(paths: set[Path], ignored: tuple[Path, ...]) -> set[Path]:
    """`paths` without those no manager owns and those at or under an `ignored` prefix."""
    firsts = {prefix[0] for prefix in ignored if len(prefix) == 1}
    longer = [prefix for prefix in ignored if len(prefix) != 1]
    kept: set[Path] = set()
    for p in paths:
        if p in _STRIPPED:
            continue
        if len(p) > 1 and p[1] == "f:managedFields" and p[0] == "f:metadata":
            continue
        if firsts and p and p[0] in firsts:
            continue
        if longer and any(p[: len(prefix)] == prefix for prefix in longer):
            continue
        kept.add(p)
    return kept


def _body(obj: Any) -> Any:
    """The object without managedFields (they are not part of what is compared)."""
    if not isinstance(obj, dict):
        return obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = {k: v for k, v in meta.items() if k != "managedFields"}
        return {**obj, "metadata": meta}
    return obj


@dataclass(frozen=True)
class Conflict:
    manager: Entry
    path: Path


class ConflictError(Exception):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def _shown(entry: Entry) -> str:
    """printManager: the name, `with subresource`, and `using <apiVersion>` for updaters."""
    text = json.dumps(entry.manager)
    if entry.subresource:
        text += f" with subresource {json.dumps(entry.subresource)}"
    if entry.operation == UPDATE:
        text += f" using {entry.api_version}"
        if entry.time:
            text += f" at {entry.time}"
    return text


def conflict_status(conflicts: list[Conflict]) -> tuple[str, list[JsonObject]]:
    """The message and causes of an apply conflict (fieldmanager NewConflictError)."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_shown(c.manager)}",
            "field": path_string(c.path),
        }
        for c in conflicts
    ]
    if len(conflicts) == 1:
        only = conflicts[0]
        return (
            f"Apply failed with 1 conflict: conflict with {_shown(only.manager)}: "
            f"{path_string(only.path)}",
            causes,
        )
    by_manager: dict[str, list[str]] = {}
    for c in conflicts:
        by_manager.setdefault(_shown(c.manager), []).append(path_string(c.path))
    lines = []
    for manager in sorted(by_manager):
        lines.append(f"conflicts with {manager}:")
        lines += [f"- {p}" for p in by_manager[manager]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines), causes


@dataclass
class FieldManager:
    """The field manager of one resource type (and subresource)."""

    schema: Node
    api_version: str
    skey: str
    builtin: bool
    subresource: str = ""
    ignored: tuple[Path, ...] = ()  # reset fields: never owned through this endpoint

    def _view(self, obj: Any) -> Any:
        return typed_view(self.skey, _body(obj), self.builtin, self.schema)

    def zero(self, obj: JsonObject) -> JsonObject:
        """The object a create is compared against (a new, empty Go object of the kind)."""
        base = clone(ZERO_OBJECTS.get(self.skey, {})) if self.builtin else {}
        return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), **base}

    def update(
        self,
        live: JsonObject,
        new: JsonObject,
        entries: list[Entry],
        manager: str,
        now: str,
    ) -> list[Entry]:
        """A non-apply write by `manager`: it owns what it added or changed, others lose
        what it changed or removed (merge.Updater.Update behind managedFieldsUpdater)."""
        # What it may not change is not compared (it would be stripped right away).
        diff = compare(self._view(live), self._view(new), self.schema, self.ignored)
        changed = _strip(diff.modified | diff.added, self.ignored)
        removed = _strip(diff.removed, self.ignored)
        entries = [_copy(e) for e in entries]
        for entry in entries:
            entry.fields -= changed
            entry.fields -= removed
        mine = changed - removed
        me = Entry(manager, UPDATE, self.api_version, self.subresource, now, set())
        previous = next((e for e in entries if e.identity == me.identity), None)
        if mine:
            if previous is not None:
                entries.remove(previous)
                me.fields = mine | previous.fields
            else:
                me.fields = mine
            entries.append(me)
        return [e for e in entries if e.fields]

    def apply(
        self,
        live: JsonObject,
        config: JsonObject,
        entries: list[Entry],
        manager: str,
        now: str,
        *,
        force: bool,
        allowed_conflicts: set[Path] | None = None,
    ) -> tuple[JsonObject, list[Entry]]:
        """Server-side apply (merge.Updater.Apply): the merged object and the managers.
        `allowed_conflicts`: fields taken over without a conflict (kubectl's upgrade from
        client-side apply: what its last-applied annotation still says)."""
        live_view = self._view(live)
        merged = merge(live_view, config, self.schema)
        me = Entry(manager, APPLY, self.api_version, self.subresource, now, set())
        entries = [_copy(e) for e in entries]
        previous = next((e for e in entries if e.identity == me.identity), None)
        me.fields = _strip(to_field_set(config, self.schema), self.ignored)
        others = [e for e in entries if e is not previous]
        if previous is not None and previous.fields:
            owned = set(me.fields).union(*(e.fields for e in others))
            merged = remove_paths(merged, self.schema, previous.fields - owned, owned)
        diff = compare(live_view, self._view(merged), self.schema)
        changed = _strip(diff.modified | diff.added, self.ignored)
        removed = _strip(diff.removed, self.ignored)
        conflicts = [Conflict(e, p) for e in others for p in sorted(e.fields & changed)]
        allowed = allowed_conflicts or set()
        if conflicts and not force and not {c.path for c in conflicts} <= allowed:
            kept = [c for c in conflicts if c.path not in allowed]
            raise ConflictError(sorted(kept, key=lambda c: (c.manager.manager, c.path)))
        for entry in others:
            entry.fields -= changed | removed
        if not changed and not removed:
            # Nothing changed: the applier's entry keeps the time it had (none if new).
            me.time = previous.time if previous is not None else None
        meta = dict(merged.get("metadata") or {})
        meta.pop("managedFields", None)
        return {**merged, "metadata": meta}, [*(e for e in others if e.fields), me]


def _copy(entry: Entry) -> Entry:
    return Entry(
        entry.manager,
        entry.operation,
        entry.api_version,
        entry.subresource,
        entry.time,
        set(entry.fields),
    )
