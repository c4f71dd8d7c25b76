"""End to end: version selectors (tags, aliasSemver, aliasPattern, metrics) and pins against
the sandbox catalog, whose versions carry tags, aliases and metrics; `modelsync render` of
examples/promotion.yaml prints what the operator creates from it.

Every test shares the session's operator (one per API server) and opens one namespace with
several syncs, so the file costs no operator start-up of its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_harness import ROOT, Scenario, condition

from modelsync.cli import main
from modelsync_sandbox.catalog_server import CatalogSandbox

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples"
MODEL_VERSIONS = "/api/ml/v1/model-versions"


def fqn(model: str) -> str:
    return f"model:acme/{model}"


def ref_name(model: str) -> str:
    return model.replace("/", ".")


def version_of(ref: dict[str, Any]) -> int:
    number: int = ref["spec"]["version"]["version"]
    return number


def ready(ref: dict[str, Any]) -> tuple[str, str, str]:
    found = condition(ref)
    assert found is not None, f"{ref['metadata']['name']} has no Ready condition"
    return found["status"], found["reason"], found.get("message", "")


def model_id(scenario: Scenario, model: str) -> str:
    found: str = scenario.catalog_model(fqn(model))["id"]
    return found


def publish(scenario: Scenario, model: str, **labels: Any) -> int:
    """A new version of `model` in the scenario's catalog, as a training pipeline registers
    one; returns its number."""
    added = scenario.catalog.catalog.publish_version(model_id(scenario, model), labels)
    number: int = added["manifest"]["version"]
    return number


def refreshed(scenario: Scenario, sync: str) -> dict[str, dict[str, Any]]:
    """A full trigger, handled; the sync's ModelRefs afterwards."""
    scenario.wait_handled(sync, scenario.trigger(sync))
    return scenario.modelrefs(sync)


def all_synced(scenario: Scenario, names: set[str]) -> bool:
    """Whether each of these syncs is Ready=True Synced (one list request)."""
    listed = json.loads(scenario.e2e.ok("get", "mcs", "-n", scenario.namespace, "-o", "json"))
    synced = {
        sync["metadata"]["name"]
        for sync in listed["items"]
        if (condition(sync) or {}).get("reason") == "Synced"
        and (condition(sync) or {}).get("status") == "True"
    }
    return names <= synced


def refs_once(
    scenario: Scenario, sync: str, ref: str, number: int, what: str
) -> dict[str, dict[str, Any]]:
    """The sync's ModelRefs once `ref` points at version `number`."""

    def probe() -> dict[str, dict[str, Any]] | None:
        refs = scenario.modelrefs(sync)
        return refs if ref in refs and version_of(refs[ref]) == number else None

    return scenario.wait(probe, f"{ref} at version {number} ({what})")


def pinned_column(scenario: Scenario) -> dict[str, str]:
    """`kubectl get modelrefs`: each row's PINNED cell ("" when empty). kubectl aligns cells
    under their header and leaves empty ones blank, so cells are cut at the header's offsets."""
    lines = scenario.e2e.ok("get", "modelrefs", "-n", scenario.namespace).splitlines()
    header = lines[0]
    start = header.index("PINNED")
    end = header.index("READY")
    return {row.split()[0]: row[start:end].strip() for row in lines[1:]}


def test_selectors_pick_the_newest_qualifying_version(scenario: Scenario) -> None:
    # Each sync takes one model (filters.fqn); in every case the latest version, and the
    # latest deployable one, do not qualify: the operator reads the model's other versions.
    syncs = {
        # churn-predictor: 6 candidate (not deployable), 5 staging, 4 prod+q3, 3 prod
        "tags": ("churn/churn-predictor", {"tags": ["prod"]}, 4),
        # fraud-detector: 5 v2.1.0, 4 v1.1.0, 3 v1.0.0
        "semver": ("fraud/fraud-detector", {"aliasSemver": "^1.0.0"}, 4),
        # sentiment-bert: 4 no alias, 3 v1.1.0, 2 v1.0.0
        "pattern": ("nlp/sentiment-bert", {"aliasPattern": r"^v1\.0\."}, 2),
        # defect-detector: latency_ms_p95 0.8614 / 0.5747 / 0.9186, map_50 0.9364 / 0.7003
        "metrics": (
            "vision/defect-detector",
            {
                "metrics": [
                    {"key": "latency_ms_p95", "max": 0.7},
                    {"key": "map_50", "min": 0.7, "max": 1},
                ]
            },
            2,
        ),
    }
    manifests = [
        scenario.sync_manifest(name, filters={"fqn": fqn(model)}, versionSelector=selector)
        for name, (model, selector, _) in syncs.items()
    ]
    manifests += [
        # churn-survival: no version carries "champion"
        scenario.sync_manifest(
            "nomatch",
            filters={"fqn": fqn("churn/churn-survival")},
            versionSelector={"tags": ["champion"]},
        ),
        # txn-anomaly-lgbm's aliases (4 v2-rc1, 2 v1-prod) are not semantic versions
        scenario.sync_manifest(
            "notsemver",
            filters={"fqn": fqn("fraud/txn-anomaly-lgbm")},
            versionPolicy="Latest",
            versionSelector={"aliasSemver": ">=1.0.0"},
        ),
        scenario.sync_manifest(
            "badrange",
            filters={"fqn": fqn("risk-scoring/credit-score")},
            versionSelector={"aliasSemver": ">=banana"},
        ),
    ]
    done = scenario.apply({"apiVersion": "v1", "kind": "List", "items": manifests})
    assert done.returncode == 0, done.stderr

    scenario.wait(
        lambda: all_synced(scenario, {*syncs, "nomatch", "notsemver"}), "every sync Synced"
    )
    refs = scenario.modelrefs()
    for name, (model, _, want) in syncs.items():
        ref = refs[ref_name(model)]
        assert ref["metadata"]["labels"]["modelsync.dev/sync"] == name
        assert version_of(ref) == want, name
        assert ready(ref)[:2] == ("True", "DeployableVersionResolved"), name
        assert "pinned" not in ref["spec"], name
    # The model-versions endpoint answered what the latest version could not.
    paths = {r.path for r in scenario.catalog.recorded_requests()}
    assert MODEL_VERSIONS in paths

    status, reason, message = ready(refs["churn.churn-survival"])
    assert (status, reason) == ("False", "NoMatchingVersion")
    assert "champion" in message
    assert "version 3" in message, "the newest candidate is named"
    status, reason, message = ready(refs["fraud.txn-anomaly-lgbm"])
    assert (status, reason) == ("False", "NoMatchingVersion")
    assert "version 4" in message
    assert "risk-scoring.credit-score" not in refs

    stalled = scenario.wait_condition("badrange", "True", "InvalidSpec", type_="Stalled")
    assert "spec.versionSelector.aliasSemver" in condition(stalled, "Stalled")["message"]  # type: ignore[index]


def test_pins_beat_the_policy_and_a_git_rollback_moves_back(scenario: Scenario) -> None:
    models = ("fraud/fraud-detector", "churn/churn-predictor", "nlp/sentiment-bert")
    detector, predictor, bert = (ref_name(m) for m in models)
    pins = [
        {"model": "fraud/fraud-detector", "alias": "v1.0.0"},  # version 3
        {"model": "churn/churn-predictor", "version": 6},  # not deployable
        {"model": "nlp/sentiment-bert", "version": 99},  # no such version
    ]
    scenario.create_sync(
        "pinned",
        select={"namePattern": "^(fraud-detector|churn-predictor|sentiment-bert)$"},
        versionSelector={"tags": ["prod"]},  # would pick 5, 4 and 3
        pins=pins,
    )
    scenario.wait_condition("pinned", "True", "Synced")
    refs = scenario.modelrefs("pinned")
    assert set(refs) == {detector, predictor, bert}
    assert (version_of(refs[detector]), refs[detector]["spec"].get("pinned")) == (3, True)
    assert refs[detector]["spec"]["version"]["versionAlias"] == "v1.0.0"
    assert ready(refs[detector])[:2] == ("True", "PinnedVersionResolved")
    assert (version_of(refs[predictor]), refs[predictor]["spec"].get("pinned")) == (6, True)
    status, reason, message = ready(refs[predictor])
    assert (status, reason) == ("True", "PinnedVersionResolved")
    assert "deployable" in message, "says the pinned version is not marked deployable"
    status, reason, message = ready(refs[bert])
    assert (status, reason) == ("False", "PinnedVersionNotFound")
    assert "99" in message
    column = pinned_column(scenario)
    assert column == {detector: "true", predictor: "true", bert: ""}

    # Git rollback of the pins: one pin changes, two go; the policy picks again.
    scenario.patch_sync(
        "pinned", {"spec": {"pins": [{"model": "nlp/sentiment-bert", "version": 2}]}}
    )
    refs = refs_once(scenario, "pinned", bert, 2, "the pins' rollback")
    assert {name: version_of(ref) for name, ref in refs.items()} == {
        detector: 5,
        predictor: 4,
        bert: 2,
    }
    assert "pinned" not in refs[detector]["spec"]
    assert "pinned" not in refs[predictor]["spec"]
    assert refs[bert]["spec"]["pinned"] is True
    assert ready(refs[predictor])[:2] == ("True", "DeployableVersionResolved")
    assert refs[detector]["status"]["previousVersion"] == 3
    column = pinned_column(scenario)
    assert column == {detector: "", predictor: "", bert: "true"}

    # No pins at all, then forward again to the first pin.
    scenario.patch_sync("pinned", {"spec": {"pins": None}})
    refs = refs_once(scenario, "pinned", bert, 3, "no pins")
    assert not any("pinned" in ref["spec"] for ref in refs.values())
    assert set(pinned_column(scenario).values()) == {""}
    scenario.patch_sync("pinned", {"spec": {"pins": pins[:1]}})
    refs = refs_once(scenario, "pinned", detector, 3, "the pin again")
    assert refs[detector]["spec"]["pinned"] is True
    assert (version_of(refs[predictor]), version_of(refs[bert])) == (4, 3)


def refreshed_model(scenario: Scenario, sync: str, model: str) -> dict[str, dict[str, Any]]:
    """A named refresh of one model (what `modelsync reconcile --model` and the webhook
    ask for: the fast path, no listing), handled; the sync's ModelRefs afterwards."""
    value = f"{datetime.now(UTC).isoformat()}-named"
    scenario.e2e.ok(
        "annotate",
        "mcs",
        sync,
        "-n",
        scenario.namespace,
        "--overwrite",
        f"modelsync.dev/reconcile-models={model}",
        f"modelsync.dev/reconcile-requested-at={value}",
    )
    scenario.wait_handled(sync, value)
    return scenario.modelrefs(sync)


def test_a_newly_published_qualifying_version_moves_the_modelref(scenario: Scenario) -> None:
    model = "churn/churn-survival"  # 3 (auc 0.69), 2 prod (auc 0.65), 1 (auc 0.91)
    name = ref_name(model)
    scenario.create_sync(
        "promote",
        filters={"fqn": fqn(model)},
        versionSelector={"tags": ["prod"], "metrics": [{"key": "auc", "min": 0.6}]},
        interval="10m",
    )
    scenario.wait_condition("promote", "True", "Synced")
    assert version_of(scenario.modelrefs("promote")[name]) == 2

    # Tagged prod, but the latest auc (greatest timestamp) is below the bound.
    auc = [
        {"key": "auc", "value": 0.95, "timestamp": 1_717_000_000_000, "step": 1},
        {"key": "auc", "value": 0.55, "timestamp": 1_717_000_060_000, "step": 2},
    ]
    assert publish(scenario, model, tags=["prod"], metrics=auc, deployable=True) == 4
    # Good enough, not promoted yet.
    good = [{"key": "auc", "value": 0.9, "timestamp": 1_717_000_120_000, "step": 1}]
    assert publish(scenario, model, tags=["candidate"], metrics=good, deployable=True) == 5
    assert version_of(refreshed(scenario, "promote")[name]) == 2

    # The catalog promotes 5; a named refresh (the webhook's path) moves the ModelRef.
    scenario.catalog.catalog.relabel_version(model_id(scenario, model), 5, {"tags": ["prod"]})
    syncs = scenario.syncs_done("promote")
    ref = refreshed_model(scenario, "promote", model)[name]
    assert (version_of(ref), ref["status"]["previousVersion"]) == (5, 2)
    assert ref["spec"]["version"]["tags"] == ["prod"]
    assert ready(ref)[:2] == ("True", "DeployableVersionResolved")
    assert scenario.syncs_done("promote") == syncs, "no full sync ran"

    # Two more published: 6 qualifies; 7, newer, is not marked deployable (LatestDeployable).
    assert publish(scenario, model, tags=["prod"], metrics=good, deployable=True) == 6
    assert publish(scenario, model, tags=["prod"], metrics=good, deployable=False) == 7
    ref = refreshed(scenario, "promote")[name]
    assert (version_of(ref), ref["status"]["previousVersion"]) == (6, 5)
    assert ready(ref)[:2] == ("True", "DeployableVersionResolved")


def test_promotion_example_renders_what_the_operator_creates(
    scenario: Scenario,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """examples/promotion.yaml as shipped (only the namespace and catalog port move): the API
    server accepts it, the operator applies its selector and pin, and `modelsync render`
    prints the same ModelRefs."""
    monkeypatch.delenv("MODELSYNC_TOKEN", raising=False)  # render reads the example Secret
    with CatalogSandbox.running_in_thread() as catalog:
        docs = [
            yaml.safe_load((EXAMPLES / "secret.yaml").read_text(encoding="utf-8")),
            yaml.safe_load((EXAMPLES / "promotion.yaml").read_text(encoding="utf-8")),
        ]
        sync = docs[1]
        assert sync["spec"]["catalog"]["url"] == "http://127.0.0.1:8181"
        sync["spec"]["catalog"]["url"] = catalog.url
        for doc in docs:
            doc["metadata"]["namespace"] = scenario.namespace
            done = scenario.e2e.kubectl("apply", "-f", "-", input=json.dumps(doc))
            assert done.returncode == 0, done.stderr
        name = sync["metadata"]["name"]
        scenario.wait_condition(name, "True", "Synced")
        live = scenario.modelrefs(name)

        path = tmp_path / "promotion.yaml"
        path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
        code = main(["render", "-f", str(path), "--allow-insecure-http"])
        out, err = capsys.readouterr()
    assert code == 0, err
    rendered = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out)}

    summary = {
        ref: (version_of(obj), obj["spec"].get("pinned", False), ready(obj)[1])
        for ref, obj in live.items()
    }
    assert summary == {
        "fraud.fraud-detector": (3, False, "DeployableVersionResolved"),
        "fraud.txn-anomaly-lgbm": (2, True, "PinnedVersionResolved"),
        "fraud.chargeback-h2o": (2, False, "NoMatchingVersion"),
    }
    assert set(rendered) == set(live)
    for ref, ours in rendered.items():
        theirs = live[ref]
        assert ours["metadata"]["labels"] == theirs["metadata"]["labels"], ref
        assert ours["spec"] == theirs["spec"], ref
        assert ready(ours) == ready(theirs), ref
