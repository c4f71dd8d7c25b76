"""Name, label, annotation and finalizer rules, checked against apimachinery's wording.

Sources: k8s.io/apimachinery/pkg/util/validation (IsDNS1123Subdomain, IsDNS1123Label,
IsQualifiedName, IsValidLabelValue), pkg/api/validation (ValidateObjectMeta,
ValidateAnnotations, ValidateFinalizers), the API conventions doc ("Names") and
https://kubernetes.io/docs/concepts/overview/working-with-objects/names/.
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.kube.validation import (
    ANNOTATIONS_TOTAL_MAX,
    Cause,
    format_go_float,
    format_go_value,
    validate_annotations,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_finalizers,
    validate_label_value,
    validate_labels,
    validate_object_name,
    validate_path_segment_name,
    validate_qualified_name,
)

SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)

name_text = st.text(alphabet="abz09.-_A/%", max_size=70)


class TestCause:
    def test_to_dict_has_the_status_cause_fields(self) -> None:
        cause = Cause("FieldValueRequired", "Required value", "spec.x")
        assert cause.to_dict() == {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.x",
        }


class TestObjectNames:
    # CRs and most kinds: NameIsDNSSubdomain; namespaces: NameIsDNSLabel.
    @pytest.mark.parametrize("name", ["a", "my-sync", "a.b.c", "0abc", "x" * 253])
    def test_valid_subdomains(self, name: str) -> None:
        assert validate_object_name(name, "subdomain") == []

    def test_invalid_subdomain_has_the_real_message(self) -> None:
        [cause] = validate_object_name("My_Sync", "subdomain")
        assert cause == Cause(
            "FieldValueInvalid", f'Invalid value: "My_Sync": {SUBDOMAIN_MESSAGE}', "metadata.name"
        )

    def test_too_long_subdomain_reports_length(self) -> None:
        messages = validate_dns1123_subdomain("a" * 254)
        assert messages == ["must be no more than 253 characters"]

    def test_empty_name_is_required(self) -> None:
        assert validate_object_name("", "subdomain") == [
            Cause(
                "FieldValueRequired",
                "Required value: name or generateName is required",
                "metadata.name",
            )
        ]

    def test_label_rule_rejects_dots_with_its_own_message(self) -> None:
        assert validate_dns1123_label("a.b") == ["must not contain dots"]

    def test_label_rule_rejects_upper_case(self) -> None:
        [message] = validate_dns1123_label("Abc")
        assert message.startswith("a lowercase RFC 1123 label must consist of")
        assert "(e.g. 'my-name',  or '123-abc', regex" in message

    def test_label_rule_length(self) -> None:
        assert validate_dns1123_label("a" * 63) == []
        assert validate_dns1123_label("a" * 64) == ["must be no more than 63 characters"]

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            (".", ["may not be '.'"]),
            ("..", ["may not be '..'"]),
            ("a/b%c", ["may not contain '/'", "may not contain '%'"]),
            ("Any_Thing.ok", []),
        ],
    )
    def test_path_segment_names(self, name: str, expected: list[str]) -> None:
        assert validate_path_segment_name(name) == expected
        assert [c.message for c in validate_object_name(name, "path-segment")] == [
            f'Invalid value: "{name}": {m}' for m in expected
        ]

    @given(name_text)
    def test_subdomain_valid_iff_regex_and_length(self, name: str) -> None:
        expected = bool(SUBDOMAIN.fullmatch(name)) and len(name) <= 253
        assert (validate_dns1123_subdomain(name) == []) is expected

    @given(name_text)
    def test_label_valid_iff_regex_and_length(self, name: str) -> None:
        expected = bool(LABEL.fullmatch(name)) and len(name) <= 63
        assert (validate_dns1123_label(name) == []) is expected

    @given(name_text)
    def test_path_segment_valid_iff_no_slash_percent_or_dots(self, name: str) -> None:
        expected = name not in (".", "..") and "/" not in name and "%" not in name
        assert (validate_path_segment_name(name) == []) is expected


class TestQualifiedNames:
    @pytest.mark.parametrize(
        "key", ["app", "modelsync.dev/sync", "a.b/C_d-e.f", "x" * 63, "a" * 253 + "/b"]
    )
    def test_valid(self, key: str) -> None:
        assert validate_qualified_name(key) == []

    def test_bad_name_part_message(self) -> None:
        assert validate_qualified_name("-x") == [NAME_PART_MESSAGE]

    def test_empty_prefix_and_name(self) -> None:
        assert validate_qualified_name("/") == [
            "prefix part must be non-empty",
            "name part must be non-empty",
            NAME_PART_MESSAGE,
        ]

    def test_prefix_must_be_a_subdomain(self) -> None:
        assert validate_qualified_name("Bad_Prefix/x") == [f"prefix part {SUBDOMAIN_MESSAGE}"]

    def test_two_slashes(self) -> None:
        [message] = validate_qualified_name("a/b/c")
        assert message.startswith("a qualified name must consist of")
        assert message.endswith(
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        )

    def test_long_name_part(self) -> None:
        assert validate_qualified_name("x" * 64) == ["name part must be no more than 63 characters"]

    @given(st.text(alphabet="ab.-_Z9", max_size=70), st.text(alphabet="ab.-_Z9", max_size=70))
    def test_prefixed_valid_iff_both_parts_valid(self, prefix: str, name: str) -> None:
        expected = (
            bool(prefix)
            and not validate_dns1123_subdomain(prefix)
            and bool(NAME_PART.fullmatch(name))
            and len(name) <= 63
        )
        assert (validate_qualified_name(f"{prefix}/{name}") == []) is expected


class TestLabels:
    def test_causes_use_the_map_path_and_the_bad_key_or_value(self) -> None:
        causes = validate_labels({"-bad": "ok", "good": "bad value"})
        assert [(c.field, c.message.split(":")[1].strip()) for c in causes] == [
            ("metadata.labels", '"-bad"'),
            ("metadata.labels", '"bad value"'),
        ]
        assert causes[1].message.startswith(
            'Invalid value: "bad value": a valid label must be an empty string or consist of'
        )

    def test_empty_value_is_valid(self) -> None:
        assert validate_labels({"modelsync.dev/sync": ""}) == []

    def test_value_too_long(self) -> None:
        assert validate_label_value("v" * 64) == ["must be no more than 63 characters"]

    def test_non_string_value_is_refused(self) -> None:
        [cause] = validate_labels({"a": 1})
        assert cause.message.startswith("Invalid value: 1:")

    @given(st.text(alphabet="aZ09-_. /", max_size=70))
    def test_value_valid_iff_regex_and_length(self, value: str) -> None:
        expected = bool(LABEL_VALUE.fullmatch(value)) and len(value) <= 63
        assert (validate_label_value(value) == []) is expected


class TestAnnotations:
    def test_keys_are_case_insensitive_qualified_names(self) -> None:
        assert validate_annotations({"Example.COM/Some-Key": "x"}) == []
        [cause] = validate_annotations({"bad key": "x"})
        assert cause.field == "metadata.annotations"
        assert cause.message.startswith('Invalid value: "bad key": name part must consist')

    def test_total_size_limit_is_256_kib_of_keys_and_values(self) -> None:
        at_limit = {"k": "v" * (ANNOTATIONS_TOTAL_MAX - 1)}
        assert validate_annotations(at_limit) == []
        over = {"k": "v" * ANNOTATIONS_TOTAL_MAX}
        assert validate_annotations(over) == [
            Cause(
                "FieldValueTooLong",
                "Too long: may not be more than 262144 bytes",
                "metadata.annotations",
            )
        ]

    def test_size_counts_utf8_bytes(self) -> None:
        # "é" is two bytes: the Go code sums len() of the strings, which counts bytes.
        value = "é" * (ANNOTATIONS_TOTAL_MAX // 2)
        assert validate_annotations({"k": value})[0].reason == "FieldValueTooLong"


class TestFinalizers:
    def test_qualified_names(self) -> None:
        assert validate_finalizers(["modelsync.dev/cleanup", "kubernetes"]) == []
        [cause] = validate_finalizers(["bad name"])
        assert cause.field == "metadata.finalizers"

    def test_orphan_and_foreground_are_exclusive(self) -> None:
        [cause] = validate_finalizers(["orphan", "foregroundDeletion"])
        assert cause.message == (
            'Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and '
            "foregroundDeletion cannot be both set"
        )


class TestGoFormatting:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (1.5, "1.5"),
            (2.0, "2"),
            (-2.0, "-2"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (0.0, "0"),
        ],
    )
    def test_floats_print_like_go_percent_v(self, value: float, text: str) -> None:
        assert format_go_float(value) == text

    def test_values(self) -> None:
        assert format_go_value('a"b') == '"a\\"b"'
        assert format_go_value(None) == '"null"'
        assert format_go_value(True) == "true"
        assert format_go_value(7) == "7"
        assert format_go_value({"b": 1, "a": "x"}) == 'map[string]interface {}{"a":"x", "b":1}'
        assert format_go_value([1, "a"]) == '[]interface {}{1, "a"}'

    @given(st.floats(allow_nan=False, allow_infinity=False))
    def test_float_text_round_trips(self, value: float) -> None:
        assert float(format_go_float(value)) == value
        assert math.copysign(1.0, float(format_go_float(value))) == math.copysign(1.0, value)
