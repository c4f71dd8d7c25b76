"""The pydantic models and the CRD schemas agree, in both directions.

* Everything the CRD accepts (after the API server's defaulting) parses into the model and
  comes back out unchanged: nothing is lost, nothing invented.
* Everything the operator can build in Python serializes to something the CRD accepts and
  a real API server would neither reject nor prune.
"""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.crd_schema import (
    Schema,
    instances,
    load_crd,
    normalize,
    openapi_schema,
    subschema,
    validator,
)
from modelsync.api import constants as c
from modelsync.api.conditions import Condition, ready, reconciling, set_condition, stalled
from modelsync.api.modelcatalogsync import (
    CatalogCounts,
    ModelCatalogSyncSpec,
    ModelCatalogSyncStatus,
    ModelRefCounts,
    SyncFailure,
)
from modelsync.api.modelref import (
    CreatedBy,
    EnvironmentInfo,
    FrameworkInfo,
    MetricPoint,
    ModelInfo,
    ModelRefSpec,
    ModelRefStatus,
    SourceInfo,
    VersionInfo,
)
from modelsync.api.wire import WireModel
from modelsync_sandbox.kube.schema import apply_defaults

SYNC = openapi_schema(load_crd("modelcatalogsyncs.yaml"))
MODELREF = openapi_schema(load_crd("modelrefs.yaml"))

CASES: list[tuple[str, Schema, type[WireModel]]] = [
    ("sync.spec", subschema(SYNC, "spec"), ModelCatalogSyncSpec),
    ("sync.status", subschema(SYNC, "status"), ModelCatalogSyncStatus),
    ("modelref.spec", subschema(MODELREF, "spec"), ModelRefSpec),
    ("modelref.status", subschema(MODELREF, "status"), ModelRefStatus),
]
AGREEMENT = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_crd_to_model(schema: Schema, model: type[WireModel], doc: dict[str, Any]) -> None:
    defaulted = apply_defaults(doc, schema)
    parsed = model.from_k8s(defaulted)
    written = parsed.to_k8s()
    assert normalize(written, schema) == normalize(defaulted, schema)
    assert model.from_k8s(doc).to_k8s() == written, "pydantic defaults differ from CRD defaults"
    errors = [e.message for e in validator(schema).iter_errors(written)]
    assert not errors


@pytest.mark.parametrize(
    ("schema", "model"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_whatever_the_crd_accepts_round_trips(schema: Schema, model: type[WireModel]) -> None:
    @AGREEMENT
    @given(instances(schema))
    def check(doc: dict[str, Any]) -> None:
        _check_crd_to_model(schema, model, doc)

    check()


# --- the other direction: values built the way the operator builds them ------------------

texts = st.text(max_size=40)
aware_times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.timezones()
)
naive_times = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1))
times = aware_times | naive_times
int64s = st.integers(-(2**63), 2**63 - 1)
counts = st.integers(0, 2**63 - 1)
json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
ready_reasons = st.sampled_from(
    [
        c.REASON_SYNCED,
        c.REASON_CATALOG_UNAVAILABLE,
        c.REASON_UNAUTHORIZED,
        c.REASON_INVALID_RESPONSE,
        c.REASON_DELETION_GUARD_TRIGGERED,
        c.REASON_SUSPENDED,
        c.REASON_DEPLOYABLE_VERSION_RESOLVED,
        c.REASON_NO_DEPLOYABLE_VERSION,
        c.REASON_REMOVED_FROM_CATALOG,
    ]
)
stalled_reasons = st.sampled_from(
    [c.REASON_SECRET_NOT_FOUND, c.REASON_INVALID_SPEC, c.REASON_CATALOG_NOT_ALLOWED]
)
generations = st.none() | st.integers(0, 2**40)
messages = st.text(max_size=200) | st.just("m" * 40_000)


@st.composite
def condition_lists(draw: st.DrawFn) -> list[Condition]:
    steps = st.one_of(
        st.builds(ready, st.booleans(), ready_reasons, messages, generations),
        st.builds(
            reconciling, st.just(c.REASON_PROGRESSING), messages, generations, active=st.booleans()
        ),
        st.builds(stalled, stalled_reasons, messages, generations, active=st.booleans()),
    )
    conds: list[Condition] = []
    for new, now in draw(st.lists(st.tuples(steps, times), max_size=6)):
        conds = set_condition(conds, new, now)
    return conds


failures = st.builds(
    SyncFailure,
    model=st.text(max_size=300),
    reason=st.sampled_from([c.REASON_OWNED_BY_ANOTHER_SYNC, c.REASON_NO_DEPLOYABLE_VERSION]),
    message=st.text(max_size=50) | st.just("f" * 5000),
)
sync_statuses = st.builds(
    ModelCatalogSyncStatus,
    observed_generation=st.none() | counts,
    last_sync_time=st.none() | times,
    last_successful_sync_time=st.none() | times,
    next_sync_time=st.none() | times,
    last_handled_reconcile_at=st.none() | texts,
    catalog=st.none()
    | st.builds(CatalogCounts, models_listed=counts, pages=counts, requests=counts, skipped=counts),
    model_refs=st.none()
    | st.builds(
        ModelRefCounts,
        selected=counts,
        created=counts,
        updated=counts,
        unchanged=counts,
        deleted=counts,
        retained=counts,
        failed=counts,
    ),
    failures=st.lists(failures, max_size=60),
    conditions=condition_lists(),
)
framework_types = st.sampled_from([f.value for f in c.FrameworkType]) | texts
frameworks = st.builds(
    lambda type_, extra: FrameworkInfo(type=type_, **extra),
    framework_types,
    st.dictionaries(
        st.sampled_from(["modelFilepath", "serializationFormat", "libraryName", "modelSchema"]),
        json_values,
        max_size=3,
    ),
)
floats_any = st.floats(allow_nan=True, allow_infinity=True)
versions = st.builds(
    VersionInfo,
    id=texts,
    fqn=texts,
    version=st.none() | int64s,
    version_alias=st.none() | texts,
    deployable=st.none() | st.booleans(),
    created_at=st.none() | times | texts,
    updated_at=st.none() | times | texts,
    created_by=st.none()
    | st.builds(
        CreatedBy,
        subject_id=st.none() | texts,
        subject_type=st.none() | texts,
        subject_slug=st.none() | texts,
        subject_display_name=st.none() | texts,
    ),
    tags=st.lists(texts, max_size=3),
    description=st.none() | texts,
    metadata=st.dictionaries(texts, json_values, max_size=3),
    framework=st.none() | frameworks,
    source=st.none()
    | st.builds(SourceInfo, type=texts, uri=st.none() | texts, file_or_folder=st.none() | texts),
    environment=st.none()
    | st.builds(
        EnvironmentInfo, python_version=st.none() | texts, pip_packages=st.lists(texts, max_size=3)
    ),
    metrics=st.lists(
        st.builds(
            MetricPoint,
            key=texts,
            value=st.none() | floats_any,
            step=st.none() | int64s,
            timestamp=st.none() | int64s,
        ),
        max_size=3,
    ),
    step=st.none() | int64s,
    run_id=st.none() | texts,
)
modelref_specs = st.builds(
    ModelRefSpec,
    model=st.builds(
        ModelInfo,
        id=texts,
        name=texts,
        fqn=texts,
        ml_repo_id=st.none() | texts,
        ml_repo=st.none() | texts,
    ),
    version=st.none() | versions,
)
modelref_statuses = st.builds(
    ModelRefStatus,
    observed_generation=st.none() | counts,
    conditions=condition_lists(),
    previous_version=st.none() | int64s,
    version_changed_at=st.none() | times,
)


def _assert_accepted(schema: Schema, model: type[WireModel], value: WireModel) -> None:
    written = value.to_k8s()
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator(schema).iter_errors(written)]
    assert not errors
    assert model.from_k8s(written) == model.from_k8s(value.to_k8s())
    assert model.from_k8s(written).to_k8s() == written


@AGREEMENT
@given(sync_statuses)
def test_sync_status_written_by_the_operator_is_accepted(status: ModelCatalogSyncStatus) -> None:
    _assert_accepted(subschema(SYNC, "status"), ModelCatalogSyncStatus, status)
    assert len(status.failures) <= c.MAX_STATUS_FAILURES


@AGREEMENT
@given(modelref_specs)
def test_modelref_spec_written_by_the_operator_is_accepted(spec: ModelRefSpec) -> None:
    _assert_accepted(subschema(MODELREF, "spec"), ModelRefSpec, spec)
    for metric in spec.version.metrics if spec.version else []:
        assert metric.value is None or math.isfinite(metric.value)


@AGREEMENT
@given(modelref_statuses)
def test_modelref_status_written_by_the_operator_is_accepted(status: ModelRefStatus) -> None:
    _assert_accepted(subschema(MODELREF, "status"), ModelRefStatus, status)


def test_whole_objects_validate_against_the_root_schema() -> None:
    now = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    spec = ModelRefSpec(
        model=ModelInfo(
            id="m1",
            name="detector",
            fqn="model:acme/fraud/detector",
            ml_repo_id="r1",
            ml_repo="fraud",
        ),
        version=VersionInfo(
            id="v7",
            fqn="model:acme/fraud/detector:7",
            version=7,
            version_alias="v1.2.0",
            deployable=True,
            created_at=now - timedelta(days=1),
            updated_at=now,
            framework=FrameworkInfo(
                type="sklearn", modelFilepath="model.joblib", serializationFormat="joblib"
            ),
            source=SourceInfo(type="truefoundry", uri="s3://bucket/x"),
            metrics=[MetricPoint(key="auc", value=0.93, step=1, timestamp=1714557600000)],
        ),
    )
    status = ModelRefStatus(
        observed_generation=2,
        conditions=set_condition(
            [], ready(True, c.REASON_DEPLOYABLE_VERSION_RESOLVED, "version 7", 2), now
        ),
        previous_version=6,
        version_changed_at=now,
    )
    body: dict[str, Any] = {
        "apiVersion": c.API_VERSION,
        "kind": c.KIND_MODELREF,
        "metadata": {"name": "fraud.detector", "namespace": "ml"},
        "spec": spec.to_k8s(),
        "status": status.to_k8s(),
    }
    validator(MODELREF).validate(body)
    assert body["spec"]["version"]["framework"] == {
        "type": "sklearn",
        "modelFilepath": "model.joblib",
        "serializationFormat": "joblib",
    }
    assert body["spec"]["version"]["createdAt"] == "2024-04-30T10:00:00Z"
    assert body["status"]["versionChangedAt"] == "2024-05-01T10:00:00Z"


def test_status_patch_clears_fields_that_are_gone() -> None:
    status = ModelCatalogSyncStatus(observed_generation=3)
    patch = status.to_k8s_patch()
    assert patch["observedGeneration"] == 3
    assert patch["failures"] is None
    assert patch["conditions"] is None
    assert patch["lastSyncTime"] is None
    assert set(patch) == {
        "observedGeneration",
        "lastSyncTime",
        "lastSuccessfulSyncTime",
        "nextSyncTime",
        "lastHandledReconcileAt",
        "catalog",
        "modelRefs",
        "failures",
        "conditions",
    }


def test_the_round_trip_check_catches_a_field_the_model_drops() -> None:
    schema = copy.deepcopy(subschema(MODELREF, "spec"))
    schema["properties"]["model"]["properties"]["extra"] = {"type": "string"}
    doc = {"model": {"id": "a", "name": "b", "fqn": "c", "extra": "lost"}}
    with pytest.raises(AssertionError):
        _check_crd_to_model(schema, ModelRefSpec, doc)


def test_the_round_trip_check_catches_a_default_that_differs() -> None:
    schema = copy.deepcopy(subschema(SYNC, "spec"))
    schema["properties"]["catalog"]["properties"]["timeoutSeconds"]["default"] = 31
    doc = {"catalog": {"url": "https://x", "tokenSecretRef": {"name": "t", "key": "k"}}}
    _check_crd_to_model(subschema(SYNC, "spec"), ModelCatalogSyncSpec, doc)
    with pytest.raises(AssertionError):
        _check_crd_to_model(schema, ModelCatalogSyncSpec, doc)


def test_a_whole_sync_object_validates_against_the_root_schema() -> None:
    now = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    spec = ModelCatalogSyncSpec.from_k8s(
        {
            "catalog": {"url": "https://tfy.example", "tokenSecretRef": {"name": "t", "key": "k"}},
            "select": {"frameworks": ["sklearn"], "namePattern": "^fraud-"},
        }
    )
    status = ModelCatalogSyncStatus(
        observed_generation=4,
        last_sync_time=now,
        last_successful_sync_time=now,
        next_sync_time=now + timedelta(minutes=5),
        catalog=CatalogCounts(models_listed=212, pages=3, requests=3),
        model_refs=ModelRefCounts(selected=40, created=1, updated=2, unchanged=37),
        failures=[SyncFailure(model="model:acme/x/y", reason="OwnedByAnotherSync", message="")],
        conditions=set_condition([], ready(True, c.REASON_SYNCED, "40 models", 4), now),
    )
    body: dict[str, Any] = {
        "apiVersion": c.API_VERSION,
        "kind": c.KIND_SYNC,
        "metadata": {"name": "prod-models", "namespace": "ml-serving"},
        "spec": spec.to_k8s(),
        "status": status.to_k8s(),
    }
    validator(SYNC).validate(body)
    assert body["status"]["lastSyncTime"] == "2024-05-01T10:00:00Z"
    assert body["status"]["catalog"] == {
        "modelsListed": 212,
        "pages": 3,
        "requests": 3,
        "skipped": 0,
    }
