"""The one ModelRef LIST of a sync pass, read lean: metadata and status of every ModelRef, and
its whole spec only where the plan needs it.

The LIST pages are decoded from the response bytes on the API client's thread (msgspec), page
by page, straight into plan.ExistingRef records; a page's bytes and the specs nobody needs are
dropped at once. `spec_needed(name, found_digest, generation, observed_generation)` says which
specs to read whole (plan/digest.py `digest_vouches`: where the spec digest cannot vouch for
the spec); the others keep only what plan/existing.py reads of a spec (the model's id and fqn, the
version's id and number).

The labels, owner references and status of the ModelRefs of one sync are mostly the same few
values: they are taken raw, and equal JSON texts are decoded once per LIST and shared by the
states that hold them (read-only Mappings to the planner).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from modelsync.api.constants import (
    ANNOTATION_SPEC_DIGEST,
    GROUP,
    LABEL_SYNC,
    PLURAL_MODELREF,
    VERSION,
)
from modelsync.api.labels import sanitize_label_value
from modelsync.kube.client import KubeApi
from modelsync.plan import ExistingRef, parse_existing

__all__ = ["SharedValues", "SpecNeeded", "list_modelref_states", "states_of_page"]

# (ModelRef name, its spec-digest annotation, metadata.generation, status.observedGeneration)
SpecNeeded = Callable[[str, object, object, object], bool]

_LIST_PAGE = 500


_NULL = msgspec.Raw(b"null")


class _Metadata(msgspec.Struct, gc=False):
    name: str = ""
    uid: str | None = None
    resourceVersion: str | None = None
    generation: int | None = None
    labels: msgspec.Raw = _NULL  # dict[str, str] | None, checked by SharedValues
    annotations: dict[str, str] | None = None
    ownerReferences: msgspec.Raw = _NULL  # list[dict[str, Any]] | None, checked by SharedValues


class _ModelSummary(msgspec.Struct, gc=False):
    id: Any = None
    fqn: Any = None


class _VersionSummary(msgspec.Struct, gc=False):
    id: Any = None
    version: Any = None


class _SpecSummary(msgspec.Struct, gc=False):
    model: _ModelSummary | None = None
    version: _VersionSummary | None = None


class _Item(msgspec.Struct, gc=False):
    metadata: _Metadata = msgspec.field(default_factory=_Metadata)
    spec: _SpecSummary | None = None
    status: msgspec.Raw = _NULL  # dict[str, Any] | None, checked by SharedValues


class _ListMetadata(msgspec.Struct, gc=False):
    # Kubernetes names it `continue`, a Python keyword.
    continue_: str | None = msgspec.field(default=None, name="continue")


class _Page(msgspec.Struct, gc=False):
    items: list[_Item] | None = None
    metadata: _ListMetadata = msgspec.field(default_factory=_ListMetadata)


class _WholeSpec(msgspec.Struct, gc=False):
    spec: Any = None


class _WholeSpecs(msgspec.Struct, gc=False):
    items: list[_WholeSpec] | None = None


_PAGE_DECODER = msgspec.json.Decoder(_Page)
_SPECS_DECODER = msgspec.json.Decoder(_WholeSpecs)
_LOOSE_DECODER = msgspec.json.Decoder(Any)

_EMPTY: dict[str, Any] = {}
_NO_OWNERS: tuple[dict[str, Any], ...] = ()


class _Unexpected(ValueError):
    """A raw field is not of the type the CRD gives it: the page is read whole instead."""


def _string_map(value: Any) -> dict[str, Any]:
    if value is None:
        return _EMPTY
    if type(value) is not dict or not all(type(item) is str for item in value.values()):
        raise _Unexpected
    return value


def _owners(value: Any) -> tuple[dict[str, Any], ...]:
    if value is None:
        return _NO_OWNERS
    if type(value) is not list or not all(type(ref) is dict for ref in value):
        raise _Unexpected
    return tuple(value)


def _object(value: Any) -> dict[str, Any]:
    if value is None:
        return _EMPTY
    if type(value) is not dict:
        raise _Unexpected
    return value


class SharedValues:
    """The labels, owner references and statuses of the ModelRefs of one LIST, decoded once
    per distinct JSON text and shared by the states that hold them: give the same one to
    every states_of_page of a LIST. `get` raises _Unexpected for a value of another type
    than the CRD gives it."""

    __slots__ = ("_decoded",)

    def __init__(self) -> None:
        self._decoded: dict[tuple[object, bytes], Any] = {}

    def get(self, raw: msgspec.Raw, read: Callable[[Any], Any]) -> Any:
        key = (read, bytes(raw))
        found = self._decoded.get(key)
        if found is None:
            found = self._decoded[key] = read(_LOOSE_DECODER.decode(key[1]))
        return found


def _summary(found: _SpecSummary) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if found.model is not None:
        spec["model"] = {"id": found.model.id, "fqn": found.model.fqn}
    if found.version is not None:
        spec["version"] = {"id": found.version.id, "version": found.version.version}
    return spec


def _state(
    item: _Item, status: dict[str, Any], whole_spec: Any, shared: SharedValues
) -> ExistingRef:
    """`whole_spec`: the decoded spec when the plan needs it whole, else None."""
    meta = item.metadata
    owners: tuple[dict[str, Any], ...] = shared.get(meta.ownerReferences, _owners)
    controller = next((ref for ref in owners if ref.get("controller") is True), None)
    if whole_spec is not None:
        spec = whole_spec if isinstance(whole_spec, dict) else {}
    else:
        spec = _summary(item.spec) if item.spec is not None else {}
    return ExistingRef(
        name=meta.name,
        uid=meta.uid,
        resource_version=meta.resourceVersion,
        generation=meta.generation,
        labels=shared.get(meta.labels, _string_map),
        annotations=meta.annotations or {},
        owner_references=owners,
        controller_uid=controller.get("uid") if controller is not None else None,
        spec=spec,
        status=status,
        spec_complete=whole_spec is not None,
    )


def _loose_states(body: bytes) -> tuple[list[ExistingRef], str | None]:
    loose = _LOOSE_DECODER.decode(body)
    listed = loose.get("items") if isinstance(loose, dict) else None
    meta = loose.get("metadata") if isinstance(loose, dict) else None
    token = meta.get("continue") if isinstance(meta, dict) else None
    states = [parse_existing(obj) for obj in listed or () if isinstance(obj, dict)]
    return states, token if isinstance(token, str) else None


def states_of_page(
    body: bytes, spec_needed: SpecNeeded, shared: SharedValues | None = None
) -> tuple[list[ExistingRef], str | None]:
    """The ModelRefs of one LIST page (JSON bytes) and its continue token. The page is
    decoded once without specs; a second pass decodes the specs of the items that need
    them whole, and only when some do. A page of unexpected shape (a field of another type
    than the CRD gives it) is read whole, as the official client would. `shared`: the
    decoded values of the pages before (None: this page's alone)."""
    shared = SharedValues() if shared is None else shared
    try:
        page = _PAGE_DECODER.decode(body)
        items = page.items or []
        statuses: list[dict[str, Any]] = [shared.get(item.status, _object) for item in items]
        for item in items:
            shared.get(item.metadata.labels, _string_map)
            shared.get(item.metadata.ownerReferences, _owners)
    except (msgspec.ValidationError, _Unexpected):
        return _loose_states(body)
    needed = [
        index
        for index, item in enumerate(items)
        if spec_needed(
            item.metadata.name,
            (item.metadata.annotations or {}).get(ANNOTATION_SPEC_DIGEST),
            item.metadata.generation,
            statuses[index].get("observedGeneration"),
        )
    ]
    whole: dict[int, Any] = {}
    if needed:
        specs = _SPECS_DECODER.decode(body).items or []
        # A whole spec that is not an object is read as an empty one (nothing of it is ours).
        whole = {
            index: specs[index].spec if specs[index].spec is not None else {} for index in needed
        }
    states = [
        _state(item, statuses[index], whole.get(index), shared) for index, item in enumerate(items)
    ]
    return states, page.metadata.continue_


def _read_page(
    response: Any, spec_needed: SpecNeeded, shared: SharedValues
) -> tuple[list[ExistingRef], str | None]:
    """Runs on the API client's thread: read the body, decode it, drop it."""
    try:
        body = response.data
    finally:
        response.release_conn()
    return states_of_page(body, spec_needed, shared)


async def list_modelref_states(
    api: KubeApi,
    namespace: str,
    sync_name: str,
    spec_needed: SpecNeeded,
    *,
    page_size: int = _LIST_PAGE,
) -> list[ExistingRef]:
    """Every ModelRef labelled `modelsync.dev/sync=<sync_name>` in the namespace, as the
    planner reads them; one LIST (in pages of `page_size`, limit/continue)."""
    selector = f"{LABEL_SYNC}={sanitize_label_value(sync_name)}"
    states: list[ExistingRef] = []
    token: str | None = None
    custom = api.custom
    shared = SharedValues()  # one page at a time uses it: the pages are read in turn

    def fetch(continue_token: str | None, **options: Any) -> tuple[list[ExistingRef], str | None]:
        kwargs: dict[str, Any] = {"label_selector": selector, "limit": page_size, **options}
        if continue_token:
            kwargs["_continue"] = continue_token
        response = custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL_MODELREF, _preload_content=False, **kwargs
        )
        return _read_page(response, spec_needed, shared)

    while True:
        page, token = await api.call(
            "list",
            PLURAL_MODELREF,
            f'list ModelRefs of sync "{sync_name}" in namespace "{namespace}"',
            fetch,
            token,
        )
        states.extend(page)
        if not token:
            return states
