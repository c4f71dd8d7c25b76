"""The semantics of writes: create, update, patch, delete, as kube-apiserver applies them.

Sources for the rules: k8s.io/apiserver pkg/registry/generic/registry/store.go
(preconditions, graceful deletion, finalizers, GC finalizers), pkg/registry/rest
(BeforeCreate/BeforeUpdate: server-owned metadata), apiextensions-apiserver
pkg/registry/customresource/strategy.go (status subresource, generation), and
the API conventions doc (metadata, spec and status).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelsync_sandbox.kube import causes as c
from modelsync_sandbox.kube import errors, kinds, managed
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
from modelsync_sandbox.kube.schema import CompiledSchema, compile_schema
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
# Who a write is recorded for when it names no manager and sends no User-Agent.
UNKNOWN_MANAGER = "unknown"
CONTROLLER_MANAGER = "kube-controller-manager"
KUBECTL = "kubectl"  # the manager kubectl apply --server-side uses
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


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


class _CustomSchema:
    """What writes derive from a CRD version's schema, each part made when first needed."""

    def __init__(self, schema: JsonObject) -> None:
        self.schema = schema  # held, so that its id stays its own while cached
        self._body: JsonObject | None = None
        self._compiled: CompiledSchema | None = None
        self._managed: managed.Node | None = None

    @property
    def body(self) -> JsonObject:
        if self._body is None:
            self._body = _body_schema(self.schema)
        return self._body

    @property
    def compiled(self) -> CompiledSchema:
        if self._compiled is None:
            # Writes never change what apply returns below the top level: it may remember.
            self._compiled = compile_schema(self.body, remember=True)
        return self._compiled

    @property
    def managed(self) -> managed.Node:
        if self._managed is None:
            self._managed = managed.crd_schema(self.schema)
        return self._managed


# CRD versions whose derived schemas are kept (a CRD's schema changes only with the CRD).
_SCHEMA_CACHE_SIZE = 64


class Operations:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        # id(openAPIV3Schema) -> what it gives; stored objects, CRDs included, never change.
        self._schemas: OrderedDict[int, _CustomSchema] = OrderedDict()

    def _custom_schema(self, schema: JsonObject) -> _CustomSchema:
        key = id(schema)
        found = self._schemas.get(key)
        if found is not None and found.schema is schema:
            self._schemas.move_to_end(key)
            return found
        found = _CustomSchema(schema)
        self._schemas[key] = found
        if len(self._schemas) > _SCHEMA_CACHE_SIZE:
            self._schemas.popitem(last=False)
        return found

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
        manager: str = "",
        dry_run: bool = False,
        field_validation: str = "",
        applied: list[managed.Entry] | None = None,
    ) -> WriteResult:
        """`applied`: the managers a server-side apply computed (it creates, too)."""
        obj = self._decode(rt, body)
        meta = obj["metadata"]
        _place_in_namespace(rt, meta, namespace)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(str(meta["generateName"]))
        name = str(meta.get("name") or "")
        warnings = self._field_validation(rt, body, obj, field_validation, patched=None)
        self._decode_checks(rt, body, obj, patched=None)
        self._admit_create(rt, namespace, name)

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
        kinds.defaults(rt, obj)
        # A built-in object as the field manager sees it: defaulted, not prepared (it sees a
        # custom resource as stored).
        incoming = None if rt.custom else clone_object(obj)

        found: list[Cause] = kinds.prepare_create(rt, obj)
        found += self._custom_kind_causes(rt, body)
        if not name:
            found.append(c.required("metadata.name", "name or generateName is required"))
        else:
            found += validate_object_name(name, kinds.name_rule(rt), field="metadata.name")
        found += _object_meta_causes(obj)
        obj, schema_causes = self._apply_schema(rt, obj)
        found += schema_causes
        if found:
            raise self._invalid(rt, body, name, found)
        if body_rv and not dry_run:
            # etcd3 store.Create: storage.ErrResourceVersionSetOnCreate, passed on as is.
            raise errors.unclassified(500, RV_SET_ON_CREATE)
        if self.store.get(rt.storage_key, (meta.get("namespace", ""), name)) is not None:
            raise errors.already_exists(rt.group, rt.plural, name)
        if applied is None:
            fm = self._field_manager(rt, "")
            view = self._managed_view(rt, obj if incoming is None else incoming)
            applied = fm.update(fm.zero(view), view, [], manager or UNKNOWN_MANAGER, now_rfc3339())
        meta["managedFields"] = managed.render_entries(applied)
        obj = ordered(_without_empty_meta(obj))
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
                    [
                        Cause(
                            "NamespaceTerminating",
                            f"namespace {namespace} is being terminated",
                            "metadata.namespace",
                        )
                    ],
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
        manager: str = "",
        dry_run: bool = False,
        field_validation: str = "",
    ) -> WriteResult:
        obj = self._decode(rt, body)
        self._check_identity(rt, namespace, name, obj)
        warnings = self._field_validation(rt, body, obj, field_validation, patched=None)
        self._decode_checks(rt, body, obj, patched=None)
        old = self.get(rt, namespace, name)
        rv = obj["metadata"].get("resourceVersion")
        if not rv and not kinds.allows_unconditional_update(rt):
            # The generic store names the resource, not the kind, in this one.
            raise errors.invalid(
                rt.group,
                rt.plural,
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
            body,
            subresource=subresource,
            dry_run=dry_run,
            warnings=warnings,
            manager=manager,
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
        manager: str = "",
        dry_run: bool = False,
        field_validation: str = "",
    ) -> WriteResult:
        old = self.get(rt, namespace, name)
        current = kinds.to_wire(rt, old)  # the patch functions leave their arguments alone
        try:
            if content_type == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise errors.bad_request(
                        f"error decoding patch: json: cannot unmarshal {_json_kind(patch)} "
                        "into Go value of type map[string]interface {}"
                    )
                # A custom resource's patched object is not changed below the top level and
                # metadata (which _decode copies): it may share the stored object's parts.
                patched = json_merge_patch(current, patch, share=rt.custom)
            elif content_type == JSON_PATCH:
                if not isinstance(patch, list):
                    raise errors.bad_request(
                        f"json: cannot unmarshal {_json_kind(patch)} into Go value of type "
                        "jsonpatch.Patch"
                    )
                patched = json_patch(current, patch)
            elif content_type == STRATEGIC_PATCH and not rt.custom:
                if not isinstance(patch, dict):
                    raise errors.bad_request(
                        f"json: cannot unmarshal {_json_kind(patch)} into Go value of type "
                        "map[string]interface {}"
                    )
                patched = strategic_merge_patch(current, patch)
            else:
                raise errors.unsupported_media_type(self.patch_types(rt))
        except PatchError as exc:
            details: JsonObject | None = {} if exc.status_code == 422 else None
            raise ApiError(exc.status_code, _reason(exc.status_code), str(exc), details) from None
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        obj = self._decode(rt, patched, patched=patched)
        self._check_identity(rt, str(old["metadata"].get("namespace", "")), name, obj)
        warnings = self._field_validation(rt, patched, obj, field_validation, patched=patched)
        self._decode_checks(rt, patched, obj, patched=patched)
        return self._update_from(
            rt,
            old,
            obj,
            patched,
            subresource=subresource,
            dry_run=dry_run,
            warnings=warnings,
            manager=manager,
        )

    def apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        config: Any,
        *,
        manager: str,
        force: bool,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "",
    ) -> WriteResult:
        """Server-side apply (application/apply-patch+yaml): creates the object if it is not
        there; 409 with the conflicting fields when another manager owns one it changes."""
        if not manager:
            raise errors.invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [c.required("fieldManager", "is required for apply patch")],
            )
        if not isinstance(config, dict):
            raise errors.bad_request(
                f"error decoding YAML: json: cannot unmarshal {_json_kind(config)} into Go "
                "value of type map[string]interface {}"
            )
        if (config.get("apiVersion"), config.get("kind")) != (rt.api_version, rt.kind):
            group, _, version = str(config.get("apiVersion") or "").rpartition("/")
            shown = f"{group}/{version}" if group else version
            raise errors.bad_request(
                f"invalid object type: {shown}, Kind={config.get('kind') or ''}"
            )
        meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
        config_name = meta.get("name") if isinstance(meta, dict) else None
        if not config_name:
            raise errors.bad_request(
                f"the name of the object ({name} based on URL) was undeterminable: name must "
                "be provided"
            )
        if config_name != name:
            raise errors.bad_request(
                f"the name of the object ({config_name}) does not match the name on the URL "
                f"({name})"
            )
        fm = self._field_manager(rt, subresource)
        now = now_rfc3339()
        key = (namespace if rt.namespaced else "", name)
        old = self.store.get(rt.storage_key, key)
        if old is None:
            if subresource:
                raise errors.not_found(rt.group, rt.plural, name)
            merged, entries = fm.apply(fm.zero(config), config, [], manager, now, force=force)
            return self.create(
                rt,
                namespace,
                merged,
                manager=manager,
                dry_run=dry_run,
                field_validation=field_validation,
                applied=entries,
            )
        view = self._managed_view(rt, old)
        allowed = _allowed_conflicts(fm, view) if manager == KUBECTL else None
        try:
            merged, entries = fm.apply(
                view,
                config,
                managed.parse_entries(old["metadata"].get("managedFields")) or [],
                manager,
                now,
                force=force,
                allowed_conflicts=allowed,
            )
        except managed.ConflictError as exc:
            message, found = managed.conflict_status(exc.conflicts)
            raise ApiError(409, "Conflict", message, {"causes": found}) from None
        annotations = old["metadata"].get("annotations") or {}
        if manager == KUBECTL and LAST_APPLIED in annotations:
            merged["metadata"]["annotations"] = {
                **(merged["metadata"].get("annotations") or {}),
                LAST_APPLIED: _last_applied(config),
            }
        merged["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
        obj = self._decode(rt, merged, patched=merged)
        self._check_identity(rt, namespace, name, obj)
        warnings = self._field_validation(rt, merged, obj, field_validation, patched=merged)
        self._decode_checks(rt, merged, obj, patched=merged)
        return self._update_from(
            rt,
            old,
            obj,
            merged,
            subresource=subresource,
            dry_run=dry_run,
            warnings=warnings,
            manager=manager,
            applied=entries,
        )

    @staticmethod
    def patch_types(rt: ResourceType) -> list[str]:
        if rt.custom:
            return [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
        return [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]

    def _update_from(
        self,
        rt: ResourceType,
        old: JsonObject,
        obj: JsonObject,
        body: JsonObject,
        *,
        subresource: str,
        dry_run: bool,
        warnings: list[str],
        manager: str,
        applied: list[managed.Entry] | None = None,
    ) -> WriteResult:
        """An update or patch, from the decoded new object on: `body` is what the client
        sent (or the patched object), for the kind it declares. `applied`: the managers a
        server-side apply computed; otherwise this write's manager is recorded here."""
        meta = obj["metadata"]
        name = str(old["metadata"]["name"])
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"].get("resourceVersion"):
            raise errors.stale(rt.group, rt.plural, name)
        kinds.defaults(rt, obj)
        # The field manager sees the request's object, defaulted, before the strategy
        # resets what this endpoint may not change (it still records who tried).
        incoming = self._incoming(rt, obj)
        sent_managed = None if subresource else managed.parse_entries(meta.get("managedFields"))

        if subresource == "status":
            # Only the top level and metadata change below: the rest is old's, shared (stored
            # objects never change).
            new = dict(old)
            new["metadata"] = dict(old["metadata"])
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
            found += kinds.prepare_update(rt, new, old)
            found += self._custom_kind_causes(rt, body)
            found += _update_meta_causes(rt, new, old)
        else:
            found += _object_meta_causes(new) + _object_meta_update_causes(new, old)
        new, schema_causes = self._apply_schema(rt, new, status_only=subresource == "status")
        found += schema_causes
        if found:
            raise self._invalid(rt, body, name, found)
        if rt.has_generation and _spec_part(rt, new) != _spec_part(rt, old):
            new_meta["generation"] = int(old["metadata"].get("generation") or 0) + 1
        if applied is None:
            fm = self._field_manager(rt, subresource)
            base = sent_managed
            if base is None:
                base = managed.parse_entries(old["metadata"].get("managedFields")) or []
            applied = fm.update(
                self._managed_view(rt, old),
                incoming,
                base,
                manager or UNKNOWN_MANAGER,
                now_rfc3339(),
            )
        new_meta["managedFields"] = managed.render_entries(applied)
        new = ordered(_without_empty_meta(new))
        return self._finish(rt, old, new, dry_run=dry_run, warnings=warnings)

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
            # The update is never stored: the stored object (finalizers and all) is deleted,
            # and the client gets the updated one with the resourceVersion it had.
            if not dry_run:
                final = dict(old)
                final["metadata"] = dict(old["metadata"])
                self.store.commit(rt.storage_key, DELETED, final)
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
        group, kind = kinds.invalid_kind(rt)
        if options.uid is not None and options.uid != meta.get("uid"):
            raise errors.precondition_failed(
                group,
                kind,
                name,
                f"the UID in the precondition ({options.uid}) does not match the UID in record "
                f"({meta.get('uid')}). The object might have been deleted and then recreated",
            )
        if options.resource_version is not None and options.resource_version != meta.get(
            "resourceVersion"
        ):
            raise errors.precondition_failed(
                group,
                kind,
                name,
                f"the ResourceVersion in the precondition ({options.resource_version}) does not "
                f"match the ResourceVersion in record ({meta.get('resourceVersion')}). The "
                "object might have been modified",
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
            if rt is not NAMESPACES and rt is not CRDS:  # their own Delete sets no grace period
                new_meta["deletionGracePeriodSeconds"] = 0
            if rt.has_generation and rt is not CRDS:  # the CRD's own Delete keeps it
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
                        "message": "CustomResourceDefinition marked for deletion; "
                        "CustomResource deletion will begin soon",
                        "lastTransitionTime": now_rfc3339(),
                    },
                )
        new = ordered(_without_empty_meta(new))
        if _same(new, old):
            return WriteResult(old)
        if not dry_run:
            self.store.commit(rt.storage_key, MODIFIED, new)
        return WriteResult(new)

    # -- controller-side writes (no HTTP request behind them) -------------------------

    def rewrite(
        self,
        rt: ResourceType,
        old: JsonObject,
        change: Callable[[JsonObject], None],
        *,
        manager: str = CONTROLLER_MANAGER,
        subresource: str = "",
    ) -> WriteResult:
        """Apply `change` to a copy of `old` and store it, as a controller would (recorded
        as its manager's Update)."""
        new = clone_object(old)
        change(new)
        fm = self._field_manager(rt, subresource)
        entries = fm.update(
            self._managed_view(rt, old),
            self._managed_view(rt, new),
            managed.parse_entries(old["metadata"].get("managedFields")) or [],
            manager,
            now_rfc3339(),
        )
        new["metadata"]["managedFields"] = managed.render_entries(entries)
        return self._finish(rt, old, _without_empty_meta(new), dry_run=False)

    # -- helpers -------------------------------------------------------------------

    def _decode(
        self, rt: ResourceType, body: Any, *, patched: JsonObject | None = None
    ) -> JsonObject:
        """The body as a (core-form) object of the type; 400 where decoding would fail."""
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind})"
            )
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if rt.custom:
            if not kind:
                text = json.dumps(body, separators=(",", ":"))
                summary = text if len(text) <= 30 else text[:30] + " ..."
                raise errors.bad_request(
                    f"the object provided is unrecognized (must be of type {rt.kind}): "
                    f"Object 'Kind' is missing in '{text}' ({summary})"
                )
            if api_version != rt.api_version:
                raise errors.bad_request(
                    f"the API version in the data ({api_version or ''}) does not match the "
                    f"expected API version ({rt.api_version})"
                )
        else:
            self._check_builtin_kind(rt, api_version, kind)
        obj = dict(kinds.from_wire(rt, body))
        obj["apiVersion"] = "v1" if rt.representation == EVENTS_V1 else rt.api_version
        if not rt.custom:
            obj["kind"] = rt.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise self._undecodable(rt, body, patched, "metadata must be an object")
        problem = _meta_type_problem(meta)
        if problem:
            raise self._undecodable(rt, body, patched, problem)
        obj["metadata"] = dict(meta)
        return obj

    def _check_builtin_kind(self, rt: ResourceType, api_version: Any, kind: Any) -> None:
        """What the scheme refuses: a kind or version it cannot convert to the resource's."""
        group, _, version = str(api_version or rt.api_version).rpartition("/")
        kind = str(kind or rt.kind)
        group_version = f"{group}/{version}" if group else version
        if (group, kind) == (rt.group, rt.kind) and self.registry.lookup(group, version, rt.plural):
            return
        served = {(t.group, t.version, t.kind) for t in self.registry if not t.custom}
        if (group, version, kind) in served:
            problem = (
                f"converting ({version}.{kind}) to ({_internal_group(rt)}.{rt.kind}): "
                "unknown conversion"
            )
        else:
            problem = (
                f'no kind "{kind}" is registered for version "{group_version}" in scheme '
                '"pkg/runtime/scheme.go:110"'
            )
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {rt.kind}: {problem}'
        )

    @staticmethod
    def _undecodable(
        rt: ResourceType, body: JsonObject, patched: JsonObject | None, problem: str
    ) -> ApiError:
        """A body that does not decode: 400 for a create or update; for a patch, 422 naming
        the patched object (patch handlers report decoding errors that way)."""
        if patched is not None:
            text = json.dumps(patched, separators=(",", ":"), sort_keys=True)
            return errors.invalid("", "", "", [c.invalid("patch", text, problem)])
        version = str(body.get("apiVersion") or rt.api_version).rpartition("/")[2]
        kind = str(body.get("kind") or rt.kind)
        return errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {rt.kind}: {problem}'
        )

    def _decode_checks(
        self, rt: ResourceType, body: JsonObject, obj: JsonObject, *, patched: JsonObject | None
    ) -> None:
        try:
            kinds.decode(rt, obj)
        except kinds.DecodeError as exc:
            raise self._undecodable(rt, body, patched, str(exc)) from None

    @staticmethod
    def _check_identity(rt: ResourceType, namespace: str, name: str, obj: JsonObject) -> None:
        meta = obj["metadata"]
        body_name = meta.get("name")
        if body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        _place_in_namespace(rt, meta, namespace)

    @staticmethod
    def _custom_kind_causes(rt: ResourceType, body: JsonObject) -> list[Cause]:
        """A custom resource's kind is checked by validation, not by decoding."""
        kind = body.get("kind")
        if rt.custom and kind != rt.kind:
            return [c.invalid("kind", kind, f"must be {rt.kind}")]
        return []

    @staticmethod
    def _invalid(rt: ResourceType, body: JsonObject, name: str, found: list[Cause]) -> ApiError:
        group, kind = kinds.invalid_kind(rt)
        if rt.custom and isinstance(body.get("kind"), str) and body["kind"]:
            kind = body["kind"]  # the kind the object declares, right or wrong
        return errors.invalid(group, kind, name, found)

    def _field_validation(
        self,
        rt: ResourceType,
        body: JsonObject,
        obj: JsonObject,
        field_validation: str,
        *,
        patched: JsonObject | None,
    ) -> list[str]:
        """Drop what the type does not know (metadata and built-in top-level fields here,
        schema pruning later) and warn, or fail under fieldValidation=Strict. The whole
        incoming object counts, also the parts a subresource then ignores."""
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
        if rt.custom and rt.schema is not None:
            rest = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
            unknown += self._custom_schema(rt.schema).compiled.pruned_paths(rest)
        if not unknown or field_validation == "Ignore":
            return []
        described = ", ".join(f'unknown field "{path}"' for path in unknown)
        if field_validation == "Strict":
            raise self._undecodable(rt, body, patched, f"strict decoding error: {described}")
        return [f'unknown field "{path}"' for path in unknown]

    def _apply_schema(
        self, rt: ResourceType, obj: JsonObject, *, status_only: bool = False
    ) -> tuple[JsonObject, list[Cause]]:
        """Prune, default and validate a custom resource by its CRD's schema. A status
        update validates the status alone, by the status schema (its messages name paths
        from there; the causes' fields start at `status`)."""
        if not rt.custom or rt.schema is None:
            return obj, []
        custom = self._custom_schema(rt.schema)
        body = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
        # A status write validates the status alone: the rest is not validated at all.
        result, found = custom.compiled.apply(body, validate=not status_only)
        if status_only:
            status_schema = (custom.body.get("properties") or {}).get("status")
            compiled_status = custom.compiled.property("status")
            found = []
            if (
                "status" in result
                and isinstance(status_schema, dict)
                and compiled_status is not None
            ):
                found = [
                    Cause(cause.reason, cause.message, _under("status", cause.field))
                    for cause in compiled_status.validate(result["status"])
                ]
        out = {k: obj[k] for k in _ROOT_FIELDS if k in obj}
        out.update(result)
        return out, list(found)

    def _incoming(self, rt: ResourceType, obj: JsonObject) -> JsonObject:
        """The request's object as the field manager sees it: a custom resource pruned and
        defaulted by its schema (validation aside); a copy, which later changes to `obj`
        do not reach."""
        if not rt.custom or rt.schema is None:
            return clone_object(self._managed_view(rt, obj))
        body = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
        result, _ = self._custom_schema(rt.schema).compiled.apply(body, validate=False)
        # What changes later is the top level and metadata of `obj` (nothing below them in a
        # custom resource): copies of those will do.
        head: JsonObject = {k: obj[k] for k in ("apiVersion", "kind") if k in obj}
        if "metadata" in obj:
            meta = obj["metadata"]
            head["metadata"] = dict(meta) if isinstance(meta, dict) else clone(meta)
        return self._managed_view(rt, {**head, **result})

    @staticmethod
    def _managed_view(rt: ResourceType, obj: JsonObject) -> JsonObject:
        """The object as the request's API version shows it: what field sets are made of."""
        return kinds.to_wire(rt, obj)

    def _field_manager(self, rt: ResourceType, subresource: str) -> managed.FieldManager:
        """The field manager of a resource (and subresource), with its reset fields."""
        if rt.custom:
            schema = (
                managed.crd_schema(None)
                if rt.schema is None
                else self._custom_schema(rt.schema).managed
            )
        else:
            schema = managed.BUILTIN_SCHEMAS.get(f"{rt.group}/{rt.plural}", managed.DEDUCED_ROOT)
        ignored: tuple[managed.Path, ...] = ()
        if subresource == "status":
            ignored = (("f:spec",),)
        elif subresource == "" and rt.has_status:
            ignored = (("f:status",),)
        return managed.FieldManager(
            schema=schema,
            api_version=rt.api_version,
            skey=f"{rt.group}/{rt.plural}",
            builtin=not rt.custom,
            subresource=subresource,
            ignored=ignored,
        )


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


def _json_kind(value: Any) -> str:
    """How encoding/json names a JSON value's type in "cannot unmarshal X into" errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _internal_group(rt: ResourceType) -> str:
    """The Go package of the kind's internal type, as conversion errors name it."""
    if rt.group in ("", "events.k8s.io"):
        return "core"
    return rt.group.split(".")[0]


def _meta_type_problem(meta: JsonObject) -> str:
    """encoding/json's complaint about ObjectMeta fields of the wrong JSON type, if any."""

    def wrong(path: str, value: Any, want: str) -> str:
        return (
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
            f"ObjectMeta.metadata.{path} of type {want}"
        )

    for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return wrong(key, meta[key], "string")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return wrong(key, value, "map[string]string")
        for item in value.values():
            if not isinstance(item, str):
                return wrong(key, item, "string")
    fins = meta.get("finalizers")
    if fins is not None:
        if not isinstance(fins, list):
            return wrong("finalizers", fins, "[]string")
        for item in fins:
            if not isinstance(item, str):
                return wrong("finalizers", item, "string")
    refs = meta.get("ownerReferences")
    if refs is not None:
        if not isinstance(refs, list):
            return wrong("ownerReferences", refs, "[]v1.OwnerReference")
        for item in refs:
            if not isinstance(item, dict):
                return wrong("ownerReferences", item, "v1.OwnerReference")
    return ""


def _object_meta_causes(obj: JsonObject) -> list[Cause]:
    """ValidateObjectMetaAccessor, less the name (checked by the caller)."""
    meta = obj["metadata"]
    found: list[Cause] = []
    found += validate_labels(meta.get("labels") or {})
    found += validate_annotations(meta.get("annotations") or {})
    found += _owner_reference_causes(meta.get("ownerReferences") or [])
    found += validate_finalizers(finalizers(obj))
    return found


def _object_meta_update_causes(new: JsonObject, old: JsonObject) -> list[Cause]:
    """ValidateObjectMetaAccessorUpdate (the immutable fields are the server's own here)."""
    meta = new["metadata"]
    found: list[Cause] = []
    if is_deleting(old):
        added = [f for f in finalizers(new) if f not in finalizers(old)]
        if added:
            shown = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
            found.append(
                c.forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers {shown}",
                )
            )
    found += validate_labels(meta.get("labels") or {})
    found += validate_annotations(meta.get("annotations") or {})
    found += _owner_reference_causes(meta.get("ownerReferences") or [])
    return found


def _update_meta_causes(rt: ResourceType, new: JsonObject, old: JsonObject) -> list[Cause]:
    """BeforeUpdate validates metadata once each way, then the kind's strategy again: every
    pass reports what it finds, so a bad label is listed two to four times."""
    meta_passes, update_passes = 1, 1
    extra_update, extra_meta = kinds.update_meta_validations(rt)
    meta_passes += extra_meta
    update_passes += extra_update
    return (
        _object_meta_causes(new) * meta_passes
        + _object_meta_update_causes(new, old) * update_passes
    )


def _owner_reference_causes(refs: list[Any]) -> list[Cause]:
    """ValidateOwnerReferences (apimachinery/pkg/api/validation/objectmeta.go): the field
    paths name no index."""
    found: list[Cause] = []
    controllers = 0
    field = "metadata.ownerReferences"
    for ref in refs:
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
                field,
                refs,
                'Only one reference can have Controller set to true. Found "true" in '
                f"references for {controllers} owners",
            )
        )
    return found


_OMITEMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def _without_empty_meta(obj: JsonObject) -> JsonObject:
    """ObjectMeta's omitempty collections: an empty one is not there at all."""
    meta = obj["metadata"]
    for key in _OMITEMPTY_META:
        if key in meta and not meta[key]:
            del meta[key]
    return obj


def _last_applied(config: JsonObject) -> str:
    """What kubectl's annotation holds after a server-side apply by kubectl: the applied
    configuration, without the annotation itself (fieldmanager buildLastApplied)."""
    copy = clone_object(config)
    meta = copy.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
    return json.dumps(copy, separators=(",", ":"), sort_keys=True) + "\n"


def _allowed_conflicts(fm: managed.FieldManager, live: JsonObject) -> set[managed.Path] | None:
    """The fields kubectl's last-applied annotation declares, when the live object still
    has those values: kubectl apply --server-side takes them over without conflicts."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not isinstance(text, str) or not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict):
        return None
    paths = managed.to_field_set(last, fm.schema)
    if managed.compare(live, managed.merge(live, last, fm.schema), fm.schema).modified:
        return None
    return paths


def _under(root: str, path: str) -> str:
    if not path:
        return root
    return f"{root}{path}" if path.startswith("[") else f"{root}.{path}"


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
