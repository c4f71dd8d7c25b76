"""The commands people use on a running operator: `modelsync get`, `suspend`, `resume`,
`reconcile --wait`'s exit status, their failures (no server, no CRDs, no such sync), and
`kubectl modelsync` through the installed `kubectl-modelsync` entry point.

Subprocess tests run the real command against the sandbox API server, with statuses written
directly (the operator's part) or, in the e2e tests, with the session's operator.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from e2e_harness import ROOT, Scenario

from cli_process import modelsync_process
from fixtures_kube import kubectl, unique_name, wait_for
from modelsync.cli.cluster import config_source, describe_failure
from modelsync.cli.get import sync_rows
from modelsync.cli.tables import human_duration
from modelsync.kube.errors import error_from_status

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

SURVIVAL = "model:acme/churn/churn-survival"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ready(status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp(NOW),
    }


# -- pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (300, "5m"),
        (303, "5m3s"),
        (900, "15m"),
        (7200, "120m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (26 * 3600, "26h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (30 * 86400, "30d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_ages_read_as_kubectl_prints_them(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def sync(name: str, status: dict[str, Any] | None = None, namespace: str = "ns") -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": name, "namespace": namespace}, "spec": {}}
    if status is not None:
        obj["status"] = status
    return obj


def test_rows_hold_the_ready_condition_models_and_the_age_of_the_last_success() -> None:
    items = [
        sync(
            "b",
            {
                "modelRefs": {"selected": 0},
                "lastSuccessfulSyncTime": stamp(NOW - timedelta(hours=2)),
                "conditions": [ready("False", "CatalogUnavailable", "cannot\n  connect")],
            },
        ),
        sync("a", {"conditions": [ready("True", "Synced")], "modelRefs": {"selected": 4}}),
        sync("c"),
    ]
    assert sync_rows(items, NOW) == [
        ["a", "True", "Synced", "4", "<none>", ""],
        ["b", "False", "CatalogUnavailable", "0", "120m", "cannot connect"],
        ["c", "<none>", "<none>", "<none>", "<none>", ""],
    ]
    by_namespace = sync_rows(
        [sync("a", namespace="z"), sync("b", namespace="y")], NOW, namespaces=True
    )
    assert [row[:2] for row in by_namespace] == [["y", "b"], ["z", "a"]]


SOURCE = "kubeconfig /home/me/.kube/config, context prod"
SERVER = "https://10.0.0.1:6443"


@pytest.mark.parametrize(
    ("status", "body", "wording"),
    [
        (
            None,
            None,
            'get ModelCatalogSync "s" in namespace "ml": no response from the Kubernetes API '
            f"server {SERVER}: is it running and reachable? ({SOURCE}; --kubeconfig or "
            "--context picks another cluster)",
        ),
        (
            404,
            '{"message": "the server could not find the requested resource"}',
            f"the Kubernetes API server {SERVER} does not serve ModelCatalogSyncs "
            "(modelsync.dev/v1alpha1): install the CRDs (kubectl apply -f crds/) or pick the "
            f"cluster that has them ({SOURCE})",
        ),
        (
            403,
            '{"message": "modelcatalogsyncs.modelsync.dev \\"s\\" is forbidden"}',
            'get ModelCatalogSync "s" in namespace "ml": modelcatalogsyncs.modelsync.dev "s" is '
            f"forbidden: ask an administrator for that permission ({SOURCE})",
        ),
        (
            401,
            None,
            'get ModelCatalogSync "s" in namespace "ml": HTTP 401: the Kubernetes API server '
            f"{SERVER} refused the credentials of {SOURCE}; log in again or pick another "
            "--context",
        ),
    ],
)
def test_failures_name_the_server_the_kubeconfig_and_context_and_the_fix(
    status: int | None, body: str | None, wording: str
) -> None:
    exc = error_from_status('get ModelCatalogSync "s" in namespace "ml"', status, body)
    assert describe_failure(exc, SERVER, SOURCE) == wording


def test_the_credentials_source_is_named_as_the_client_picks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    contexts = [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("dev", "prod")]
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": SERVER}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": contexts,
                "current-context": "dev",
            }
        )
    )
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert config_source(str(config), None) == f"kubeconfig {config}, context dev"
    assert config_source(str(config), "prod") == f"kubeconfig {config}, context prod"
    monkeypatch.setenv("KUBECONFIG", str(config))
    assert config_source(None, None) == f"kubeconfig {config}, context dev"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert config_source(None, None) == "the pod's service account"
    missing = tmp_path / "missing"
    assert config_source(str(missing), None) == f"kubeconfig {missing}"


# -- the commands against the sandbox API server (statuses written directly) -----------------


def modelsync(
    *args: str, kubeconfig: Path | None = None, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    if path is not None:
        env["PATH"] = path
    flags = ["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else []
    return modelsync_process(*args, *flags, cwd=ROOT, env=env)


class Syncs:
    """A namespace of the sandbox API server to put ModelCatalogSyncs in."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def ok(self, *args: str, input: str | None = None) -> str:
        done = kubectl(self.kubeconfig, *args, input=input)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def create(self, name: str, *, namespace: str | None = None, **spec: Any) -> None:
        manifest = {
            "apiVersion": "modelsync.dev/v1alpha1",
            "kind": "ModelCatalogSync",
            "metadata": {"name": name, "namespace": namespace or self.namespace},
            "spec": {
                "catalog": {
                    "url": "https://tfy.example.com",
                    "tokenSecretRef": {"name": "tfy", "key": "token"},
                },
                **spec,
            },
        }
        self.ok("apply", "-f", "-", input=json.dumps(manifest))

    def set_status(self, name: str, status: dict[str, Any], namespace: str | None = None) -> None:
        patch = json.dumps({"status": status})
        ns = namespace or self.namespace
        self.ok("patch", "mcs", name, "-n", ns, "--subresource=status", "--type=merge", "-p", patch)

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            self.ok("get", "mcs", name, "-n", self.namespace, "-o", "json")
        )
        return found

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return modelsync(*args, "-n", self.namespace, kubeconfig=self.kubeconfig)


@pytest.fixture
def syncs(crd_sandbox: KubeSandbox) -> Iterator[Syncs]:
    kubeconfig = crd_sandbox.kubeconfig_path
    namespace = unique_name("cli")
    done = kubectl(kubeconfig, "create", "namespace", namespace)
    assert done.returncode == 0, done.stderr
    yield Syncs(kubeconfig, namespace)
    kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")


def three_syncs(syncs: Syncs, namespace: str | None = None) -> None:
    now = datetime.now(UTC)
    for name in ("prod", "staging", "fresh"):
        syncs.create(name, namespace=namespace)
    syncs.set_status(
        "prod",
        {
            "modelRefs": {"selected": 33},
            "lastSuccessfulSyncTime": stamp(now - timedelta(minutes=15, seconds=5)),
            "conditions": [ready("True", "Synced", "33 models in step")],
        },
        namespace,
    )
    syncs.set_status(
        "staging",
        {
            "modelRefs": {"selected": 4},
            "lastSuccessfulSyncTime": stamp(now - timedelta(hours=3, seconds=10)),
            "conditions": [ready("False", "SecretNotFound", 'Secret "tfy" not found')],
        },
        namespace,
    )


TABLE = [
    "NAME      READY    REASON           MODELS   LAST SYNC   MESSAGE",
    "fresh     <none>   <none>           <none>   <none>",
    "prod      True     Synced           33       15m         33 models in step",
    'staging   False    SecretNotFound   4        3h          Secret "tfy" not found',
]


def test_get_prints_a_status_table_of_the_namespaces_syncs(syncs: Syncs) -> None:
    three_syncs(syncs)
    done = syncs.run("get")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.splitlines() == TABLE


def test_get_by_name_and_in_every_namespace(syncs: Syncs) -> None:
    three_syncs(syncs)
    other = unique_name("cli")
    syncs.ok("create", "namespace", other)
    syncs.create("elsewhere", namespace=other)
    named = syncs.run("get", "staging", "prod")
    assert (named.returncode, named.stderr) == (0, "")
    assert named.stdout.splitlines() == [  # columns as wide as these rows need
        "NAME      READY   REASON           MODELS   LAST SYNC   MESSAGE",
        "prod      True    Synced           33       15m         33 models in step",
        'staging   False   SecretNotFound   4        3h          Secret "tfy" not found',
    ]

    everywhere = modelsync("get", "-A", kubeconfig=syncs.kubeconfig)
    assert (everywhere.returncode, everywhere.stderr) == (0, "")
    lines = everywhere.stdout.splitlines()
    assert lines[0].split() == [
        "NAMESPACE",
        "NAME",
        "READY",
        "REASON",
        "MODELS",
        "LAST",
        "SYNC",
        "MESSAGE",
    ]
    mine = [line.split()[:3] for line in lines[1:] if line.split()[0] in (syncs.namespace, other)]
    assert sorted(mine) == mine
    assert sorted(mine) == sorted(
        [
            [other, "elsewhere", "<none>"],
            [syncs.namespace, "fresh", "<none>"],
            [syncs.namespace, "prod", "True"],
            [syncs.namespace, "staging", "False"],
        ]
    )
    kubectl(syncs.kubeconfig, "delete", "namespace", other, "--wait=false")


def test_get_prints_json_yaml_or_names(syncs: Syncs) -> None:
    three_syncs(syncs)
    one = syncs.run("get", "prod", "-o", "json")
    assert one.returncode == 0, one.stderr
    obj = json.loads(one.stdout)
    assert (obj["kind"], obj["metadata"]["name"]) == ("ModelCatalogSync", "prod")
    assert obj["status"]["modelRefs"]["selected"] == 33
    listed = syncs.run("get", "-o", "yaml")
    assert listed.returncode == 0, listed.stderr
    document = yaml.safe_load(listed.stdout)
    assert document["kind"] == "List"
    assert sorted(i["metadata"]["name"] for i in document["items"]) == ["fresh", "prod", "staging"]
    names = syncs.run("get", "-o", "name")
    assert sorted(names.stdout.splitlines()) == [
        "modelcatalogsync.modelsync.dev/fresh",
        "modelcatalogsync.modelsync.dev/prod",
        "modelcatalogsync.modelsync.dev/staging",
    ]


def test_get_of_a_missing_sync_names_it_and_an_empty_namespace_says_so(syncs: Syncs) -> None:
    missing = syncs.run("get", "nope")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (
        f'modelsync get: ModelCatalogSync "nope" not found in namespace "{syncs.namespace}": '
        "check the name and -n (`modelsync get -A` lists the syncs of every namespace)\n"
    )
    empty = syncs.run("get")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr == f"No resources found in {syncs.namespace} namespace.\n"
    both = syncs.run("get", "-A", "nope")
    assert both.returncode == 2
    assert both.stderr.startswith("modelsync get: a sync cannot be named across all namespaces")


def test_suspend_and_resume_set_and_clear_spec_suspend(syncs: Syncs) -> None:
    syncs.create("prod")
    where = f"modelcatalogsync {syncs.namespace}/prod"
    suspended = syncs.run("suspend", "prod")
    assert (suspended.returncode, suspended.stderr) == (0, "")
    assert suspended.stdout == (
        f"{where} suspended: the operator stops syncing it and leaves its ModelRefs as they "
        f"are (`modelsync resume prod -n {syncs.namespace}` resumes it)\n"
    )
    assert syncs.get("prod")["spec"]["suspend"] is True
    generation = syncs.get("prod")["metadata"]["generation"]
    again = syncs.run("suspend", "prod")
    assert (again.returncode, again.stdout) == (
        0,
        f"{where} is already suspended; nothing changed\n",
    )
    assert syncs.get("prod")["metadata"]["generation"] == generation

    resumed = syncs.run("resume", "prod")
    assert (resumed.returncode, resumed.stderr) == (0, "")
    assert resumed.stdout == f"{where} resumed: the operator syncs it now\n"
    assert syncs.get("prod")["spec"]["suspend"] is False
    again = syncs.run("resume", "prod")
    assert (again.returncode, again.stdout) == (0, f"{where} is not suspended; nothing changed\n")


@pytest.mark.parametrize("command", ["suspend", "resume", "reconcile"])
def test_a_missing_sync_is_one_line_naming_it_and_its_namespace(syncs: Syncs, command: str) -> None:
    done = syncs.run(command, "nope")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f'modelsync {command}: ModelCatalogSync "nope" not found in namespace '
        f'"{syncs.namespace}": check the name and -n (`modelsync get -A` lists the syncs of '
        "every namespace)\n"
    )


def answer_the_request(syncs: Syncs, name: str, status: dict[str, Any]) -> str:
    """The operator's part: once the trigger annotation is there, echo it in the status
    (with `status`). The trigger's value."""

    def requested() -> str | None:
        annotations = syncs.get(name)["metadata"].get("annotations") or {}
        value: str | None = annotations.get("modelsync.dev/reconcile-requested-at")
        return value

    value = wait_for(requested, timeout=20, interval=0.05, what="the trigger annotation")
    syncs.set_status(name, {**status, "lastHandledReconcileAt": value})
    return value


def reconcile_waiting(syncs: Syncs, name: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelsync",
            "reconcile",
            name,
            "-n",
            syncs.namespace,
            "--kubeconfig",
            str(syncs.kubeconfig),
            "--wait",
            "--timeout",
            "30",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_reconcile_wait_exits_1_with_the_reason_and_message_when_the_sync_is_not_ready(
    syncs: Syncs,
) -> None:
    syncs.create("prod")
    waiting = reconcile_waiting(syncs, "prod")
    failed = ready("False", "CatalogUnavailable", "cannot connect to the catalog tfy.example.com")
    value = answer_the_request(syncs, "prod", {"conditions": [failed]})
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 1, out + err
    where = f"modelcatalogsync {syncs.namespace}/prod"
    assert out == f"{where} annotated modelsync.dev/reconcile-requested-at={value}\n"
    assert err == (
        f"modelsync reconcile: {where} handled the request but is not Ready: Ready=False "
        "(CatalogUnavailable): cannot connect to the catalog tfy.example.com\n"
    )


def test_reconcile_wait_exits_0_when_the_sync_is_ready(syncs: Syncs) -> None:
    syncs.create("prod")
    waiting = reconcile_waiting(syncs, "prod", "--model", "churn/churn-survival")
    answer_the_request(syncs, "prod", {"conditions": [ready("True", "Synced")]})
    out, err = waiting.communicate(timeout=30)
    assert (waiting.returncode, err) == (0, ""), out + err
    assert out.splitlines()[1:] == [
        f"modelcatalogsync {syncs.namespace}/prod handled the refresh of churn/churn-survival",
        f"modelref {syncs.namespace}/churn.churn-survival: not found; see the "
        "ModelsNotRefreshed Events of the ModelCatalogSync",
    ]


def test_reconcile_wait_says_what_to_check_when_no_operator_answers(syncs: Syncs) -> None:
    syncs.create("prod")
    done = syncs.run("reconcile", "prod", "--wait", "--timeout", "0.5")
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 1  # the request was made
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("modelsync reconcile: timed out after 0.5s waiting for the ")
    assert f"is the operator running and watching namespace {syncs.namespace}?" in done.stderr


# -- no server, no CRDs ---------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize(
    "args",
    [
        ("reconcile", "foo"),
        ("reconcile", "foo", "--wait"),
        ("get",),
        ("get", "a", "b"),
        ("suspend", "foo"),
        ("resume", "foo"),
    ],
)
def test_without_a_server_each_command_says_which_server_and_what_to_check(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    server = f"https://127.0.0.1:{closed_port()}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": server}}],
                "users": [{"name": "me", "user": {"token": "t"}}],
                "contexts": [
                    {
                        "name": "gone-ctx",
                        "context": {"cluster": "gone", "user": "me", "namespace": "ml"},
                    }
                ],
                "current-context": "gone-ctx",
            }
        )
    )
    start = time.monotonic()
    done = modelsync(*args, kubeconfig=kubeconfig)
    assert time.monotonic() - start < 20
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1, done.stderr  # one line: no retry warnings
    assert done.stderr.startswith(f"modelsync {args[0]}: ")
    assert f"no response from the Kubernetes API server {server}: is it running" in done.stderr
    assert f"(kubeconfig {kubeconfig}, context gone-ctx; --kubeconfig or --context" in done.stderr
    assert '"ml"' in done.stderr  # the namespace the context chose


def test_a_cluster_without_the_crds_says_to_install_them(kube_sandbox: KubeSandbox) -> None:
    done = modelsync("get", kubeconfig=kube_sandbox.kubeconfig_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"modelsync get: the Kubernetes API server {kube_sandbox.url} does not serve "
        "ModelCatalogSyncs (modelsync.dev/v1alpha1): install the CRDs (kubectl apply -f "
        f"crds/) or pick the cluster that has them (kubeconfig {kube_sandbox.kubeconfig_path}, "
        "context modelsync-sandbox)\n"
    )


def test_the_commands_need_only_these_permissions_of_their_user() -> None:
    from deploy.rbac_usage import Permission, cli_permissions

    def syncs(verb: str) -> Permission:
        return Permission("modelsync.dev", "modelcatalogsyncs", verb)

    assert cli_permissions("cli/get.py") == {syncs("get"), syncs("list")}
    assert cli_permissions("cli/suspend.py") == {syncs("get"), syncs("patch")}
    assert cli_permissions("cli/resume.py") == {syncs("get"), syncs("patch")}


# -- kubectl modelsync --------------------------------------------------------------------------


def test_the_kubectl_plugin_entry_point_is_installed() -> None:
    scripts = {
        e.name: e.value
        for e in importlib.metadata.distribution("modelsync").entry_points
        if e.group == "console_scripts"
    }
    assert scripts["kubectl-modelsync"] == scripts["modelsync"] == "modelsync.cli:main"


def test_kubectl_modelsync_runs_the_commands(syncs: Syncs) -> None:
    scripts = Path(sysconfig.get_path("scripts"))
    assert (scripts / "kubectl-modelsync").is_file(), "reinstall: pip install -e ."
    three_syncs(syncs)
    env = {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    done = subprocess.run(
        [
            "kubectl",
            "modelsync",
            "get",
            "-n",
            syncs.namespace,
            "--kubeconfig",
            str(syncs.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.splitlines() == TABLE
    listed = subprocess.run(
        ["kubectl", "plugin", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert str(scripts / "kubectl-modelsync") in listed.stdout


# -- with the operator --------------------------------------------------------------------------


@pytest.mark.e2e
def test_reconcile_wait_exits_non_zero_for_a_sync_that_ends_not_ready(scenario: Scenario) -> None:
    scenario.create_sync(
        "nosecret",
        filters={"fqn": SURVIVAL},
        catalog={"tokenSecretRef": {"name": "not-there", "key": "token"}},
    )
    scenario.wait_condition("nosecret", "False", "SecretNotFound")
    done = modelsync(
        "reconcile",
        "nosecret",
        "-n",
        scenario.namespace,
        "--wait",
        "--timeout",
        "20",
        kubeconfig=scenario.e2e.kubeconfig,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        f"modelsync reconcile: modelcatalogsync {scenario.namespace}/nosecret handled the "
        "request but is not Ready: Ready=False (SecretNotFound): "
    )
    assert '"not-there"' in done.stderr


@pytest.mark.e2e
def test_suspend_get_and_resume_with_the_operator(scenario: Scenario) -> None:
    scenario.create_sync("paused", filters={"fqn": SURVIVAL})
    scenario.wait_condition("paused", "True", "Synced")

    def get() -> list[str]:
        done = modelsync(
            "get", "paused", "-n", scenario.namespace, kubeconfig=scenario.e2e.kubeconfig
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()[1].split()

    assert get()[:4] == ["paused", "True", "Synced", "1"]
    suspended = modelsync(
        "suspend", "paused", "-n", scenario.namespace, kubeconfig=scenario.e2e.kubeconfig
    )
    assert suspended.returncode == 0, suspended.stderr
    scenario.wait_condition("paused", "False", "Suspended")
    assert get()[:4] == ["paused", "False", "Suspended", "1"]
    resumed = modelsync(
        "resume", "paused", "-n", scenario.namespace, kubeconfig=scenario.e2e.kubeconfig
    )
    assert resumed.returncode == 0, resumed.stderr
    scenario.wait_condition("paused", "True", "Synced")
