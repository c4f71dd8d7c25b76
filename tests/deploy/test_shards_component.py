"""deploy/components/shards on top of the base: it renders and validates, its shard Deployments
are the base's Deployment but for the shard (name, label, --sync-selector, Lease), their
selectors are disjoint, and each may read and renew its own Lease."""

from __future__ import annotations

import argparse
import itertools

import kubernetes_validate
import pytest

from deploy.manifests import ROOT, Manifest, find, find_one, render, render_base_with
from modelsync.api.label_selector import LabelSelector
from modelsync.cli.run import add_arguments

COMPONENT = ROOT / "deploy" / "components" / "shards"
SHARD_LABEL = "modelsync.dev/shard"
KUBERNETES_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    return render_base_with(tmp_path_factory.mktemp("overlay"), "shards")


def _key(obj: Manifest) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _args(deployment: Manifest) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="modelsync run", exit_on_error=False)
    add_arguments(parser)
    return parser.parse_args(deployment["spec"]["template"]["spec"]["containers"][0]["args"])


def _shards(objects: list[Manifest]) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in find(objects, "Deployment")}


def test_the_component_renders_valid_objects(objects: list[Manifest]) -> None:
    for obj in objects:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                assert obj["apiVersion"].startswith("apiextensions.k8s.io/"), obj["kind"]
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} ({version}): {exc.message}")


def test_shards_replace_the_base_deployment_and_nothing_else_changes(
    objects: list[Manifest],
) -> None:
    base = {_key(o): o for o in render("deploy/base")}
    rendered = {_key(o): o for o in objects}
    assert set(_shards(objects)) == {"modelsync-shard-a", "modelsync-shard-b"}
    assert ("Deployment", "modelsync-system", "modelsync") not in rendered
    for key, obj in base.items():
        if key[0] == "Deployment" or key[2] == "modelsync-leader-election":
            continue
        assert rendered[key] == obj, key


@pytest.mark.parametrize("shard", ["a", "b"])
def test_a_shard_is_the_base_deployment_but_for_its_shard(
    objects: list[Manifest], shard: str
) -> None:
    (workload,) = find(render("deploy/base"), "Deployment", "modelsync")
    deployment = find_one(objects, "Deployment", f"modelsync-shard-{shard}")
    name = f"modelsync-shard-{shard}"
    expected = {**workload, "metadata": {**workload["metadata"], "name": name}}
    for labels in (
        expected["metadata"]["labels"],
        expected["spec"]["selector"]["matchLabels"],
        expected["spec"]["template"]["metadata"]["labels"],
    ):
        labels[SHARD_LABEL] = shard
    container = expected["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    container["args"] = [
        args[0],
        f"--sync-selector={SHARD_LABEL}={shard}",
        f"--leader-election-id={name}",
        *args[1:],
    ]
    assert deployment == expected


def test_the_shards_selectors_are_disjoint_and_their_leases_their_own(
    objects: list[Manifest],
) -> None:
    shards = {name: _args(d) for name, d in _shards(objects).items()}
    selectors: dict[str, LabelSelector] = {n: a.sync_selector for n, a in shards.items()}
    assert all(s is not None for s in selectors.values())
    # Disjoint: every two require different values of one key.
    for (one, a), (other, b) in itertools.combinations(selectors.items(), 2):
        exact_a = {r.key: r.values for r in a.requirements if r.operator == "="}
        exact_b = {r.key: r.values for r in b.requirements if r.operator == "="}
        assert any(exact_a[k] != exact_b[k] for k in exact_a.keys() & exact_b.keys()), (one, other)
    for value in ("a", "b", "c", ""):
        matched = [n for n, s in selectors.items() if s.matches({SHARD_LABEL: value})]
        assert len(matched) <= 1, (value, matched)
    assert not any(s.matches({}) for s in selectors.values())  # unlabelled: no shard

    # The Deployments' own pod selectors are disjoint too.
    pods = [d["spec"]["selector"]["matchLabels"] for d in _shards(objects).values()]
    assert len({p[SHARD_LABEL] for p in pods}) == len(pods)

    # Each shard has its own Lease, and may read and renew it.
    leases = {args.leader_election_id for args in shards.values()}
    assert leases == set(shards)
    role = find_one(objects, "Role", "modelsync-leader-election")
    named = [r for r in role["rules"] if "resourceNames" in r]
    assert [sorted(r["resourceNames"]) for r in named] == [sorted(leases)]
    assert named[0]["verbs"] == ["get", "update"]
