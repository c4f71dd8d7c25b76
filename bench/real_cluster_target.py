"""The bench's real cluster: a control plane of its own (`scripts/real-cluster up`, stopped
with `down` whatever happens), or an existing cluster given by a cluster-admin kubeconfig.

The operator runs as deploy/base's ServiceAccount (`kubectl apply --server-side -k
deploy/base`, a token from the TokenRequest API), so a real authorizer checks every request,
as in the e2e suite. On a control plane of its own it runs as deploy/base deploys it, for all
namespaces. On an existing cluster it watches only the bench namespace, so as to leave
everything else alone; Kopf then lists and watches namespace names, which deploy/base does
not grant (deploy/overlays/namespaced does): the bench grants it for the run.

The operator talks plain HTTP to the in-flight relay, which opens TLS to the API server: the
relay counts writes in flight and logs the requests (a real API server logs no reads, so the
ModelRef LISTs come from it). The operator's writes come from the API server's audit log
(scripts/real_cluster.py: every completed write, JSON lines) when the state dir of the
control plane is known, else from the relay's log.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import yaml
from bench_cluster import WRITE_VERBS, BenchCluster, selects_sync
from inflight_relay import InflightRelay, RelayedRequest
from kubernetes import config

from modelsync.api.constants import GROUP, PLURAL_MODELREF, VERSION
from modelsync.crds import crd_documents
from modelsync.kube.client import KubeApi, load_configuration
from modelsync_sandbox.kube.kubeconfig import write_kubeconfig

__all__ = ["CONTROL_PLANE", "RealCluster"]

ROOT = Path(__file__).resolve().parents[1]
REAL_CLUSTER = ROOT / "scripts" / "real_cluster.py"
DEPLOY_BASE = ROOT / "deploy" / "base"
OPERATOR_NAMESPACE = "modelsync-system"
OPERATOR_SERVICE_ACCOUNT = "modelsync"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SERVICE_ACCOUNT}"
CONTROL_PLANE = ("kube-apiserver", "etcd", "kube-controller-manager")
# `up` may build the control plane first (about 15 minutes on 2 cores, once per machine).
UP_TIMEOUT = 3600.0
KUBECTL_TIMEOUT = 120.0
# How long the audit log may lag behind the responses the relay has seen.
AUDIT_LAG = 10.0
_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class RealCluster(BenchCluster):
    """`kubeconfig` None: start a control plane in `state_dir` (default: under `workdir`)
    and stop it at the end; the bench namespace is "bench". Else use that cluster, in a
    namespace of the bench's own (deleted at the end, with the bench's RBAC); `state_dir`,
    if given, is that cluster's real-cluster state dir (audit log, process ids)."""

    def __init__(
        self, workdir: Path, *, kubeconfig: Path | None = None, state_dir: Path | None = None
    ) -> None:
        self.owned = kubeconfig is None
        super().__init__("bench" if self.owned else f"bench-{uuid.uuid4().hex[:8]}")
        self.admin_kubeconfig = kubeconfig or workdir / "admin.kubeconfig"
        self.state_dir = state_dir or (workdir / "control-plane" if self.owned else None)
        self._operator_kubeconfig = workdir / "operator.kubeconfig"  # through the relay
        self._inflight: InflightRelay | None = None
        self._up_called = False
        self._namespace_created = False
        self._namespace_rbac = f"modelsync-bench-{self.namespace}"
        self._rbac_created = False
        self._audit_offset = 0
        self.write_log_name = "audit log" if self.state_dir is not None else "relay log"

    @property
    def kubeconfig(self) -> Path:
        return self._operator_kubeconfig

    @property
    def audit_log(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / "logs" / "audit.log"

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self.owned:
            assert self.state_dir is not None
            self._up_called = True  # `down` runs even if `up` fails half-way
            _real_cluster(
                "up",
                f"--kubeconfig-out={self.admin_kubeconfig}",
                f"--state-dir={self.state_dir}",
                timeout=UP_TIMEOUT,
            )
        host, port, tls = _upstream(self.admin_kubeconfig)
        relay = InflightRelay(host, port, upstream_tls=tls)
        relay.start_in_thread()
        self.relay = self._inflight = relay
        self._api = config.new_client_from_config(config_file=str(self.admin_kubeconfig))  # type: ignore[no-untyped-call]
        self._kube = KubeApi(load_configuration(str(self.admin_kubeconfig)), max_workers=1)

    def stop(self) -> None:
        try:
            self.close_clients()
            if self._inflight is not None:
                self._inflight.stop_in_thread()
                self._inflight = self.relay = None
            if self._rbac_created:
                self._kubectl(
                    "delete",
                    f"clusterrolebinding/{self._namespace_rbac}",
                    f"clusterrole/{self._namespace_rbac}",
                    "--ignore-not-found",
                )
            if not self.owned and self._namespace_created:
                self._kubectl("delete", "namespace", self.namespace, "--wait=false")
        finally:
            if self._up_called:
                self._up_called = False
                _real_cluster("down", f"--state-dir={self.state_dir}", timeout=120)

    # --- setup ---------------------------------------------------------------------------

    def install(self, catalog_token: str) -> None:
        """deploy/base (CRDs, the operator's namespace, ServiceAccount and RBAC, and a
        Deployment whose pods never run: no scheduler or kubelet), the bench namespace with
        the token Secret, and the operator's kubeconfig: its ServiceAccount's token, through
        the relay."""
        self._kubectl("apply", "--server-side", "--force-conflicts", "-k", str(DEPLOY_BASE))
        crds = [f"crd/{crd['metadata']['name']}" for crd in crd_documents()]
        self._kubectl("wait", "--for=condition=Established", "--timeout=60s", *crds)
        self.create_namespace_and_secret(catalog_token)
        self._namespace_created = True
        if not self.owned:
            self._rbac_created = True
            self._kubectl("apply", "-f", "-", stdin=json.dumps(self._namespace_reader()))
        token = self._kubectl(
            "create",
            "token",
            OPERATOR_SERVICE_ACCOUNT,
            "-n",
            OPERATOR_NAMESPACE,
            "--duration=2h",
        ).strip()
        assert self.relay is not None, "the cluster is not started"
        write_kubeconfig(self.kubeconfig, self.relay.url, token, None)

    def operator_scope(self) -> tuple[str, ...]:
        return ("--all-namespaces",) if self.owned else super().operator_scope()

    def _namespace_reader(self) -> dict[str, Any]:
        """What a namespace-restricted Kopf needs beyond deploy/base: namespace names."""
        subject = {
            "kind": "ServiceAccount",
            "name": OPERATOR_SERVICE_ACCOUNT,
            "namespace": OPERATOR_NAMESPACE,
        }
        rbac = "rbac.authorization.k8s.io"
        role = {
            "apiVersion": f"{rbac}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": self._namespace_rbac},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}],
        }
        binding = {
            "apiVersion": f"{rbac}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": self._namespace_rbac},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": self._namespace_rbac},
            "subjects": [subject],
        }
        return {"apiVersion": "v1", "kind": "List", "items": [role, binding]}

    def _kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            ["kubectl", f"--kubeconfig={self.admin_kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=KUBECTL_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    # --- request logs --------------------------------------------------------------------

    def begin_window(self) -> None:
        audit = self.audit_log
        self._audit_offset = audit.stat().st_size if audit is not None and audit.exists() else 0

    def sync_list_queries(self) -> list[str]:
        assert self.relay is not None, "the cluster is not started"
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL_MODELREF}"
        queries = []
        for request in list(self.relay.requests):
            target = urllib.parse.urlsplit(request.target)
            params = urllib.parse.parse_qs(target.query)
            if (
                request.method == "GET"
                and target.path == path
                and "watch" not in params
                and selects_sync(target.query)
            ):
                queries.append(target.query)
        return queries

    def operator_writes(self) -> list[str]:
        assert self.relay is not None, "the cluster is not started"
        if self.audit_log is None:
            return [w for r in list(self.relay.requests) if (w := _relayed_write(r)) is not None]
        # The API server writes an event after the response it describes; wait until the
        # audit log holds as many of the operator's writes as the relay has seen.
        seen = self.relay.writes_seen
        deadline = time.monotonic() + AUDIT_LAG
        writes = self._audit_writes()
        while len(writes) < seen and time.monotonic() < deadline:
            time.sleep(0.1)
            writes = self._audit_writes()
        return writes

    def _audit_writes(self) -> list[str]:
        audit = self.audit_log
        assert audit is not None
        if not audit.exists():
            return []
        with audit.open("rb") as log:
            log.seek(self._audit_offset)
            data = log.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line being written is read next time
        writes = []
        for line in complete.splitlines():
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if (
                event.get("stage") == "ResponseComplete"
                and event.get("verb") in WRITE_VERBS
                and (event.get("user") or {}).get("username") == OPERATOR_USER
                and ref.get("namespace") == self.namespace
            ):
                resource = ref.get("resource", "")
                if ref.get("subresource"):
                    resource += f"/{ref['subresource']}"
                code = (event.get("responseStatus") or {}).get("code", 0)
                writes.append(f"{event['verb']} {resource} {code}")
        return writes

    # --- processes -----------------------------------------------------------------------

    def server_processes(self) -> dict[str, int]:
        found: dict[str, int] = {}
        if self.state_dir is not None and (self.state_dir / "state.json").is_file():
            state = json.loads((self.state_dir / "state.json").read_text())
            for name in CONTROL_PLANE:
                pid = int(((state.get("processes") or {}).get(name) or {}).get("pid", 0))
                if pid and Path(f"/proc/{pid}").exists():
                    found[name] = pid
        found["bench process (catalog)"] = os.getpid()
        return found


def _real_cluster(*args: str, timeout: float) -> None:
    """scripts/real-cluster with the bench's Python; its messages go to stderr as they come."""
    done = subprocess.run([sys.executable, str(REAL_CLUSTER), *args], timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"scripts/real-cluster {args[0]} exited with {done.returncode} (its message is above)"
        )


def _upstream(kubeconfig: Path) -> tuple[str, int, ssl.SSLContext | None]:
    """Host, port and TLS context of the current context's API server."""
    data: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    current = data.get("current-context")
    contexts = {c["name"]: c["context"] for c in data.get("contexts") or []}
    context = contexts.get(current) if current else next(iter(contexts.values()), None)
    if context is None:
        raise RuntimeError(f"{kubeconfig}: no current context")
    cluster = {c["name"]: c["cluster"] for c in data.get("clusters") or []}[context["cluster"]]
    url = urllib.parse.urlsplit(cluster["server"])
    host = url.hostname or "127.0.0.1"
    if url.scheme != "https":
        return host, url.port or 80, None
    if cluster.get("insecure-skip-tls-verify"):
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    elif "certificate-authority-data" in cluster:
        pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        tls = ssl.create_default_context(cadata=pem)
    elif "certificate-authority" in cluster:
        tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    else:
        tls = ssl.create_default_context()
    return host, url.port or 443, tls


def _relayed_write(request: RelayedRequest) -> str | None:
    """ "verb resource[/subresource] status" of a write the relay saw, from its path."""
    verb = _METHOD_VERBS.get(request.method)
    if verb is None:
        return None
    parts = urllib.parse.urlsplit(request.target).path.strip("/").split("/")
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]  # /api/v1 or /apis/GROUP/V
    if parts[:1] == ["namespaces"] and len(parts) > 2:
        parts = parts[2:]
    if verb == "delete" and len(parts) == 1:
        verb = "deletecollection"
    resource = parts[0] + (f"/{parts[2]}" if len(parts) > 2 else "")
    return f"{verb} {resource} {request.status}"
