"""The CRDs' CEL rules on a real API server: the CRDs install (so every rule compiles and its
estimated cost is within the server's limits), each rule refuses what it should with its
message naming the field, through `kubectl apply` client-side and server-side and on update,
and the server's verdicts are the operator's runtime verdicts, case by case (cel_cases) and
on generated values."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client import CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from api.cel_cases import BASE_SPEC, CASES, INTERVAL, LABELS, Case, rule_message
from fixtures_kube import api_client, unique_name
from fixtures_real_cluster import RealCluster
from modelsync.api import constants as c
from modelsync.api.modelcatalogsync import parse_spec

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
LAST_APPLIED = "missing the kubectl.kubernetes.io/last-applied-configuration annotation"
MODES = {"client-side": ("apply",), "server-side": ("apply", "--server-side")}
AGAINST_SERVER = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def namespace(real_cluster: RealCluster) -> Iterator[str]:
    done = real_cluster.kubectl("apply", "-f", str(CRD_DIR))
    assert done.returncode == 0, done.stderr
    # Nothing from the API server about the CRDs (kubectl's own note about a CRD another
    # test created with --server-side is not about them).
    warnings = [line for line in done.stderr.splitlines() if LAST_APPLIED not in line]
    assert warnings == [], done.stderr
    real_cluster.ok("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    name = unique_name("cel-rules")
    real_cluster.ok("create", "namespace", name)
    yield name
    real_cluster.ok("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="module")
def objects(real_cluster: RealCluster) -> Iterator[CustomObjectsApi]:
    with api_client(real_cluster.kubeconfig) as client:
        yield CustomObjectsApi(client)


def dry_run_create(objects: CustomObjectsApi, namespace: str, spec: dict[str, Any]) -> str | None:
    """None if the API server would store a sync with `spec`, else its refusal."""
    body = {
        "apiVersion": c.API_VERSION,
        "kind": c.KIND_SYNC,
        "metadata": {"name": "dry-run", "namespace": namespace},
        "spec": spec,
    }
    try:
        objects.create_namespaced_custom_object(
            c.GROUP, c.VERSION, namespace, c.PLURAL_SYNC, body, dry_run="All"
        )
    except ApiException as exc:
        if exc.status != 422:  # only "Invalid" is a verdict
            raise
        message = json.loads(exc.body)["message"]
        return str(message)
    return None


def runtime_errors(spec: dict[str, Any]) -> list[str]:
    return parse_spec(spec)[1]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_server_gives_each_case_its_verdict(
    case: Case, namespace: str, objects: CustomObjectsApi
) -> None:
    refusal = dry_run_create(objects, namespace, case.full_spec())
    if case.accepted:
        assert refusal is None
        return
    assert refusal is not None, "accepted"
    assert case.field in refusal
    assert case.expected_message() in refusal


def _examples() -> list[Case]:
    """Per rule or limit one refusal and one acceptance, for the kubectl round trips."""
    picked: dict[tuple[str, bool, str | None], Case] = {}
    for case in CASES:
        picked.setdefault((case.checks, case.accepted, case.server_says), case)
    return list(picked.values())


EXAMPLES = _examples()


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("case", EXAMPLES, ids=[case.id for case in EXAMPLES])
def test_kubectl_apply(case: Case, mode: str, real_cluster: RealCluster, namespace: str) -> None:
    name = unique_name("sync")
    done = real_cluster.kubectl(
        *MODES[mode], "-f", "-", input=json.dumps(case.manifest(name, namespace))
    )
    if case.accepted:
        assert done.returncode == 0, done.stderr
        stored = json.loads(real_cluster.ok("get", "mcs", name, "-n", namespace, "-o", "json"))
        for key, value in case.spec.items():
            assert stored["spec"][key] == value
        return
    assert done.returncode != 0, f"accepted: {done.stdout}"
    assert f'"{name}" is invalid' in done.stderr, done.stderr
    assert case.field in done.stderr, done.stderr
    assert case.expected_message() in done.stderr, done.stderr
    gone = real_cluster.kubectl("get", "mcs", name, "-n", namespace)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


def _patch(
    real_cluster: RealCluster, name: str, namespace: str, spec: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    patch = json.dumps({"spec": spec})
    return real_cluster.kubectl("patch", "mcs", name, "-n", namespace, "--type=merge", "-p", patch)


def test_updates_are_held_to_the_rules(real_cluster: RealCluster, namespace: str) -> None:
    name = unique_name("sync")
    manifest = Case("valid", {"interval": "1m"}, INTERVAL, True).manifest(name, namespace)
    real_cluster.ok("apply", "-f", "-", input=json.dumps(manifest))

    too_short = _patch(real_cluster, name, namespace, {"interval": "5s"})
    assert too_short.returncode != 0
    assert f'spec.interval: Invalid value: "string": {rule_message(INTERVAL)}' in too_short.stderr
    bad_key = _patch(real_cluster, name, namespace, {"modelRefTemplate": {"labels": {"a b": ""}}})
    assert bad_key.returncode != 0
    assert f'{LABELS}: Invalid value: "object": {rule_message(LABELS)}' in bad_key.stderr

    manifest["spec"]["interval"] = "9999ms"
    server_side = real_cluster.kubectl(
        "apply", "--server-side", "-f", "-", input=json.dumps(manifest)
    )
    assert server_side.returncode != 0
    assert rule_message(INTERVAL) in server_side.stderr

    stored = json.loads(real_cluster.ok("get", "mcs", name, "-n", namespace, "-o", "json"))
    assert stored["spec"]["interval"] == "1m"
    assert "modelRefTemplate" not in stored["spec"]
    assert stored["metadata"]["generation"] == 1

    fine = _patch(real_cluster, name, namespace, {"interval": "10s"})
    assert fine.returncode == 0, fine.stderr
    stored = json.loads(real_cluster.ok("get", "mcs", name, "-n", namespace, "-o", "json"))
    assert stored["spec"]["interval"] == "10s"
    assert stored["metadata"]["generation"] == 2


# --- generated values: the server and the runtime give the same verdict -----------------

DIGITS = "0123456789"
UNITS = ["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h"]
duration_parts = st.tuples(
    st.one_of(
        st.integers(0, 12),
        st.integers(0, 10**6),
        st.integers(2_562_040, 2_562_050),  # around the int64 limit, in hours
        st.integers(0, 10**20),
    ).map(str),
    st.none() | st.text(DIGITS, min_size=1, max_size=24),
    st.sampled_from(UNITS),
)
durations = st.lists(duration_parts, min_size=1, max_size=3).map(
    lambda parts: "".join(
        f"{whole}{'.' + frac if frac else ''}{unit}" for whole, frac, unit in parts
    )
)
runs = st.integers(0, 22)
tails = st.text(DIGITS, max_size=3)
# Just under and just over the 10s minimum, down to (and past) the nanosecond.
near_ten_seconds = st.one_of(
    st.builds(lambda n, tail: f"9.{'9' * n}{tail}s", runs, tails),
    st.builds(lambda n, tail: f"10.{'0' * n}{tail}s", runs, tails),
    st.builds(lambda n, tail: f"9999.{'9' * n}{tail}ms", runs, tails),
    st.integers(9_999_999_000, 10_000_001_000).map(lambda n: f"{n}ns"),
    st.integers(9_999_000, 10_001_000).map(lambda n: f"{n}us"),
)


def _long_name(length: int, middle: str) -> str:
    return "a" + middle * (length - 2) + "z"


def _long_prefix(length: int) -> str:
    """A DNS subdomain of `length` characters (63-character labels)."""
    text = ".".join(["p" * 63] * 5)[:length]
    return text[:-1] + "q" if text.endswith(".") else text


# Mostly valid, near the length limits, plus a share of anything-goes text.
names = st.one_of(
    st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?", fullmatch=True),
    st.builds(_long_name, st.integers(61, 66), st.sampled_from(["-", "_", ".", "b", "B", "9"])),
    st.text("aZ09-_./ \u00e9!", max_size=8),
)
prefixes = st.one_of(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}", fullmatch=True),
    st.builds(_long_prefix, st.integers(250, 256)),
    st.text("aZ09-.", max_size=6),
)
keys = names | st.builds(lambda prefix, name: f"{prefix}/{name}", prefixes, names)
label_values = st.just("") | names


def _same_verdict(objects: CustomObjectsApi, namespace: str, extra: dict[str, Any]) -> None:
    spec = {**BASE_SPEC, **extra}
    refusal = dry_run_create(objects, namespace, spec)
    errors = runtime_errors(spec)
    assert (refusal is None) == (not errors), f"server: {refusal}; runtime: {errors}"


def test_the_server_and_the_runtime_agree_on_intervals(
    namespace: str, objects: CustomObjectsApi
) -> None:
    @AGAINST_SERVER
    @given(durations | near_ten_seconds)
    def check(value: str) -> None:
        _same_verdict(objects, namespace, {"interval": value})

    check()


def test_the_server_and_the_runtime_agree_on_template_keys_and_values(
    namespace: str, objects: CustomObjectsApi
) -> None:
    @AGAINST_SERVER
    @given(keys, label_values, keys)
    def check(label_key: str, label_value: str, annotation_key: str) -> None:
        template = {"labels": {label_key: label_value}, "annotations": {annotation_key: "x"}}
        _same_verdict(objects, namespace, {"modelRefTemplate": template})

    check()
