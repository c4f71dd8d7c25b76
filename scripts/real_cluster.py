"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and
kube-controller-manager, built from their published Go modules (tools/control-plane).

    scripts/real-cluster up --kubeconfig-out FILE [--state-dir DIR]
    scripts/real-cluster down [--state-dir DIR]
    scripts/real-cluster restart-apiserver [--state-dir DIR]
    scripts/real-cluster build

Standard library only, so a fresh clone runs it with the machine's python3.
`up` builds the binary if this machine has not yet (cached outside the clone, keyed by the
module's files and the Go version), writes a throwaway CA, certificates and the
ServiceAccount signing key, starts the three processes on free loopback ports with their
data and logs under the state dir, waits until the API server is ready and the controller
manager has done its first work, writes an admin kubeconfig and returns. The processes run
in their own sessions and outlive `up`; `down` stops exactly those (pid and start time
recorded in the state dir) and removes the state.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import gobuild
from gobuild import GoBinary, required_versions

ROOT = Path(__file__).resolve().parents[1]
MODULE_DIR = ROOT / "tools" / "control-plane"
BINARY_NAME = "control-plane"
STATE_FILE = "state.json"
# The order they start in; `down` stops them in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager")
# What the tests and the operator need: ownerReference garbage collection, namespace
# deletion, the default ServiceAccount per namespace, aggregated ClusterRoles, the
# kube-root-ca.crt ConfigMap, and Deployments turned into (never scheduled) Pods.
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "clusterrole-aggregation-controller",
    "root-ca-certificate-publisher-controller",
    "deployment-controller",
    "replicaset-controller",
)
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
STOP_GRACE_SECONDS = 10.0
PORT_ATTEMPTS = 3
# Metadata (who, what, which object; no bodies) of every completed write request.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted", "Panic"],
    "rules": [
        {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "None"},
    ],
}


class ClusterError(Exception):
    """A failure with a message that names what failed and what to do."""


# --- building --------------------------------------------------------------------------


def control_plane() -> GoBinary:
    versions = module_versions()
    return GoBinary(
        name=BINARY_NAME,
        module_dir=MODULE_DIR,
        package=".",
        version=versions["kubernetes"],
        ldflags=version_ldflags(),
        description=(
            f"the control plane (kubernetes {versions['kubernetes']}, etcd {versions['etcd']})"
        ),
        cold_build="about 15 minutes on 2 cores",
        cache_env="MODELSYNC_CONTROL_PLANE_CACHE",
        binary_env="MODELSYNC_CONTROL_PLANE_BIN",
    )


def module_versions() -> dict[str, str]:
    """The pinned Kubernetes and etcd versions, read from the module's go.mod."""
    return required_versions(
        MODULE_DIR, {"kubernetes": "k8s.io/kubernetes", "etcd": "go.etcd.io/etcd/server/v3"}
    )


def version_ldflags() -> str:
    """Stamp the Kubernetes version into the binary, as Kubernetes' own build does, so
    /version (and kubectl's version skew logic) see v1.X.Y rather than v0.0.0-master."""
    version = module_versions()["kubernetes"]
    major, minor = version.lstrip("v").split(".")[:2]
    stamped = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",  # reproducible: the same bytes on every machine
    }
    return " ".join(
        f"-X {package}.{name}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for name, value in stamped.items()
    )


def ensure_binary(log: TextLog) -> Path:
    """The control-plane binary for this checkout, built once per machine and key
    (scripts/gobuild.py)."""
    try:
        return gobuild.ensure(control_plane(), log.say)
    except gobuild.BuildError as error:
        raise ClusterError(str(error)) from None


# --- processes -------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    pid: int
    start_ticks: int  # /proc/PID/stat field 22: tells a reused pid from ours
    args: list[str]
    log: str


@dataclass
class State:
    binary: str
    etcd_port: int
    etcd_peer_port: int
    apiserver_port: int
    controller_manager_port: int
    processes: dict[str, Process]

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def save(self, state_dir: Path) -> None:
        data = asdict(self)
        (state_dir / STATE_FILE).write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> State | None:
        path = state_dir / STATE_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        data["processes"] = {k: Process(**v) for k, v in data["processes"].items()}
        return cls(**data)


def start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot), or None if it has exited
    (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_ours(process: Process) -> bool:
    """Still running, and still the process we started (not a reused pid)."""
    return start_ticks(process.pid) == process.start_ticks


def spawn(name: str, binary: str, args: list[str], logs: Path) -> Process:
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [binary, name, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives `up`, and a Ctrl-C in its terminal
        )
    ticks = start_ticks(proc.pid)
    if ticks is None:
        raise ClusterError(f"{name} exited at once; its log: {log_path}\n{tail_file(log_path)}")
    return Process(name, proc.pid, ticks, args, str(log_path))


def stop(process: Process) -> None:
    if not is_ours(process):
        return  # gone already, or the pid now belongs to someone else
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        reap(process.pid)
        if not is_ours(process):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    while is_ours(process) and time.monotonic() < deadline + 5:
        reap(process.pid)
        time.sleep(0.05)


def reap(pid: int) -> None:
    """Collect our own child's exit status, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- configuration ---------------------------------------------------------------------


def etcd_args(state_dir: Path, state: State) -> list[str]:
    client = f"http://127.0.0.1:{state.etcd_port}"
    peer = f"http://127.0.0.1:{state.etcd_peer_port}"
    return [
        "--name=default",
        f"--data-dir={state_dir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        # Throwaway test data: not waiting for the disk keeps a 10,000-object sync from
        # measuring this machine's fsync latency. A crash loses it, which is fine here.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def apiserver_args(state_dir: Path, state: State) -> list[str]:
    pki = state_dir / "pki"
    return [
        f"--etcd-servers=http://127.0.0.1:{state.etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={state.apiserver_port}",
        f"--cert-dir={state_dir / 'apiserver'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki / 'service-account.pub'}",
        f"--service-account-signing-key-file={pki / 'service-account.key'}",
        "--service-cluster-ip-range=10.0.0.0/24",
        # A real authorizer: every request is checked against RBAC, as on a real cluster.
        # The standard admission chain (NamespaceLifecycle, ServiceAccount, ...) is the
        # default one, left as it is.
        "--authorization-mode=RBAC",
        # Every completed write, as JSON lines: tests count the operator's writes with it.
        f"--audit-policy-file={state_dir / 'audit-policy.json'}",
        f"--audit-log-path={state_dir / 'logs' / 'audit.log'}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
        "--profiling=false",
    ]


def controller_manager_args(state_dir: Path, state: State) -> list[str]:
    pki = state_dir / "pki"
    kubeconfig = state_dir / "controller-manager.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={state.controller_manager_port}",
        f"--cert-dir={state_dir / 'controller-manager'}",
        f"--controllers={','.join(CONTROLLERS)}",
        # Each controller acts as its own ServiceAccount in kube-system, bound by the
        # bootstrap RBAC policy (as kubeadm runs it); the controller manager's own user may
        # not, e.g., delete arbitrary objects for the garbage collector.
        "--use-service-account-credentials=true",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'service-account.key'}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def kubeconfig(server: str, pki: Path, identity: str, user: str) -> str:
    def data(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "real-cluster",
                "cluster": {"server": server, "certificate-authority-data": data("ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": data(f"{identity}.crt"),
                    "client-key-data": data(f"{identity}.key"),
                },
            }
        ],
        "contexts": [
            {"name": "real-cluster", "context": {"cluster": "real-cluster", "user": user}}
        ],
        "current-context": "real-cluster",
    }
    return json.dumps(config, indent=2) + "\n"  # JSON is YAML: no YAML library needed


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


# --- waiting ---------------------------------------------------------------------------


def admin_tls(pki: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return context


def http_get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as answer:  # noqa: S310
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


def wait_until(what: str, probe: Process, check: CheckFn, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not is_ours(probe):
            raise ClusterError(
                f"{probe.name} exited while waiting for {what}; its log ({probe.log}):\n"
                f"{tail_file(Path(probe.log))}"
            )
        ok, last = check()
        if ok:
            return
        time.sleep(0.2)
    raise ClusterError(
        f"timed out after {timeout:.0f} s waiting for {what} (last answer: {last[:300]}); "
        f"{probe.name}'s log ({probe.log}):\n{tail_file(Path(probe.log))}"
    )


class CheckFn:
    """A readiness probe: (ready, last answer)."""

    def __init__(self, url: str, context: ssl.SSLContext | None, expect: str = "") -> None:
        self.url, self.context, self.expect = url, context, expect

    def __call__(self) -> tuple[bool, str]:
        status, body = http_get(self.url, self.context)
        return status == 200 and self.expect in body, f"HTTP {status}: {body}"


# --- commands --------------------------------------------------------------------------


class TextLog:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"real-cluster: {message}", file=sys.stderr, flush=True)


def default_state_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"modelsync-real-cluster-{os.getuid()}"


def up(state_dir: Path, kubeconfig_out: Path, timeout: float, log: TextLog) -> State:
    existing = State.load(state_dir)
    if existing is not None and any(is_ours(p) for p in existing.processes.values()):
        raise ClusterError(
            f"a control plane already runs from {state_dir} (API server {existing.server}); "
            f"run `scripts/real-cluster down --state-dir {state_dir}` first, or pick another "
            "--state-dir"
        )
    if state_dir.exists():
        shutil.rmtree(state_dir)
    binary = ensure_binary(log)
    state_dir.mkdir(parents=True, mode=0o700)
    logs = state_dir / "logs"
    logs.mkdir()
    pki = state_dir / "pki"
    done = subprocess.run(
        [str(binary), "pki", f"--dir={pki}"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ClusterError(f"writing certificates failed: {done.stderr.strip()}")

    (state_dir / "audit-policy.json").write_text(json.dumps(AUDIT_POLICY))
    started = time.monotonic()
    for attempt in range(1, PORT_ATTEMPTS + 1):
        # Free ports are picked before the processes bind them; another process may take
        # one in between. Then the component says so in its log, and we try other ports.
        state = State(str(binary), free_port(), free_port(), free_port(), free_port(), {})
        try:
            start_all(state_dir, state, timeout)
            break
        except ClusterError as error:
            if attempt == PORT_ATTEMPTS or "address already in use" not in str(error):
                raise
            log.say("a port was taken before the server bound it; starting on other ports")
            shutil.rmtree(state_dir / "etcd", ignore_errors=True)
    admin = kubeconfig(state.server, pki, "admin", "modelsync-admin")
    write_private(state_dir / "admin.kubeconfig", admin)
    write_private(kubeconfig_out, admin)
    log.say(
        f"up in {time.monotonic() - started:.1f} s: API server {state.server}, "
        f"kubeconfig {kubeconfig_out}, state {state_dir}"
    )
    return state


def start_all(state_dir: Path, state: State, timeout: float) -> None:
    """Start the three in order, each once the one before it is ready; on failure, stop
    whatever did start."""
    pki = state_dir / "pki"
    try:
        start_component("etcd", state_dir, state)
        etcd = state.processes["etcd"]
        health = CheckFn(f"http://127.0.0.1:{state.etcd_port}/health", None, '"health":"true"')
        wait_until("etcd /health", etcd, health, timeout)

        start_component("kube-apiserver", state_dir, state)
        wait_apiserver(state, pki, timeout)

        write_private(
            state_dir / "controller-manager.kubeconfig",
            kubeconfig(state.server, pki, "controller-manager", "system:kube-controller-manager"),
        )
        start_component("kube-controller-manager", state_dir, state)
        # Ready once it has done its first work: the namespace "default" got its
        # ServiceAccount from the serviceaccount controller.
        default_sa = CheckFn(
            f"{state.server}/api/v1/namespaces/default/serviceaccounts/default", admin_tls(pki)
        )
        wait_until(
            "kube-controller-manager's first work (ServiceAccount default/default)",
            state.processes["kube-controller-manager"],
            default_sa,
            timeout,
        )
    except BaseException:
        for process in reversed(list(state.processes.values())):
            stop(process)
        raise


def start_component(name: str, state_dir: Path, state: State) -> None:
    args = {
        "etcd": etcd_args,
        "kube-apiserver": apiserver_args,
        "kube-controller-manager": controller_manager_args,
    }[name](state_dir, state)
    state.processes[name] = spawn(name, state.binary, args, state_dir / "logs")
    state.save(state_dir)


def wait_apiserver(state: State, pki: Path, timeout: float) -> None:
    ready = CheckFn(f"{state.server}/readyz", admin_tls(pki), "ok")
    wait_until("kube-apiserver /readyz", state.processes["kube-apiserver"], ready, timeout)


def down(state_dir: Path, log: TextLog) -> None:
    state = State.load(state_dir)
    if state is None:
        if state_dir.exists():
            shutil.rmtree(state_dir)
        log.say(f"nothing runs from {state_dir}")
        return
    for name in reversed(COMPONENTS):
        process = state.processes.get(name)
        if process is not None:
            stop(process)
    shutil.rmtree(state_dir)
    log.say(f"stopped {', '.join(state.processes)} and removed {state_dir}")


def restart_apiserver(state_dir: Path, timeout: float, log: TextLog) -> None:
    """Stop the API server and start it again: same port, certificates and etcd data."""
    state = State.load(state_dir)
    if state is None or "kube-apiserver" not in state.processes:
        raise ClusterError(f"no control plane runs from {state_dir}; run `up` first")
    stop(state.processes["kube-apiserver"])
    started = time.monotonic()
    start_component("kube-apiserver", state_dir, state)
    wait_apiserver(state, state_dir / "pki", timeout)
    log.say(f"kube-apiserver restarted, ready in {time.monotonic() - started:.1f} s")


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def tail_file(path: Path, lines: int = 30) -> str:
    try:
        return tail(path.read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="real-cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    commands = parser.add_subparsers(dest="command", required=True)
    up_cmd = commands.add_parser("up", help="build if needed, start, write a kubeconfig")
    up_cmd.add_argument("--kubeconfig-out", type=Path, required=True)
    for sub in (up_cmd, commands.add_parser("down", help="stop it and remove its state")):
        sub.add_argument("--state-dir", type=Path, default=default_state_dir())
    restart = commands.add_parser("restart-apiserver", help="stop and start the API server")
    restart.add_argument("--state-dir", type=Path, default=default_state_dir())
    for sub in (up_cmd, restart):
        sub.add_argument("--timeout", type=float, default=120.0, help="seconds per wait")
    commands.add_parser("build", help="build the binary if needed and print its path")
    args = parser.parse_args(argv)
    log = TextLog(args.quiet)
    try:
        if args.command == "up":
            up(args.state_dir.resolve(), args.kubeconfig_out.resolve(), args.timeout, log)
        elif args.command == "down":
            down(args.state_dir.resolve(), log)
        elif args.command == "restart-apiserver":
            restart_apiserver(args.state_dir.resolve(), args.timeout, log)
        else:
            print(ensure_binary(log))
    except ClusterError as error:
        print(f"real-cluster: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
