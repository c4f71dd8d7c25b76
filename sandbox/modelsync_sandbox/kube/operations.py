"""The semantics of writes: create, update, patch, delete, as kube-apiserver applies them.

Sources for the rules: k8s.io/apiserver pkg/registry/generic/registry/store.go
(preconditions, graceful deletion, finalizers, GC finalizers), pkg/registry/rest
(BeforeCreate/BeforeUpdate: server-owned metadata), apiextensions-apiserver
pkg/registry/customresource/strategy.go (status subresource, generation), and
the API conventions doc (metadata, spec and status).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelsync_sandbox.kube import causes as c
from modelsync_sandbox.kube import errors, kinds
from modelsync_sandbox.kube.errors import ApiError, JsonObject
from modelsync_sandbox.kube.meta import (
    OBJECT_META_FIELDS,
    clone,
    clone_object,
    finalizers,
    generate_name,
    is_deleting,
    new_uid,
    now_rfc3339,
    ordered,
)
from modelsync_sandbox.kube.patches import (
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)
from modelsync_sandbox.kube.resources import CRDS, EVENTS_V1, NAMESPACES, Registry, ResourceType
from modelsync_sandbox.kube.schema import apply_structural_schema
from modelsync_sandbox.kube.store import ADDED, DELETED, MODIFIED, Store
from modelsync_sandbox.kube.validation import (
    Cause,
    validate_annotations,
    validate_finalizers,
    validate_labels,
    validate_object_name,
)

FOREGROUND = "Foreground"
BACKGROUND = "Background"
ORPHAN = "Orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

_SERVER_OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")
RV_SET_ON_CREATE = "resourceVersion should not be set on objects to be created"


@dataclass
class WriteResult:
    """What a write produced: the object (as stored), whether it still exists, warnings."""

    obj: JsonObject
    exists: bool = True
    created: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeleteOptions:
    propagation: str = ""
    uid: str | None = None
    resource_version: str | None = None
    orphan_dependents: bool | None = None


FIELD_VALIDATION = ("", "Strict", "Warn", "Ignore")


class Operations:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    # -- reads ---------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> JsonObject:
        obj = self.store.get(rt.storage_key, (namespace if rt.namespaced else "", name))
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return obj

    # -- create --------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        *,
        dry_run: bool = False,
        field_validation: str = "",
    ) -> WriteResult:
        obj = self._decode(rt, body)
        meta = obj["metadata"]
        _place_in_namespace(rt, meta, namespace)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(str(meta["generateName"]))
        name = str(meta.get("name") or "")
        self._admit_create(rt, namespace, name)

        warnings = self._prune_known_fields(rt, obj, field_validation)
        body_rv = meta.get("resourceVersion")
        for key in ("resourceVersion", "managedFields", "selfLink", *_SERVER_OWNED):
            meta.pop(key, None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339()
        if rt.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if rt.custom and rt.has_status:
            obj.pop("status", None)

        found: list[Cause] = []
        if not name:
            found.append(c.required("metadata.name", "name or generateName is required"))
        else:
            found += validate_object_name(name, kinds.name_rule(rt), field="metadata.name")
        found += self._meta_causes(obj, None)
        found += kinds.prepare_create(rt, obj)
        obj, schema_causes, schema_warnings = self._apply_schema(rt, obj, field_validation)
        found += schema_causes
        warnings += schema_warnings
        if found:
            raise errors.invalid(rt.group, rt.kind, name, found)
        if body_rv and not dry_run:
            # etcd3 store.Create: storage.ErrResourceVersionSetOnCreate, answered as a 500.
            raise errors.internal_error(RV_SET_ON_CREATE)
        if self.store.get(rt.storage_key, (meta.get("namespace", ""), name)) is not None:
            raise errors.already_exists(rt.group, rt.plural, name)
        obj = ordered(obj)
        if not dry_run:
            self.store.commit(rt.storage_key, ADDED, obj)
        return WriteResult(obj, created=True, warnings=warnings)

    def _admit_create(self, rt: ResourceType, namespace: str, name: str) -> None:
        """Admission: the namespace exists and is not terminating; the CRD is not going."""
        if rt.namespaced:
            ns = self.store.get(NAMESPACES.storage_key, ("", namespace))
            if ns is None:
                raise errors.not_found("", "namespaces", namespace)
            if is_deleting(ns):
                raise errors.forbidden(
                    rt.group,
                    rt.plural,
                    name,
                    f"unable to create new content in namespace {namespace} because it is "
                    "being terminated",
                )
        if rt.custom:
            crd = self.store.get(CRDS.storage_key, ("", rt.crd_name))
            if crd is None or is_deleting(crd):
                raise errors.method_not_allowed(
                    "create not allowed while custom resource definition is terminating"
                )

    # -- update --------------------------------------------------------------------

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "",
    ) -> WriteResult:
        obj = self._decode(rt, body)
        self._check_identity(rt, namespace, name, obj)
        old = self.get(rt, namespace, name)
        rv = obj["metadata"].get("resourceVersion")
        if not rv and (rt.custom or rt is CRDS):
            # Custom resources (and CRDs) refuse unconditional updates.
            raise errors.invalid(
                rt.group,
                rt.kind,
                name,
                [
                    Cause(  # the Go value is a uint64 printed with %#v
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                        "metadata.resourceVersion",
                    )
                ],
            )
        return self._update_from(
            rt,
            old,
            obj,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
        )

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch: Any,
        content_type: str,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "",
    ) -> WriteResult:
        old = self.get(rt, namespace, name)
        current = clone_object(kinds.to_wire(rt, old))
        try:
            if content_type == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise errors.bad_request(
                        "json: cannot unmarshal into Go value of type map[string]interface {}"
                    )
                patched = json_merge_patch(current, patch)
            elif content_type == JSON_PATCH:
                if not isinstance(patch, list):
                    raise errors.bad_request(
                        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                    )
                patched = json_patch(current, patch)
            elif content_type == STRATEGIC_PATCH and not rt.custom:
                if not isinstance(patch, dict):
                    raise errors.bad_request(
                        "json: cannot unmarshal into Go value of type map[string]interface {}"
                    )
                patched = strategic_merge_patch(current, patch)
            else:
                raise errors.unsupported_media_type(self.patch_types(rt))
        except PatchError as exc:
            raise ApiError(exc.status_code, _reason(exc.status_code), str(exc)) from None
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        return self._update_from(
            rt,
            old,
            self._decode(rt, patched),
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
            patching=True,
        )

    @staticmethod
    def patch_types(rt: ResourceType) -> list[str]:
        if rt.custom:
            return [JSON_PATCH, MERGE_PATCH]
        return [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH]

    def _update_from(
        self,
        rt: ResourceType,
        old: JsonObject,
        obj: JsonObject,
        *,
        subresource: str,
        dry_run: bool,
        field_validation: str,
        patching: bool = False,
    ) -> WriteResult:
        meta = obj["metadata"]
        name = str(old["metadata"]["name"])
        if patching:
            self._check_identity(rt, str(old["metadata"].get("namespace", "")), name, obj)
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"].get("resourceVersion"):
            raise errors.stale(rt.group, rt.plural, name)
        warnings = self._prune_known_fields(rt, obj, field_validation)

        if subresource == "status":
            new = clone_object(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            new["apiVersion"] = obj.get("apiVersion", old.get("apiVersion"))
        elif subresource == "finalize":
            new = clone_object(old)
            new.setdefault("spec", {})["finalizers"] = list(
                (obj.get("spec") or {}).get("finalizers") or []
            )
        else:
            new = obj
            for key in _SERVER_OWNED:
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
                else:
                    meta.pop(key, None)
            meta.pop("managedFields", None)
            meta.pop("selfLink", None)
            if rt.has_status:
                if "status" in old:
                    new["status"] = clone(old["status"])
                else:
                    new.pop("status", None)
            if rt is NAMESPACES:
                new["spec"] = clone(old.get("spec") or {})
            if "generation" in old["metadata"]:
                meta["generation"] = old["metadata"]["generation"]
            else:
                meta.pop("generation", None)

        new_meta = new["metadata"]
        new_meta["resourceVersion"] = old["metadata"].get("resourceVersion")
        found: list[Cause] = []
        if subresource == "":
            found += self._meta_causes(new, old)
            found += kinds.prepare_update(rt, new, old)
        new, schema_causes, schema_warnings = self._apply_schema(rt, new, field_validation)
        found += schema_causes
        warnings += schema_warnings
        if found:
            raise errors.invalid(rt.group, rt.kind, name, found)
        if rt.has_generation and _spec_part(rt, new) != _spec_part(rt, old):
            new_meta["generation"] = int(old["metadata"].get("generation") or 0) + 1
        return self._finish(rt, old, ordered(new), dry_run=dry_run, warnings=warnings)

    def _finish(
        self,
        rt: ResourceType,
        old: JsonObject,
        new: JsonObject,
        *,
        dry_run: bool,
        warnings: list[str] | None = None,
    ) -> WriteResult:
        """Commit an update, or the deletion it completes, or nothing if it changes nothing."""
        warnings = warnings or []
        if is_deleting(new) and not finalizers(new) and not _namespace_finalizers(rt, new):
            if not dry_run:
                self.store.commit(rt.storage_key, DELETED, new)
            return WriteResult(new, exists=False, warnings=warnings)
        if _same(new, old):
            return WriteResult(old, warnings=warnings)
        if not dry_run:
            self.store.commit(rt.storage_key, MODIFIED, new)
        return WriteResult(new, warnings=warnings)

    # -- delete --------------------------------------------------------------------

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: DeleteOptions,
        *,
        dry_run: bool = False,
    ) -> WriteResult:
        old = self.get(rt, namespace, name)
        meta = old["metadata"]
        if options.uid is not None and options.uid != meta.get("uid"):
            raise errors.conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: UID in precondition: {options.uid}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if options.resource_version is not None and options.resource_version != meta.get(
            "resourceVersion"
        ):
            raise errors.conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{options.resource_version}, ResourceVersion in object meta: "
                f"{meta.get('resourceVersion')}",
            )
        return self.delete_object(rt, old, _policy(options), dry_run=dry_run)

    def delete_object(
        self, rt: ResourceType, old: JsonObject, policy: str, *, dry_run: bool = False
    ) -> WriteResult:
        fins = finalizers(old)
        if policy == FOREGROUND:
            fins = [f for f in fins if f != ORPHAN_FINALIZER]
            if FOREGROUND_FINALIZER not in fins:
                fins.append(FOREGROUND_FINALIZER)
        elif policy == ORPHAN:
            fins = [f for f in fins if f != FOREGROUND_FINALIZER]
            if ORPHAN_FINALIZER not in fins:
                fins.append(ORPHAN_FINALIZER)
        if rt is CRDS and kinds.CRD_CLEANUP_FINALIZER not in fins:
            fins.append(kinds.CRD_CLEANUP_FINALIZER)

        if not fins and not _namespace_finalizers(rt, old):
            final = dict(old)
            final["metadata"] = dict(old["metadata"])
            if not dry_run:
                self.store.commit(rt.storage_key, DELETED, final)
            return WriteResult(final, exists=False)

        new = clone_object(old)
        new_meta = new["metadata"]
        if fins:
            new_meta["finalizers"] = fins
        if not is_deleting(old):
            new_meta["deletionTimestamp"] = now_rfc3339()
            new_meta["deletionGracePeriodSeconds"] = 0
            if rt.has_generation:
                new_meta["generation"] = int(new_meta.get("generation") or 0) + 1
            if rt is NAMESPACES:
                new.setdefault("status", {})["phase"] = "Terminating"
            if rt is CRDS:
                new["status"] = kinds.with_condition(
                    new.get("status") or {},
                    {
                        "type": "Terminating",
                        "status": "True",
                        "reason": "InstanceDeletionPending",
                        "message": "CustomResourceDefinition marked for deletion; instance "
                        "deletion pending",
                        "lastTransitionTime": now_rfc3339(),
                    },
                )
        new = ordered(new)
        if _same(new, old):
            return WriteResult(old)
        if not dry_run:
            self.store.commit(rt.storage_key, MODIFIED, new)
        return WriteResult(new)

    # -- controller-side writes (no HTTP request behind them) -------------------------

    def rewrite(
        self, rt: ResourceType, old: JsonObject, change: Callable[[JsonObject], None]
    ) -> WriteResult:
        """Apply `change` to a copy of `old` and store it, as a controller would."""
        new = clone_object(old)
        change(new)
        return self._finish(rt, old, new, dry_run=False)

    # -- helpers -------------------------------------------------------------------

    def _decode(self, rt: ResourceType, body: Any) -> JsonObject:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind})"
            )
        obj = kinds.from_wire(rt, body)
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if rt.custom and (not api_version or not kind):
            missing = "Kind" if not kind else "Version"
            raise errors.bad_request(
                f"Object '{missing}' is missing in '{json.dumps(body, separators=(',', ':'))}'"
            )
        if kind is not None and kind != rt.kind:
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): "
                f"kind {kind!r} does not match"
            )
        if api_version is not None:
            group = str(api_version).rpartition("/")[0]
            if group != rt.group:
                raise errors.bad_request(
                    f"the API version in the data ({api_version}) does not match the expected "
                    f"API version ({rt.api_version})"
                )
        obj = dict(obj)
        obj["apiVersion"] = "v1" if rt.representation == EVENTS_V1 else rt.api_version
        obj["kind"] = rt.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "metadata must be an object"
            )
        _check_meta_types(rt, meta)
        obj["metadata"] = dict(meta)
        return obj

    @staticmethod
    def _check_identity(rt: ResourceType, namespace: str, name: str, obj: JsonObject) -> None:
        meta = obj["metadata"]
        body_name = meta.get("name")
        if body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        _place_in_namespace(rt, meta, namespace)

    def _meta_causes(self, obj: JsonObject, old: JsonObject | None) -> list[Cause]:
        meta = obj["metadata"]
        found: list[Cause] = []
        found += validate_labels(meta.get("labels") or {})
        found += validate_annotations(meta.get("annotations") or {})
        fins = finalizers(obj)
        found += validate_finalizers(fins)
        if old is not None and is_deleting(old):
            added = sorted(set(fins) - set(finalizers(old)))
            if added:
                found.append(
                    c.forbidden(
                        "metadata.finalizers",
                        "no new finalizers can be added if the object is being deleted, found "
                        f"new finalizers {json.dumps(added)}",
                    )
                )
        found += _owner_reference_causes(meta.get("ownerReferences") or [])
        return found

    def _prune_known_fields(
        self, rt: ResourceType, obj: JsonObject, field_validation: str
    ) -> list[str]:
        """Drop fields the Go types would not decode; warn or fail per fieldValidation."""
        unknown: list[str] = []
        meta = obj["metadata"]
        for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
            unknown.append(f"metadata.{key}")
            del meta[key]
        known = kinds.KNOWN_FIELDS.get(rt.storage_key)
        if known is not None:
            for key in [k for k in obj if k not in known]:
                unknown.append(key)
                del obj[key]
        return self._unknown_fields(rt, unknown, field_validation)

    @staticmethod
    def _unknown_fields(rt: ResourceType, unknown: list[str], field_validation: str) -> list[str]:
        if not unknown or field_validation == "Ignore":
            return []
        described = ", ".join(f'unknown field "{path}"' for path in unknown)
        if field_validation == "Strict":
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {described}"
            )
        return [f'unknown field "{path}"' for path in unknown]

    def _apply_schema(
        self, rt: ResourceType, obj: JsonObject, field_validation: str
    ) -> tuple[JsonObject, list[Cause], list[str]]:
        if not rt.custom or rt.schema is None:
            return obj, [], []
        body = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
        before = clone(body)
        result, found = apply_structural_schema(body, _body_schema(rt.schema))
        unknown = _pruned_paths(before, result, "")
        warnings = self._unknown_fields(rt, unknown, field_validation)
        out = {k: obj[k] for k in _ROOT_FIELDS if k in obj}
        out.update(result)
        return out, list(found), warnings


def _reason(code: int) -> str:
    return {400: "BadRequest", 409: "Conflict", 415: "UnsupportedMediaType"}.get(code, "Invalid")


def _policy(options: DeleteOptions) -> str:
    if options.propagation:
        if options.propagation not in (FOREGROUND, BACKGROUND, ORPHAN):
            raise errors.invalid(
                "",
                "DeleteOptions",
                "",
                [
                    c.not_supported(
                        "propagationPolicy", options.propagation, [FOREGROUND, BACKGROUND, ORPHAN]
                    )
                ],
            )
        return options.propagation
    if options.orphan_dependents is True:
        return ORPHAN
    return BACKGROUND


def _namespace_finalizers(rt: ResourceType, obj: JsonObject) -> bool:
    return rt is NAMESPACES and bool((obj.get("spec") or {}).get("finalizers"))


def _spec_part(rt: ResourceType, obj: JsonObject) -> JsonObject:
    """What generation tracks: everything but metadata (and status, with the subresource)."""
    skip = {"metadata", "apiVersion", "kind"}
    if rt.has_status:
        skip.add("status")
    return {k: v for k, v in obj.items() if k not in skip}


def _same(a: JsonObject, b: JsonObject) -> bool:
    """Equal apart from resourceVersion and apiVersion (one stored object, two views)."""
    if a.keys() != b.keys():
        return False
    for key in a:
        if key == "apiVersion":
            continue
        if key == "metadata":
            ma = {k: v for k, v in a[key].items() if k != "resourceVersion"}
            mb = {k: v for k, v in b[key].items() if k != "resourceVersion"}
            if ma != mb:
                return False
        elif a[key] != b[key]:
            return False
    return True


def _check_meta_types(rt: ResourceType, meta: JsonObject) -> None:
    def fail(path: str, want: str) -> ApiError:
        return errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{path} of type {want}"
        )

    for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            raise fail(key, "string")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise fail(key, "map[string]string")
    fins = meta.get("finalizers")
    if fins is not None and (
        not isinstance(fins, list) or not all(isinstance(f, str) for f in fins)
    ):
        raise fail("finalizers", "[]string")
    refs = meta.get("ownerReferences")
    if refs is not None and (
        not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs)
    ):
        raise fail("ownerReferences", "[]v1.OwnerReference")


def _owner_reference_causes(refs: list[Any]) -> list[Cause]:
    """ValidateOwnerReferences (apimachinery/pkg/api/validation/objectmeta.go)."""
    found: list[Cause] = []
    controllers = 0
    for i, ref in enumerate(refs):
        field = f"metadata.ownerReferences[{i}]"
        if not ref.get("apiVersion"):
            found.append(c.invalid(f"{field}.apiVersion", "", "version must not be empty"))
        if not ref.get("kind"):
            found.append(c.invalid(f"{field}.kind", "", "kind must not be empty"))
        if not ref.get("name"):
            found.append(c.invalid(f"{field}.name", "", "name must not be empty"))
        if not ref.get("uid"):
            found.append(c.invalid(f"{field}.uid", "", "uid must not be empty"))
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        found.append(
            c.invalid(
                "metadata.ownerReferences",
                refs,
                'Only one reference can have Controller set to true. Found "true" in '
                f"references for {controllers} owners",
            )
        )
    return found


def _body_schema(schema: JsonObject) -> JsonObject:
    """The CRD schema without apiVersion/kind/metadata, which the server handles itself."""
    props = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _ROOT_FIELDS}
    out = {k: v for k, v in schema.items() if k not in ("properties", "required")}
    if props or "properties" in schema:
        out["properties"] = props
    required = [r for r in schema.get("required") or [] if r not in _ROOT_FIELDS]
    if required:
        out["required"] = required
    return out


def _pruned_paths(before: Any, after: Any, prefix: str) -> list[str]:
    """Paths present in `before` but gone from `after`: the fields pruning removed."""
    found: list[str] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key, value in before.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in after:
                found.append(path)
            else:
                found += _pruned_paths(value, after[key], path)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            found += _pruned_paths(b, a, f"{prefix}[{i}]")
    return found


def _place_in_namespace(rt: ResourceType, meta: JsonObject, namespace: str) -> None:
    """The request's namespace goes into a namespaced object's metadata (a different one in
    the body is a 400); a cluster-scoped object has none."""
    if rt.namespaced:
        body_ns = meta.get("namespace")
        if body_ns and body_ns != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
