"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch.

Every function is pure: it returns a new document and never changes its arguments.

Status codes (k8s.io/apiserver/pkg/endpoints/handlers/patch.go): a JSON patch that does not
apply (a failed `test`, a missing path, an unknown op) is answered with
`errors.NewGenericServerResponse(422, ...)`, i.e. 422 Invalid with the fixed message "the
server rejected our request due to an error in our request" and no causes — the detail is not
shown to the client. Strategic-merge-patch directive errors are 400 BadRequest with the
message (interpretStrategicMergePatchError).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelsync_sandbox.kube.meta import clone, json_equal

GENERIC_422_MESSAGE = "the server rejected our request due to an error in our request"


class PatchError(ValueError):
    """A patch the real API refuses; `status_code` is what it answers, `detail` says why."""

    def __init__(self, detail: str, status_code: int = 422) -> None:
        self.detail = detail
        self.status_code = status_code
        super().__init__(GENERIC_422_MESSAGE if status_code == 422 else detail)


# -- RFC 7386 -----------------------------------------------------------------------------------


def json_merge_patch(target: Any, patch: Any, *, share: bool = False) -> Any:
    """RFC 7386 MergePatch: objects merge recursively, null deletes, anything else replaces.

    `share`: what the patch leaves alone is `target`'s own (not copied), for a caller that
    changes neither."""
    if not isinstance(patch, dict):
        return clone(patch)
    result: dict[str, Any] = {}
    if isinstance(target, dict):
        result = dict(target) if share else {k: clone(v) for k, v in target.items()}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value, share=share)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The RFC 7386 patch that turns `original` into `modified` (objects diffed recursively)."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return clone(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = clone(value)
        elif original[key] != value or type(original[key]) is not type(value):
            if isinstance(original[key], dict) and isinstance(value, dict):
                patch[key] = create_merge_patch(original[key], value)
            else:
                patch[key] = clone(value)
    return patch


# -- RFC 6902 -----------------------------------------------------------------------------------


def parse_pointer(pointer: str) -> list[str]:
    """RFC 6901 JSON pointer to reference tokens (`~1` is "/", `~0` is "~")."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f'JSON pointer must be empty or start with a "/": {pointer!r}')
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _index(token: str, size: int, *, for_add: bool, path: str) -> int:
    """An array index; "-" is the end (add only). Negative indices count from the end, as
    evanphx/json-patch (the API server's library) allows by default."""
    end_of_array = "-"
    if token == end_of_array and for_add:
        return size
    try:
        index = int(token)
    except ValueError:
        raise PatchError(f"invalid array index {token!r} in {path!r}") from None
    if token.strip() != token or (token.startswith("0") and len(token) > 1):
        raise PatchError(f"invalid array index {token!r} in {path!r}")
    if index < 0:
        index += size
    limit = size if for_add else size - 1
    if index < 0 or index > limit:
        raise PatchError(f"array index {token} out of bounds in {path!r}")
    return index


def _resolve_parent(doc: Any, tokens: list[str], path: str, op: str) -> Any:
    current = doc
    for token in tokens[:-1]:
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}")
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(token, len(current), for_add=False, path=path)]
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}")
    return current


def _get(doc: Any, path: str, op: str) -> Any:
    tokens = parse_pointer(path)
    if not tokens:
        return doc
    parent = _resolve_parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path!r}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(last, len(parent), for_add=False, path=path)]
    raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    tokens = parse_pointer(path)
    if not tokens:
        return value
    parent = _resolve_parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), for_add=True, path=path), value)
    else:
        raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    """The document without the value at `path`, and that value."""
    tokens = parse_pointer(path)
    if not tokens:
        raise PatchError(f"{op} operation does not apply: cannot remove the whole document")
    parent = _resolve_parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path!r}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(last, len(parent), for_add=False, path=path))
    raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}")


def _member(op: Mapping[str, Any], name: str, kind: str) -> Any:
    if name not in op:
        raise PatchError(f'{kind} operation is missing "{name}"')
    value = op[name]
    if name in ("path", "from") and not isinstance(value, str):
        raise PatchError(f'{kind} operation has a non-string "{name}"')
    return value


def _apply_one(doc: Any, op: Mapping[str, Any]) -> Any:
    if not isinstance(op, Mapping):
        raise PatchError("a JSON patch operation must be an object")
    kind = op.get("op")
    if kind == "add":
        return _add(doc, _member(op, "path", kind), clone(_member(op, "value", kind)))
    if kind == "remove":
        return _remove(doc, _member(op, "path", kind))[0]
    if kind == "replace":
        path = _member(op, "path", kind)
        value = clone(_member(op, "value", kind))
        if not parse_pointer(path):
            return value
        doc, _ = _remove(doc, path, "replace")
        return _add(doc, path, value, "replace")
    if kind == "move":
        source, path = _member(op, "from", kind), _member(op, "path", kind)
        if path != source and path.startswith(source + "/"):
            raise PatchError(f"move operation cannot move {source!r} into its own child {path!r}")
        doc, value = _remove(doc, source, "move")
        return _add(doc, path, value, "move")
    if kind == "copy":
        value = clone(_get(doc, _member(op, "from", kind), "copy"))
        return _add(doc, _member(op, "path", kind), value, "copy")
    if kind == "test":
        path = _member(op, "path", kind)
        expected = _member(op, "value", kind)
        try:
            actual = _get(doc, path, "test")
        except PatchError:
            # evanphx/json-patch: a missing path passes a test for null, fails any other.
            if expected is None:
                return doc
            raise PatchError(f"testing value {path} failed") from None
        if not json_equal(actual, expected):
            raise PatchError(f"testing value {path} failed")
        return doc
    raise PatchError(f"Unexpected kind: {kind}")


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902: apply add/remove/replace/move/copy/test in order; all or nothing."""
    doc = clone(target)
    for op in ops:
        doc = _apply_one(doc, op)
    return doc


# -- strategic merge patch (subset) ---------------------------------------------------------------

# Merge keys from the Go struct tags (patchStrategy:"merge" patchMergeKey:"..."), looked up by
# field name wherever the field occurs.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
# Lists of scalars with patchStrategy "merge": union instead of replacement.
MERGED_SCALAR_LISTS = frozenset({"finalizers"})

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/"
_SET_ELEMENT_ORDER = "$setElementOrder/"


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A pragmatic subset of strategic merge patch, enough for kubectl on built-in kinds.

    Supported: maps merge like RFC 7386 (null deletes); `$patch: replace` / `$patch: delete`
    on maps and on list items; `$retainKeys`; `$deleteFromPrimitiveList/<field>`;
    `$setElementOrder/<field>` (listed items first, in that order); lists named in MERGE_KEYS
    merged item by item on their merge key; `finalizers` merged as a set.

    Gap: the real one reads merge keys and strategies from each Go type's struct tags at each
    path; here they are looked up by field name only, so a list with the same name in another
    type merges the same way, and any other list is replaced whole.
    """
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object", 400)
    result = _smp_map(target if isinstance(target, dict) else {}, patch)
    return {} if result is None else result


def _smp_map(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any] | None:
    directive = patch.get(_PATCH)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if k != _PATCH and not k.startswith("$")}
    if directive is not None and directive != "merge":
        raise PatchError(f"Unknown patch type: {directive}, Unable to apply patch", 400)
    result = {k: clone(v) for k, v in target.items()}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key == _PATCH:
            continue
        if key == _RETAIN_KEYS:
            if not isinstance(value, list):
                raise PatchError("invalid patch: $retainKeys must be a list", 400)
            continue
        if key.startswith(_DELETE_FROM_PRIMITIVE):
            name = key[len(_DELETE_FROM_PRIMITIVE) :]
            if not isinstance(value, list):
                raise PatchError(f"invalid patch: {key} must be a list", 400)
            current = result.get(name)
            if isinstance(current, list):
                result[name] = [item for item in current if item not in value]
            continue
        if key.startswith(_SET_ELEMENT_ORDER):
            if not isinstance(value, list):
                raise PatchError(f"invalid patch: {key} must be a list", 400)
            orders[key[len(_SET_ELEMENT_ORDER) :]] = value
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(value, dict):
            merged = _smp_map(current if isinstance(current, dict) else {}, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(key, current if isinstance(current, list) else [], value)
        else:
            result[key] = clone(value)
    retain = patch.get(_RETAIN_KEYS)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _ordered(result[name], order, MERGE_KEYS.get(name))
    return result


def _smp_list(name: str, current: list[Any], patch: list[Any]) -> list[Any]:
    replace = [i for i in patch if isinstance(i, dict) and i.get(_PATCH) == "replace"]
    if replace:
        return [clone(i) for i in patch if not (isinstance(i, dict) and _PATCH in i)]
    key = MERGE_KEYS.get(name)
    if name in MERGED_SCALAR_LISTS:
        merged = [clone(i) for i in current]
        merged += [clone(i) for i in patch if i not in merged]
        return merged
    if key is None:
        return [clone(i) for i in patch]
    result = [clone(i) for i in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}", 400)
        position = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get(_PATCH) == "delete":
            if position is not None:
                del result[position]
            continue
        if position is None:
            added = _smp_map({}, item)
            if added is not None:
                result.append(added)
        else:
            updated = _smp_map(result[position], item)
            if updated is None:
                del result[position]
            else:
                result[position] = updated
    return result


def _ordered(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def identity(item: Any) -> Any:
        if key is not None and isinstance(item, dict):
            return item.get(key)
        return item

    wanted = [identity(o) for o in order]
    listed = sorted(
        (item for item in items if identity(item) in wanted),
        key=lambda i: wanted.index(identity(i)),
    )
    return listed + [item for item in items if identity(item) not in wanted]
