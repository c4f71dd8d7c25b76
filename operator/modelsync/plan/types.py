"""The planner's inputs and outputs: plain frozen records, no behaviour beyond small helpers.

Dict-valued fields (bodies, patches, specs) are JSON-ready and must be treated as read-only:
the planner shares them between its outputs instead of copying them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from enum import Enum
from typing import Any, Final, Literal, TypeAlias

from modelsync.api.conditions import Condition
from modelsync.api.modelcatalogsync import ModelRefCounts
from modelsync.catalog.records import VersionRecord

JsonDict: TypeAlias = dict[str, Any]


class LookupUnsupported(Enum):
    """The catalog has no model-versions endpoint (the shell got a 404/405 for it)."""

    UNSUPPORTED = "unsupported"


class CacheMiss(Enum):
    MISSING = "missing"


UNSUPPORTED: Final = LookupUnsupported.UNSUPPORTED
MISSING: Final = CacheMiss.MISSING


@dataclass(frozen=True, slots=True)
class NoVersion:
    """Looked up: no version qualifies under the versionSelector, or the pinned version is not
    in the catalog; `why` says which rules excluded the newest versions."""

    why: str


# What the shell learnt from one model's version list (plan/version_selector.py, `resolve`):
# the chosen version (the pinned one, else the newest qualifying one), None (no version is
# deployable, for a spec without selector or pins), NoVersion or UNSUPPORTED.
VersionResolution: TypeAlias = (
    VersionRecord | NoVersion | Literal[LookupUnsupported.UNSUPPORTED] | None
)


@dataclass(frozen=True, slots=True)
class SyncRef:
    """The ModelCatalogSync the planned ModelRefs belong to."""

    name: str
    namespace: str
    uid: str
    api_version: str = "modelsync.dev/v1alpha1"
    kind: str = "ModelCatalogSync"

    def owner_reference(self) -> JsonDict:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True, slots=True)
class ExistingRef:
    """A listed ModelRef, as far as the planner reads it (raw mappings are not copied)."""

    name: str
    uid: str | None
    resource_version: str | None
    generation: int | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    owner_references: tuple[Mapping[str, Any], ...]
    controller_uid: str | None
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    # False: `spec` holds only what plan/existing.py SPEC_SUMMARY_FIELDS names (the LIST read
    # the whole spec only where the digest could not vouch for it).
    spec_complete: bool = True


@dataclass(frozen=True, slots=True)
class DesiredRef:
    """What one ModelRef should look like; the shell keeps these for drift repair.

    The spec is rendered on demand (`spec`), from the catalog records `render` holds: a steady
    sync compares `spec_digest` with the ModelRef's annotation and renders nothing.
    """

    name: str
    model_id: str
    model_fqn: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]  # includes the spec digest annotation
    ready: Condition  # without lastTransitionTime / observedGeneration
    owner: SyncRef
    spec_digest: str
    version_id: str | None
    version_number: int | None
    render: Callable[[], JsonDict] = field(compare=False, repr=False)
    # The ModelRef keeps the version it holds: its spec is always read whole (the version
    # choice depends on it), so its digest annotation is left as it is.
    keeps_version: bool = False

    @property
    def spec(self) -> JsonDict:
        """The canonical spec (camelCase, no None values), rendered anew on each access."""
        return self.render()


@dataclass(frozen=True, slots=True)
class VersionChange:
    """A ModelRef moved to another catalog version (for the VersionChanged events); the
    aliases are the versions' `versionAlias`, when they have one."""

    model_fqn: str
    old_version: int | None
    new_version: int | None
    old_alias: str | None = None
    new_alias: str | None = None

    @property
    def versions(self) -> str:
        """`3 -> 4`, with `none` for a side without a version number."""
        old = "none" if self.old_version is None else str(self.old_version)
        new = "none" if self.new_version is None else str(self.new_version)
        return f"{old} -> {new}"

    @property
    def aliases(self) -> str:
        """`v1.0.0 -> v1.1.0`, `v1.1.0` (the new version's, unchanged or new), `v1.0.0 ->
        none`, or "" when neither version has an alias."""
        old, new = self.old_alias, self.new_alias
        if old and new and old != new:
            return f"{old} -> {new}"
        if new:
            return new
        return f"{old} -> none" if old else ""

    @property
    def message(self) -> str:
        """`model:acme/churn/x: version 3 -> 4, alias v1.0.0 -> v1.1.0`."""
        aliases = self.aliases
        text = f"{self.model_fqn}: version {self.versions}"
        return f"{text}, alias {aliases}" if aliases else text


class CreateRef:
    """A ModelRef to create: `body`, the full object (apiVersion, kind, metadata with the
    ownerReferences, spec), then `status`, the `{"status": {...}}` merge patch for the status
    subresource. Immutable; equal when name, fqn, body and status are.

    The planner's creates (`rendered`) render body and status anew on each access: a first
    sync of 10,000 models would otherwise hold 10,000 bodies (45 MiB) at once, where the
    writes need only those in flight.
    """

    __slots__ = ("_body", "_render_body", "_render_status", "_status", "model_fqn", "name")
    __hash__ = None  # type: ignore[assignment]  # its dicts are not hashable either

    name: str
    model_fqn: str
    _body: JsonDict | None
    _status: JsonDict | None
    _render_body: Callable[[], JsonDict] | None
    _render_status: Callable[[], JsonDict] | None

    def __init__(self, name: str, model_fqn: str, body: JsonDict, status: JsonDict) -> None:
        self._set(name, model_fqn, body, status, None, None)

    @classmethod
    def rendered(
        cls,
        name: str,
        model_fqn: str,
        body: Callable[[], JsonDict],
        status: Callable[[], JsonDict],
    ) -> CreateRef:
        """A create whose body and status are rendered by `body()` and `status()` on access."""
        create = cls.__new__(cls)
        create._set(name, model_fqn, None, None, body, status)
        return create

    def _set(
        self,
        name: str,
        model_fqn: str,
        body: JsonDict | None,
        status: JsonDict | None,
        render_body: Callable[[], JsonDict] | None,
        render_status: Callable[[], JsonDict] | None,
    ) -> None:
        for key, value in (
            ("name", name),
            ("model_fqn", model_fqn),
            ("_body", body),
            ("_status", status),
            ("_render_body", render_body),
            ("_render_status", render_status),
        ):
            object.__setattr__(self, key, value)

    @property
    def body(self) -> JsonDict:
        if self._render_body is not None:
            return self._render_body()
        assert self._body is not None
        return self._body

    @property
    def status(self) -> JsonDict:
        if self._render_status is not None:
            return self._render_status()
        assert self._status is not None
        return self._status

    def __setattr__(self, key: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {key!r}")

    def __delattr__(self, key: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {key!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, CreateRef)
        return (self.name, self.model_fqn, self.body, self.status) == (
            other.name,
            other.model_fqn,
            other.body,
            other.status,
        )

    def __reduce__(self) -> tuple[type[CreateRef], tuple[str, str, JsonDict, JsonDict]]:
        return (CreateRef, (self.name, self.model_fqn, self.body, self.status))

    def __repr__(self) -> str:
        return (
            f"CreateRef(name={self.name!r}, model_fqn={self.model_fqn!r}, body={self.body!r}, "
            f"status={self.status!r})"
        )


@dataclass(frozen=True, slots=True)
class UpdateRef:
    name: str
    uid: str | None
    resource_version: str | None
    model_fqn: str
    patch: JsonDict | None  # JSON merge patch: changed spec + owned metadata; None: no change
    status: JsonDict | None  # `{"status": {...}}` merge patch; None: status unchanged
    version_change: VersionChange | None = None


@dataclass(frozen=True, slots=True)
class DeleteRef:
    name: str
    uid: str | None
    model_fqn: str | None


@dataclass(frozen=True, slots=True)
class RetainRef:
    """A ModelRef whose model left the selection under deletionPolicy Retain: mark it."""

    name: str
    uid: str | None
    model_fqn: str | None
    status: JsonDict  # `{"status": {...}}` merge patch: Ready=False RemovedFromCatalog


@dataclass(frozen=True, slots=True)
class ModelFailure:
    """A model the sync could not materialize; it is counted as `failed`."""

    model: str  # model fqn
    reason: str
    message: str
    name: str | None = None  # the ModelRef name it would have had


@dataclass(frozen=True, slots=True)
class DeletionGuard:
    """Removals were held back because there were more than maxDeletions of them."""

    would_remove: int
    max_deletions: int
    message: str


@dataclass(frozen=True, slots=True)
class SyncPlan:
    creates: tuple[CreateRef, ...] = ()
    updates: tuple[UpdateRef, ...] = ()
    deletes: tuple[DeleteRef, ...] = ()
    retained: tuple[RetainRef, ...] = ()  # removal marks to write
    failures: tuple[ModelFailure, ...] = ()
    # Models that passed select (incl. failed ones; a failed version lookup counts when the
    # model-level fields, namePattern and mlRepos, matched).
    selected: int = 0
    unchanged: int = 0
    retained_total: int = 0  # refs kept although their model left the selection
    guard: DeletionGuard | None = None
    desired: Mapping[str, DesiredRef] = field(default_factory=dict)
    # False: the catalog listing may have left models out, so their absence proves nothing.
    listing_complete: bool = True
    listing_problem: str = ""  # what was wrong with an incomplete listing

    def __post_init__(self) -> None:
        if not self.listing_complete and (self.deletes or self.retained or self.guard):
            raise ValueError(
                "a plan over an incomplete listing must not delete or mark ModelRefs removed"
            )

    @property
    def write_count(self) -> int:
        """Kubernetes write requests this plan needs (a spec patch and a status patch are two)."""
        writes = 2 * len(self.creates) + len(self.deletes) + len(self.retained)
        for update in self.updates:
            writes += (update.patch is not None) + (update.status is not None)
        return writes

    def ref_counts(self) -> ModelRefCounts:
        """Counts for status.modelRefs, assuming every planned write succeeds."""
        return ModelRefCounts(
            selected=self.selected,
            created=len(self.creates),
            updated=len(self.updates),
            unchanged=self.unchanged,
            deleted=len(self.deletes),
            retained=self.retained_total,
            failed=len(self.failures),
        )
