"""Catalog failures as a user meets them: in the Ready (or Stalled) condition of the
ModelCatalogSync and in its Warning event, naming the catalog (`scheme://host:port`) and the
fix, never the token. In-process sync passes against the sandbox API server and real local
catalog servers (a TLS one whose certificate nobody trusts)."""

from __future__ import annotations

import json
import ssl
from typing import Any

import trustme
from e2e_harness import condition
from runner_world import TOKEN, World

from catalog.adversarial_servers import Reply, ScriptedServer, SeenRequest, json_reply, page_payload
from modelsync.runtime.hosts import AllowedHosts

LOCALHOST = AllowedHosts.parse(["https://localhost:*"])


def empty_catalog(_request: SeenRequest) -> Reply:
    return json_reply(page_payload([], total=0, offset=0, limit=100))


def serving(authority: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    return context


def warning_messages(world: World, name: str = "s") -> list[str]:
    items: list[dict[str, Any]] = json.loads(
        world.ok("get", "events", "-n", world.ns, "-o", "json")
    )["items"]
    return [
        str(e.get("message", ""))
        for e in items
        if e["type"] == "Warning" and e["involvedObject"].get("name") == name
    ]


async def test_an_untrusted_certificate_is_tried_once_and_the_condition_says_add_its_ca(
    world: World,
) -> None:
    async with ScriptedServer(empty_catalog, tls=serving(trustme.CA(), "localhost")) as server:
        url = server.url_for("localhost")
        body = world.create_sync(catalog={"url": url})
        runner = world.runner(allowed_hosts=LOCALHOST)
        outcome = await runner.sync(body, 0)
        await runner.close()
        assert server.accepted == 1  # --catalog-attempts is 4: no retry can fix a certificate
        assert server.requests == []
    assert outcome.kind == "failure"
    ready = condition(world.sync())
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "CatalogUnavailable")
    message = ready["message"]
    assert message.startswith(f"GET {url}/api/ml/v1/models?")  # the spec's filters, paging
    assert message.endswith(
        f"&limit=100: the certificate of {url} is not trusted (unable to get local issuer "
        "certificate); add its CA with spec.catalog.caSecretRef"
    )
    assert warning_messages(world) == [message]
    assert TOKEN not in json.dumps(world.sync())


async def test_a_certificate_the_ca_secret_did_not_sign_names_that_secret(world: World) -> None:
    world.secret("corp-ca", {"ca.crt": trustme.CA().cert_pem.bytes().decode()})
    async with ScriptedServer(empty_catalog, tls=serving(trustme.CA(), "localhost")) as server:
        url = server.url_for("localhost")
        body = world.create_sync(
            catalog={"url": url, "caSecretRef": {"name": "corp-ca", "key": "ca.crt"}}
        )
        runner = world.runner(allowed_hosts=LOCALHOST)
        await runner.sync(body, 0)
        await runner.close()
        assert server.accepted == 1
    ready = condition(world.sync())
    assert ready is not None
    assert ready["message"].endswith(
        f"the certificate of {url} is not signed by the CA in spec.catalog.caSecretRef "
        "(unable to get local issuer certificate); put the CA that signed it in that Secret"
    )


async def test_plain_http_to_a_host_that_is_not_allowed_says_the_host_is_not_allowed(
    world: World,
) -> None:
    body = world.create_sync()  # the sandbox catalog: http://127.0.0.1:PORT
    port = world.catalog.url.rsplit(":", 1)[1]
    runner = world.runner(allowed_hosts=AllowedHosts.parse(["https://*.truefoundry.com"]))
    outcome = await runner.sync(body, 0)
    await runner.close()
    assert outcome.kind == "stalled"
    stalled = condition(world.sync(), "Stalled")
    assert stalled is not None
    assert (stalled["status"], stalled["reason"]) == ("True", "CatalogNotAllowed")
    assert stalled["message"] == (
        f"catalog URL http://127.0.0.1:{port} is not allowed: 127.0.0.1 is not in "
        "--allowed-hosts (https://*.truefoundry.com); fix spec.catalog.url, or add "
        f"http://127.0.0.1:{port} to --allowed-hosts"
    )
    assert warning_messages(world) == [stalled["message"]]
    assert world.catalog.recorded_requests() == []
