"""modelsync.kube against the sandbox API server (real sockets, the official client)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from fixtures_kube import kubectl, unique_name
from modelsync.kube.apply import apply_plan
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.errors import KubeConflict, KubeInvalid, KubeNotFound
from modelsync.kube.events import post_event
from modelsync.kube.modelcatalogsyncs import get_sync, patch_sync_status, request_reconcile
from modelsync.kube.modelrefs import (
    create_modelref,
    delete_modelref,
    get_modelref,
    list_modelrefs,
    patch_modelref,
    patch_modelref_status,
)
from modelsync.kube.secrets import (
    SecretKeyMissing,
    SecretNotFound,
    SecretNotOptedIn,
    read_secret_value,
    secret_version,
)
from modelsync.plan import CreateRef, DeleteRef, SyncPlan, UpdateRef, VersionChange

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

SECRET_VALUE = "s3cr3t-value-9d1e"


@pytest.fixture
def ns(crd_sandbox: KubeSandbox) -> str:
    name = unique_name("io")
    done = kubectl(crd_sandbox.kubeconfig_path, "create", "namespace", name)
    assert done.returncode == 0, done.stderr
    return name


@pytest_asyncio.fixture
async def api(crd_sandbox: KubeSandbox) -> AsyncIterator[KubeApi]:
    seen: list[tuple[str, str, int | None]] = []
    client = KubeApi(
        load_configuration(str(crd_sandbox.kubeconfig_path)),
        max_workers=4,
        on_request=lambda *a: seen.append(a),
    )
    client.seen = seen  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        client.close()


def modelref(ns: str, name: str, sync: str = "s", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"modelsync.dev/sync": sync, "app.kubernetes.io/managed-by": "modelsync"},
        },
        "spec": {"model": {"id": f"id-{name}", "name": name, "fqn": f"model:t/r/{name}"}, **spec},
    }


def ready(status: str = "True", reason: str = "DeployableVersionResolved") -> dict[str, Any]:
    return {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": status,
                    "reason": reason,
                    "message": "",
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                }
            ]
        }
    }


async def test_secret_values_and_typed_errors_never_echo_the_value(
    api: KubeApi, ns: str, crd_sandbox: KubeSandbox
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "tfy",
            "namespace": ns,
            "labels": {"modelsync.dev/catalog-credentials": "true"},
        },
        "data": {
            "token": base64.b64encode(SECRET_VALUE.encode()).decode(),
            "blank": base64.b64encode(b"  \n").decode(),
            "binary": base64.b64encode(b"\xff\xfe").decode(),
        },
    }
    import json

    done = kubectl(crd_sandbox.kubeconfig_path, "apply", "-f", "-", input=json.dumps(secret))
    assert done.returncode == 0, done.stderr

    value = await read_secret_value(api, ns, "tfy", "token")
    assert value.value == SECRET_VALUE
    assert SECRET_VALUE not in repr(value)
    assert value.resource_version == await secret_version(api, ns, "tfy")
    assert await secret_version(api, ns, "absent") is None

    with pytest.raises(SecretNotFound) as missing:
        await read_secret_value(api, ns, "absent", "token")
    assert not isinstance(missing.value, SecretKeyMissing)
    assert str(missing.value) == f'Secret "absent" not found in namespace "{ns}"'
    for key in ("nokey", "blank", "binary"):
        with pytest.raises(SecretKeyMissing) as problem:
            await read_secret_value(api, ns, "tfy", key)
        assert key in str(problem.value)
        assert SECRET_VALUE not in str(problem.value)
        assert problem.value.resource_version == value.resource_version


async def test_a_secret_without_the_opt_in_label_is_refused_before_its_value_is_read(
    api: KubeApi, ns: str, crd_sandbox: KubeSandbox
) -> None:
    import json

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "plain", "namespace": ns, "labels": {"other": "true"}},
        "stringData": {"token": SECRET_VALUE},
    }
    done = kubectl(crd_sandbox.kubeconfig_path, "apply", "-f", "-", input=json.dumps(secret))
    assert done.returncode == 0, done.stderr
    with pytest.raises(SecretNotOptedIn) as refused:
        await read_secret_value(api, ns, "plain", "token")
    message = str(refused.value)
    assert "kubectl label secret plain" in message
    assert "modelsync.dev/catalog-credentials=true" in message
    assert SECRET_VALUE not in message
    assert refused.value.resource_version == await secret_version(api, ns, "plain")

    # A label with another value does not opt in either.
    secret["metadata"]["labels"] = {"modelsync.dev/catalog-credentials": "yes"}  # type: ignore[index]
    done = kubectl(crd_sandbox.kubeconfig_path, "apply", "-f", "-", input=json.dumps(secret))
    assert done.returncode == 0, done.stderr
    with pytest.raises(SecretNotOptedIn):
        await read_secret_value(api, ns, "plain", "token")


async def test_modelref_crud_with_label_scoped_list_and_preconditions(
    api: KubeApi, ns: str
) -> None:
    created = await create_modelref(api, ns, modelref(ns, "r.a"))
    await create_modelref(api, ns, modelref(ns, "r.b", sync="other"))
    assert [o["metadata"]["name"] for o in await list_modelrefs(api, ns, "s")] == ["r.a"]
    stored = await get_modelref(api, ns, "r.a")
    # A write answers with the identity of what it stored.
    assert created is not None
    assert created.reference() == {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "metadata": {
            "name": "r.a",
            "namespace": ns,
            "uid": stored["metadata"]["uid"],
            "resourceVersion": stored["metadata"]["resourceVersion"],
        },
    }
    assert (created.name, created.resource_version) == (
        "r.a",
        stored["metadata"]["resourceVersion"],
    )

    patched = await patch_modelref(api, ns, "r.a", {"metadata": {"labels": {"x": "1"}}})
    stored = await get_modelref(api, ns, "r.a")
    assert stored["metadata"]["labels"]["x"] == "1"
    assert patched is not None
    assert patched.resource_version == stored["metadata"]["resourceVersion"]
    assert patched.resource_version != created.resource_version
    with_status = await patch_modelref_status(api, ns, "r.a", ready())
    stored = await get_modelref(api, ns, "r.a")
    assert with_status is not None
    assert with_status.resource_version == stored["metadata"]["resourceVersion"]
    assert stored["status"] == ready()["status"]
    assert stored["spec"] == modelref(ns, "r.a")["spec"]
    # The main resource ignores status.
    await patch_modelref(api, ns, "r.a", {"status": {"conditions": []}})
    assert (await get_modelref(api, ns, "r.a"))["status"] == ready()["status"]

    with pytest.raises(KubeConflict):
        await delete_modelref(api, ns, "r.a", uid="not-the-uid")
    await delete_modelref(api, ns, "r.a", uid=created.metadata.uid)
    with pytest.raises(KubeNotFound) as gone:
        await get_modelref(api, ns, "r.a")
    assert "r.a" in str(gone.value)
    with pytest.raises(KubeInvalid):
        await create_modelref(api, ns, modelref(ns, "Not_A_Name"))


async def test_apply_plan_goes_on_past_failed_items_and_counts(
    api: KubeApi, ns: str, crd_sandbox: KubeSandbox
) -> None:
    existing = await create_modelref(
        api, ns, modelref(ns, "r.old", version={"id": "v1", "fqn": "f:1", "version": 1})
    )
    taken = await create_modelref(api, ns, modelref(ns, "r.taken"))
    assert existing is not None
    assert taken is not None
    plan = SyncPlan(
        creates=(
            CreateRef("r.new", "model:t/r/r.new", modelref(ns, "r.new"), ready()),
            CreateRef("r.taken", "model:t/r/r.taken", modelref(ns, "r.taken"), ready()),
            CreateRef(
                "r.bad", "model:t/r/bad", modelref(ns, "r.bad", model="not-an-object"), ready()
            ),
        ),
        updates=(
            UpdateRef(
                "r.old",
                existing.metadata.uid,
                existing.resource_version,
                "model:t/r/r.old",
                {"spec": {"version": {"id": "v2", "fqn": "f:2", "version": 2}}},
                ready(),
                VersionChange("model:t/r/r.old", 1, 2),
            ),
        ),
        deletes=(
            DeleteRef("r.gone", None, None),  # already absent: counts as deleted
            DeleteRef("r.taken", "another-uid", None),  # precondition fails
        ),
    )
    result = await apply_plan(api, ns, plan, writes=asyncio.Semaphore(2))
    assert (result.created, result.updated, result.deleted) == (1, 1, 1)
    assert sorted((f.name, f.action, f.reason) for f in result.failures) == [
        ("r.bad", "create", "Invalid"),
        ("r.taken", "create", "Conflict"),
        ("r.taken", "delete", "Conflict"),
    ]
    assert [(m.name, m.change.message) for m in result.moved] == [
        ("r.old", "model:t/r/r.old: version 1 -> 2")
    ]
    assert result.events == 1  # the plan has no desired ModelRefs: no sync to post on
    assert set(result.written) == {"r.new", "r.old"}
    for name in ("r.new", "r.old"):  # the spec/create write, then the status write
        versions = result.written[name]
        assert len(versions) == 2
        assert versions[-1] == (await get_modelref(api, ns, name))["metadata"]["resourceVersion"]
    assert (await get_modelref(api, ns, "r.taken"))["metadata"]["uid"] == taken.metadata.uid
    events = kubectl(crd_sandbox.kubeconfig_path, "get", "events", "-n", ns, "-o", "json")
    import json

    found = [e for e in json.loads(events.stdout)["items"] if e["reason"] == "VersionChanged"]
    assert len(found) == 1
    assert found[0]["involvedObject"] == {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelRef",
        "name": "r.old",
        "namespace": ns,
        "uid": existing.metadata.uid,
        "resourceVersion": result.written["r.old"][-1],
    }
    assert found[0]["message"] == "model:t/r/r.old: version 1 -> 2"


async def test_sync_status_patch_skips_equal_status_and_trigger_annotation(
    api: KubeApi, ns: str, crd_sandbox: KubeSandbox
) -> None:
    import json

    sync = {
        "apiVersion": "modelsync.dev/v1alpha1",
        "kind": "ModelCatalogSync",
        "metadata": {"name": "s", "namespace": ns},
        "spec": {
            "catalog": {
                "url": "https://catalog.example",
                "tokenSecretRef": {"name": "t", "key": "k"},
            }
        },
    }
    done = kubectl(crd_sandbox.kubeconfig_path, "apply", "-f", "-", input=json.dumps(sync))
    assert done.returncode == 0, done.stderr
    status = {"observedGeneration": 1, "modelRefs": {"selected": 2}}
    assert await patch_sync_status(api, ns, "s", {}, status) is not None
    writes = crd_sandbox.stats.total_writes()
    assert await patch_sync_status(api, ns, "s", status, dict(status)) is None
    assert crd_sandbox.stats.total_writes() == writes
    # Keys that disappear are removed with a merge patch null.
    written = await patch_sync_status(api, ns, "s", status, {"observedGeneration": 2})
    assert written is not None
    assert written["status"] == {"observedGeneration": 2}

    await request_reconcile(api, ns, "s", "2024-05-01T10:00:00.5Z")
    current = await get_sync(api, ns, "s")
    annotations = current["metadata"]["annotations"]
    assert annotations["modelsync.dev/reconcile-requested-at"] == "2024-05-01T10:00:00.5Z"
    assert current["metadata"]["generation"] == 1  # metadata changes keep the generation


async def test_events_and_request_observer(api: KubeApi, ns: str) -> None:
    created = await create_modelref(api, ns, modelref(ns, "r.evt"))
    assert created is not None
    obj = created.reference()
    assert await post_event(api, obj, event_type="Warning", reason="Testing", message="x" * 5000)
    seen = api.seen  # type: ignore[attr-defined]
    assert ("create", "modelrefs", 200) in seen
    assert ("create", "events", 200) in seen
    bad = {**obj, "metadata": {**obj["metadata"], "namespace": "no-such-namespace-here"}}
    assert not await post_event(api, bad, event_type="Normal", reason="Testing", message="m")
