"""Server-side Table rendering (https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables).

Rules: apiextensions-apiserver tableconvertor (cellForJSONValue, default Age column),
kubernetes pkg/printers/internalversion, apiserver rest.defaultTableConvertor and
apimachinery util/duration.HumanDuration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.kube.table import (
    age,
    cell_for_json_value,
    human_duration,
    render_builtin_table,
    render_table,
)

NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=UTC)
CREATED = "2025-01-10T11:55:00Z"

COLUMNS: list[dict[str, Any]] = [
    {"name": "Catalog", "type": "string", "jsonPath": ".spec.catalog"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {"name": "Models", "type": "integer", "jsonPath": ".status.models", "priority": 1},
    {"name": "Ratio", "type": "number", "jsonPath": ".status.ratio", "format": "float"},
    {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
    {"name": "Synced", "type": "date", "jsonPath": ".status.lastSync", "description": "When."},
]


def ref(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "resourceVersion": "7",
            "creationTimestamp": CREATED,
        },
        **extra,
    }


class TestCustomResourceTable:
    def test_columns_and_cells(self) -> None:
        obj = ref(
            "a",
            spec={"catalog": "main", "paused": False},
            status={
                "conditions": [{"type": "Ready", "status": "True"}],
                "models": 3.0,
                "ratio": 1,
                "lastSync": "2025-01-10T10:00:00Z",
            },
        )
        table = render_table([obj], COLUMNS, now=NOW)
        assert table["kind"] == "Table"
        assert table["apiVersion"] == "meta.k8s.io/v1"
        assert [c["name"] for c in table["columnDefinitions"]] == [
            "Name",
            "Catalog",
            "Ready",
            "Models",
            "Ratio",
            "Paused",
            "Synced",
        ]
        name, models, ratio, synced = (table["columnDefinitions"][i] for i in (0, 3, 4, 6))
        assert name == {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": name["description"],
            "priority": 0,
        }
        assert models["priority"] == 1
        assert ratio["format"] == "float"
        assert synced["description"] == "When."
        assert table["columnDefinitions"][1]["description"] == (
            "Custom resource definition column (in JSONPath format): .spec.catalog"
        )
        assert table["rows"][0]["cells"] == ["a", "main", "True", 3, 1.0, False, "120m"]

    def test_missing_values_are_null_cells(self) -> None:
        table = render_table([ref("b")], COLUMNS, now=NOW)
        assert table["rows"][0]["cells"] == ["b", None, None, None, None, None, None]

    def test_default_columns_are_name_and_age(self) -> None:
        table = render_table([ref("a")], None, now=NOW)
        assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
            ("Name", "string"),
            ("Age", "date"),
        ]
        assert table["rows"][0]["cells"] == ["a", "5m"]

    @pytest.mark.parametrize(
        ("include", "expected"),
        [
            ("None", None),
            ("Object", ref("a")),
            (
                "Metadata",
                {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": ref("a")["metadata"],
                },
            ),
        ],
    )
    def test_include_object(self, include: str, expected: Any) -> None:
        table = render_table([ref("a")], [], include_object=include, now=NOW)
        assert table["rows"][0]["object"] == expected

    def test_unknown_include_object(self) -> None:
        with pytest.raises(ValueError, match="unrecognized includeObject value"):
            render_table([ref("a")], [], include_object="Everything")

    def test_list_metadata(self) -> None:
        table = render_table([], [], list_metadata={"resourceVersion": "9", "continue": "tok"})
        assert table["metadata"] == {"resourceVersion": "9", "continue": "tok"}
        assert table["rows"] == []
        assert render_table([ref("a")], [], now=NOW)["metadata"] == {"resourceVersion": "7"}

    def test_unparseable_column_path_gives_null_cells(self) -> None:
        table = render_table(
            [ref("a")], [{"name": "X", "type": "string", "jsonPath": ".a["}], now=NOW
        )
        assert table["rows"][0]["cells"] == ["a", None]


class TestCells:
    @pytest.mark.parametrize(
        ("type_", "value", "cell"),
        [
            ("string", {"b": 1, "a": "<"}, '{"a":"\\u003c","b":1}'),
            ("string", [1, 2], "[1,2]"),
            ("string", 5, "5"),
            ("string", 1e6, "1e+06"),
            ("string", True, "true"),
            ("integer", 2.9, 2),
            ("integer", "3", None),
            ("number", 2, 2.0),
            ("boolean", "true", None),
            ("date", "garbage", "<invalid>"),
            ("date", 5, None),
            ("unknown", 5, None),
            ("string", None, None),
        ],
    )
    def test_cell_for_json_value(self, type_: str, value: Any, cell: Any) -> None:
        assert cell_for_json_value(type_, value, NOW) == cell


class TestBuiltinTables:
    def meta(self, name: str) -> dict[str, Any]:
        return {"name": name, "creationTimestamp": CREATED, "resourceVersion": "3"}

    def test_namespaces(self) -> None:
        table = render_builtin_table(
            "Namespace", [{"metadata": self.meta("ns"), "status": {"phase": "Active"}}], now=NOW
        )
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age"]
        assert table["rows"][0]["cells"] == ["ns", "Active", "5m"]

    def test_secrets(self) -> None:
        secret = {"metadata": self.meta("s"), "type": "Opaque", "data": {"a": "eA==", "b": "eQ=="}}
        table = render_builtin_table("secrets", [secret], now=NOW)
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
        assert table["rows"][0]["cells"] == ["s", "Opaque", 2, "5m"]

    def test_configmaps_count_data_and_binary_data(self) -> None:
        cm = {"metadata": self.meta("c"), "data": {"a": "1"}, "binaryData": {"b": "eA=="}}
        table = render_builtin_table("ConfigMap", [cm], now=NOW)
        assert table["rows"][0]["cells"] == ["c", 2, "5m"]

    def test_leases(self) -> None:
        lease = {"metadata": self.meta("l"), "spec": {"holderIdentity": "op-1"}}
        table = render_builtin_table("Lease", [lease], now=NOW)
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Holder", "Age"]
        assert table["rows"][0]["cells"] == ["l", "op-1", "5m"]

    def test_events(self) -> None:
        event = {
            "metadata": self.meta("e.1"),
            "involvedObject": {"kind": "ModelRef", "name": "m", "fieldPath": "spec"},
            "reason": "Synced",
            "message": " done \n",
            "type": "Normal",
            "firstTimestamp": "2025-01-10T11:00:00Z",
            "lastTimestamp": "2025-01-10T11:59:00Z",
            "count": 4,
            "source": {"component": "modelsync"},
        }
        table = render_builtin_table("Event", [event], now=NOW)
        assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
            ("Last Seen", 0),
            ("Type", 0),
            ("Reason", 0),
            ("Object", 0),
            ("Subobject", 1),
            ("Source", 1),
            ("Message", 0),
            ("First Seen", 1),
            ("Count", 1),
            ("Name", 1),
        ]
        assert table["rows"][0]["cells"] == [
            "60s",
            "Normal",
            "Synced",
            "modelref/m",
            "spec",
            "modelsync",
            "done",
            "60m",
            4,
            "e.1",
        ]

    def test_new_style_event_falls_back_to_event_time_and_series(self) -> None:
        event = {
            "metadata": self.meta("e.2"),
            "involvedObject": {"kind": "Pod"},
            "eventTime": "2025-01-10T11:58:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2025-01-10T11:59:30.000000Z"},
            "reportingComponent": "ctrl",
            "reportingInstance": "ctrl-1",
        }
        cells = render_builtin_table("events", [event], now=NOW)["rows"][0]["cells"]
        assert cells[0] == "30s"
        assert cells[3] == "pod"
        assert cells[5] == "ctrl, ctrl-1"
        assert cells[7] == "2m"
        assert cells[8] == 7

    def test_crds_and_others_use_the_default_convertor(self) -> None:
        crd = {
            "metadata": {
                "name": "modelrefs.modelsync.dev",
                "creationTimestamp": "2025-01-10T13:00:00+01:00",
            }
        }
        table = render_builtin_table("CustomResourceDefinition", [crd], now=NOW)
        assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
            ("Name", "string"),
            ("Created At", "date"),
        ]
        assert table["rows"][0]["cells"] == ["modelrefs.modelsync.dev", "2025-01-10T12:00:00Z"]

    def test_list_metadata_and_include_object(self) -> None:
        table = render_builtin_table(
            "Namespace", [], include_object="None", list_metadata={"resourceVersion": "12"}
        )
        assert table["metadata"] == {"resourceVersion": "12"}


class TestHumanDuration:
    # The cases of apimachinery's duration_test.go TestHumanDuration.
    @pytest.mark.parametrize(
        ("delta", "text"),
        [
            (timedelta(seconds=1), "1s"),
            (timedelta(seconds=70), "70s"),
            (timedelta(seconds=190), "3m10s"),
            (timedelta(minutes=70), "70m"),
            (timedelta(hours=47), "47h"),
            (timedelta(hours=49), "2d1h"),
            (timedelta(hours=8 * 24 + 2), "8d"),
            (timedelta(days=367), "367d"),
            (timedelta(hours=365 * 2 * 24 + 25), "2y1d"),
            (timedelta(hours=365 * 8 * 24 + 2), "8y"),
            (timedelta(minutes=5), "5m"),
            (timedelta(hours=3, minutes=20), "3h20m"),
            (timedelta(seconds=-1), "0s"),
            (timedelta(seconds=-5), "<invalid>"),
        ],
    )
    def test_cases(self, delta: timedelta, text: str) -> None:
        assert human_duration(delta.total_seconds()) == text

    def test_age_of_missing_timestamp(self) -> None:
        assert age(None, NOW) == "<unknown>"
        assert age("2025-01-10", NOW) == "<unknown>"

    @given(st.integers(min_value=0, max_value=20 * 365 * 24 * 3600))
    def test_never_empty_and_starts_with_a_digit(self, seconds: int) -> None:
        text = human_duration(seconds)
        assert text[0].isdigit()
        assert text[-1] in "smhdy"
