"""The spec digest: what a ModelRef's spec was rendered from, as one short string.

The operator writes it with every spec it writes (annotation `modelsync.dev/spec-digest`). A
later plan computes the digest of what it wants from the catalog records alone, without
rendering the spec; when the ModelRef carries the same digest and nobody changed its spec
since (`metadata.generation` still equals the `status.observedGeneration` the operator wrote),
the spec is as desired and is neither rendered nor read. Steady syncs compare digests, not
bodies.

The digest covers the inputs of plan/spec.py (the model's fields, its ML repo name, the chosen
version record, or the id of the version a ModelRef keeps) and SPEC_FORMAT, which changes
whenever plan/spec.py renders the same inputs differently: a new format makes every ModelRef's
digest differ once, and the full comparison then writes only what really changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

import msgspec

from modelsync.catalog.records import ModelRecord, VersionRecord

__all__ = ["SPEC_FORMAT", "digest_vouches", "kept_spec_digest", "spec_digest"]

SPEC_FORMAT: Final = 1

# Sorted dict keys: catalog metadata may list the same keys in another order.
_ENCODER = msgspec.json.Encoder(order="deterministic")
_DIGEST_BYTES = 16


def _digest(parts: tuple[Any, ...]) -> str:
    try:
        encoded = _ENCODER.encode(parts)
    except UnicodeEncodeError:
        # A lone surrogate (JSON allows "\ud800"; UTF-8 does not): escaped, deterministically.
        builtins = msgspec.to_builtins(parts, order="deterministic")
        encoded = json.dumps(builtins, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.blake2b(encoded, digest_size=_DIGEST_BYTES).hexdigest()


def spec_digest(
    model: ModelRecord, ml_repo: str, version: VersionRecord, *, pinned: bool = False
) -> str:
    """The digest of the spec rendered for `model` (a catalog record) pointing at `version`
    (a catalog version record); `pinned` is part of it only when True, so the digests of
    ModelRefs written before pins existed stay as they were."""
    parts: tuple[Any, ...] = (
        SPEC_FORMAT,
        model.id,
        model.name,
        model.fqn,
        model.ml_repo_id,
        ml_repo,
        version,
    )
    return _digest((*parts, "pinned") if pinned else parts)


def kept_spec_digest(model: ModelRecord, ml_repo: str, kept_version_id: object) -> str:
    """The digest of the spec for `model` that keeps the version its ModelRef already holds
    (identified by the kept `spec.version.id`)."""
    return _digest(
        (
            SPEC_FORMAT,
            "kept",
            model.id,
            model.name,
            model.fqn,
            model.ml_repo_id,
            ml_repo,
            kept_version_id,
        )
    )


def digest_vouches(
    expected: str | None, found_digest: object, generation: object, observed_generation: object
) -> bool:
    """Whether a ModelRef's spec is known to be the one `expected` digests without reading
    it: the ModelRef carries that digest (`found_digest`) and nobody changed its spec since
    the operator wrote it (the generation the operator last reported as observed is still the
    object's). `expected` None: the plan must read the spec."""
    return (
        expected is not None
        and found_digest == expected
        and isinstance(generation, int)
        and observed_generation == generation
    )
