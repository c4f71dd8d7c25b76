"""The ModelRef naming rule (docs/design.md, Naming): a stable, valid object name per model.

Why two different models of one catalog never share a name:

* A name is used verbatim (``{ml_repo}.{model_name}``) only when it is already a valid
  DNS-1123 subdomain, neither part contains a dot, and it does not end in ``-`` plus ten
  hex digits. Within one tenant, ml_repo + model name identify the model, and the single
  dot separates the two parts unambiguously, so distinct models get distinct verbatim names.
* Every other name ends in ``-`` + the first ten hex digits of sha256(fqn). Verbatim names
  never have that ending (that is why such bases are hashed too), so a hashed name can never
  equal a verbatim one, and two hashed names are equal only if their fqn hashes agree.

Models from two different tenants with equal repo and model names do get one name; the
operator resolves that with the OwnedByAnotherSync rule (first owner keeps the ModelRef).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

MAX_NAME_LENGTH: Final = 253
HASH_LENGTH: Final = 10

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_HASHED_ENDING = re.compile(rf"-[0-9a-f]{{{HASH_LENGTH}}}\Z")
_NOT_NAME_CHAR = re.compile(r"[^a-z0-9-]")
_DASH_RUN = re.compile(r"-{2,}")


def is_dns1123_subdomain(value: str) -> bool:
    """True if `value` is a valid Kubernetes object name (DNS-1123 subdomain, <= 253 chars)."""
    return len(value) <= MAX_NAME_LENGTH and _DNS1123_SUBDOMAIN.fullmatch(value) is not None


def fqn_hash(fqn: str) -> str:
    return hashlib.sha256(fqn.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def _clean_part(part: str) -> str:
    cleaned = _DASH_RUN.sub("-", _NOT_NAME_CHAR.sub("-", part.lower())).strip("-")
    return cleaned or "x"


def modelref_name(ml_repo: str, model_name: str, fqn: str) -> str:
    """The ModelRef name for one catalog model; deterministic, always a valid object name."""
    base = f"{ml_repo}.{model_name}"
    if (
        "." not in ml_repo
        and "." not in model_name
        and is_dns1123_subdomain(base)
        and _HASHED_ENDING.search(base) is None
    ):
        return base
    prefix = f"{_clean_part(ml_repo)}.{_clean_part(model_name)}"
    prefix = prefix[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip("-.")
    return f"{prefix}-{fqn_hash(fqn)}"
