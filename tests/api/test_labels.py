from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from modelsync.api.constants import (
    ANNOTATION_MODEL_FQN,
    LABEL_FRAMEWORK,
    LABEL_MANAGED_BY,
    LABEL_ML_REPO,
    LABEL_SYNC,
)
from modelsync.api.labels import (
    OWNED_LABEL_KEYS,
    is_qualified_name,
    is_valid_label_value,
    modelref_annotations,
    modelref_labels,
    sanitize_label_value,
    sync_selector,
)

values = st.one_of(
    st.text(max_size=100),
    st.from_regex(r"\A[A-Za-z0-9_.\-]{0,80}\Z"),
    st.sampled_from(["", "-", "_a_", "a" * 63, "a" * 64, "fraud", "Fraud Model"]),
)


@pytest.mark.parametrize("value", ["", "a", "fraud", "Fraud_Model-1.2", "a" * 63])
def test_valid_values_are_kept(value: str) -> None:
    assert sanitize_label_value(value) == value


@pytest.mark.parametrize("value", ["-a", "a-", "a b", "a/b", "\u00e9", "a" * 64, "_", "..."])
def test_invalid_values_are_replaced(value: str) -> None:
    result = sanitize_label_value(value)
    assert result != value
    assert is_valid_label_value(result)


@given(values)
def test_sanitized_value_is_always_valid(value: str) -> None:
    result = sanitize_label_value(value)
    assert is_valid_label_value(result)
    assert len(result) <= 63
    assert sanitize_label_value(result) == result


# Never valid as they stand: a leading dash, a space, or too long.
invalid_values = st.one_of(
    values.map(lambda v: "-" + v),
    values.map(lambda v: v + " x"),
    st.from_regex(r"\A[a-z]{64,90}\Z"),
)


@given(invalid_values, invalid_values)
def test_changed_values_stay_distinct(a: str, b: str) -> None:
    assume(a != b)
    assert sanitize_label_value(a) != sanitize_label_value(b)


def test_modelref_labels_operator_keys_win() -> None:
    template = {
        "team": "risk",
        LABEL_MANAGED_BY: "someone-else",
        LABEL_SYNC: "other",
        LABEL_FRAMEWORK: "x",
    }
    labels = modelref_labels("prod-models", "fraud", "sklearn", template)
    assert labels == {
        "team": "risk",
        LABEL_MANAGED_BY: "modelsync",
        LABEL_SYNC: "prod-models",
        LABEL_ML_REPO: "fraud",
        LABEL_FRAMEWORK: "sklearn",
    }
    assert set(labels) - {"team"} == OWNED_LABEL_KEYS


def test_modelref_labels_without_framework_drops_a_template_framework() -> None:
    labels = modelref_labels("s", "r", None, {LABEL_FRAMEWORK: "fake"})
    assert LABEL_FRAMEWORK not in labels


@given(st.text(max_size=300), st.text(max_size=120), st.none() | st.text(max_size=80))
def test_modelref_labels_are_always_valid(sync: str, repo: str, framework: str | None) -> None:
    for key, value in modelref_labels(sync, repo, framework).items():
        assert is_qualified_name(key)
        assert is_valid_label_value(value)


def test_annotations() -> None:
    result = modelref_annotations("model:acme/fraud/x", {"a": "1", ANNOTATION_MODEL_FQN: "no"})
    assert result == {"a": "1", ANNOTATION_MODEL_FQN: "model:acme/fraud/x"}


def test_sync_selector() -> None:
    assert sync_selector("prod-models") == "modelsync.dev/sync=prod-models"
    long_name = "s" * 100
    assert sync_selector(long_name) == f"modelsync.dev/sync={sanitize_label_value(long_name)}"


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("team", True),
        ("app.kubernetes.io/managed-by", True),
        ("modelsync.dev/sync", True),
        ("a/b/c", False),
        ("/x", False),
        ("Example.com/x", False),
        ("x/", False),
        ("", False),
        ("a" * 63, True),
        ("a" * 64, False),
        ("-x", False),
    ],
)
def test_qualified_names(key: str, ok: bool) -> None:
    assert is_qualified_name(key) is ok
