"""ModelCatalogSync spec and status (fields: docs/reference.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from modelsync.api.conditions import Condition
from modelsync.api.constants import (
    MAX_STATUS_FAILURES,
    MIN_INTERVAL_SECONDS,
    DeletionPolicy,
    FrameworkType,
    VersionPolicy,
)
from modelsync.api.duration import format_duration, parse_duration, parse_duration_ns
from modelsync.api.labels import is_qualified_name, is_valid_label_value
from modelsync.api.patterns import InvalidPattern, compile_name_pattern
from modelsync.api.semver import InvalidRange, parse_range
from modelsync.api.wire import INT64_MAX, NonNegativeInt64, RFC3339Text, WireModel, is_empty

DNS_SUBDOMAIN_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY_PATTERN: Final = r"^[-._a-zA-Z0-9]+$"  # noqa: S105
# Scheme, host[:port] (no user info), optional path; https-only is an operator flag.
# Explicit ASCII classes instead of \s so Go (API server), Rust (pydantic) and Python agree.
URL_PATTERN: Final = (
    r"^https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[^\t\n\f\r ?#]*)?$"
)
API_PATH_PATTERN: Final = r"^/[^\t\n\f\r ?#]*$"
DURATION_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$"
DEFAULT_API_PATH: Final = "/api/ml/v1"
MAX_FAILURE_MESSAGE_LENGTH: Final = 1024
# Template labels or annotations; the CRD's maxProperties, which bounds its CEL rules' cost.
MAX_TEMPLATE_ENTRIES: Final = 64
# versionSelector and pins: the CRD's maxItems / maxLength.
MAX_SELECTOR_TAGS: Final = 64
MAX_METRIC_BOUNDS: Final = 32
MAX_PINS: Final = 1000
MAX_ALIAS_LENGTH: Final = 1024
# A pin's model, "<ml_repo>/<name>": two parts without "/", ",", whitespace or control
# characters (api/model_names.py); explicit ASCII classes so Go, Rust and Python agree.
PIN_MODEL_PATTERN: Final = r"^[^/,\x00-\x20\x7f]+/[^/,\x00-\x20\x7f]+$"


class SecretKeySelector(WireModel):
    """A key of a Secret in the sync's own namespace."""

    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    key: str = Field(max_length=253, pattern=SECRET_KEY_PATTERN)


class CatalogSpec(WireModel):
    url: str = Field(max_length=2048, pattern=URL_PATTERN)
    api_path: str = Field(default=DEFAULT_API_PATH, max_length=1024, pattern=API_PATH_PATTERN)
    token_secret_ref: SecretKeySelector
    ca_secret_ref: SecretKeySelector | None = None
    timeout_seconds: int = Field(default=30, ge=1, le=300)
    page_size: int = Field(default=100, ge=1, le=1000)


class SyncFilters(WireModel):
    """Sent to the List Models endpoint as query parameters."""

    fqn: str | None = None
    ml_repo_id: str | None = None
    name: str | None = None
    run_id: str | None = None
    include_empty_models: bool = False


class SelectSpec(WireModel):
    """Applied by the operator after listing; every given field must match.

    `name_pattern` is an RE2 regular expression searched in the model name.
    """

    name_pattern: str | None = Field(default=None, max_length=1024)
    frameworks: list[FrameworkType] = Field(default_factory=list, exclude_if=is_empty)
    tags: list[str] = Field(default_factory=list, exclude_if=is_empty)
    ml_repos: list[str] = Field(default_factory=list, exclude_if=is_empty)


class MetricBound(WireModel):
    """Inclusive numeric bounds on the latest value of one metric of a version; at least one
    of min / max. A version without the key, or whose latest value is null, does not qualify."""

    key: str = Field(min_length=1, max_length=256)
    minimum: float | None = Field(default=None, alias="min", allow_inf_nan=False)
    maximum: float | None = Field(default=None, alias="max", allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_bound(self) -> MetricBound:
        if self.minimum is None and self.maximum is None:
            raise ValueError("a metric bound needs min, max or both")
        return self


class VersionSelector(WireModel):
    """Every given field must hold for a version to qualify, on top of versionPolicy."""

    tags: list[str] = Field(default_factory=list, exclude_if=is_empty, max_length=MAX_SELECTOR_TAGS)
    alias_pattern: str | None = Field(default=None, max_length=1024)
    alias_semver: str | None = Field(default=None, min_length=1, max_length=1024)
    metrics: list[MetricBound] = Field(
        default_factory=list, exclude_if=is_empty, max_length=MAX_METRIC_BOUNDS
    )


class Pin(WireModel):
    """One model's version, fixed: by number (`version`) or by alias; exactly one of them."""

    model: str = Field(max_length=1024, pattern=PIN_MODEL_PATTERN)
    version: int | None = Field(default=None, ge=1, le=INT64_MAX)
    alias: str | None = Field(default=None, min_length=1, max_length=MAX_ALIAS_LENGTH)

    @model_validator(mode="after")
    def _exactly_one(self) -> Pin:
        if (self.version is None) == (self.alias is None):
            raise ValueError("a pin needs exactly one of version and alias")
        return self


class WebhookSpec(WireModel):
    """Push triggers (`modelsync run --webhook-port`): requests signed with this key."""

    secret_ref: SecretKeySelector


class ModelRefTemplate(WireModel):
    labels: dict[str, str] = Field(
        default_factory=dict, exclude_if=is_empty, max_length=MAX_TEMPLATE_ENTRIES
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, exclude_if=is_empty, max_length=MAX_TEMPLATE_ENTRIES
    )


class ModelCatalogSyncSpec(WireModel):
    catalog: CatalogSpec
    filters: SyncFilters = Field(default_factory=SyncFilters)
    select: SelectSpec = Field(default_factory=SelectSpec, exclude_if=is_empty)
    version_policy: VersionPolicy = VersionPolicy.LATEST_DEPLOYABLE
    # None: the operator's --default-interval applies (5m unless changed).
    interval: str | None = Field(default=None, pattern=DURATION_PATTERN)
    suspend: bool = False
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    max_deletions: int = Field(default=10, ge=0, le=2**31 - 1)
    model_ref_template: ModelRefTemplate = Field(
        default_factory=ModelRefTemplate, exclude_if=is_empty
    )
    version_selector: VersionSelector = Field(default_factory=VersionSelector, exclude_if=is_empty)
    pins: list[Pin] = Field(default_factory=list, exclude_if=is_empty, max_length=MAX_PINS)
    webhook: WebhookSpec | None = None

    @property
    def interval_duration(self) -> timedelta | None:
        """`interval` as a timedelta (None when unset); raises ValueError if not a duration."""
        return None if self.interval is None else parse_duration(self.interval)


def validate_spec(spec: ModelCatalogSyncSpec) -> list[str]:
    """Problems the CRD's OpenAPI schema cannot catch, as messages for a Stalled/InvalidSpec
    condition. Its CEL rules catch some of them too, where the API server runs them."""
    errors: list[str] = []
    try:
        # In nanoseconds, as the CRD's CEL rule compares it (a rounded timedelta would not).
        interval_ns = None if spec.interval is None else parse_duration_ns(spec.interval)
    except ValueError:
        errors.append(f"spec.interval: {spec.interval!r} is not a duration like 30s, 5m or 1h")
    else:
        if interval_ns is not None and interval_ns < MIN_INTERVAL_SECONDS * 1_000_000_000:
            minimum = format_duration(timedelta(seconds=MIN_INTERVAL_SECONDS))
            errors.append(f"spec.interval: must be at least {minimum}")
    if spec.select.name_pattern is not None:
        try:
            compile_name_pattern(spec.select.name_pattern)
        except InvalidPattern as exc:
            errors.append(f"spec.select.namePattern: invalid regular expression: {exc}")
    errors += _selector_errors(spec.version_selector)
    errors += _pin_errors(spec.pins)
    template = spec.model_ref_template
    for key, value in template.labels.items():
        if not is_qualified_name(key):
            errors.append(f"spec.modelRefTemplate.labels: {key!r} is not a valid label key")
        if not is_valid_label_value(value):
            errors.append(
                f"spec.modelRefTemplate.labels[{key!r}]: {value!r} is not a valid label value"
            )
    for key in template.annotations:
        if not is_qualified_name(key):
            errors.append(f"spec.modelRefTemplate.annotations: {key!r} is not a valid key")
    return errors


def _selector_errors(selector: VersionSelector) -> list[str]:
    errors: list[str] = []
    if selector.alias_pattern is not None:
        try:
            compile_name_pattern(selector.alias_pattern)
        except InvalidPattern as exc:
            errors.append(f"spec.versionSelector.aliasPattern: invalid regular expression: {exc}")
    if selector.alias_semver is not None:
        try:
            parse_range(selector.alias_semver)
        except InvalidRange as exc:
            errors.append(f"spec.versionSelector.aliasSemver: invalid range: {exc}")
    for i, bound in enumerate(selector.metrics):
        low, high = bound.minimum, bound.maximum
        if low is not None and high is not None and low > high:
            errors.append(
                f"spec.versionSelector.metrics[{i}]: min {low:g} is greater than max {high:g}"
            )
    return errors


def _pin_errors(pins: list[Pin]) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for i, pin in enumerate(pins):
        if pin.model in seen:
            errors.append(f"spec.pins[{i}].model: {pin.model!r} is pinned more than once")
        seen.add(pin.model)
    return errors


def _error_location(loc: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_spec(raw: Mapping[str, Any]) -> tuple[ModelCatalogSyncSpec | None, list[str]]:
    """Parse and validate a ModelCatalogSync `spec`: (spec, []) or (None or spec, errors)."""
    try:
        spec = ModelCatalogSyncSpec.from_k8s(raw)
    except ValidationError as exc:
        return None, [f"{_error_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
    return spec, validate_spec(spec)


def _bounded_failures(value: object) -> object:
    if isinstance(value, list) and len(value) > MAX_STATUS_FAILURES:
        return value[:MAX_STATUS_FAILURES]
    return value


def _bounded_failure_message(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_FAILURE_MESSAGE_LENGTH:
        return value[: MAX_FAILURE_MESSAGE_LENGTH - 3] + "..."
    return value


class CatalogCounts(WireModel):
    models_listed: NonNegativeInt64 = 0
    pages: NonNegativeInt64 = 0
    requests: NonNegativeInt64 = 0
    skipped: NonNegativeInt64 = 0


class ModelRefCounts(WireModel):
    selected: NonNegativeInt64 = 0
    created: NonNegativeInt64 = 0
    updated: NonNegativeInt64 = 0
    unchanged: NonNegativeInt64 = 0
    deleted: NonNegativeInt64 = 0
    retained: NonNegativeInt64 = 0
    failed: NonNegativeInt64 = 0


class SyncFailure(WireModel):
    """One model the last sync could not materialize (status.failures, at most 50 kept)."""

    model: str = Field(max_length=1024)
    reason: str = Field(min_length=1, max_length=1024)
    message: Annotated[str, BeforeValidator(_bounded_failure_message)]


class ModelCatalogSyncStatus(WireModel):
    observed_generation: NonNegativeInt64 | None = None
    last_sync_time: RFC3339Text | None = None
    last_successful_sync_time: RFC3339Text | None = None
    next_sync_time: RFC3339Text | None = None
    last_handled_reconcile_at: str | None = None
    catalog: CatalogCounts | None = None
    model_refs: ModelRefCounts | None = None
    failures: Annotated[list[SyncFailure], BeforeValidator(_bounded_failures)] = Field(
        default_factory=list, exclude_if=is_empty
    )
    conditions: list[Condition] = Field(default_factory=list, exclude_if=is_empty)
