"""The Argo CD health checks and actions of deploy/argocd, run by a real Lua 5.1 as Argo CD runs
them: every case of each health_test.yaml / action_test.yaml, statuses the operator's own code
produces, and the argocd-cm patch that carries the same files.

Argo CD (util/lua/lua.go) runs a script in gopher-lua (Lua 5.1) with a global `obj` and, for
scripts configured in argocd-cm, only the base, package and table libraries plus a "safe" os
(time and date): no string, math, io or debug library, and strings have no methods. The runtime
below offers that (of the base library, the functions a check has a use for), so a script that
uses anything else fails here as it would there.

`python tests/deploy/test_argocd_lua.py --write` regenerates deploy/argocd/argocd-cm-patch.yaml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
import yaml
from lupa import lua51  # type: ignore[import-untyped]  # lupa ships no stubs

from modelsync.api import constants
from modelsync.api.modelcatalogsync import CatalogCounts, ModelRefCounts
from modelsync.plan.conditions import SyncOutcome, SyncResult, sync_status
from modelsync.plan.types import DeletionGuard, ModelFailure

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "deploy" / "argocd"
CUSTOMIZATIONS = ARGOCD / "resource_customizations"
GROUP_DIR = CUSTOMIZATIONS / constants.GROUP
ACTIONS_DIR = GROUP_DIR / constants.KIND_SYNC / "actions"
CM_PATCH = ARGOCD / "argocd-cm-patch.yaml"
KINDS = (constants.KIND_SYNC, constants.KIND_MODELREF)
HEALTH_CODES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})
# The clock the action tests run under (Argo CD's own tests normalise such timestamps instead).
FIXED_NOW = datetime(2026, 12, 2, 7, 0, 0, tzinfo=UTC)

# Argo CD's os.date: strftime flags translated to Go layouts (util/lua/oslib_safe.go).
_GO_FLAGS = {
    "a": "%a",
    "A": "%A",
    "b": "%b",
    "B": "%B",
    "c": "%d %b %y %H:%M %Z",
    "d": "%d",
    "F": "%Y-%m-%d",
    "H": "%H",
    "I": "%I",
    "m": "%m",
    "M": "%M",
    "p": "%p",
    "S": "%S",
    "x": "%H/%M/%S",
    "X": "%H:%M:%S",
    "y": "%y",
    "Y": "%Y",
    "z": "%z",
    "Z": "%Z",
}

# The sandbox: Argo CD's restricted library set, the script loaded into its own environment.
_SANDBOX = """
local script, name, obj, os_date, os_time = ...
getmetatable("").__index = nil  -- no string library: strings have no methods
local env = {}
for _, key in ipairs({
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print", "rawequal",
  "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "unpack",
  "xpcall", "_VERSION",
}) do
  env[key] = _G[key]
end
env._G = env
env.table = {
  concat = table.concat, insert = table.insert, maxn = table.maxn, remove = table.remove,
  sort = table.sort, getn = table.getn,
}
env.os = {date = os_date, time = os_time}
env.require = function(module)
  if module == "os" then
    return env.os
  end
  error("module '" .. tostring(module) .. "' not found")
end
env.obj = obj
local chunk, err = loadstring(script, "=" .. name)
if chunk == nil then
  error(err)
end
setfenv(chunk, env)
return chunk()
"""


def _os_date(fmt: object = "%c", when: object = None) -> str:
    now = FIXED_NOW if when is None else datetime.fromtimestamp(float(cast(float, when)), UTC)
    text = str(fmt).removeprefix("!")
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%" and index + 1 < len(text):
            flag = text[index + 1]
            if flag == "%":
                out.append("%")
            elif flag == "w":
                out.append(str((now.weekday() + 1) % 7))
            elif flag in _GO_FLAGS:
                out.append(now.strftime(_GO_FLAGS[flag]))
            else:
                out.append("%" + flag)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _os_time(*_: object) -> int:
    return int(FIXED_NOW.timestamp())


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, Mapping):
        return runtime.table_from(
            {k: _to_lua(runtime, v) for k, v in value.items() if v is not None}
        )
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def _from_lua(value: Any) -> Any:
    """A Lua value as JSON-like Python: tables with keys 1..n are lists (an empty table too,
    as gopher-json encodes it), whole floats are ints (Lua 5.1 has only doubles)."""
    if lua51.lua_type(value) == "table":
        items = dict(value.items())
        if all(isinstance(k, int) and not isinstance(k, bool) for k in items) and sorted(
            items
        ) == list(range(1, len(items) + 1)):
            return [_from_lua(items[i]) for i in range(1, len(items) + 1)]
        return {str(k): _from_lua(v) for k, v in items.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _clean(new: Any, old: Any) -> Any:
    """Argo CD's cleanReturnedObj: an empty table that was an object stays an object."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: _clean(v, old[k]) if k in old else v for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, dict) and not new:
        return old
    if isinstance(new, list) and isinstance(old, list):
        return [_clean(v, old[i]) if i < len(old) else v for i, v in enumerate(new)]
    return new


def run_lua_text(script: str, name: str, obj: Mapping[str, Any]) -> Any:
    """Run `script` with the global `obj` in Argo CD's restricted environment; its result."""
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    sandbox = runtime.execute(f"return function(...) {_SANDBOX} end")
    result = sandbox(script, name, _to_lua(runtime, obj), _os_date, _os_time)
    assert lua51.lua_type(result) == "table", f"{name} returned {result!r}, not a table"
    return _from_lua(result)


def run_lua(script: Path, obj: Mapping[str, Any]) -> Any:
    return run_lua_text(script.read_text(), str(script.relative_to(CUSTOMIZATIONS)), obj)


def health(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """What Argo CD shows: the health.lua result, an invalid status becoming Unknown."""
    found = run_lua(GROUP_DIR / kind / "health.lua", obj)
    assert isinstance(found, dict), found
    if found.get("status") not in HEALTH_CODES:
        return {"status": "Unknown", "message": "Lua returned an invalid health status"}
    return {"status": found["status"], "message": found.get("message", "")}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _health_cases() -> Iterator[Any]:
    for kind in KINDS:
        for case in _load(GROUP_DIR / kind / "health_test.yaml")["tests"]:
            yield pytest.param(kind, case, id=f"{kind}/{case['inputPath']}")


def _action_file() -> Any:
    return _load(GROUP_DIR / constants.KIND_SYNC / "actions" / "action_test.yaml")


@pytest.mark.parametrize(("kind", "case"), list(_health_cases()))
def test_health_case(kind: str, case: dict[str, Any]) -> None:
    obj = _load(GROUP_DIR / kind / case["inputPath"])
    assert health(kind, obj) == case["healthStatus"]


@pytest.mark.parametrize(
    "case", _action_file()["discoveryTests"], ids=lambda case: case["inputPath"]
)
def test_action_discovery(case: dict[str, Any]) -> None:
    found = run_lua(ACTIONS_DIR / "discovery.lua", _load(ACTIONS_DIR / case["inputPath"]))
    assert isinstance(found, dict)
    # As Argo CD reads it: an action is enabled unless it says `disabled = true`.
    got = {
        name: {"disabled": False, **(spec if isinstance(spec, dict) else {})}
        for name, spec in found.items()
    }
    want = {
        item["name"]: {"disabled": False, **{k: v for k, v in item.items() if k != "name"}}
        for item in case["result"]
    }
    assert got == want
    for name in got:
        assert (ACTIONS_DIR / name / "action.lua").is_file(), f"discovery offers {name}"


@pytest.mark.parametrize(
    "case",
    _action_file()["actionTests"],
    ids=lambda case: f"{case['action']}/{case['inputPath']}",
)
def test_action(case: dict[str, Any]) -> None:
    before = _load(ACTIONS_DIR / case["inputPath"])
    after = _clean(run_lua(ACTIONS_DIR / case["action"] / "action.lua", before), before)
    assert after == _load(ACTIONS_DIR / case["expectedOutputPath"])


def test_reconcile_action_sets_a_new_trigger_value_the_operator_reads() -> None:
    from modelsync.runtime.bodies import reconcile_models, trigger_value

    before = _load(ACTIONS_DIR / "testdata" / "sync_namedRefreshRequested.yaml")
    after = run_lua(ACTIONS_DIR / "reconcile" / "action.lua", before)
    assert trigger_value(after) == "2026-12-02T07:00:00Z" != trigger_value(before)
    assert reconcile_models(before)
    assert reconcile_models(after) == ()  # a full sync


def test_every_testdata_file_is_used_and_every_case_file_exists() -> None:
    used: set[Path] = set()
    for kind in KINDS:
        for case in _load(GROUP_DIR / kind / "health_test.yaml")["tests"]:
            used.add(GROUP_DIR / kind / case["inputPath"])
    tests = _action_file()
    for case in tests["discoveryTests"]:
        used.add(ACTIONS_DIR / case["inputPath"])
    for case in tests["actionTests"]:
        used |= {ACTIONS_DIR / case["inputPath"], ACTIONS_DIR / case["expectedOutputPath"]}
    on_disk = set(CUSTOMIZATIONS.rglob("testdata/*.yaml"))
    assert sorted(map(str, used - on_disk)) == []
    assert sorted(map(str, on_disk - used)) == []


@cache
def _crd_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = _load(path)
        schemas[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]
    return schemas


@pytest.mark.parametrize(
    "path",
    sorted(CUSTOMIZATIONS.rglob("testdata/*.yaml")),
    ids=lambda path: str(path.relative_to(GROUP_DIR)),
)
def test_testdata_objects_are_valid_for_the_crds(path: Path) -> None:
    obj = _load(path)
    schema = _crd_schemas()[obj["kind"]]["openAPIV3Schema"]
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(obj)
    ]
    assert errors == []


def _operator_reasons() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(constants).items()
        if name.startswith("REASON_") and isinstance(value, str)
    }


def _reasons_in(obj: Mapping[str, Any]) -> set[str]:
    status = obj.get("status") or {}
    found = {c.get("reason") for c in status.get("conditions") or []}
    found |= {f.get("reason") for f in status.get("failures") or []}
    return {r for r in found if isinstance(r, str)}


def test_every_reason_the_operator_defines_has_a_health_case() -> None:
    covered: set[str] = set()
    for kind in KINDS:
        for case in _load(GROUP_DIR / kind / "health_test.yaml")["tests"]:
            covered |= _reasons_in(_load(GROUP_DIR / kind / case["inputPath"]))
    missing = {name: value for name, value in _operator_reasons().items() if value not in covered}
    assert missing == {}, "add a testdata case (and a health_test.yaml entry) for these reasons"


# Statuses made by the operator's own code (plan/conditions.py) for every way a pass can end,
# after a good pass and after a stalled one, and what Argo CD should then show.
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
COUNTS = ModelRefCounts(selected=4, unchanged=4)
CATALOG = CatalogCounts(models_listed=33, pages=1, requests=1)


def _synced(**kwargs: Any) -> SyncResult:
    return SyncResult(SyncOutcome.SYNCED, catalog=CATALOG, ref_counts=COUNTS, **kwargs)


def _pass_results() -> Iterator[tuple[str, SyncResult, str]]:
    for outcome in SyncOutcome:
        if outcome is SyncOutcome.SYNCED:
            yield outcome.value, _synced(), "Healthy"
        elif outcome is SyncOutcome.SUSPENDED:
            yield outcome.value, SyncResult(outcome), "Suspended"
        else:
            yield outcome.value, SyncResult(outcome, f"{outcome.value} happened"), "Degraded"
    guard = DeletionGuard(9, 5, "9 ModelRefs left the selection, more than maxDeletions 5")
    yield "guard", _synced(guard=guard), "Degraded"
    yield (
        "inconsistent",
        _synced(listing_complete=False, listing_problem="pages overlap"),
        ("Degraded"),
    )
    failure = ModelFailure("model:acme/fraud/m", constants.REASON_OWNED_BY_ANOTHER_SYNC, "taken")
    yield "models-failed", _synced(failures=(failure,)), "Degraded"


_BEFORE: dict[str, Callable[[], SyncResult]] = {
    "after-success": _synced,
    "after-stall": lambda: SyncResult(SyncOutcome.INVALID_SPEC, "bad pattern"),
    "first-pass": lambda: _synced(),
}


@pytest.mark.parametrize("before", sorted(_BEFORE))
@pytest.mark.parametrize(
    ("result", "want"),
    [pytest.param(r, w, id=i) for i, r, w in _pass_results()],
)
def test_health_of_every_status_the_operator_writes(
    before: str, result: SyncResult, want: str
) -> None:
    old = None
    if before != "first-pass":
        old = sync_status(None, _BEFORE[before](), generation=2, now=T0)
    status = sync_status(old, result, generation=2, now=T1).to_k8s()
    suspend = result.outcome is SyncOutcome.SUSPENDED
    obj = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.KIND_SYNC,
        "metadata": {"name": "s", "namespace": "n", "generation": 2},
        "spec": {"suspend": suspend},
        "status": status,
    }
    found = health(constants.KIND_SYNC, obj)
    assert found["status"] == want, found
    if want == "Degraded":
        assert (
            found["message"].removeprefix("Stalled: ").startswith(status["conditions"][0]["reason"])
        )


@pytest.mark.parametrize(
    "body",
    [
        'return {status = string.upper("x")}',
        'return {status = ("x"):upper()}',
        "return {status = tostring(math.floor(1.5))}",
        'return {status = io.read("*a")}',
        'return {status = os.getenv("HOME")}',
        'return {status = require("string").upper("x")}',
        'return {status = python.eval("1")}',
    ],
)
def test_a_script_using_what_argo_cd_lacks_fails_here(body: str) -> None:
    with pytest.raises(lua51.LuaError):
        run_lua_text(body, "probe.lua", {})


def test_what_argo_cd_offers_works_here() -> None:
    body = """
    local os = require("os")
    local parts = {}
    table.insert(parts, os.date("!%Y-%m-%dT%XZ"))
    table.insert(parts, tostring(os.time() > 0))
    return {status = "Healthy", message = table.concat(parts, " ") .. " " .. obj.kind}
    """
    found = run_lua_text(body, "probe.lua", {"kind": "ModelRef"})
    assert found == {"status": "Healthy", "message": "2026-12-02T07:00:00Z true ModelRef"}


# The argocd-cm patch: the same files, under the keys Argo CD reads.
def _literal(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _literal)


@cache
def expected_cm_patch() -> str:
    data: dict[str, str] = {}
    for kind in KINDS:
        key = f"{constants.GROUP}_{kind}"
        data[f"resource.customizations.health.{key}"] = (
            GROUP_DIR / kind / "health.lua"
        ).read_text()
        actions = GROUP_DIR / kind / "actions"
        if actions.is_dir():
            definitions = [
                {"name": d.name, "action.lua": (d / "action.lua").read_text()}
                for d in sorted(actions.iterdir())
                if (d / "action.lua").is_file()
            ]
            config = {"discovery.lua": (actions / "discovery.lua").read_text()}
            data[f"resource.customizations.actions.{key}"] = yaml.dump(
                {**config, "definitions": definitions}, Dumper=_Dumper, sort_keys=False
            )
    patch = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
        "data": data,
    }
    header = (
        "# Argo CD health checks and actions for modelsync (docs/gitops.md), generated from\n"
        "# resource_customizations/ by `python tests/deploy/test_argocd_lua.py --write`.\n"
    )
    return header + yaml.dump(patch, Dumper=_Dumper, sort_keys=False, width=100)


def test_argocd_cm_patch_carries_the_tested_files() -> None:
    assert CM_PATCH.read_text() == expected_cm_patch(), (
        f"{CM_PATCH} is stale; run `.venv/bin/python tests/deploy/test_argocd_lua.py --write`"
    )
    data = _load(CM_PATCH)["data"]
    actions = yaml.safe_load(data["resource.customizations.actions.modelsync.dev_ModelCatalogSync"])
    assert actions["discovery.lua"] == (ACTIONS_DIR / "discovery.lua").read_text()
    assert {d["name"] for d in actions["definitions"]} == {"reconcile", "suspend", "resume"}


# Argo CD's own install ships argocd-cm with these labels and no data.
_ARGOCD_CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels: {app.kubernetes.io/name: argocd-cm, app.kubernetes.io/part-of: argocd}
"""


def _kubectl(*args: str, cwd: Path) -> Any:
    done = subprocess.run(
        ["kubectl", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d is not None]


def test_the_documented_ways_to_install_the_patch_give_argo_cd_the_files(tmp_path: Path) -> None:
    """docs/gitops.md: `kubectl patch --type merge --patch-file`, and a kustomize patch."""
    want = _load(CM_PATCH)["data"]
    (tmp_path / "argocd-cm.yaml").write_text(_ARGOCD_CM)
    shutil.copy(CM_PATCH, tmp_path / "argocd-cm-patch.yaml")
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [argocd-cm.yaml]\npatches:\n  - path: argocd-cm-patch.yaml\n"
    )
    (kustomized,) = _kubectl("kustomize", ".", cwd=tmp_path)
    (patched,) = _kubectl(
        "patch", "--local", "-f", "argocd-cm.yaml", "--type", "merge",
        "--patch-file", "argocd-cm-patch.yaml", "-o", "yaml", cwd=tmp_path,
    )  # fmt: skip
    for cm in (kustomized, patched):
        assert cm["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
        assert cm["data"] == want
    assert (
        want["resource.customizations.health.modelsync.dev_ModelRef"]
        == (GROUP_DIR / constants.KIND_MODELREF / "health.lua").read_text()
    )


def test_docs_show_the_mapping_for_every_reason() -> None:
    docs = (ROOT / "docs" / "gitops.md").read_text()
    start = docs.index("## Argo CD: health and actions")
    section = docs[start : docs.index("\n## ", start + 1)]
    assert "deploy/argocd/argocd-cm-patch.yaml" in section
    per_model = {constants.REASON_OWNED_BY_ANOTHER_SYNC, constants.REASON_VERSION_LOOKUP_FAILED}
    reasons = set(_operator_reasons().values()) - per_model - {constants.REASON_PROGRESSING}
    assert sorted(r for r in reasons if f"`{r}`" not in section) == []


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        CM_PATCH.write_text(expected_cm_patch())
        print(f"wrote {CM_PATCH}")
    else:
        sys.exit("usage: python tests/deploy/test_argocd_lua.py --write")
