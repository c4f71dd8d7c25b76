"""Labels and annotations on ModelRefs: which ones the operator owns, and valid label values."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Final

from modelsync.api.constants import (
    ANNOTATION_MODEL_FQN,
    ANNOTATION_SPEC_DIGEST,
    LABEL_FRAMEWORK,
    LABEL_MANAGED_BY,
    LABEL_ML_REPO,
    LABEL_SYNC,
    MANAGED_BY_VALUE,
)
from modelsync.api.naming import is_dns1123_subdomain

MAX_LABEL_VALUE_LENGTH: Final = 63
_HASH_LENGTH: Final = 10

OWNED_LABEL_KEYS: Final = frozenset({LABEL_MANAGED_BY, LABEL_SYNC, LABEL_ML_REPO, LABEL_FRAMEWORK})
OWNED_ANNOTATION_KEYS: Final = frozenset({ANNOTATION_MODEL_FQN, ANNOTATION_SPEC_DIGEST})

_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_NOT_LABEL_CHAR = re.compile(r"[^-A-Za-z0-9_.]")
_EDGE_CHARS = "-_."


def is_valid_label_value(value: str) -> bool:
    return len(value) <= MAX_LABEL_VALUE_LENGTH and _LABEL_VALUE.fullmatch(value) is not None


def is_qualified_name(key: str) -> bool:
    """A valid label or annotation key: `[prefix/]name`, prefix a DNS subdomain."""
    prefix, slash, name = key.rpartition("/")
    if slash and not is_dns1123_subdomain(prefix):
        return False
    return bool(name) and is_valid_label_value(name)


def sanitize_label_value(value: str) -> str:
    """`value` if it is a valid label value; otherwise a valid stand-in ending in a short hash
    of `value`, so distinct inputs stay distinct. "" stays "" (an empty value is valid)."""
    if is_valid_label_value(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
    cleaned = _NOT_LABEL_CHAR.sub("-", value).strip(_EDGE_CHARS)
    cleaned = cleaned[: MAX_LABEL_VALUE_LENGTH - _HASH_LENGTH - 1].rstrip(_EDGE_CHARS)
    return f"{cleaned}-{digest}" if cleaned else digest


def modelref_labels(
    sync_name: str,
    ml_repo: str,
    framework: str | None,
    template_labels: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Labels for a ModelRef: the sync's template labels, with the operator's own keys winning."""
    labels = {k: v for k, v in (template_labels or {}).items() if k not in OWNED_LABEL_KEYS}
    labels[LABEL_MANAGED_BY] = MANAGED_BY_VALUE
    labels[LABEL_SYNC] = sanitize_label_value(sync_name)
    labels[LABEL_ML_REPO] = sanitize_label_value(ml_repo)
    if framework:
        labels[LABEL_FRAMEWORK] = sanitize_label_value(framework)
    return labels


def modelref_annotations(
    model_fqn: str,
    template_annotations: Mapping[str, str] | None = None,
    spec_digest: str | None = None,
) -> dict[str, str]:
    """Annotations for a ModelRef: the template's, plus the model fqn and the digest of the
    spec (the operator's keys win)."""
    annotations = {
        k: v for k, v in (template_annotations or {}).items() if k not in OWNED_ANNOTATION_KEYS
    }
    annotations[ANNOTATION_MODEL_FQN] = model_fqn
    if spec_digest is not None:
        annotations[ANNOTATION_SPEC_DIGEST] = spec_digest
    return annotations


def sync_selector(sync_name: str) -> str:
    """Label selector matching the ModelRefs of one ModelCatalogSync."""
    return f"{LABEL_SYNC}={sanitize_label_value(sync_name)}"
