"""The controllers a cluster runs that clients depend on, run after each write.

- garbage collector: ownerReferences, background/foreground cascading deletion,
  orphaning (k8s.io/kubernetes pkg/controller/garbagecollector);
- namespace lifecycle: a deleted namespace empties, then goes
  (pkg/controller/namespace);
- CRD lifecycle: names accepted and Established conditions, instance cleanup
  on deletion (apiextensions-apiserver pkg/controller/{status,establish,finalizer}).

Like the real ones they act asynchronously: after the request that triggered
them has been answered, on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from modelsync_sandbox.kube import kinds
from modelsync_sandbox.kube.errors import ApiError, JsonObject
from modelsync_sandbox.kube.meta import finalizers, is_deleting, metadata, now_rfc3339
from modelsync_sandbox.kube.operations import (
    BACKGROUND,
    FOREGROUND,
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    Operations,
)
from modelsync_sandbox.kube.resources import CRDS, NAMESPACES, Registry, ResourceType
from modelsync_sandbox.kube.store import DELETED, Event, Ref, Store, object_key

log = logging.getLogger(__name__)


# What `_owner` answers for an owner reference that can never resolve (see the GC docs:
# "cluster-scoped dependents can only specify cluster-scoped owners").
_UNRESOLVABLE: JsonObject = {}


def _owner_refs(obj: JsonObject) -> list[JsonObject]:
    return [r for r in metadata(obj).get("ownerReferences") or [] if isinstance(r, dict)]


class Controllers:
    def __init__(self, store: Store, registry: Registry, ops: Operations) -> None:
        self.store = store
        self.registry = registry
        self.ops = ops
        self._pending: deque[tuple[str, Event]] = deque()
        self._wake: asyncio.Event | None = None
        self._swept: set[str] = set()  # namespaces/CRDs whose contents were already deleted
        store.listeners.append(self._on_event)

    def _on_event(self, skey: str, event: Event) -> None:
        if skey == CRDS.storage_key:
            self._registry_follow(event)
        self._pending.append((skey, event))
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        self._wake = asyncio.Event()
        self.resync()
        while True:
            self.process_pending()
            await self._wake.wait()
            self._wake.clear()

    def resync(self) -> None:
        """Look at every stored object once (after a restore from a state file)."""
        for coll in list(self.store.collections.values()):
            for obj in list(coll.objects.values()):
                if is_deleting(obj) or _owner_refs(obj) or obj.get("kind") == CRDS.kind:
                    skey = self._skey_of(obj)
                    if skey:
                        self._pending.append((skey, Event("MODIFIED", 0, obj, None)))

    def process_pending(self) -> None:
        while self._pending:
            skey, event = self._pending.popleft()
            try:
                self._handle(skey, event)
            except ApiError as exc:  # e.g. a concurrent change; the next event retries
                log.debug("controller step failed: %s", exc.message)

    # -- dispatch ----------------------------------------------------------------------

    def _handle(self, skey: str, event: Event) -> None:
        if event.type == DELETED:
            self._after_delete(skey, event.obj)
            return
        current = self.store.get(skey, object_key(event.obj))
        if current is not event.obj:
            return  # a newer event for this object is queued
        if skey == CRDS.storage_key:
            self._crd(current)
        prev_refs = _owner_refs(event.prev) if event.prev else []
        if _owner_refs(current) and _owner_refs(current) != prev_refs:
            self._check_dependent((skey, object_key(current)))
        if is_deleting(current):
            fins = finalizers(current)
            if FOREGROUND_FINALIZER in fins:
                self._foreground(current)
            elif ORPHAN_FINALIZER in fins:
                self._orphan(current)
            if skey == NAMESPACES.storage_key:
                self._namespace(str(current["metadata"]["name"]))

    def _after_delete(self, skey: str, obj: JsonObject) -> None:
        meta = metadata(obj)
        uid = str(meta.get("uid", ""))
        for dependent in sorted(self.store.dependents.get(uid, ())):
            self._check_dependent(dependent)
        for owner_ref in _owner_refs(obj):
            found = self.store.by_uid(str(owner_ref.get("uid")))
            if found and is_deleting(found[1]) and FOREGROUND_FINALIZER in finalizers(found[1]):
                self._foreground(found[1])
        namespace = str(meta.get("namespace") or "")
        if namespace:
            ns = self.store.get(NAMESPACES.storage_key, ("", namespace))
            if ns is not None and is_deleting(ns):
                self._namespace(namespace)
        rt = self._type_of(skey)
        if rt is not None and rt.custom:
            crd = self.store.get(CRDS.storage_key, ("", rt.crd_name))
            if crd is not None and is_deleting(crd):
                self._crd_cleanup(crd)

    # -- garbage collector ---------------------------------------------------------------

    def _check_dependent(self, ref: Ref) -> None:
        skey, key = ref
        obj = self.store.get(skey, key)
        rt = self._type_of(skey)
        if obj is None or rt is None or is_deleting(obj):
            return
        refs = _owner_refs(obj)
        if not refs:
            return
        solid, gone = [], []
        waiting = False
        for owner_ref in refs:
            owner = self._owner(obj, owner_ref)
            if owner is _UNRESOLVABLE:
                # A cluster-scoped dependent of a namespaced owner is never collected.
                solid.append(owner_ref)
            elif owner is None:
                gone.append(owner_ref)
            elif is_deleting(owner) and FOREGROUND_FINALIZER in finalizers(owner):
                gone.append(owner_ref)
                waiting = True
            else:
                solid.append(owner_ref)
        if not gone:
            return
        if solid:
            gone_uids = {r.get("uid") for r in gone}

            def unlink(new: JsonObject) -> None:
                new["metadata"]["ownerReferences"] = [
                    r for r in _owner_refs(new) if r.get("uid") not in gone_uids
                ]

            self.ops.rewrite(rt, obj, unlink)
            return
        has_dependents = bool(self.store.dependents.get(str(metadata(obj).get("uid"))))
        policy = FOREGROUND if waiting and has_dependents else BACKGROUND
        self.ops.delete_object(rt, obj, policy)

    def _owner(self, dependent: JsonObject, owner_ref: JsonObject) -> JsonObject | None:
        found = self.store.by_uid(str(owner_ref.get("uid")))
        if found is None:
            return None
        owner = found[1]
        owner_ns = metadata(owner).get("namespace")
        dependent_ns = metadata(dependent).get("namespace")
        if owner_ns and not dependent_ns:
            return _UNRESOLVABLE
        # A namespaced owner must live in the dependent's namespace, or it counts as absent.
        if owner_ns and owner_ns != dependent_ns:
            return None
        return owner

    def _foreground(self, owner: JsonObject) -> None:
        uid = str(metadata(owner).get("uid"))
        for ref in sorted(self.store.dependents.get(uid, ())):
            self._check_dependent(ref)
        for skey, key in self.store.dependents.get(uid, ()):
            dependent = self.store.get(skey, key)
            if dependent is None:
                continue
            for owner_ref in _owner_refs(dependent):
                if owner_ref.get("uid") == uid and owner_ref.get("blockOwnerDeletion"):
                    return  # still blocked
        self._drop_finalizer(owner, FOREGROUND_FINALIZER)

    def _orphan(self, owner: JsonObject) -> None:
        uid = str(metadata(owner).get("uid"))

        def unlink(new: JsonObject) -> None:
            new["metadata"]["ownerReferences"] = [
                r for r in _owner_refs(new) if r.get("uid") != uid
            ]

        for skey, key in sorted(self.store.dependents.get(uid, ())):
            dependent = self.store.get(skey, key)
            rt = self._type_of(skey)
            if dependent is not None and rt is not None:
                self.ops.rewrite(rt, dependent, unlink)
        self._drop_finalizer(owner, ORPHAN_FINALIZER)

    def _drop_finalizer(self, obj: JsonObject, finalizer: str) -> None:
        current = self.store.get(self._skey_of(obj), object_key(obj))
        rt = self._type_of(self._skey_of(obj))
        if current is None or rt is None or finalizer not in finalizers(current):
            return

        def drop(new: JsonObject) -> None:
            new["metadata"]["finalizers"] = [f for f in finalizers(new) if f != finalizer]
            if not new["metadata"]["finalizers"]:
                del new["metadata"]["finalizers"]

        self.ops.rewrite(rt, current, drop)

    # -- namespaces ----------------------------------------------------------------------

    def _namespace(self, name: str) -> None:
        ns = self.store.get(NAMESPACES.storage_key, ("", name))
        if ns is None or not is_deleting(ns):
            return
        if self.store.namespace_sizes.get(name):
            marker = f"namespace/{name}/{metadata(ns).get('uid')}"
            if marker in self._swept:
                return
            self._swept.add(marker)
            for rt in list(self.registry.storage_types()):
                if not rt.namespaced:
                    continue
                for obj in list(self.store.items(rt.storage_key, namespace=name)):
                    if not is_deleting(obj):
                        self.ops.delete_object(rt, obj, BACKGROUND)
            if self.store.namespace_sizes.get(name):
                return

        def finalize(new: JsonObject) -> None:
            spec = new.setdefault("spec", {})
            spec["finalizers"] = [
                f for f in spec.get("finalizers") or [] if f != kinds.NAMESPACE_FINALIZER
            ]

        self.ops.rewrite(NAMESPACES, ns, finalize, subresource="finalize")

    # -- CustomResourceDefinitions -------------------------------------------------------

    def _registry_follow(self, event: Event) -> None:
        """Serve a CRD's resources once Established; stop when the CRD is gone."""
        name = str(metadata(event.obj).get("name", ""))
        if event.type == DELETED:
            skeys = {t.storage_key for t in self.registry.custom_types(name)}
            self.registry.remove_crd(name)
            for skey in skeys:
                self.store.drop_collection(skey)
        elif kinds.is_established(event.obj):
            self.registry.set_crd(event.obj)

    def _crd(self, crd: JsonObject) -> None:
        if is_deleting(crd):
            if kinds.CRD_CLEANUP_FINALIZER in finalizers(crd):
                self._crd_cleanup(crd)
            return
        desired = kinds.crd_accepted_status(crd, now_rfc3339())
        status = crd.get("status") or {}
        if _condition_summary(status) == _condition_summary(desired) and all(
            status.get(k) == desired[k] for k in ("acceptedNames", "storedVersions")
        ):
            return
        old_times = {x.get("type"): x for x in status.get("conditions") or []}
        for condition in desired["conditions"]:
            previous = old_times.get(condition["type"])
            if previous and previous.get("status") == condition["status"]:
                condition["lastTransitionTime"] = previous.get("lastTransitionTime")

        def establish(new: JsonObject) -> None:
            new["status"] = desired

        self.ops.rewrite(CRDS, crd, establish, manager="kube-apiserver", subresource="status")

    def _crd_cleanup(self, crd: JsonObject) -> None:
        spec = crd.get("spec") or {}
        skey = f"{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}"
        types = self.registry.custom_types(str(metadata(crd).get("name")))
        if self.store.count(skey) and types:
            marker = f"crd/{metadata(crd).get('uid')}"
            if marker not in self._swept:
                self._swept.add(marker)
                for obj in list(self.store.items(skey)):
                    if not is_deleting(obj):
                        self.ops.delete_object(types[0], obj, BACKGROUND)
            if self.store.count(skey):
                return
        self._drop_finalizer(crd, kinds.CRD_CLEANUP_FINALIZER)

    # -- lookups -------------------------------------------------------------------------

    def _type_of(self, skey: str) -> ResourceType | None:
        return self.registry.for_storage(skey)

    def _skey_of(self, obj: JsonObject) -> str:
        ref = self.store.uids.get(str(metadata(obj).get("uid")))
        return ref[0] if ref else ""


def _condition_summary(status: JsonObject) -> list[tuple[str, str]]:
    return sorted(
        (str(x.get("type")), str(x.get("status"))) for x in status.get("conditions") or []
    )
