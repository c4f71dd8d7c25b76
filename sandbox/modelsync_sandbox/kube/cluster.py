"""The cluster's state and behaviour, without HTTP: store, served types, writes, controllers."""

from __future__ import annotations

from modelsync_sandbox.kube import kinds
from modelsync_sandbox.kube.errors import JsonObject
from modelsync_sandbox.kube.gc import Controllers
from modelsync_sandbox.kube.operations import Operations
from modelsync_sandbox.kube.resources import CRDS, NAMESPACES, Registry
from modelsync_sandbox.kube.store import DEFAULT_HISTORY, Store

# The namespaces every cluster starts with.
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Cluster:
    def __init__(self, *, history_size: int = DEFAULT_HISTORY) -> None:
        self.store = Store(history_size=history_size)
        self.registry = Registry()
        self.ops = Operations(self.store, self.registry)
        self.controllers = Controllers(self.store, self.registry, self.ops)

    def restore(self, state: JsonObject) -> None:
        self.store.restore(state)
        for crd in self.store.items(CRDS.storage_key):
            if kinds.is_established(crd):
                self.registry.set_crd(crd)

    def bootstrap(self) -> None:
        for name in DEFAULT_NAMESPACES:
            if self.store.get(NAMESPACES.storage_key, ("", name)) is None:
                self.ops.create(
                    NAMESPACES,
                    "",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                )
