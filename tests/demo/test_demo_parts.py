"""The demo's pure parts: manifests, CRD loading, sync state, the kubectl-style table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from modelsync_sandbox.demo import (
    MODELREF_COLUMNS,
    demo_crds,
    demo_manifests,
    format_table,
    kubectl_hint,
    load_crds,
    modelref_rows,
    sync_state,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return loaded


def test_demo_sync_is_the_shipped_example_with_the_catalog_url_filled_in() -> None:
    namespace, secret, sync = demo_manifests("http://127.0.0.1:4242", namespace="demo")
    example = _example("modelcatalogsync.yaml")
    want = dict(example["spec"])
    want["catalog"] = {**want["catalog"], "url": "http://127.0.0.1:4242"}
    assert sync["spec"] == want
    assert (sync["apiVersion"], sync["kind"]) == (example["apiVersion"], example["kind"])
    assert sync["metadata"] == {"name": example["metadata"]["name"], "namespace": "demo"}
    example_secret = _example("secret.yaml")
    assert secret["metadata"]["name"] == example_secret["metadata"]["name"]
    assert secret["stringData"] == example_secret["stringData"]
    assert secret["metadata"]["labels"] == example_secret["metadata"]["labels"]
    assert secret["metadata"]["labels"] == {"modelsync.dev/catalog-credentials": "true"}
    assert namespace == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}


def test_the_demo_applies_the_crds_the_package_carries_by_default() -> None:
    names = sorted(crd["metadata"]["name"] for crd in demo_crds())
    assert names == ["modelcatalogsyncs.modelsync.dev", "modelrefs.modelsync.dev"]
    assert demo_crds() == load_crds(ROOT / "crds")


def test_load_crds_skips_other_kinds(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("kind: Kustomization\nresources: [a.yaml]\n")
    assert load_crds(tmp_path) == []
    assert demo_crds(tmp_path) == []


def _sync(status: dict[str, Any] | None, generation: int = 2) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "s", "generation": generation}}
    if status is not None:
        obj["status"] = status
    return obj


def _ready(status: str, reason: str, generation: int, message: str = "") -> dict[str, Any]:
    cond = {"type": "Ready", "status": status, "reason": reason, "observedGeneration": generation}
    if message:
        cond["message"] = message
    return {"conditions": [{"type": "Stalled", "status": "False"}, cond]}


def test_sync_state_is_ready_only_for_the_current_generation() -> None:
    assert sync_state(_sync(None)) == (False, "waiting for the operator to pick it up")
    assert sync_state(_sync(_ready("True", "Synced", 2))) == (True, "Ready=True Synced")
    assert sync_state(_sync(_ready("True", "Synced", 1)))[0] is False
    ok, text = sync_state(_sync(_ready("False", "Unauthorized", 2, "HTTP 401")))
    assert not ok
    assert text == "Ready=False Unauthorized: HTTP 401"


def _modelref(name: str, **version: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": "2024-06-01T11:57:30Z"},
        "spec": {"model": {"fqn": f"model:acme/x/{name}"}, "version": version},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_rows_follow_the_printer_columns_sorted_by_name() -> None:
    items = [
        _modelref("b", version=3, framework={"type": "sklearn"}),
        _modelref("a", version=1, versionAlias="v1.0"),
        {"metadata": {"name": "c"}},
    ]
    items[1]["spec"]["pinned"] = True
    assert modelref_rows(items, NOW) == [
        ["a", "model:acme/x/a", "1", "v1.0", "", "true", "True", "2m30s"],
        ["b", "model:acme/x/b", "3", "", "sklearn", "", "True", "2m30s"],
        ["c", "", "", "", "", "", "", "<unknown>"],
    ]


def test_table_layout_is_kubectls() -> None:
    rows = [["fraud.detector", "model:acme/fraud/detector", "5", "", "sklearn", "", "True", "3s"]]
    assert format_table(MODELREF_COLUMNS, rows).splitlines() == [
        "NAME             MODEL                       VERSION   ALIAS   FRAMEWORK   PINNED   READY"
        "   AGE",
        "fraud.detector   model:acme/fraud/detector   5                 sklearn              True "
        "   3s",
    ]


_CELL = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12)


@given(st.integers(1, 5).flatmap(lambda n: st.lists(st.lists(_CELL, min_size=n, max_size=n))))
def test_table_columns_line_up_and_keep_every_cell(rows: list[list[str]]) -> None:
    width = len(rows[0]) if rows else 1
    header = [f"H{i}" for i in range(width)]
    lines = format_table(header, rows).splitlines()
    assert len(lines) == len(rows) + 1
    starts = [0]
    for i in range(width - 1):
        column = [header[i], *(row[i] for row in rows)]
        starts.append(starts[-1] + max(6, max(map(len, column)) + 3))
    for line, row in zip(lines, [header, *rows], strict=True):
        for i, cell in enumerate(row):
            end = starts[i + 1] if i + 1 < width else len(line)
            assert line[starts[i] : end].rstrip() == cell
        assert line == line.rstrip() or row[-1] == ""


def test_kubectl_hint_quotes_the_path() -> None:
    assert kubectl_hint(Path("/tmp/a b/kubeconfig"), "demo") == (
        "KUBECONFIG='/tmp/a b/kubeconfig' kubectl get modelrefs -n demo"
    )


def test_ages_are_kubectls_human_durations() -> None:
    item = _modelref("a", version=1)
    later = datetime(2024, 6, 1, 11, 57, 30, tzinfo=UTC) + timedelta(hours=26)
    assert modelref_rows([item], later)[0][-1] == "26h"
    assert re.fullmatch(r"\d+s", modelref_rows([item], NOW - timedelta(minutes=2))[0][-1])
