"""A stateful property test of whole sync passes: a hypothesis state machine changes the
catalog, makes it lie or fail, and runs passes of the real SyncRunner against the sandbox
catalog and the sandbox Kubernetes API, in random order. After every pass it checks:

- nothing is lost: a ModelRef disappears, or is newly marked RemovedFromCatalog, only when its
  model really left the selection;
- Ready tells the truth: Ready=True only when the ModelRefs are exactly the expected ones;
- convergence: after a fault-free pass the ModelRefs are exactly the expected ones and the
  sync is Ready=True.

The expected ModelRefs are computed here from the catalog's own data (names by the naming
rule, newest deployable version), independently of the planner.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from e2e_harness import condition
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from fixtures_kube import kubectl, unique_name
from modelsync.api.naming import modelref_name
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.modelcatalogsyncs import get_sync
from modelsync.kube.modelrefs import list_modelrefs
from modelsync.runtime.config import OperatorConfig
from modelsync.runtime.hosts import AllowedHosts
from modelsync.runtime.runner import RuntimeContext, SyncRunner
from modelsync_sandbox.catalog_server import CatalogSandbox

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

TOKEN = "tok-stateful-9d1e7a"
REPO = "churn"
PAGE_SIZE = 4
LOOPBACK = AllowedHosts.parse(["http://127.0.0.1:*"], allow_insecure_http=True)

# A lie or a failure the catalog tells during the next pass: the name and how to arm it.
Fault = Callable[[CatalogSandbox], None]


MODELS_PATH = "/api/ml/v1/models"

# Each lie lasts until the end of the pass it is armed for (the machine clears faults after
# every pass); `path_prefix` keeps the model-versions look-ups honest.
FAULTS: dict[str, Fault] = {
    "503": lambda c: c.faults.fail_next(1, 503, path_prefix=MODELS_PATH),
    "empty-page": lambda c: c.faults.empty_page_before_total(path_prefix=MODELS_PATH),
    "understated-total": lambda c: c.faults.understate_total(
        PAGE_SIZE + 1, path_prefix=MODELS_PATH
    ),
    "overstated-total": lambda c: c.faults.overstate_total(3, path_prefix=MODELS_PATH),
    "ignores-offset": lambda c: c.faults.ignore_offset(path_prefix=MODELS_PATH),
    "repeats-a-page": lambda c: c.faults.repeat_page(path_prefix=MODELS_PATH),
    "duplicate-ids": lambda c: c.faults.duplicate_ids(across_pages=True, path_prefix=MODELS_PATH),
    "total-moves-once": lambda c: c.faults.moving_total(2, 1, path_prefix=MODELS_PATH),
    "total-keeps-moving": lambda c: c.faults.moving_total(-1, path_prefix=MODELS_PATH),
    "oversized-body": lambda c: c.faults.oversized_body(2 * 1024 * 1024, path_prefix=MODELS_PATH),
}


def _newest(versions: list[dict[str, Any]], *, deployable_only: bool) -> int | None:
    numbers = [
        int(v["manifest"]["version"])
        for v in versions
        if v.get("deployable") or not deployable_only
    ]
    return max(numbers, default=None)


def expected_refs(catalog: CatalogSandbox) -> dict[str, int]:
    """{ModelRef name: version number} the sync should hold for the catalog as it is now."""
    expected: dict[str, int] = {}
    for model in catalog.catalog.models():
        _, _, rest = model["fqn"].partition(":")
        _, repo, name = rest.split("/")
        if repo != REPO or not model["versions"]:
            continue
        number = _newest(model["versions"], deployable_only=True)
        if number is None:  # no deployable version: the ref points at the latest one
            number = _newest(model["versions"], deployable_only=False)
        assert number is not None
        expected[modelref_name(repo, name, model["fqn"])] = number
    return expected


def _removed(ref: dict[str, Any]) -> bool:
    ready = condition(ref) or {}
    return ready.get("reason") == "RemovedFromCatalog"


class SyncPasses(RuleBasedStateMachine):
    removed_models = Bundle("removed_models")

    # Set by the test on a subclass: hypothesis builds the machine without arguments.
    world: ClassVar[tuple[KubeSandbox, KubeApi, asyncio.AbstractEventLoop]]

    def __init__(self) -> None:
        super().__init__()
        self.sandbox, self.api, self.loop = self.world
        self.catalog = CatalogSandbox(token=TOKEN)
        self.catalog.start_in_thread()
        self.ns = unique_name("stateful")
        self.runner: SyncRunner | None = None
        self.armed: list[str] = []
        self.last_ready: dict[str, Any] | None = None

    # --- set-up ---------------------------------------------------------------------

    @initialize(policy=st.sampled_from(["Delete", "Retain"]))
    def create_sync(self, policy: str) -> None:
        self.policy = policy
        objects = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "tfy",
                    "namespace": self.ns,
                    "labels": {"modelsync.dev/catalog-credentials": "true"},
                },
                "stringData": {"token": TOKEN},
            },
            {
                "apiVersion": "modelsync.dev/v1alpha1",
                "kind": "ModelCatalogSync",
                "metadata": {"name": "s", "namespace": self.ns},
                "spec": {
                    "catalog": {
                        "url": self.catalog.url,
                        "tokenSecretRef": {"name": "tfy", "key": "token"},
                        "pageSize": PAGE_SIZE,
                        "timeoutSeconds": 5,
                    },
                    "select": {"mlRepos": [REPO]},
                    "deletionPolicy": policy,
                    "maxDeletions": 100,
                },
            },
        ]
        for obj in objects:
            done = kubectl(self.sandbox.kubeconfig_path, "apply", "-f", "-", input=json.dumps(obj))
            assert done.returncode == 0, done.stderr
        config = OperatorConfig(
            allowed_hosts=LOOPBACK, catalog_attempts=1, max_response_bytes=1024 * 1024
        )
        ctx = RuntimeContext(api=self.api, config=config, writes=asyncio.Semaphore(4))
        self.runner = SyncRunner(self.ns, "s", ctx)
        self._checked_pass()

    # --- the catalog changes ----------------------------------------------------------

    def _repo_models(self) -> list[dict[str, Any]]:
        return [m for m in self.catalog.catalog.models() if f"/{REPO}/" in m["fqn"]]

    @rule(target=removed_models, pick=st.integers(min_value=0, max_value=100))
    def remove_model(self, pick: int) -> dict[str, Any]:
        models = self._repo_models()
        if not models:
            return {}
        model = models[pick % len(models)]
        assert self.catalog.catalog.remove_model(model["id"])
        return model

    @rule(model=consumes(removed_models))
    def restore_model(self, model: dict[str, Any]) -> None:
        if model:
            self.catalog.catalog.upsert_model(copy.deepcopy(model))

    @rule(pick=st.integers(min_value=0, max_value=100), deployable=st.booleans())
    def publish_version(self, pick: int, deployable: bool) -> None:
        models = [m for m in self._repo_models() if m["versions"]]
        if not models:
            return
        model = models[pick % len(models)]
        latest = max(model["versions"], key=lambda v: v["manifest"]["version"])
        manifest = {k: v for k, v in latest["manifest"].items() if k != "version"}
        self.catalog.catalog.add_version(
            model["id"], {"manifest": manifest, "deployable": deployable, "tags": []}
        )

    @rule(fault=st.sampled_from(sorted(FAULTS)))
    def catalog_misbehaves(self, fault: str) -> None:
        """Armed now, told during the next pass (catalog changes may come in between)."""
        FAULTS[fault](self.catalog)
        self.armed.append(fault)

    # --- a pass and what must hold after it -------------------------------------------------

    def _refs(self) -> dict[str, dict[str, Any]]:
        listed = self.loop.run_until_complete(list_modelrefs(self.api, self.ns, "s"))
        return {ref["metadata"]["name"]: ref for ref in listed}

    def _pass(self) -> dict[str, Any]:
        assert self.runner is not None
        body = self.loop.run_until_complete(get_sync(self.api, self.ns, "s"))
        self.loop.run_until_complete(self.runner.sync(body, 0))
        self.catalog.faults.clear()
        return self.loop.run_until_complete(get_sync(self.api, self.ns, "s"))

    @rule()
    def sync_pass(self) -> None:
        self._checked_pass()

    @rule(fault=st.sampled_from(sorted(FAULTS)))
    def sync_pass_while_catalog_misbehaves(self, fault: str) -> None:
        FAULTS[fault](self.catalog)
        self.armed.append(fault)
        self._checked_pass()

    def _checked_pass(self) -> None:
        before = self._refs()
        expected = expected_refs(self.catalog)
        faulted = bool(self.armed)
        self.armed = []
        status = self._pass()
        after = self._refs()
        ready = condition(status) or {}
        self.last_ready = ready

        # Nothing lost: only a model that really left the selection loses its ModelRef.
        for name, ref in before.items():
            gone = name not in after
            newly_marked = not gone and _removed(after[name]) and not _removed(ref)
            if gone or newly_marked:
                assert name not in expected, (
                    f"{name} was {'deleted' if gone else 'marked removed'} although its model "
                    f"is still selected (faults this pass: {faulted}); Ready={ready}"
                )
        live = {
            name: int(ref["spec"]["version"]["version"])
            for name, ref in after.items()
            if not _removed(ref)
        }
        # Ready tells the truth.
        if ready.get("status") == "True":
            assert live == expected, f"Ready=True but refs {live} != expected {expected}"
        # Convergence after a fault-free pass.
        if not faulted:
            assert ready.get("status") == "True", f"fault-free pass not Ready: {ready}"
            assert live == expected
            stale = {n for n in after if n not in expected}
            if self.policy == "Delete":
                assert not stale, f"stale ModelRefs not deleted: {stale}"
            else:
                assert all(_removed(after[n]) for n in stale)

    @invariant()
    def ready_condition_is_well_formed(self) -> None:
        if self.last_ready:
            assert self.last_ready["status"] in ("True", "False")
            assert self.last_ready["reason"]

    def teardown(self) -> None:
        if self.runner is not None:
            self.loop.run_until_complete(self.runner.close())
        self.catalog.stop_in_thread()
        kubectl(self.sandbox.kubeconfig_path, "delete", "namespace", self.ns, "--wait=false")


@pytest.fixture
def loop_and_api(crd_sandbox: KubeSandbox) -> Iterator[tuple[asyncio.AbstractEventLoop, KubeApi]]:
    loop = asyncio.new_event_loop()
    api = KubeApi(load_configuration(str(crd_sandbox.kubeconfig_path)), max_workers=4)
    try:
        yield loop, api
    finally:
        api.close()
        loop.close()


def test_sync_passes_keep_their_invariants(
    crd_sandbox: KubeSandbox, loop_and_api: tuple[asyncio.AbstractEventLoop, KubeApi]
) -> None:
    loop, api = loop_and_api

    class OnTheSandbox(SyncPasses):
        world = (crd_sandbox, api, loop)

    run_state_machine_as_test(
        OnTheSandbox,
        settings=settings(
            max_examples=12,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
