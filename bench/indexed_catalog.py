"""A sandbox catalog store that answers large listings quickly.

`CatalogStore` builds the whole filtered listing (a deep copy of every model) for each page
request and scans every model for a `model_id` version lookup: with 10,000 models one page
costs about a second of the bench process's CPU, which would swamp what the bench measures.
This subclass memoizes the listing per filter until the catalog changes (reusing the served
form of every model that did not change, so the server reuses its JSON too), looks versions
up by model id and finds the models of an `fqn` or `name` filter (a named-model trigger's
lookup) by index instead of a scan; what the server answers is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from modelsync_sandbox.catalog_query import (
    JsonObject,
    ModelFilter,
    VersionFilter,
    model_matches,
    select_models,
    select_versions,
    served_model,
    sort_key,
)
from modelsync_sandbox.catalog_store import CatalogStore

__all__ = ["IndexedCatalogStore"]


class IndexedCatalogStore(CatalogStore):
    def __init__(self, data: Mapping[str, Any]) -> None:
        self._cache_lock = threading.Lock()
        self._listings: dict[ModelFilter, list[JsonObject]] = {}
        # model id -> (stored entry, its served model): the store replaces an entry on every
        # change, so an unchanged entry keeps its served model (and the server its JSON).
        self._served: dict[str, tuple[JsonObject, JsonObject]] = {}
        # model ids by fqn and by name; None: to be built (models were added or removed)
        self._index: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        super().__init__(data)

    def _changed(self, *, models: bool = True) -> None:
        with self._cache_lock:
            self._listings.clear()
            if models:
                self._index = None

    def replace(self, data: Mapping[str, Any]) -> None:
        super().replace(data)
        self._changed()

    def upsert_model(self, model: Mapping[str, Any]) -> JsonObject:
        stored = super().upsert_model(model)
        self._changed()
        return stored

    def remove_model(self, model_id: str) -> bool:
        removed = super().remove_model(model_id)
        self._changed()
        return removed

    def add_version(self, model_id: str, version: Mapping[str, Any]) -> JsonObject:
        added = super().add_version(model_id, version)
        self._changed(models=False)  # a new version changes no model's fqn or name
        return added

    def list_models(self, flt: ModelFilter) -> list[JsonObject]:
        if flt.fqn is not None or flt.name is not None:
            return self._list_by_index(flt)
        # Served pages are serialized, never mutated, so one listing can back every page.
        with self._lock, self._cache_lock:  # the order _list_by_index takes them in
            listing = self._listings.get(flt)
            if listing is None:
                listing = self._listings[flt] = self._listing(flt)
            return listing

    def _listing(self, flt: ModelFilter) -> list[JsonObject]:
        """What select_models answers, reusing the served models of unchanged entries
        (called with both locks held)."""
        entries = self._entries
        served = self._served
        for model_id in [i for i in served if i not in entries]:
            del served[model_id]
        listing = []
        for entry in sorted((e for e in entries.values() if model_matches(e, flt)), key=sort_key):
            known = served.get(entry["id"])
            if known is None or known[0] is not entry:
                known = served[entry["id"]] = (entry, served_model(entry))
            listing.append(known[1])
        return listing

    def _list_by_index(self, flt: ModelFilter) -> list[JsonObject]:
        with self._lock:
            with self._cache_lock:
                if self._index is None:
                    by_fqn: dict[str, list[str]] = {}
                    by_name: dict[str, list[str]] = {}
                    for model_id, entry in self._entries.items():
                        by_fqn.setdefault(str(entry.get("fqn")), []).append(model_id)
                        by_name.setdefault(str(entry.get("name")), []).append(model_id)
                    self._index = (by_fqn, by_name)
                by_fqn, by_name = self._index
            if flt.fqn is not None:
                ids = by_fqn.get(flt.fqn, [])
            else:
                ids = by_name.get(flt.name or "", [])
            # select_models applies every filter (and the order) to the candidates.
            return select_models([self._entries[i] for i in ids], flt)

    def list_versions(self, flt: VersionFilter) -> list[JsonObject]:
        if flt.model_id is None:
            return super().list_versions(flt)
        entry = self.model(flt.model_id)
        return [] if entry is None else select_versions([entry], flt)
