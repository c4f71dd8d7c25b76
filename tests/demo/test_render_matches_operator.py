"""`modelsync render` prints what the operator creates: same names, labels, annotations, spec
and Ready condition, for the same catalog and sync (the operator runs e2e-style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_harness import CATALOG_TOKEN, Scenario, condition

from modelsync.cli import main

pytestmark = pytest.mark.e2e

_CONDITION_KEYS = ("type", "status", "reason", "message", "observedGeneration")


def _ready(obj: dict[str, Any]) -> dict[str, Any]:
    found = condition(obj)
    assert found is not None, obj["metadata"]["name"]
    return {k: found.get(k) for k in _CONDITION_KEYS}


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(  # every model: lookups, no deployable version, hashed names
            {"modelRefTemplate": {"labels": {"team": "risk"}, "annotations": {"owner": "ml"}}},
            id="all-models",
        ),
        pytest.param(
            {
                "versionPolicy": "Latest",
                "filters": {"includeEmptyModels": True},
                "select": {"namePattern": "^[a-z]", "frameworks": ["sklearn", "xgboost", "onnx"]},
            },
            id="latest-selected",
        ),
        pytest.param(  # versions chosen by selector, a pin, NoMatchingVersion
            {
                "versionSelector": {"tags": ["prod"], "aliasPattern": "^v"},
                "pins": [{"model": "churn/churn-predictor", "version": 2}],
            },
            id="selected-and-pinned",
        ),
    ],
)
def test_render_equals_what_the_operator_creates(
    scenario: Scenario,
    spec: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = scenario.create_sync("rendered", **spec)
    scenario.wait_condition("rendered", "True", "Synced", timeout=30)
    live = scenario.modelrefs("rendered")

    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(manifest))
    monkeypatch.setenv("MODELSYNC_TOKEN", CATALOG_TOKEN)
    code = main(["render", "-f", str(path), "--allow-insecure-http"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert CATALOG_TOKEN not in out + err
    rendered = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out)}

    assert len(live) > 3
    assert set(rendered) == set(live)
    if "pins" in spec:
        pinned = rendered["churn.churn-predictor"]["spec"]
        assert (pinned["pinned"], pinned["version"]["version"]) == (True, 2)
        reasons = {_ready(r)["reason"] for r in rendered.values()}
        assert {"PinnedVersionResolved", "NoMatchingVersion"} <= reasons, reasons
    for name, ours in rendered.items():
        theirs = live[name]
        assert ours["apiVersion"] == theirs["apiVersion"]
        assert ours["kind"] == theirs["kind"]
        assert ours["metadata"]["namespace"] == theirs["metadata"]["namespace"]
        assert ours["metadata"]["labels"] == theirs["metadata"]["labels"], name
        assert ours["metadata"]["annotations"] == theirs["metadata"]["annotations"], name
        assert ours["spec"] == theirs["spec"], name
        assert "ownerReferences" not in ours["metadata"]
        assert ours["status"]["observedGeneration"] == theirs["status"]["observedGeneration"]
        assert _ready(ours) == _ready(theirs), name
