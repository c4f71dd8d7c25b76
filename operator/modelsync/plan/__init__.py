"""The pure planner: catalog models + a ModelCatalogSync spec + the listed ModelRefs -> what
to write. No I/O and no clock: `now` and every lookup answer come in as arguments.

Imports only modelsync.catalog.models, modelsync.api, pydantic and the standard library.
namePattern is matched with RE2, in time linear in the model name.
"""

from modelsync.plan.conditions import SyncOutcome, SyncResult, failure_event_needed, sync_status
from modelsync.plan.desired import (
    REASON_INVALID_MODEL,
    REASON_NAME_CONFLICT,
    REASON_VERSION_LOOKUP_PENDING,
    Selection,
    select_desired,
)
from modelsync.plan.diff import foreign_owner, plan_sync, repair_plan
from modelsync.plan.digest import digest_vouches
from modelsync.plan.existing import parse_existing
from modelsync.plan.select import Selector, compile_select, ml_repo_name
from modelsync.plan.types import (
    MISSING,
    UNSUPPORTED,
    CacheMiss,
    CreateRef,
    DeleteRef,
    DeletionGuard,
    DesiredRef,
    ExistingRef,
    LookupUnsupported,
    ModelFailure,
    NoVersion,
    RetainRef,
    SyncPlan,
    SyncRef,
    UpdateRef,
    VersionChange,
    VersionResolution,
)
from modelsync.plan.version_selector import VersionRules, compile_rules
from modelsync.plan.versions import (
    VERSION_LOOKUP_MAX_AGE,
    VersionLookupCache,
    choose_version,
    models_needing_lookup,
)

__all__ = [
    "MISSING",
    "REASON_INVALID_MODEL",
    "REASON_NAME_CONFLICT",
    "REASON_VERSION_LOOKUP_PENDING",
    "UNSUPPORTED",
    "VERSION_LOOKUP_MAX_AGE",
    "CacheMiss",
    "CreateRef",
    "DeleteRef",
    "DeletionGuard",
    "DesiredRef",
    "ExistingRef",
    "LookupUnsupported",
    "ModelFailure",
    "NoVersion",
    "RetainRef",
    "Selection",
    "Selector",
    "SyncOutcome",
    "SyncPlan",
    "SyncRef",
    "SyncResult",
    "UpdateRef",
    "VersionChange",
    "VersionLookupCache",
    "VersionResolution",
    "VersionRules",
    "choose_version",
    "compile_rules",
    "compile_select",
    "digest_vouches",
    "failure_event_needed",
    "foreign_owner",
    "ml_repo_name",
    "models_needing_lookup",
    "parse_existing",
    "plan_sync",
    "repair_plan",
    "select_desired",
    "sync_status",
]
