"""What the API server's checks of objects take from k8s.io/apimachinery: field errors worded
as it words them, ObjectMeta validation, and equality and copies of decoded JSON values.

Used by `modelsync render` (crds/admission.py, through crds/schema.py) and by the sandbox's
API server (modelsync_sandbox.kube), so that both say what kube-apiserver says.

Sources (Kubernetes 1.32):
- k8s.io/apimachinery/pkg/util/validation: IsDNS1123Subdomain, IsDNS1123Label,
  IsQualifiedName, IsValidLabelValue, RegexError, MaxLenError, EmptyError;
- k8s.io/apimachinery/pkg/api/validation: NameIsDNSSubdomain, NameIsDNSLabel,
  ValidatePathSegmentName (path.IsValidPathSegmentName), ValidateObjectMeta,
  ValidateAnnotations (TotalAnnotationSizeLimitB), ValidateFinalizers;
- k8s.io/apimachinery/pkg/apis/meta/v1/validation: ValidateLabels, ValidateLabelName;
- k8s.io/apimachinery/pkg/util/validation/field: Error.ErrorBody (how a cause's message
  prints the bad value).

Also the value formatting the real API uses in messages (`format_go_value`), shared by the
schema module and the sandbox's table printer.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

NameRule = Literal["subdomain", "label", "path-segment"]

# Lengths from k8s.io/apimachinery/pkg/util/validation.
DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
# api/validation: TotalAnnotationSizeLimitB = 256 * (1 << 10).
ANNOTATIONS_TOTAL_MAX = 256 * (1 << 10)

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"

_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_QUALIFIED_NAME_RE = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)

# metav1.FinalizerOrphanDependents / FinalizerDeleteDependents.
_ORPHAN_FINALIZER = "orphan"
_FOREGROUND_FINALIZER = "foregroundDeletion"

# ObjectMeta's JSON fields; unknown keys in metadata are dropped, as the Go decoder does.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_NUMBERS = (int, float)  # for isinstance()


@dataclass(frozen=True)
class Cause:
    """One metav1.StatusCause of a 422 Invalid: the field.Error type, its ErrorBody, its path."""

    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


# -- decoded JSON values -------------------------------------------------------------


def clone(value: Any) -> Any:
    """Deep copy of a JSON value; much faster than copy.deepcopy for dicts and lists."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality of decoded JSON values: numbers by value, booleans never equal to numbers."""
    kind = type(a)
    if kind is type(b) and (kind is str or kind is int):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# -- value formatting ------------------------------------------------------------------


def format_go_float(value: float) -> str:
    """A float as Go's `%v` prints it (strconv 'g', shortest): exponent form outside [1e-4, 1e6)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # position of the decimal point within `text`
    exp = point - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def format_go_value(value: Any) -> str:
    """How field.Error.ErrorBody prints a bad value: `%v` for scalars, `%q` for strings."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_go_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return format_go_syntax(value)


def format_go_syntax(value: Any) -> str:
    """Go's `%#v` of a decoded JSON value (map[string]interface {}{...}, []interface {}{...})."""
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{json.dumps(str(k))}:{format_go_syntax(v)}" for k, v in sorted(value.items())
        )
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[]interface {}{" + ", ".join(format_go_syntax(v) for v in value) + "}"
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_go_float(value)
    return json.dumps(str(value), ensure_ascii=False)


def invalid(field: str, value: Any, detail: str) -> Cause:
    """field.Invalid: `Invalid value: <value>: <detail>`."""
    body = f"Invalid value: {format_go_value(value)}"
    return Cause("FieldValueInvalid", f"{body}: {detail}" if detail else body, field)


def required(field: str, detail: str = "") -> Cause:
    """field.Required: `Required value[: detail]`."""
    return Cause(
        "FieldValueRequired", f"Required value: {detail}" if detail else "Required value", field
    )


def too_long(field: str, limit: int) -> Cause:
    """field.TooLong: the value is left out, the limit is in bytes."""
    unit = "byte" if limit == 1 else "bytes"
    return Cause("FieldValueTooLong", f"Too long: may not be more than {limit} {unit}", field)


# -- the apimachinery string checks (each returns the messages the real one returns) --------


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, including its odd double space between examples."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def validate_dns1123_subdomain(value: str) -> list[str]:
    """IsDNS1123Subdomain: lowercase RFC 1123 subdomain, at most 253 characters."""
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def validate_dns1123_label(value: str) -> list[str]:
    """IsDNS1123Label: lowercase RFC 1123 label, at most 63 characters, no dots."""
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(_max_len_error(DNS1123_LABEL_MAX))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # A valid subdomain that is not a valid label can only be failing on its dots.
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def validate_path_segment_name(value: str) -> list[str]:
    """path.IsValidPathSegmentName: not "." or "..", and no "/" or "%"."""
    for illegal in (".", ".."):
        if value == illegal:
            return [f"may not be '{illegal}'"]
    return [f"may not contain '{part}'" for part in ("/", "%") if part in value]


def validate_qualified_name(value: str) -> list[str]:
    """IsQualifiedName: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters."""
    return list(_qualified_name_errors(value))


# Label and annotation keys and label values repeat from object to object.
@functools.lru_cache(maxsize=4096)
def _qualified_name_errors(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += [f"prefix part {msg}" for msg in validate_dns1123_subdomain(prefix)]
    else:
        return (
            "a qualified name "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        )
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + _max_len_error(QUALIFIED_NAME_MAX))
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        errs.append(
            "name part "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return tuple(errs)


def validate_label_value(value: str) -> list[str]:
    """IsValidLabelValue: empty, or at most 63 alphanumerics with `-_.` inside."""
    return list(_label_value_errors(value))


@functools.lru_cache(maxsize=4096)
def _label_value_errors(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(_max_len_error(LABEL_VALUE_MAX))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return tuple(errs)


# -- ObjectMeta checks returning causes ------------------------------------------------------


def validate_object_name(name: str, rule: NameRule, field: str = "metadata.name") -> list[Cause]:
    """ValidateObjectMeta's name check with the type's name function.

    "subdomain" is NameIsDNSSubdomain (most kinds, every custom resource), "label" is
    NameIsDNSLabel (namespaces), "path-segment" is ValidatePathSegmentName.
    """
    if not name:
        return [required(field, "name or generateName is required")]
    check = {
        "subdomain": validate_dns1123_subdomain,
        "label": validate_dns1123_label,
        "path-segment": validate_path_segment_name,
    }[rule]
    return [invalid(field, name, msg) for msg in check(name)]


def validate_labels(labels: Mapping[str, Any], field: str = "metadata.labels") -> list[Cause]:
    """metav1 ValidateLabels: keys are qualified names, values label values; path is the map."""
    items = tuple(labels.items())
    if _cacheable(items):
        return list(_label_causes(items, field))
    return _validate_labels(items, field)


def _cacheable(items: tuple[tuple[Any, Any], ...]) -> bool:
    """Only strings (the valid case), few enough to be worth keeping in a cache."""
    return all(type(k) is str and type(v) is str for k, v in items) and (
        sum(len(k) + len(v) for k, v in items) <= _CACHED_MAX
    )


_CACHED_MAX = 4096


# Objects of one kind carry the same labels and annotations, checked on every write.
@functools.lru_cache(maxsize=1024)
def _label_causes(items: tuple[tuple[str, str], ...], field: str) -> tuple[Cause, ...]:
    return tuple(_validate_labels(items, field))


def _validate_labels(items: tuple[tuple[Any, Any], ...], field: str) -> list[Cause]:
    found: list[Cause] = []
    for key, value in items:
        found += [invalid(field, key, msg) for msg in validate_qualified_name(str(key))]
        if not isinstance(value, str):
            # The Go type is map[string]string; a non-string never decodes.
            found.append(invalid(field, value, "label values must be strings"))
            continue
        found += [invalid(field, value, msg) for msg in validate_label_value(value)]
    return found


def validate_annotations(
    annotations: Mapping[str, Any], field: str = "metadata.annotations"
) -> list[Cause]:
    """ValidateAnnotations: keys are qualified names (case-insensitive), total size <= 256 KiB."""
    items = tuple(annotations.items())
    if _cacheable(items):
        return list(_annotation_causes(items, field))
    return _validate_annotations(items, field)


@functools.lru_cache(maxsize=1024)
def _annotation_causes(items: tuple[tuple[str, str], ...], field: str) -> tuple[Cause, ...]:
    return tuple(_validate_annotations(items, field))


def _validate_annotations(items: tuple[tuple[Any, Any], ...], field: str) -> list[Cause]:
    found: list[Cause] = []
    total = 0
    for key, value in items:
        # "The rule is QualifiedName except that case doesn't matter".
        found += [invalid(field, key, msg) for msg in validate_qualified_name(str(key).lower())]
        total += len(str(key).encode()) + len(str(value).encode())
    if total > ANNOTATIONS_TOTAL_MAX:
        # field.TooLong: the body omits the value.
        found.append(
            Cause(
                "FieldValueTooLong",
                f"Too long: may not be more than {ANNOTATIONS_TOTAL_MAX} bytes",
                field,
            )
        )
    return found


def validate_finalizers(
    finalizers: Iterable[str], field: str = "metadata.finalizers"
) -> list[Cause]:
    """ValidateFinalizers: each a qualified name; orphan and foregroundDeletion exclusive."""
    names = list(finalizers)
    found: list[Cause] = []
    for name in names:
        found += [invalid(field, name, msg) for msg in validate_qualified_name(name)]
    if _ORPHAN_FINALIZER in names and _FOREGROUND_FINALIZER in names:
        shown = "[]string{" + ", ".join(json.dumps(n) for n in names) + "}"
        detail = f"finalizer {_ORPHAN_FINALIZER} and {_FOREGROUND_FINALIZER} cannot be both set"
        found.append(Cause("FieldValueInvalid", f"Invalid value: {shown}: {detail}", field))
    return found
