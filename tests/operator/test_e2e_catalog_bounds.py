"""End to end, the operator process against a catalog that tries to exhaust it: a 300 MB
body and a gzip bomb (peak RSS stays far below the Deployment's limit, nothing is lost), and
a `namePattern` that backtracks catastrophically in a backtracking engine (the liveness
endpoint keeps answering while the sync runs)."""

from __future__ import annotations

import copy
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_harness import Scenario, condition

from modelsync_sandbox.catalog_server import CatalogSandbox

pytestmark = pytest.mark.e2e

MODELS_PATH = "/api/ml/v1/models"
PEAK_RSS_LIMIT_MIB = 400


def peak_rss_mib(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


HOSTILE_BODIES: dict[str, Callable[[CatalogSandbox], None]] = {
    "300 MB body": lambda c: c.faults.oversized_body(300_000_000, path_prefix=MODELS_PATH),
    "gzip bomb (1 GiB inflated)": lambda c: c.faults.gzip_bomb(path_prefix=MODELS_PATH),
}


@pytest.mark.parametrize("hostile", list(HOSTILE_BODIES))
def test_a_huge_or_compressed_body_is_refused_within_the_memory_budget(
    scenario: Scenario, hostile: str, record_property: Callable[[str, object], None]
) -> None:
    operator = scenario.e2e.operator
    assert operator.proc is not None
    scenario.create_sync("bounded", select={"mlRepos": ["churn"]}, deletionPolicy="Delete")
    scenario.wait_condition("bounded", "True", "Synced")
    before = {n: o["metadata"]["resourceVersion"] for n, o in scenario.modelrefs().items()}

    HOSTILE_BODIES[hostile](scenario.catalog)
    scenario.trigger("bounded")
    failed = scenario.wait_condition("bounded", "False", "ResponseTooLarge")
    assert "--max-response-bytes" in condition(failed)["message"]  # type: ignore[index]
    after = {n: o["metadata"]["resourceVersion"] for n, o in scenario.modelrefs().items()}
    assert after == before  # nothing deleted, marked or rewritten
    peak = peak_rss_mib(operator.proc.pid)
    record_property("operator_peak_rss_mib", round(peak, 1))
    assert peak < PEAK_RSS_LIMIT_MIB, f"operator peak RSS {peak:.0f} MiB after the {hostile}"

    scenario.catalog.faults.clear()
    scenario.wait_condition("bounded", "True", "Synced", timeout=30)
    assert {n: o["metadata"]["resourceVersion"] for n, o in scenario.modelrefs().items()} == before


def _add_model_named(catalog: CatalogSandbox, name: str) -> None:
    """A copy of a churn model under another name (new ids, same versions)."""
    source = next(m for m in catalog.catalog.models() if "/churn/" in m["fqn"])
    model = copy.deepcopy(source)
    model["id"] = str(uuid.uuid4())
    model["name"] = name
    model["fqn"] = source["fqn"].rsplit("/", 1)[0] + f"/{name}"
    for version in model["versions"]:
        version["id"] = str(uuid.uuid4())
        version["model_id"] = model["id"]
        version["fqn"] = f"{model['fqn']}:{version['manifest']['version']}"
        version["manifest"]["name"] = name
    catalog.catalog.upsert_model(model)


def test_a_catastrophic_name_pattern_leaves_the_operator_responsive(scenario: Scenario) -> None:
    # `^(a+)+$` against 30 `a`s and an `_` takes a backtracking engine ~2^30 steps.
    _add_model_named(scenario.catalog, "a" * 30 + "_")
    scenario.create_sync("evil-pattern", select={"namePattern": "^(a+)+$"})
    slowest = 0.0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        started = time.monotonic()
        with urllib.request.urlopen(scenario.e2e.liveness_url, timeout=5) as response:  # noqa: S310
            assert response.status == 200
        slowest = max(slowest, time.monotonic() - started)
        synced = scenario.get("modelcatalogsync", "evil-pattern")
        ready = condition(synced) if synced else None
        if ready and ready["reason"] == "Synced":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the sync with the catastrophic pattern never finished")
    assert slowest < 2.0, f"liveness took {slowest:.1f}s to answer"
    assert ready["message"].startswith("0 models selected")
    assert scenario.modelrefs() == {}
