"""Names shared by the CRDs, the operator and its clients: group, kinds, labels, reasons."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

GROUP: Final = "modelsync.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CATEGORY: Final = "modelsync"

KIND_SYNC: Final = "ModelCatalogSync"
PLURAL_SYNC: Final = "modelcatalogsyncs"
SINGULAR_SYNC: Final = "modelcatalogsync"
SHORT_NAME_SYNC: Final = "mcs"

KIND_MODELREF: Final = "ModelRef"
PLURAL_MODELREF: Final = "modelrefs"
SINGULAR_MODELREF: Final = "modelref"
SHORT_NAME_MODELREF: Final = "mref"

LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "modelsync"
LABEL_SYNC: Final = f"{GROUP}/sync"
LABEL_ML_REPO: Final = f"{GROUP}/ml-repo"
LABEL_FRAMEWORK: Final = f"{GROUP}/framework"

# A Secret the operator may read as a catalog token or CA must carry this label, value "true".
LABEL_CATALOG_CREDENTIALS: Final = f"{GROUP}/catalog-credentials"
CATALOG_CREDENTIALS_VALUE: Final = "true"

ANNOTATION_MODEL_FQN: Final = f"{GROUP}/model-fqn"
# A digest of what the operator last wrote to a ModelRef's spec (plan/digest.py).
ANNOTATION_SPEC_DIGEST: Final = f"{GROUP}/spec-digest"
ANNOTATION_RECONCILE_REQUESTED_AT: Final = f"{GROUP}/reconcile-requested-at"
# Set with the trigger by `modelsync reconcile --model`: refresh only these models (names
# joined by ","; api/model_names.py). Without it a new trigger value means a full sync.
ANNOTATION_RECONCILE_MODELS: Final = f"{GROUP}/reconcile-models"

CONDITION_READY: Final = "Ready"
CONDITION_RECONCILING: Final = "Reconciling"
CONDITION_STALLED: Final = "Stalled"

# ModelCatalogSync Ready reasons.
REASON_SYNCED: Final = "Synced"
REASON_CATALOG_UNAVAILABLE: Final = "CatalogUnavailable"
REASON_UNAUTHORIZED: Final = "Unauthorized"
REASON_INVALID_RESPONSE: Final = "InvalidResponse"
REASON_DELETION_GUARD_TRIGGERED: Final = "DeletionGuardTriggered"
REASON_SUSPENDED: Final = "Suspended"
REASON_INCONSISTENT_LISTING: Final = "InconsistentListing"
REASON_RESPONSE_TOO_LARGE: Final = "ResponseTooLarge"
REASON_SYNC_TIMED_OUT: Final = "SyncTimedOut"
REASON_INTERNAL_ERROR: Final = "InternalError"
# The listing was complete but some selected models could not be materialised.
REASON_MODELS_FAILED: Final = "ModelsFailed"
# ModelCatalogSync Reconciling reason.
REASON_PROGRESSING: Final = "Progressing"
# ModelCatalogSync Stalled reasons.
REASON_SECRET_NOT_FOUND: Final = "SecretNotFound"  # noqa: S105 (a reason, not a secret)
REASON_INVALID_SPEC: Final = "InvalidSpec"
REASON_CATALOG_NOT_ALLOWED: Final = "CatalogNotAllowed"
REASON_SECRET_NOT_OPTED_IN: Final = "SecretNotOptedIn"  # noqa: S105 (a reason, not a secret)
REASON_INVALID_TOKEN: Final = "InvalidToken"  # noqa: S105 (a reason, not a secret)

# ModelRef Ready reasons.
REASON_DEPLOYABLE_VERSION_RESOLVED: Final = "DeployableVersionResolved"
REASON_NO_DEPLOYABLE_VERSION: Final = "NoDeployableVersion"
# spec.versionSelector: no version qualifies (the ModelRef keeps the latest version).
REASON_NO_MATCHING_VERSION: Final = "NoMatchingVersion"
# spec.pins: the pinned version exists (Ready=True, deployable or not) / does not.
REASON_PINNED_VERSION_RESOLVED: Final = "PinnedVersionResolved"
REASON_PINNED_VERSION_NOT_FOUND: Final = "PinnedVersionNotFound"
REASON_REMOVED_FROM_CATALOG: Final = "RemovedFromCatalog"

# Per-model failure reason in ModelCatalogSync status.failures.
REASON_OWNED_BY_ANOTHER_SYNC: Final = "OwnedByAnotherSync"
REASON_VERSION_LOOKUP_FAILED: Final = "VersionLookupFailed"

# Event reasons (docs/operations.md, Events). Warning Events on a ModelCatalogSync carry its
# Ready (or Stalled) reason instead.
# Normal, on a ModelRef whose version moved and on its ModelCatalogSync.
EVENT_VERSION_CHANGED: Final = "VersionChanged"
# Normal, on a ModelCatalogSync whose Ready turned True after a failure.
EVENT_SYNCED: Final = REASON_SYNCED
# Warning on a ModelCatalogSync: models a named refresh could not find or does not select.
EVENT_MODELS_NOT_REFRESHED: Final = "ModelsNotRefreshed"

MIN_INTERVAL_SECONDS: Final = 10
MAX_STATUS_FAILURES: Final = 50


class FrameworkType(StrEnum):
    """`framework.type` values the catalog API defines (select.frameworks accepts these)."""

    TRANSFORMERS = "transformers"
    TENSORFLOW = "tensorflow"
    SKLEARN = "sklearn"
    PYTORCH = "pytorch"
    KERAS = "keras"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    FASTAI = "fastai"
    H2O = "h2o"
    ONNX = "onnx"
    SPACY = "spacy"
    STATSMODELS = "statsmodels"
    GLUON = "gluon"
    PADDLE = "paddle"


class VersionPolicy(StrEnum):
    LATEST_DEPLOYABLE = "LatestDeployable"
    LATEST = "Latest"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"
