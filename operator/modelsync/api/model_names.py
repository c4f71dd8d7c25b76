"""The models `modelsync reconcile SYNC --model ...` names, and the annotation that carries them.

A model is named as `REPO/NAME` (ML repo and model name, the tenant being the catalog's) or
by its full fqn `model:TENANT/REPO/NAME`. The request annotation
`modelsync.dev/reconcile-models` holds the names, sorted, without duplicates, joined by ",";
so no part of a name may hold "/" or "," (nor whitespace, which no catalog name holds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FQN_PREFIX",
    "MODEL_NAME_FORMS",
    "ModelName",
    "format_reconcile_models",
    "parse_fqn",
    "parse_model_name",
    "split_reconcile_models",
]

FQN_PREFIX: Final = "model:"
MODEL_NAME_FORMS: Final = (
    "REPO/NAME (e.g. churn/churn-survival) or a model fqn model:TENANT/REPO/NAME"
)

_SEPARATOR = ","
# One part of a name: anything but the separators, whitespace and control characters.
_PART = re.compile(r"[^/,\s\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class ModelName:
    """A named model; `tenant` is None for the `REPO/NAME` form."""

    repo: str
    name: str
    tenant: str | None = None

    @property
    def fqn(self) -> str | None:
        """The fqn when the tenant is known."""
        return None if self.tenant is None else self.fqn_in(self.tenant)

    def fqn_in(self, tenant: str) -> str:
        return f"{FQN_PREFIX}{tenant}/{self.repo}/{self.name}"

    def same_model(self, other: ModelName) -> bool:
        """Same repo and name, and the same tenant where both know it."""
        return (
            self.repo == other.repo
            and self.name == other.name
            and (self.tenant is None or other.tenant is None or self.tenant == other.tenant)
        )

    def __str__(self) -> str:
        return self.fqn or f"{self.repo}/{self.name}"


def _parts(path: str, count: int) -> list[str] | None:
    parts = path.split("/")
    if len(parts) != count or not all(_PART.fullmatch(p) for p in parts):
        return None
    return parts


def parse_fqn(fqn: str) -> ModelName | None:
    """`model:TENANT/REPO/NAME` -> its parts; None for anything else."""
    if not fqn.startswith(FQN_PREFIX):
        return None
    parts = _parts(fqn[len(FQN_PREFIX) :], 3)
    if parts is None:
        return None
    tenant, repo, name = parts
    return ModelName(repo, name, tenant)


def parse_model_name(text: str) -> ModelName:
    """`REPO/NAME` or `model:TENANT/REPO/NAME`; raises ValueError saying what is expected."""
    found: ModelName | None
    if text.startswith(FQN_PREFIX):
        found = parse_fqn(text)
    else:
        parts = _parts(text, 2)
        found = ModelName(parts[0], parts[1]) if parts is not None else None
    if found is None:
        raise ValueError(f"{text!r} is not a model name: expected {MODEL_NAME_FORMS}")
    return found


def format_reconcile_models(names: Iterable[str]) -> str:
    """The annotation value: the names sorted, without duplicates, joined by ","."""
    return _SEPARATOR.join(sorted(set(names)))


def split_reconcile_models(value: str) -> tuple[str, ...]:
    """The names an annotation value holds (blank entries dropped; not validated here)."""
    return tuple(part.strip() for part in value.split(_SEPARATOR) if part.strip())
