"""The webhook server (runtime/webhook.py) over real sockets, against the sandbox API server:
each answer, and that a rejected request writes nothing."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio
import yaml

from fixtures_kube import kubectl, unique_name
from modelsync.kube.client import KubeApi, load_configuration
from modelsync.kube.modelcatalogsyncs import get_sync
from modelsync.runtime.webhook import WebhookConfig, WebhookServer
from modelsync.runtime.webhook_rules import SIGNATURE_HEADER, sign

if TYPE_CHECKING:
    from modelsync_sandbox.kube import KubeSandbox

KEY = "whk-7d2c91e4aa"
ROTATED = "whk-rotated-51b0"
CAP = 1024
REQUESTED_AT = "modelsync.dev/reconcile-requested-at"
MODELS = "modelsync.dev/reconcile-models"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    sandbox: KubeSandbox
    namespace: str
    api: KubeApi
    server: WebhookServer
    http: httpx.AsyncClient
    clock: Clock
    syncs: dict[tuple[str, str], Mapping[str, Any]]
    codes: list[int]
    requests: list[tuple[str, str, int | None]] = field(default_factory=list)

    def kubectl(self, *args: str, input: str | None = None) -> str:
        done = kubectl(self.sandbox.kubeconfig_path, *args, input=input)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def apply(self, obj: Mapping[str, Any]) -> None:
        self.kubectl("apply", "-n", self.namespace, "-f", "-", input=json.dumps(obj))

    def secret(self, name: str, value: str, *, opted_in: bool = True) -> None:
        labels = {"modelsync.dev/catalog-credentials": "true"} if opted_in else {}
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "labels": labels},
                "stringData": {"hmac": value},
            }
        )

    async def sync(self, name: str, secret: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "catalog": {
                "url": "https://catalog.example",
                "tokenSecretRef": {"name": "tok", "key": "token"},
            }
        }
        if secret is not None:
            spec["webhook"] = {"secretRef": {"name": secret, "key": "hmac"}}
        self.apply(
            {
                "apiVersion": "modelsync.dev/v1alpha1",
                "kind": "ModelCatalogSync",
                "metadata": {"name": name},
                "spec": spec,
            }
        )
        # What the operator's watch would show.
        obj = await get_sync(self.api, self.namespace, name)
        self.syncs[(self.namespace, name)] = obj
        return obj

    async def read(self, name: str) -> dict[str, Any]:
        return await get_sync(self.api, self.namespace, name)

    async def post(
        self,
        name: str,
        body: bytes = b"",
        *,
        key: str | None = KEY,
        signature: str | None = None,
        namespace: str | None = None,
    ) -> httpx.Response:
        headers = {}
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        elif key is not None:
            headers[SIGNATURE_HEADER] = sign(key.encode(), body)
        return await self.http.post(
            f"/hooks/{namespace or self.namespace}/{name}", content=body, headers=headers
        )

    def secret_reads(self) -> int:
        return sum(
            1 for verb, resource, _ in self.requests if (verb, resource) == ("get", "secrets")
        )


@pytest_asyncio.fixture
async def world(crd_sandbox: KubeSandbox) -> AsyncIterator[World]:
    namespace = unique_name("hook")
    done = kubectl(crd_sandbox.kubeconfig_path, "create", "namespace", namespace)
    assert done.returncode == 0, done.stderr
    requests: list[tuple[str, str, int | None]] = []
    api = KubeApi(
        load_configuration(str(crd_sandbox.kubeconfig_path)),
        max_workers=2,
        on_request=lambda *seen: requests.append(seen),
    )
    syncs: dict[tuple[str, str], Mapping[str, Any]] = {}
    codes: list[int] = []
    clock = Clock()
    server = WebhookServer(
        api,
        lambda ns, name: syncs.get((ns, name)),
        WebhookConfig("127.0.0.1", 0, max_body_bytes=CAP),
        on_request=codes.append,
        clock=clock,
    )
    await server.start()
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)
    try:
        yield World(crd_sandbox, namespace, api, server, http, clock, syncs, codes, requests)
    finally:
        await http.aclose()
        await server.stop()
        await api.aclose()


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


async def test_a_signed_empty_body_requests_a_full_sync(world: World) -> None:
    world.secret("hook", KEY)
    await world.sync("s", "hook")
    # A leftover model list from an earlier request goes: the request is a full sync.
    world.kubectl("annotate", "mcs", "s", "-n", world.namespace, f"{MODELS}=a/b")

    done = await world.post("s")

    assert done.status_code == 202, done.text
    answer = done.json()
    assert answer["accepted"] is True
    assert answer["sync"] == f"{world.namespace}/s"
    assert answer["models"] == []
    annotations = (await world.read("s"))["metadata"]["annotations"]
    assert annotations[REQUESTED_AT] == answer["requestedAt"]
    assert MODELS not in annotations
    assert world.codes == [202]


async def test_a_signed_model_list_requests_a_refresh_of_those(world: World) -> None:
    world.secret("hook", KEY)
    await world.sync("s", "hook")
    body = json.dumps({"models": ["fraud/scorer", "churn/churn-survival", "fraud/scorer"]})

    done = await world.post("s", body.encode())

    assert done.status_code == 202, done.text
    assert done.json()["models"] == ["churn/churn-survival", "fraud/scorer"]
    annotations = (await world.read("s"))["metadata"]["annotations"]
    assert annotations[MODELS] == "churn/churn-survival,fraud/scorer"
    assert annotations[REQUESTED_AT] == done.json()["requestedAt"]


async def test_rejected_requests_write_nothing(world: World, log: pytest.LogCaptureFixture) -> None:
    world.secret("hook", KEY)
    world.secret("plain", KEY, opted_in=False)
    before = await world.sync("s", "hook")
    await world.sync("no-hook", None)
    await world.sync("not-opted-in", "plain")
    await world.sync("no-secret", "missing")
    body = b'{"models": ["churn/churn-survival"]}'
    wrong = sign(b"not-the-key", body)

    answers = {
        "unsigned": await world.post("s", body, key=None),
        "wrong key": await world.post("s", body, signature=wrong),
        "other body": await world.post("s", body, signature=sign(KEY.encode(), b"")),
        "unknown sync": await world.post("nope", body),
        "other namespace": await world.post("s", body, namespace="elsewhere"),
        "no webhook": await world.post("no-hook", body),
        "not opted in": await world.post("not-opted-in", body),
        "no secret": await world.post("no-secret", body),
        "bad json": await world.post("s", b"{"),
        "bad name": await world.post("s", b'{"models": ["nope"]}'),
        "too large": await world.post("s", b" " * (CAP + 1)),
    }

    codes = {what: answer.status_code for what, answer in answers.items()}
    assert codes == {
        "unsigned": 401,
        "wrong key": 401,
        "other body": 401,
        "unknown sync": 404,
        "other namespace": 404,
        "no webhook": 404,
        "not opted in": 404,
        "no secret": 404,
        "bad json": 400,
        "bad name": 400,
        "too large": 413,
    }
    not_found = {answers[w].content for w, code in codes.items() if code == 404}
    assert len(not_found) == 1, "every 404 answers the same body"
    assert "not a model name" in answers["bad name"].json()["error"]
    after = await world.read("s")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert REQUESTED_AT not in (after["metadata"].get("annotations") or {})
    assert not [r for r in world.requests if r[0] == "patch"]
    assert sorted(world.codes) == sorted(codes.values())
    # The log says what happened, never the key nor a signature.
    text = log.text
    assert "401 bad or missing signature" in text
    assert 'Secret "plain"' in text  # the Secret that is not opted in is named for the admin
    for secret in (KEY, wrong, wrong.removeprefix("sha256="), sign(KEY.encode(), body)[7:]):
        assert secret not in text
    assert "plain" not in answers["not opted in"].text


async def test_a_body_over_the_cap_is_refused_unread_or_cut_off(world: World) -> None:
    world.secret("hook", KEY)
    await world.sync("s", "hook")
    exactly = b'{"models": ["a/b"]}'.ljust(CAP)
    assert (await world.post("s", exactly)).status_code == 202

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length
        for _ in range(64):
            yield b" " * 1000

    done = await world.http.post(
        f"/hooks/{world.namespace}/s",
        content=chunked(),
        headers={SIGNATURE_HEADER: sign(KEY.encode(), b"")},
    )
    assert done.status_code == 413
    assert done.json() == {"error": f"the body is larger than {CAP} bytes"}


async def test_signed_requests_are_rate_limited_per_sync(world: World) -> None:
    world.secret("hook", KEY)
    await world.sync("s", "hook")
    await world.sync("t", "hook")
    first = [(await world.post("s")).status_code for _ in range(5)]
    assert first == [202] * 5
    before = (await world.read("s"))["metadata"]["resourceVersion"]
    limited = await world.post("s")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert (await world.read("s"))["metadata"]["resourceVersion"] == before
    # Strangers do not use up the budget, and other syncs have their own.
    assert (await world.post("s", key=None)).status_code == 401
    assert (await world.post("t")).status_code == 202
    world.clock.now += 2.0
    assert (await world.post("s")).status_code == 202
    assert (await world.post("s")).status_code == 429
    assert (await world.read("s"))["metadata"]["resourceVersion"] != before


async def test_the_key_is_read_once_per_ttl_and_rotation_takes_effect(world: World) -> None:
    world.secret("hook", KEY)
    await world.sync("s", "hook")
    answers = [(await world.post("s", key="wrong")).status_code for _ in range(20)]
    assert answers == [401] * 20
    assert world.secret_reads() == 1

    world.secret("hook", ROTATED)
    assert (await world.post("s", key=ROTATED)).status_code == 401  # the cached key still
    world.clock.now += 10.0
    assert (await world.post("s", key=ROTATED)).status_code == 202
    assert (await world.post("s", key=KEY)).status_code == 401
    assert world.secret_reads() == 2


async def test_a_key_with_a_trailing_newline_is_the_key_without_it(world: World) -> None:
    world.secret("hook", KEY + "\n")
    await world.sync("s", "hook")
    assert (await world.post("s")).status_code == 202


async def test_an_unreachable_api_server_is_503(world: World, tmp_path: Path) -> None:
    config = yaml.safe_load(world.sandbox.kubeconfig_path.read_text(encoding="utf-8"))
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{closed}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config), encoding="utf-8")
    api = KubeApi(load_configuration(str(kubeconfig)), max_workers=1, request_timeout=2)
    hooked = {"spec": {"webhook": {"secretRef": {"name": "x", "key": "k"}}}}
    server = WebhookServer(api, lambda *_: hooked, WebhookConfig("127.0.0.1", 0))
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            done = await http.post(f"http://127.0.0.1:{server.port}/hooks/ns/s", content=b"")
        assert done.status_code == 503
        assert done.json() == {"error": "cannot check the request now; retry later"}
    finally:
        await server.stop()
        await api.aclose()


async def test_only_post_to_a_hook_path_is_served(world: World) -> None:
    assert (await world.http.get(f"/hooks/{world.namespace}/s")).status_code == 405
    assert (await world.http.post("/hooks/only-one-part")).status_code == 404
    assert world.codes == []
