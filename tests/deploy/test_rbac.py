"""RBAC grants exactly what the operator process's code and Kopf use (not what only other
commands such as `modelsync reconcile` use, with their user's credentials); Secrets are
get-only; Leases only in the operator's namespace, and only its own Lease by name."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import pytest

import modelsync.handlers
from deploy.manifests import ROOT, Manifest, container, find, render, render_base_with
from deploy.rbac_usage import (
    OPERATOR_PROCESS,
    CallGraph,
    Permission,
    Unit,
    UnresolvedCall,
    cli_permissions,
    code_permissions,
    granted_permissions,
    kopf_framework_permissions,
    kopf_handler_permissions,
    operator_units,
    owner_reference_permissions,
    package_graph,
    permissions_in_source,
    webhook_permissions,
)
from modelsync.api.constants import GROUP, PLURAL_MODELREF, PLURAL_SYNC, VERSION
from modelsync.cli.kopf_main import kopf_settings
from modelsync.kube.leases import LEASE_GROUP
from modelsync.runtime.leader_loop import DEFAULT_LEASE_NAME

PACKAGE = ROOT / "operator" / "modelsync"
SERVICE_ACCOUNT = {"kind": "ServiceAccount", "name": "modelsync", "namespace": "modelsync-system"}
OPERATOR_NAMESPACE = "modelsync-system"
CLUSTER_SCOPED = frozenset({"customresourcedefinitions", "namespaces"})
CONSTANTS: dict[str, Any] = {
    "GROUP": GROUP,
    "VERSION": VERSION,
    "PLURAL_SYNC": PLURAL_SYNC,
    "PLURAL_MODELREF": PLURAL_MODELREF,
}
RECEIVERS = {"core": "CoreV1Api", "custom": "CustomObjectsApi", "events": "EventsV1Api"}


def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.cache
def needed(*, clusterwide: bool, webhook: bool = False) -> frozenset[Permission]:
    """Everything the operator process needs, in one mode (`webhook`: with --webhook-port)."""
    posting = kopf_settings().posting
    return frozenset(
        code_permissions(webhook=webhook)
        | kopf_handler_permissions(_source(PACKAGE / "handlers.py"), vars(modelsync.handlers))
        | kopf_framework_permissions(clusterwide=clusterwide, posting=posting.enabled)
        | owner_reference_permissions(_source(PACKAGE / "plan" / "types.py"), GROUP, PLURAL_SYNC)
    )


def _bound_rules(objects: list[Manifest], role_kind: str, binding_kind: str) -> list[Manifest]:
    """(Cluster)Roles bound to the operator's ServiceAccount by a (Cluster)RoleBinding."""
    roles: list[Manifest] = []
    for binding in find(objects, binding_kind):
        if SERVICE_ACCOUNT not in binding["subjects"]:
            continue
        ref = binding["roleRef"]
        assert ref["kind"] == role_kind, f"{binding['metadata']['name']} binds a {ref['kind']}"
        namespace = binding["metadata"].get("namespace")
        role = [
            r
            for r in find(objects, role_kind, ref["name"])
            if r["metadata"].get("namespace") == namespace
        ]
        assert role, f"{binding_kind} {binding['metadata']['name']} binds a missing role"
        roles.extend(role)
    return roles


def _grants(roles: list[Manifest]) -> set[Permission]:
    return granted_permissions(rule for role in roles for rule in role["rules"])


def _is_lease(permission: Permission) -> bool:
    return (permission.group, permission.resource) == (LEASE_GROUP, "leases")


def _in_namespace(roles: list[Manifest], namespace: str) -> list[Manifest]:
    return [r for r in roles if r["metadata"].get("namespace") == namespace]


def _difference_report(needed: set[Permission], granted: set[Permission]) -> str:
    missing = sorted(needed - granted)
    extra = sorted(granted - needed)
    return "\n".join(
        [*(f"not granted: {p}" for p in missing), *(f"granted but unused: {p}" for p in extra)]
    )


# -- the code's needs -------------------------------------------------------------


def test_the_scan_finds_the_operators_calls() -> None:
    """A sanity floor: if this shrinks, the scanner stopped seeing calls."""
    found = code_permissions()
    assert Permission("", "secrets", "get") in found
    assert Permission(GROUP, f"{PLURAL_MODELREF}/status", "patch") in found
    assert Permission(GROUP, PLURAL_MODELREF, "create") in found
    assert Permission("", "events", "create") in found
    for verb in ("get", "create", "update"):  # leader election
        assert Permission(LEASE_GROUP, "leases", verb) in found
    assert Permission(GROUP, PLURAL_SYNC, "get") in found
    assert Permission(GROUP, f"{PLURAL_SYNC}/status", "patch") in found


def test_the_reconcile_command_is_not_the_operator() -> None:
    """`modelsync reconcile` annotates a ModelCatalogSync (patch) with the user's own
    credentials; the operator process reaches that code only through the webhook server, so
    the base's roles lack the verb and deploy/components/webhook grants it."""
    patch = Permission(GROUP, PLURAL_SYNC, "patch")
    assert patch in cli_permissions("cli/reconcile.py")
    assert patch not in code_permissions(webhook=False)
    assert webhook_permissions() == {patch}
    reached = operator_units(webhook=False)
    assert Unit("modelsync.kube.modelcatalogsyncs", "patch_sync_status") in reached
    assert Unit("modelsync.kube.modelcatalogsyncs", "request_reconcile") not in reached
    assert Unit("modelsync.kube.client", "current_namespace") not in reached
    with_webhook = operator_units()
    assert Unit("modelsync.kube.modelcatalogsyncs", "request_reconcile") in with_webhook
    assert Unit("modelsync.kube.client", "current_namespace") not in with_webhook


def test_only_the_run_command_is_the_operator_process() -> None:
    """The roots are the modules `modelsync run` loads and no other command does."""
    from modelsync.cli import BUILTIN_COMMANDS

    modules = {command.words: command.module for command in BUILTIN_COMMANDS}
    assert modules[("run",)] == "modelsync.cli.run"
    assert "cli/run.py" in OPERATOR_PROCESS
    others = {m for path, m in modules.items() if path != ("run",)}
    reached_modules = {unit.module for unit in operator_units()}
    assert not others & reached_modules, "the operator process runs another command's code"
    assert not {m for m in reached_modules if m.startswith("modelsync_sandbox")}


def test_kopf_runs_standalone() -> None:
    """The Kopf permissions above assume no peering: kopf_main must say standalone=True."""
    tree = ast.parse(_source(PACKAGE / "cli" / "kopf_main.py"))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "kopf.operator"
    ]
    assert calls
    for call in calls:
        keywords = {kw.arg: kw.value for kw in call.keywords}
        standalone = keywords.get("standalone")
        assert isinstance(standalone, ast.Constant)
        assert standalone.value is True
        assert "peering_name" not in keywords


def test_kopf_watches_the_syncs_and_the_operator_the_modelrefs() -> None:
    found = kopf_handler_permissions(_source(PACKAGE / "handlers.py"), vars(modelsync.handlers))
    assert Permission(GROUP, PLURAL_SYNC, "watch") in found
    assert Permission(GROUP, PLURAL_SYNC, "list") in found
    # kube/modelref_watch.py lists and watches the ModelRefs itself.
    assert Permission(GROUP, PLURAL_MODELREF, "watch") in code_permissions()
    assert Permission(GROUP, PLURAL_MODELREF, "list") in code_permissions()


# -- cluster-wide install (deploy/base) ------------------------------------------------


def test_cluster_role_grants_exactly_what_is_used() -> None:
    objects = render("deploy/base")
    roles = _bound_rules(objects, "ClusterRole", "ClusterRoleBinding")
    want = set(needed(clusterwide=True))
    granted = _grants(roles)
    cluster_want = {p for p in want if not _is_lease(p)}
    assert granted == cluster_want, _difference_report(cluster_want, granted)
    _check_leader_election_role(objects, want)


def _check_leader_election_role(objects: list[Manifest], want: set[Permission]) -> None:
    """Leases are granted by Roles in the operator's namespace and nowhere else."""
    roles = _bound_rules(objects, "Role", "RoleBinding")
    lease_want = {p for p in want if _is_lease(p)}
    assert lease_want
    granted = _grants(_in_namespace(roles, OPERATOR_NAMESPACE))
    assert granted == lease_want, _difference_report(lease_want, granted)
    elsewhere = [r for r in roles if r["metadata"].get("namespace") != OPERATOR_NAMESPACE]
    assert not any(_is_lease(p) for p in _grants(elsewhere))


def test_namespaced_overlay_grants_per_namespace_what_is_used() -> None:
    objects = render("deploy/overlays/namespaced")
    want = set(needed(clusterwide=False))
    cluster_granted = _grants(_bound_rules(objects, "ClusterRole", "ClusterRoleBinding"))
    cluster_want = {p for p in want if p.resource in CLUSTER_SCOPED}
    assert cluster_granted == cluster_want, _difference_report(cluster_want, cluster_granted)
    _check_leader_election_role(objects, want)

    roles = _bound_rules(objects, "Role", "RoleBinding")
    namespaces = {r["metadata"]["namespace"] for r in roles} - {OPERATOR_NAMESPACE}
    assert namespaces, "no watched namespace"
    namespaced_want = {p for p in want - cluster_want if not _is_lease(p)}
    for namespace in sorted(namespaces):
        granted = _grants(_in_namespace(roles, namespace))
        assert granted == namespaced_want, f"{namespace}:\n" + _difference_report(
            namespaced_want, granted
        )


def _with_webhook(tmp_path: Path) -> list[Manifest]:
    """deploy/base with deploy/components/webhook, as an overlay would use them."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    return render_base_with(overlay, "webhook")


def test_the_webhook_component_grants_exactly_what_the_webhook_adds(tmp_path: Path) -> None:
    """deploy/components/webhook on the base: the roles then grant what the operator process
    needs with the webhook server on, and its own role only what the webhook alone needs."""
    objects = _with_webhook(tmp_path)
    roles = _bound_rules(objects, "ClusterRole", "ClusterRoleBinding")
    want = set(needed(clusterwide=True, webhook=True))
    cluster_want = {p for p in want if not _is_lease(p)}
    granted = _grants(roles)
    assert granted == cluster_want, _difference_report(cluster_want, granted)
    _check_leader_election_role(objects, want)
    component = [r for r in roles if r["metadata"]["name"] == "modelsync-webhook"]
    assert _grants(component) == set(webhook_permissions())
    assert main_args_enable_webhook(objects)


def main_args_enable_webhook(objects: list[Manifest]) -> bool:
    return any(a.startswith("--webhook-port=") for a in container(objects)["args"])


@pytest.mark.parametrize("path", ["deploy/base", "deploy/overlays/namespaced"])
def test_secrets_are_get_only_and_lease_access_is_by_name(path: str) -> None:
    objects = render(path)
    assert not main_args_enable_webhook(objects)  # the base grants no patch on syncs
    main = container(objects)
    lease_name = next(
        (a.split("=", 1)[1] for a in main["args"] if a.startswith("--leader-election-id=")),
        DEFAULT_LEASE_NAME,
    )
    for role in [*find(objects, "ClusterRole"), *find(objects, "Role")]:
        for rule in role["rules"]:
            if "secrets" in rule["resources"] and "" in rule["apiGroups"]:
                assert rule["verbs"] == ["get"], role["metadata"]["name"]
            if "leases" in rule["resources"]:
                assert role["kind"] == "Role"
                assert role["metadata"]["namespace"] == OPERATOR_NAMESPACE
                if rule["verbs"] == ["create"]:  # RBAC cannot restrict create by name
                    assert "resourceNames" not in rule
                else:
                    assert rule["resourceNames"] == [lease_name], rule


# -- the checker itself ----------------------------------------------------------------


def test_checker_maps_forwarded_and_direct_calls() -> None:
    source = """
async def f(api, ns, name, body):
    await api.call("patch", "x", "y", api.custom.patch_namespaced_custom_object_status,
                   GROUP, VERSION, ns, PLURAL_SYNC, name, body)
    api.core.read_namespaced_secret(name, ns)
    api.custom.list_namespaced_custom_object(GROUP, VERSION, ns, plural="things", watch=True)
    api.events.create_namespaced_event(ns, body)
"""
    found = permissions_in_source(source, CONSTANTS, RECEIVERS)
    assert found == {
        Permission(GROUP, f"{PLURAL_SYNC}/status", "patch"),
        Permission("", "secrets", "get"),
        Permission(GROUP, "things", "list"),
        Permission(GROUP, "things", "watch"),
        Permission("events.k8s.io", "events", "create"),
    }


def test_checker_flags_code_that_uses_an_unlisted_verb() -> None:
    """What the RBAC tests would report if the operator started listing Secrets or
    deleting ModelRefs in bulk."""
    source = """
def f(api, ns):
    api.core.list_namespaced_secret(ns)
    api.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, ns, PLURAL_MODELREF)
"""
    found = permissions_in_source(source, CONSTANTS, RECEIVERS)
    assert found == {
        Permission("", "secrets", "list"),
        Permission(GROUP, PLURAL_MODELREF, "deletecollection"),
    }
    granted = _grants(_bound_rules(render("deploy/base"), "ClusterRole", "ClusterRoleBinding"))
    report = _difference_report(found | needed(clusterwide=True), granted)
    assert "not granted: list secrets.core" in report
    assert "not granted: deletecollection modelrefs.modelsync.dev" in report


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "api.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural_of(x), n)",
            "plural_of",
        ),
        ("other.create_namespaced_event(ns, body)", "cannot tell which"),
        ("fn = api.core.read_namespaced_secret", "arguments cannot be seen"),
        ("api.custom.list_cluster_custom_object(*args)", "*args"),
    ],
)
def test_checker_refuses_what_it_cannot_resolve(source: str, problem: str) -> None:
    with pytest.raises(UnresolvedCall, match=re.escape(problem)):
        permissions_in_source(source, CONSTANTS, RECEIVERS)


def test_kopf_handlers_that_change_objects_need_patch() -> None:
    source = """
@kopf.on.create(GROUP, VERSION, PLURAL_SYNC, registry=r)
def created(**_): ...
@kopf.on.event(GROUP, VERSION, PLURAL_MODELREF)
def seen(**_) -> None: ...
@kopf.on.startup()
def start(**_): ...
"""
    found = kopf_handler_permissions(source, CONSTANTS)
    assert Permission(GROUP, PLURAL_SYNC, "patch") in found
    assert Permission(GROUP, f"{PLURAL_SYNC}/status", "patch") in found
    assert Permission(GROUP, PLURAL_MODELREF, "patch") not in found
    assert Permission(GROUP, PLURAL_MODELREF, "watch") in found


def test_kopf_event_handlers_that_may_return_a_value_need_patch() -> None:
    """Kopf stores a watching handler's non-None result in the object's status."""
    source = """
@kopf.on.event(GROUP, VERSION, PLURAL_MODELREF)
def seen(**_): return {"seen": True}
"""
    found = kopf_handler_permissions(source, CONSTANTS)
    assert Permission(GROUP, PLURAL_MODELREF, "patch") in found
    assert Permission(GROUP, f"{PLURAL_MODELREF}/status", "patch") in found


def test_the_operators_kopf_handlers_write_nothing() -> None:
    """Only @kopf.on.event handlers annotated -> None, and posting off: Kopf itself needs
    list/watch of the handled resources and nothing else."""
    found = kopf_handler_permissions(_source(PACKAGE / "handlers.py"), vars(modelsync.handlers))
    assert {p.verb for p in found} == {"list", "watch"}
    assert kopf_settings().posting.enabled is False


def test_granted_permissions_refuse_wildcards() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        granted_permissions([{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}])


# -- what only another command uses is not granted -------------------------------------

_LIBRARY = """
from demo.constants import GROUP, VERSION, PLURAL

def read(api, ns, name):
    return api.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)

def annotate(api, ns, name, body):
    return api.custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, body)

class Store:
    def __init__(self, api):
        self.api = api

    def load(self, ns):
        return self.api.core.read_namespaced_secret("s", ns)

    def purge(self, ns):
        return self.api.core.delete_namespaced_secret("s", ns)
"""
_OPERATOR = """
from demo import library
from demo.library import Store, read

async def loop(api, ns):
    read(api, ns, "x")
    Store(api).load(ns)
"""
_CLI = """
from demo.library import annotate, read, Store

def main(api, ns):
    annotate(api, ns, "x", {})
    read(api, ns, "x")
    Store(api).purge(ns)
"""


def _demo_package(root: Path) -> CallGraph:
    package = root / "demo"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "constants.py").write_text(
        'GROUP = "g.example"\nVERSION = "v1"\nPLURAL = "things"\n', encoding="utf-8"
    )
    (package / "library.py").write_text(_LIBRARY, encoding="utf-8")
    (package / "operator.py").write_text(_OPERATOR, encoding="utf-8")
    (package / "cli.py").write_text(_CLI, encoding="utf-8")
    return CallGraph(package, "demo")


def _demo_names(_module: str) -> dict[str, Any]:
    return {"GROUP": "g.example", "VERSION": "v1", "PLURAL": "things"}


def test_a_verb_only_another_command_uses_is_reported_as_unused(tmp_path: Path) -> None:
    graph = _demo_package(tmp_path)
    operator = graph.permissions(graph.reached(graph.roots(["operator.py"])), _demo_names)
    cli = graph.permissions(graph.reached(graph.roots(["cli.py"])), _demo_names)
    read = Permission("g.example", "things", "get")
    annotate = Permission("g.example", "things", "patch")
    secret_get = Permission("", "secrets", "get")
    secret_delete = Permission("", "secrets", "delete")
    assert operator == {read, secret_get}
    assert cli == {read, annotate, secret_delete}
    # A role that also grants what only the CLI does fails like any unused grant.
    report = _difference_report(operator, operator | {annotate, secret_delete})
    assert "granted but unused: patch things.g.example" in report
    assert "granted but unused: delete secrets.core" in report


def test_call_graph_follows_re_exports_module_attributes_and_used_methods(
    tmp_path: Path,
) -> None:
    graph = _demo_package(tmp_path)
    (tmp_path / "demo" / "__init__.py").write_text(
        "from demo.library import annotate\n", encoding="utf-8"
    )
    (tmp_path / "demo" / "via_package.py").write_text(
        "import demo\nfrom demo import library as lib\n"
        "def f(api):\n    demo.annotate(api, 'n', 'x', {})\n    lib.read(api, 'n', 'x')\n",
        encoding="utf-8",
    )
    graph = CallGraph(tmp_path / "demo", "demo")
    reached = graph.reached(graph.roots(["via_package.py"]))
    assert Unit("demo.library", "annotate") in reached
    assert Unit("demo.library", "read") in reached
    assert Unit("demo.library", "Store") not in reached
    operator = graph.reached(graph.roots(["operator.py"]))
    assert Unit("demo.library", "Store.load") in operator
    assert Unit("demo.library", "Store.__init__") in operator
    assert Unit("demo.library", "Store.purge") not in operator


def test_the_package_graph_covers_every_module() -> None:
    graph = package_graph()
    files = sorted((ROOT / "operator" / "modelsync").rglob("*.py"))
    assert len(graph.modules) == len(files)
    assert "modelsync.kube.modelcatalogsyncs" in graph.modules
